#!/usr/bin/env bash
# Builds the Debian packages dist/messenger_VERSION-1_amd64.deb and
# dist/messenger_VERSION-1_arm64.deb from this checkout (-1: the Debian
# revision):
#   scripts/package.sh                  both architectures
#   ARCHES=amd64 scripts/package.sh     one
# VERSION is `git describe --tags` made a Debian version (v1.2.0 → 1.2.0,
# v1.2.0-3-gabc1234 → 1.2.0+3.gabc1234; with no tag 0.0.0+gabc1234; a
# dirty tree adds .dirty), stamped into the binary so that
# `messenger version` prints it. nfpm (pinned) assembles the packages from
# packaging/nfpm.yaml; tools/gendocs writes the man pages, completions,
# conffile and changelog. Override the maintainer with DEB_MAINTAINER.
set -euo pipefail
cd "$(dirname "$0")/.."

NFPM_VERSIONS=(v2.48.0 v2.45.2)
ARCHES=${ARCHES:-"amd64 arm64"}
export DEB_MAINTAINER=${DEB_MAINTAINER:-"Messenger developers <maintainers@netsend.example>"}

debian_version() {
  local d
  d=$(git describe --tags --dirty 2>/dev/null || true)
  if [ -z "$d" ]; then
    d="0.0.0+g$(git rev-parse --short=7 HEAD)"
    if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
      d="$d.dirty"
    fi
    echo "$d"
    return
  fi
  d=${d#v}
  # 1.2.0-3-gabc1234[-dirty] → 1.2.0+3.gabc1234[.dirty]: a hyphen would
  # start a Debian revision.
  d=$(echo "$d" | sed -E 's/-([0-9]+)-(g[0-9a-f]+)/+\1.\2/; s/-dirty$/.dirty/; s/-/~/g')
  case "$d" in
    [0-9]*) echo "$d" ;;
    *) echo "0.0.0+$d" ;;
  esac
}

VERSION=$(debian_version)
export VERSION
# Reproducible: the dates in the package (file times, man pages,
# changelog) are the commit's.
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
export SOURCE_DATE_EPOCH
echo "package.sh: messenger $VERSION"

rm -rf dist/build
mkdir -p dist/build
go run ./tools/gendocs -out dist/build/gen -version "$VERSION" -date "$SOURCE_DATE_EPOCH" \
  -maintainer "$DEB_MAINTAINER" -config-doc docs/configuration.md

# The first pinned nfpm the module proxy serves.
nfpm=
for v in "${NFPM_VERSIONS[@]}"; do
  if go run "github.com/goreleaser/nfpm/v2/cmd/nfpm@$v" --version >/dev/null 2>&1; then
    nfpm="github.com/goreleaser/nfpm/v2/cmd/nfpm@$v"
    break
  fi
  echo "package.sh: nfpm $v refused; trying the next pinned version" >&2
done
if [ -z "$nfpm" ]; then
  echo "package.sh: no pinned nfpm (${NFPM_VERSIONS[*]}) could be run" >&2
  exit 1
fi

# nfpm.yaml with every file's mtime set to the commit's (nfpm expands no
# variables in mtime).
{ cat packaging/nfpm.yaml; echo "mtime: $(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)"; } >dist/build/nfpm.yaml

for arch in $ARCHES; do
  rm -f dist/build/messenger "dist/messenger_${VERSION}"*"_${arch}.deb"
  # Pure Go (no cgo, no libc), position-independent: ASLR for the daemon,
  # and lintian does not take it for a static binary.
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -buildmode=pie -trimpath -buildvcs=false \
    -ldflags "-s -w -X github.com/netsend/messenger/internal/daemon.version=$VERSION" \
    -o dist/build/messenger ./cmd/messenger
  # PKG_ARCH, not GOARCH: go run must build nfpm for this machine.
  PKG_ARCH=$arch go run "$nfpm" package --config dist/build/nfpm.yaml --packager deb \
    --target "dist/messenger_${VERSION}-1_${arch}.deb"
done
rm -rf dist/build
ls -l dist/messenger_"${VERSION}"-1_*.deb
