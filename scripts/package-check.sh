#!/usr/bin/env bash
# Builds the Debian package for this machine's architecture from the
# checkout and tries it the way an admin would, on this machine (as root;
# systemd need not be running, as in a CI container):
#   dpkg -i (the postinst must not fail), messenger version (stamped, not
#   "dev"), man -w, systemd-analyze verify on the installed units, the
#   daemon started from the installed unit's ExecStart= line with the
#   unit's capabilities alone (setpriv), the kernel filter in force and
#   the capabilities gone once it started, a message sent to it with
#   smbclient -M and found in `messenger inbox --json`, then dpkg --purge
#   and a look for anything left behind.
# Whatever happens, the daemon is stopped and the package purged (trap).
#   scripts/package-check.sh            build, then check
#   DEB=path.deb scripts/package-check.sh   check a package already built
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "package-check: $*"; }
fail() { echo "package-check: FAIL: $*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
  fail "must run as root (it installs and purges the package); SKIP_PACKAGE=1 skips it in test.sh"
fi
if dpkg-query -W -f='${Status}' messenger 2>/dev/null | grep -q "installed\|config-files"; then
  fail "a messenger package is already on this machine; the check would replace and purge it"
fi
work=$(mktemp -d)
# A daemon run from the checkout as root (the README's first command)
# leaves /var/lib/messenger behind, and an admin may have written
# /etc/messenger: both are set aside while the package is tried and put
# back afterwards, so that the purge takes nothing of theirs.
aside=()
for d in /var/lib/messenger /etc/messenger; do
  if [ -e "$d" ]; then
    mkdir -p "$work/aside$(dirname "$d")"
    mv "$d" "$work/aside$d"
    aside+=("$d")
    say "set $d aside until the check ends"
  fi
done
daemon_pid=
had_group=$(getent group messenger-admin >/dev/null && echo yes || echo no)
cleanup() {
  local rc=$?
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  if dpkg-query -W -f='${Status}' messenger 2>/dev/null | grep -q "installed\|config-files\|half"; then
    dpkg --purge messenger >/dev/null 2>&1 || true
  fi
  # The package keeps the group on purge, as Debian does; a group this
  # check made goes, so that the machine is as it was.
  if [ "$had_group" = no ] && getent group messenger-admin >/dev/null; then
    groupdel messenger-admin 2>/dev/null || true
  fi
  for d in "${aside[@]}"; do
    rm -rf "$d"
    mv "$work/aside$d" "$d"
  done
  if [ $rc -ne 0 ] && [ -f "$work/daemon.log" ]; then
    echo "package-check: daemon log:" >&2
    tail -n 40 "$work/daemon.log" >&2
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Tools the check uses, installed when missing (Debian package names).
missing=()
for pair in man:man-db smbclient:smbclient; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

arch=$(dpkg --print-architecture)
deb=${DEB:-}
if [ -z "$deb" ]; then
  ARCHES=$arch bash scripts/package.sh >"$work/package.log" 2>&1 || { cat "$work/package.log" >&2; fail "scripts/package.sh"; }
  deb=$(ls -t dist/messenger_*_"$arch".deb | head -n 1)
fi
say "checking $deb"
pkg_version=$(dpkg-deb -f "$deb" Version)

# Install. The postinst runs with no systemd (and maybe without
# systemd-sysusers): it must not fail.
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i"; }
for f in /usr/bin/messenger /usr/lib/systemd/system/messenger.service /etc/messenger/messenger.toml \
  /usr/share/bash-completion/completions/messenger /usr/lib/cups/notifier/messenger; do
  [ -e "$f" ] || fail "$f not installed"
done
[ "$(stat -c %a /var/lib/messenger)" = 711 ] || fail "/var/lib/messenger is not mode 0711"
getent group messenger-admin >/dev/null || fail "the messenger-admin group was not made"

# The version is stamped: the package's, without its Debian revision.
v=$(messenger version)
say "$v"
[ "$v" = "messenger ${pkg_version%-*}" ] || fail "messenger version says '$v', the package is $pkg_version"

man -w messenger >/dev/null || fail "man -w messenger"
man -w 5 messenger.toml >/dev/null || fail "man -w 5 messenger.toml"
man -w messenger-serve >/dev/null || fail "man -w messenger-serve"

# The conffile, as installed, changes nothing and loads.
messenger config print >/dev/null || fail "messenger config print with the installed /etc/messenger/messenger.toml"

if command -v systemd-analyze >/dev/null 2>&1; then
  # messenger-alert@ is a template: verified as an instance.
  if ! systemd-analyze verify /usr/lib/systemd/system/messenger.service \
    messenger-alert@test.service >"$work/verify.log" 2>&1; then
    cat "$work/verify.log" >&2
    fail "systemd-analyze verify"
  fi
  if grep -i "messenger" "$work/verify.log"; then
    fail "systemd-analyze verify has something to say about the units"
  fi
  say "systemd-analyze verify: the units are clean"
else
  say "systemd-analyze missing (package systemd): unit verification skipped"
fi

# The daemon, started from the installed unit's ExecStart= as systemd
# would: root with the unit's capabilities alone, handed on as systemd
# does (ambient, and the bounding set), but without the rest of the
# sandbox. The session and datagram ports are the real ones, 139 and 138,
# unless something on this machine holds them; the other listeners are
# off, so that nothing else on the machine is in the way.
unit=/usr/lib/systemd/system/messenger.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[ -n "$exec_start" ] || fail "no ExecStart= in the installed unit"
ambient=$(sed -n 's/^AmbientCapabilities=//p' "$unit")
[ "$ambient" = "$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")" ] ||
  fail "AmbientCapabilities= and CapabilityBoundingSet= of the unit differ"
# CAP_NET_BIND_SERVICE CAP_BPF -> +net_bind_service,+bpf
caps=$(echo "$ambient" | tr 'A-Z ' 'a-z\n' | sed -n 's/^cap_/+/p' | paste -sd, -)
[ -n "$caps" ] || fail "no AmbientCapabilities= in the installed unit"
port_busy() { ss -Hlntu "sport = :$1" | grep -q .; }
port=139
if port_busy $port; then
  port=20139
  while port_busy $port; do port=$((port + 1)); done
fi
dgram=138
if port_busy $dgram; then
  dgram=20138
  while port_busy $dgram; do dgram=$((dgram + 1)); done
fi
read -r -a cmd <<<"$exec_start"
say "starting: $exec_start --smb-port $port --dgram-port $dgram (other listeners off), with $caps alone"
setpriv --inh-caps=-all,"$caps" --ambient-caps=-all,"$caps" --bounding-set=-all,"$caps" --no-new-privs -- \
  "${cmd[@]}" --smb-port "$port" --nbns-port 0 --dgram-port "$dgram" --rpc-port 0 --http-addr '' --hub-listen '' \
  >"$work/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 100); do
  if messenger status --data-dir /var/lib/messenger >/dev/null 2>&1; then
    break
  fi
  kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon exited"
  sleep 0.2
done
messenger status --data-dir /var/lib/messenger >/dev/null || fail "the daemon did not answer on its socket"
[ -S /var/lib/messenger/messenger.sock ] || fail "no socket /var/lib/messenger/messenger.sock"

# The kernel filter loaded with the unit's CAP_BPF, and the daemon holds
# no capability any more but in its bounding set (docs/security.md).
grep -q "kernel filter in force" "$work/daemon.log" ||
  fail "the kernel filter is not in force with the unit's capabilities ($caps)"
grep -q 'msg="capabilities dropped' "$work/daemon.log" || fail "the daemon did not say it dropped its capabilities"
for set in CapEff CapPrm CapInh CapAmb; do
  v=$(sed -n "s/^$set:[[:space:]]*//p" "/proc/$daemon_pid/status")
  [ "$v" = 0000000000000000 ] || fail "$set of the started daemon is $v, not empty"
done
say "kernel filter in force with $caps, which the daemon dropped once started"

host=$(messenger config print | sed -n 's/^host_name = "\(.*\)"$/\1/p')
[ -n "$host" ] || fail "no host_name in messenger config print"
text="package check $$ $(date +%s)"
printf '[global]\n  dos charset = CP850\n  netbios name = PKGCHECK\n' >"$work/smb.conf"
echo "$text" | smbclient -s "$work/smb.conf" -M "$host" -I 127.0.0.1 -p "$port" -N >"$work/smbclient.log" 2>&1 ||
  { cat "$work/smbclient.log" >&2; fail "smbclient -M $host"; }
found=no
for _ in $(seq 1 25); do
  if messenger inbox --json --data-dir /var/lib/messenger | grep -qF "$text"; then
    found=yes
    break
  fi
  sleep 0.2
done
[ $found = yes ] || { messenger inbox --json --data-dir /var/lib/messenger >&2 || true; fail "the message is not in messenger inbox --json"; }
say "message sent with smbclient -M $host -p $port is in the inbox"

kill "$daemon_pid"
wait "$daemon_pid" 2>/dev/null || true
daemon_pid=

# Remove keeps the data and the configuration; purge deletes them.
dpkg --remove messenger >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg --remove"; }
[ ! -e /usr/bin/messenger ] || fail "/usr/bin/messenger left after remove"
[ -e /var/lib/messenger/messenger.db ] || [ -n "$(ls -A /var/lib/messenger 2>/dev/null)" ] ||
  fail "remove deleted the data in /var/lib/messenger"
[ -e /etc/messenger/messenger.toml ] || fail "remove deleted the conffile"
dpkg --purge messenger >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg --purge"; }
left=()
for f in /usr/bin/messenger /usr/lib/cups/notifier/messenger /usr/lib/systemd/system/messenger.service \
  /usr/lib/systemd/system/messenger-alert@.service /usr/lib/systemd/user/messenger-agent.service \
  /etc/xdg/autostart/messenger-agent.desktop /usr/lib/sysusers.d/messenger.conf /usr/lib/tmpfiles.d/messenger.conf \
  /usr/share/man/man1/messenger.1.gz /usr/share/doc/messenger /var/lib/messenger /etc/messenger; do
  if [ -e "$f" ] || [ -L "$f" ]; then left+=("$f"); fi
done
[ ${#left[@]} -eq 0 ] || fail "left after purge: ${left[*]}"
say "purged: nothing left (the messenger-admin group stays, as Debian keeps system groups)"
say "passed"
