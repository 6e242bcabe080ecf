package daemon

// version is the version stamped at build time, as scripts/package.sh
// does: -ldflags "-X github.com/netsend/messenger/internal/daemon.version=V".
// Empty in a plain `go build`, where Version falls back to the build info.
var version string
