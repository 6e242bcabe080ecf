#!/usr/bin/env bash
# The project's one test command: installs the peers the tests talk to
# (Samba's smbd, nmbd, smbclient, nmblookup; nbtscan; tshark; Impacket;
# iproute2 for the test namespaces), then runs formatting and vet checks,
# every test (unit, interop, crash) and every fuzz target briefly.
#   FUZZTIME=30s scripts/test.sh    longer fuzzing
#   SKIP_FUZZ=1 scripts/test.sh     no fuzzing
#   SKIP_PACKAGE=1 scripts/test.sh  no Debian package check
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pair in smbclient:smbclient smbd:samba nmbd:samba nmblookup:samba-common-bin nbtscan:nbtscan \
    tshark:tshark dumpcap:tshark ip:iproute2 setpriv:util-linux \
    dbus-daemon:dbus dbus-monitor:dbus Xvfb:xvfb dunst:dunst dunstctl:dunst chromium:chromium \
    prometheus-alertmanager:prometheus-alertmanager curl:curl \
    cupsd:cups-daemon lpadmin:cups-client lp:cups-client ipptool:cups-ipp-utils openssl:openssl \
    man:man-db dpkg-deb:dpkg systemd-analyze:systemd; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
# Debian's python3 (not a pyenv one earlier on PATH) must see Impacket.
/usr/bin/python3 -c 'import impacket' >/dev/null 2>&1 || missing+=(python3-impacket)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: missing ${missing[*]}; run as root to install them, or: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "test.sh: installing ${missing[*]}"
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

unformatted=$(gofmt -l cmd internal bench test tools 2>/dev/null || true)
if [ -n "$unformatted" ]; then
  echo "test.sh: gofmt would change:" $unformatted >&2
  exit 1
fi
go vet ./...
# go.mod says what the code imports, no more and no less.
go mod tidy -diff
# staticcheck at a pinned version, so a new release's checks cannot fail
# a build that passed.
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# MESSENGER_INTEROP=1 turns a missing peer into a failure instead of a skip.
MESSENGER_INTEROP=1 go test -count=1 -timeout 20m ./...

if [ -z "${SKIP_FUZZ:-}" ]; then
  fuzztime=${FUZZTIME:-8s}
  for pkg in $(go list ./...); do
    for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
      echo "fuzz $pkg $target ($fuzztime)"
      # Go's fuzz coordinator sometimes ends a run with "context deadline
      # exceeded" and no failing input on a loaded machine; that run is
      # tried once more. A real finding writes its input and fails at once.
      for try in 1 2; do
        if go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg" >/tmp/fuzz.$$.log 2>&1; then
          break
        fi
        if grep -q "Failing input written" /tmp/fuzz.$$.log || ! grep -q "context deadline exceeded" /tmp/fuzz.$$.log || [ $try -eq 2 ]; then
          cat /tmp/fuzz.$$.log
          exit 1
        fi
        echo "fuzz $pkg $target: the fuzzing engine timed out without a finding; once more"
      done
    done
  done
  rm -f /tmp/fuzz.$$.log
fi
# The Debian package: built from this checkout, installed, run, purged
# (scripts/package-check.sh; needs root).
if [ -z "${SKIP_PACKAGE:-}" ]; then
  bash scripts/package-check.sh
fi
echo "test.sh: all checks passed"
