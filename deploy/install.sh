#!/bin/sh
# Offline installer for a Murmur bundle on a Debian-family device (Raspberry Pi OS 64-bit): versioned
# release directories, an atomically switched `current` link, a hardened systemd unit, health-gated
# upgrades with automatic rollback. POSIX sh; needs coreutils (sha256sum, timeout) and Node.js >= 20.
set -eu

usage() {
  cat <<'USAGE'
Usage: install.sh [options]            install or upgrade from this bundle
       install.sh --provision DIR [options]
                                       install (or keep) this release and provision the device
       install.sh --rollback [options] switch back to the previous release
       install.sh --rollback-unconfirmed [options]
                                       switch back only if current never passed its health check
                                       (what murmur-rollback.service runs when systemd gives up on murmur)

Options:
  --prefix DIR          install under DIR instead of / (an SD-card image, a test); no user, no systemctl
  --bundle DIR|FILE     the bundle (directory or .tar.gz); default: the directory holding this script
  --provision DIR       this device's provisioning bundle (the directory murmur provision wrote):
                        identity, signed manifest and device.yaml, installed into /etc/murmur
  --replace-identity    let --provision replace another identity already in /etc/murmur
  --node PATH           Node.js binary (default: node on PATH); must be version 20 or newer
  --health-cmd CMD      health check, run by sh (default: the new release's deploy/health-check.mjs)
  --health-timeout S    seconds the new release has to pass its health check (default 30)
  --skip-health-check   switch without checking (not recommended)
  --force               reinstall a version that is already installed
  --keep N              installed releases to keep, current and previous included (default 3)
  --systemctl PATH      the systemctl to call (default: systemctl, when systemd is running)
  -h, --help            this help

Exit codes: 0 ok, 1 health check failed or interrupted (rolled back), 2 usage or bad, truncated or
missing bundle, 3 refused, or no space or a read-only filesystem.
USAGE
}

say() { printf 'install: %s\n' "$*"; }
note() { printf 'install: note: %s\n' "$*"; }
die() { code=$1; shift; printf 'install: %s\n' "$*" >&2; exit "$code"; }

prefix=/ bundle='' node='' health_cmd='' health_timeout=30 skip_health=0 force=0 keep=3 mode=install
provision='' replace_identity=0 systemctl=systemctl systemctl_given=0
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) [ $# -ge 2 ] || die 2 "--prefix needs a directory"; prefix=$2; shift 2 ;;
    --bundle) [ $# -ge 2 ] || die 2 "--bundle needs a path"; bundle=$2; shift 2 ;;
    --node) [ $# -ge 2 ] || die 2 "--node needs a path"; node=$2; shift 2 ;;
    --health-cmd) [ $# -ge 2 ] || die 2 "--health-cmd needs a command"; health_cmd=$2; shift 2 ;;
    --health-timeout) [ $# -ge 2 ] || die 2 "--health-timeout needs seconds"; health_timeout=$2; shift 2 ;;
    --skip-health-check) skip_health=1; shift ;;
    --force) force=1; shift ;;
    --keep) [ $# -ge 2 ] || die 2 "--keep needs a number"; keep=$2; shift 2 ;;
    --provision) [ $# -ge 2 ] || die 2 "--provision needs the directory murmur provision wrote"; provision=$2; shift 2 ;;
    --replace-identity) replace_identity=1; shift ;;
    --systemctl) [ $# -ge 2 ] || die 2 "--systemctl needs a path"; systemctl=$2; systemctl_given=1; shift 2 ;;
    --rollback) mode=rollback; shift ;;
    --rollback-unconfirmed) mode=unconfirmed; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die 2 "unknown option: $1" ;;
  esac
done
case $health_timeout in ''|*[!0-9]*) die 2 "--health-timeout must be whole seconds (got \"$health_timeout\")" ;; esac
case $keep in ''|*[!0-9]*|0|1) die 2 "--keep must be a number of at least 2 (got \"$keep\")" ;; esac
[ $mode != install ] && [ -n "$provision" ] && die 2 "--provision installs a release and provisions the device; it cannot be combined with --$( [ $mode = rollback ] && echo rollback || echo rollback-unconfirmed)"

# Paths. $root is "" for a real install, so "$root/opt/murmur" is /opt/murmur on the device.
mkdir -p "$prefix" || die 2 "cannot create --prefix $prefix"
root=$(cd "$prefix" && pwd -P); [ "$root" = / ] && root=
base=$root/opt/murmur
data=$root/var/lib/murmur
etc=$root/etc/murmur
unit=$root/etc/systemd/system/murmur.service
rollback_unit=$root/etc/systemd/system/murmur-rollback.service
# Only a real install on a running systemd manages the user and the service. A --systemctl given by path
# is called even where /run/systemd/system is absent (a test records the calls that way).
managed=0
if [ -z "$root" ] && [ "$(id -u)" = 0 ]; then managed=1; fi
systemd_up=0
if [ $managed = 1 ]; then
  if [ $systemctl_given = 1 ]; then
    [ -x "$systemctl" ] || die 2 "--systemctl $systemctl is not an executable file"
    systemd_up=1
  elif [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then systemd_up=1; fi
fi

# Node.js >= 20 is a stated prerequisite: check it before touching anything.
if [ -z "$node" ]; then node=$(command -v node 2>/dev/null || true); fi
{ [ -n "$node" ] && [ -x "$node" ]; } || die 3 "Node.js 20 or newer is required and none was found (looked for 'node' on PATH; pass --node PATH). On Raspberry Pi OS, install the nodejs 20 .deb (e.g. NodeSource's) first; copy it to the device for an offline install."
node_version=$("$node" -p 'process.versions.node' 2>/dev/null) || die 3 "$node does not run: it cannot be the Node.js 20+ that Murmur needs"
node_major=${node_version%%.*}
case $node_major in ''|*[!0-9]*) die 3 "cannot read the version of $node (\"$node_version\")" ;; esac
[ "$node_major" -ge 20 ] || die 3 "Node.js 20 or newer is required; $node is v$node_version. Install Node.js 20+ (e.g. NodeSource's nodejs 20 .deb) and run this again."
case $node in /*) ;; *) node=$(cd "$(dirname "$node")" && pwd -P)/$(basename "$node") ;; esac

# Why a write failed, from the first line of its error ("...: Read-only file system"), and what to do about it.
reason() { printf '%s\n' "$1" | grep -m 1 . | sed 's/.*: //'; }
mount_of() { # the mount point holding a path (or its nearest existing parent)
  p=$1; while [ ! -e "$p" ] && [ "$p" != / ]; do p=$(dirname "$p"); done
  df -P "$p" 2>/dev/null | awk 'NR == 2 { print $6 }'
}
fix_for() { # reason path
  case $1 in
    *[Rr]ead-only*) echo "remount it read-write (sudo mount -o remount,rw $(mount_of "$2")) and run install.sh again" ;;
    *"No space"*) echo "free space on $(mount_of "$2") (old releases: ls $base/releases) and run install.sh again" ;;
    *[Pp]ermission*|*"not permitted"*) echo "run as root (sudo sh install.sh) or pass --prefix DIR" ;;
    *) echo "check $(dirname "$2") and run install.sh again" ;;
  esac
}
cannot_write() { # path error-text [after]: one line naming the path, the cause and the fix
  why=$(reason "$2"); die 3 "cannot write $1 (${why:-unknown error}): $(fix_for "$why" "$1")${3:+; $3}"
}

# One installer at a time (flock from util-linux; without it there is no guard). The lock file is tried
# first: a failed `exec 9>` would end the shell with a raw error before die could say why.
err=$(mkdir -p "$base/releases" 2>&1) || cannot_write "$base/releases" "$err"
lock=$base/.install.lock
err=$( { : >>"$lock"; } 2>&1) || cannot_write "$lock" "$err"
locked=0
if command -v flock >/dev/null 2>&1; then
  exec 9>"$lock"
  if ! flock -n 9; then
    # An installer running now settles its own switch (it rolls back when the check fails).
    if [ $mode = unconfirmed ]; then say "another install.sh is running on $base: it checks its switch itself"; exit 0; fi
    die 3 "another install.sh is running on $base (lock $lock)"
  fi
  locked=1
fi
# What interrupted installs left (an unpacked bundle, a half-copied release: ~100 MB each). With the lock
# held every one is stale; without flock, those whose installer (the pid in the name) is gone.
for d in "$base"/releases/.unpack-* "$base"/releases/.partial-*; do
  [ -e "$d" ] || continue
  if [ $locked = 1 ] || ! kill -0 "${d##*-}" 2>/dev/null; then
    rm -rf "$d" && say "removed ${d#"$base"/}, left by an interrupted install"
  fi
done

current_release() { if [ -L "$base/current" ]; then basename "$(readlink "$base/current")"; fi; }
previous_release() { if [ -L "$base/previous" ]; then basename "$(readlink "$base/previous")"; fi; }

# Data formats (runtime/device/data-format.ts): the newest format a release reads is "dataFormat" in its
# RELEASE.json (1 for releases from before the field); the data directory's is the number in its
# data-format file (0: none yet). A release is never made current on a directory it cannot read.
reads_format() { # RELEASE.json or BUNDLE.json
  "$node" -e 'const b = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); process.stdout.write(String(Number.isSafeInteger(b.dataFormat) ? b.dataFormat : 1));' "$1" 2>/dev/null || echo 1
}
data_format() { # a number, 0 without the file, "unreadable" when it holds anything else
  if [ ! -e "$data/data-format" ]; then echo 0; return; fi
  f=$(head -c 16 "$data/data-format" 2>/dev/null | tr -d '\n')
  case $f in ''|*[!0-9]*) echo unreadable ;; *) if [ ${#f} -le 6 ]; then echo "$f"; else echo unreadable; fi ;; esac
}
format_held() { # what the data directory holds, for messages
  have=$(data_format)
  if [ "$have" = unreadable ]; then echo "a data-format file with no format number in it (restore it: the release that wrote the directory knows its format)"; else echo "data format $have"; fi
}
can_read_data() { # RELEASE.json
  have=$(data_format)
  [ "$have" != unreadable ] && [ "$have" -le "$(reads_format "$1")" ]
}
can_read_format() { # the newest format a release reads
  have=$(data_format)
  [ "$have" != unreadable ] && [ "$have" -le "$1" ]
}

# Switches a link atomically: a new link beside it, then rename(2) over the old one (mv -T).
switch_link() { # name release
  ln -sfn "releases/$2" "$base/.$1.new"
  mv -Tf "$base/.$1.new" "$base/$1"
}

stop_service() {
  if [ $systemd_up = 1 ]; then "$systemctl" stop murmur.service || note "systemctl stop murmur failed (see journalctl -u murmur)"; fi
}

# systemd's start limit (murmur.service: 5 starts in 120 s) is reset before each restart: the starts it
# counts are those of the release that ran before. A crash-looping release that used them up (in about
# 12 s: a start every 2 s and a crash) would otherwise have systemd refuse to start the release rolled
# back to, or the fixed release installed over it, and leave the unit failed.
restart_service() {
  if [ $systemd_up = 1 ] && [ -f "$etc/device.yaml" ]; then
    "$systemctl" reset-failed murmur.service >/dev/null 2>&1 || :
    "$systemctl" restart murmur.service || note "systemctl restart murmur failed (see journalctl -u murmur)"
  fi
}

# A switch waiting for its health check: $pending holds the release switched to, the one it replaced and
# the one `previous` named before (the rollback target to give back when the switch is undone), written
# before either link moves and removed once the check has passed or the switch was undone. An installer
# stopped in between (a signal it could not trap, a power cut) leaves it for the next run.
pending=$base/.switch-pending
write_pending() { # version previous previous-before
  err=$( { printf '%s\n%s\n%s\n' "$1" "$2" "$3" > "$pending.new" && mv -f "$pending.new" "$pending"; } 2>&1) || cannot_write "$pending" "$err"
}
# After a switch to $2 was undone (current names $2 again): previous goes back to what it named before
# the switch, $1, or is removed when that is gone (it would name current itself).
restore_previous() { # previous-before current
  if [ -n "$1" ] && [ "$1" != "$2" ] && [ -d "$base/releases/$1" ]; then switch_link previous "$1"; else rm -f "$base/previous"; fi
}

# The health check of a release, retried until it passes, says there is nothing to check (exit 3), or the
# timeout runs out: sets hc_rc, hc_out and hc_attempts. Each try runs in the background and is waited for,
# so a trapped signal is acted on at once, not after the try.
hc_pid='' hc_file=''
health_check() { # release directory
  cmd=$health_cmd
  [ -n "$cmd" ] || cmd="\"$node\" \"$1/deploy/health-check.mjs\""
  export MURMUR_RELEASE="$1" MURMUR_CONFIG="$etc/device.yaml" MURMUR_DATA="$data" MURMUR_PREFIX="$prefix"
  [ -n "$hc_file" ] || hc_file=$(mktemp "${TMPDIR:-/tmp}/murmur-health.XXXXXX")
  deadline=$(( $(date +%s) + health_timeout ))
  hc_rc=1 hc_attempts=0
  while :; do
    hc_attempts=$((hc_attempts + 1))
    timeout 10 sh -c "$cmd" >"$hc_file" 2>&1 &
    hc_pid=$!
    hc_rc=0; wait "$hc_pid" || hc_rc=$?
    hc_pid=''
    [ $hc_rc = 0 ] || [ $hc_rc = 3 ] && break
    [ "$(date +%s)" -lt $deadline ] || break
    sleep 1 &
    hc_pid=$!
    wait "$hc_pid" || :
    hc_pid=''
  done
  hc_out=$(cat "$hc_file")
}

# Release $1 failed its health check (or the check was stopped): back to $2, the release it replaced, and
# previous back to $4, what it named before the switch. Right at any point of the switch (current or
# previous moved or not yet). Always exits 1.
roll_back_from() { # failed previous why previous-before
  rm -f "$pending.new"
  if [ -n "$2" ] && [ "$2" != "$1" ] && [ -d "$base/releases/$2" ]; then
    # Stopped first: a failing release that systemd keeps restarting could move the data directory to its
    # format after the check.
    stop_service
    if ! can_read_data "$base/releases/$2/RELEASE.json"; then
      rm -f "$pending"
      restart_service
      die 1 "$1 $3, and $data now holds $(format_held), which $2 cannot read: $1 stays current (journalctl -u murmur says why)"
    fi
    switch_link current "$2"
    restore_previous "${4:-}" "$2"
    rm -f "$pending"
    case $3 in fails*) touch "$base/releases/$1/.failed-health-check" 2>/dev/null || : ;; esac
    restart_service
    die 1 "rolled back: current is $2 again; $1 stays in releases/ for inspection; the data directory was not touched"
  fi
  rm -f "$pending"
  die 1 "no previous release to roll back to: $1 stays current"
}

# While a switch waits for its check, INT, TERM and HUP undo it (the installer would otherwise leave a
# release that may be failing current, and the device down).
# shellcheck disable=SC2317 # called by the trap
interrupted() { # failed previous previous-before
  trap '' INT TERM HUP
  if [ -n "$hc_pid" ]; then kill "$hc_pid" 2>/dev/null || :; fi
  printf 'install: interrupted before the health check of %s passed: switching back\n' "$1" >&2
  roll_back_from "$1" "$2" "was interrupted during its health check" "$3"
}

# Checks the release current now names, switched to from $2: passes (pending switch done), or rolls back and exits 1.
check_switched() { # version previous previous-before
  # shellcheck disable=SC2064 # the releases are fixed now (version names hold no quotes)
  trap "interrupted '$1' '$2' '$3'" INT TERM HUP
  health_check "$base/releases/$1"
  trap 'cleanup; exit 130' INT TERM HUP
  if [ $hc_rc = 3 ]; then
    rm -f "$pending"
    note "health check skipped: ${hc_out:-nothing to check}"
  elif [ $hc_rc != 0 ]; then
    printf 'install: health check of %s failed after %s attempt(s) in %s s: %s\n' "$1" "$hc_attempts" "$health_timeout" "$hc_out" >&2
    # Nothing here starts the device without systemd (--prefix, a container): say so, not just "failed".
    [ $systemd_up = 1 ] || printf 'install: no service was started here (%s), so only a device started by hand could answer the check; for an SD-card image or a test directory pass --skip-health-check\n' "$([ -n "$root" ] && echo "--prefix $prefix" || echo 'systemd is not running')" >&2
    roll_back_from "$1" "$2" "fails its health check" "$3"
  else
    rm -f "$pending" "$base/releases/$1/.failed-health-check"
    say "health check passed: $hc_out"
  fi
}

tmp='' staging=''
# shellcheck disable=SC2317 # called by the traps
cleanup() {
  if [ -n "$tmp" ]; then rm -rf "$tmp"; fi
  if [ -n "$staging" ]; then rm -rf "$staging"; fi
  if [ -n "$hc_file" ]; then rm -f "$hc_file"; fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM HUP

# A switch an earlier run left unchecked is settled before anything else: checked now (the service
# restarted on it first, in case the run stopped before that), or undone when current never moved.
if [ -f "$pending" ] && [ $mode = install ]; then
  { IFS= read -r p_version || :; IFS= read -r p_prev || :; IFS= read -r p_before || :; } < "$pending"
  if [ -n "$p_version" ] && [ "$(current_release)" = "$p_version" ] && [ -d "$base/releases/$p_version" ]; then
    say "an earlier install switched to $p_version${p_prev:+ (from $p_prev)} and stopped before its health check passed: checking it now"
    if [ $skip_health = 1 ]; then
      rm -f "$pending"
      note "--skip-health-check: $p_version stays current unchecked"
    else
      restart_service
      check_switched "$p_version" "$p_prev" "$p_before"
    fi
  else
    # current never moved; previous may have (stopped between the two renames): it is given back.
    if [ -n "$p_prev" ] && [ "$(current_release)" = "$p_prev" ] && [ "$(previous_release)" = "$p_prev" ]; then restore_previous "$p_before" "$p_prev"; fi
    rm -f "$pending"
  fi
fi

# murmur.service failed for good (systemd's start limit, or an exit it does not restart) and started
# murmur-rollback.service: a release an install switched to and that never passed its health check (the
# installer was killed or the power cut during the check, then it crash-looped) is switched back. One
# that passed stays: rolling back a release that ran well before is an operator's decision.
if [ $mode = unconfirmed ]; then
  p_version=''
  if [ -f "$pending" ]; then { IFS= read -r p_version || :; IFS= read -r p_prev || :; IFS= read -r p_before || :; } < "$pending"; fi
  if [ -n "$p_version" ] && [ "$(current_release)" = "$p_version" ]; then
    printf 'install: %s stopped running before its health check passed (systemd gave up on murmur.service): switching back\n' "$p_version" >&2
    roll_back_from "$p_version" "$p_prev" "fails to run (systemd gave up on murmur.service) before its health check passed" "$p_before"
  fi
  now=$(current_release)
  say "current release ${now:-(none)} is not waiting for its health check: it stays (to switch back anyway: install.sh --rollback)"
  exit 0
fi

if [ $mode = rollback ]; then
  cur=$(current_release); prev=$(previous_release)
  { [ -n "$prev" ] && [ -d "$base/releases/$prev" ]; } || die 3 "no previous release to roll back to under $base"
  can_read_data "$base/releases/$prev/RELEASE.json" \
    || die 3 "cannot roll back to $prev: $data holds $(format_held), and $prev reads formats up to $(reads_format "$base/releases/$prev/RELEASE.json"); $cur stays current"
  switch_link current "$prev"
  [ -n "$cur" ] && switch_link previous "$cur"
  rm -f "$pending"
  restart_service
  say "rolled back: current is $prev (was ${cur:-none})"
  exit 0
fi

# The bundle: this script's directory, a directory, or a .tar.gz unpacked into a temporary directory.
# Room in releases/ for $1 bytes unpacked (an eighth more for the blocks of ~3,000 small files, and 1 MB):
# sets avail and need (KiB).
room_for() { # bytes
  avail=$(df -Pk "$base/releases" 2>/dev/null | awk 'NR == 2 { print $4 }')
  need=$(( $1 / 1024 + $1 / 8192 + 1024 ))
  case $avail in ''|*[!0-9]*) return 0 ;; esac
  [ "$avail" -ge "$need" ]
}
no_room() {
  [ -n "${need:-}" ] || need=0
  avail=$(df -Pk "$base/releases" 2>/dev/null | awk 'NR == 2 { print $4 }')
  die 3 "$(( ${avail:-0} / 1024 )) MB free on $(mount_of "$base/releases"), need $(( need / 1024 )): remove old releases (ls $base/releases) or use --keep 2"
}

# Releases that may be removed, the first to go first: those that failed a health check, then the oldest
# installed (.installed-at, written at the switch; a release from before it has its directory's time).
# Never the current or previous one (the rollback target). Not by directory time alone: a release unpacked
# from a tarball carries its build's time.
prunable() {
  cur_p=$(current_release); prev_p=$(previous_release)
  for d in "$base"/releases/*/; do
    [ -d "$d" ] || continue
    n=$(basename "$d")
    { [ "$n" = "$cur_p" ] || [ "$n" = "$prev_p" ]; } && continue
    ok=1; [ -f "$d.failed-health-check" ] && ok=0
    t=$(cat "$d.installed-at" 2>/dev/null || :)
    case $t in ''|*[!0-9]*) t=$(stat -c %Y "$d") ;; esac
    printf '%s %s %s\n' "$ok" "$t" "$n"
  done | sort -k1,1n -k2,2n | awk '{ print $3 }'
}
prune_list() { # releases to keep in all: those prune removes, one a line
  total=0
  for d in "$base"/releases/*/; do [ -d "$d" ] && total=$((total + 1)); done
  [ $((total - $1)) -gt 0 ] || return 0
  prunable | head -n $((total - $1))
}
prune() { # releases to keep in all
  prune_list "$1" | while read -r old; do
    rm -rf "${base:?}/releases/$old"; say "removed old release $old"
  done
}
# Room for a release: when short, the releases --keep would remove after this install go first, and only
# when removing them makes the room (otherwise they would be lost for nothing).
make_room() { # bytes
  room_for "$1" && return 0
  freed=0
  for old in $(prune_list $((keep - 1))); do freed=$((freed + $(du -sk "$base/releases/$old" | cut -f 1))); done
  [ $((avail + freed)) -ge "$need" ] || no_room
  prune $((keep - 1))
  room_for "$1" || no_room
}

# Without --bundle, the bundle is this script's directory; the install.sh of an installed release
# (releases/<version>/deploy/, reached through current) has none, and provisions the current release.
installed=0
if [ -z "$bundle" ]; then
  bundle=$(cd "$(dirname "$0")" && pwd -P)
  if [ ! -f "$bundle/BUNDLE.json" ] && [ -f "$bundle/../RELEASE.json" ]; then
    [ -n "$provision" ] || die 2 "$bundle/install.sh belongs to an installed release: to install or upgrade, pass --bundle FILE.tar.gz (from here, --provision DIR and --rollback work on the current release)"
    installed=1
  fi
elif [ ! -e "$bundle" ]; then die 2 "--bundle $bundle: no such file"
fi
# A .tar.gz ($archive) is unpacked into $tmp, beside the releases (same filesystem), so the release is moved into
# place, not copied again: on an SD card the second write of ~80 MB is most of an install's time. With
# patterns, only the members they name. tar's complaints (one per file on a full disk) are kept to one line.
unpack_bundle() { # [pattern...]
  if ! err=$(tar -xzf "$archive" -C "$tmp" ${1:+--wildcards --no-wildcards-match-slash} "$@" 2>&1); then
    rm -rf "$tmp"
    case $err in
      *"No space left"*) no_room_unpacking ;;
      *"unexpected end of file"*|*"Unexpected EOF"*) die 2 "$archive is truncated (gzip: unexpected end of file): copy it again" ;;
      *"Read-only"*|*"ermission denied"*) cannot_write "$base/releases" "$(printf '%s\n' "$err" | grep -m 1 -e 'Read-only' -e 'ermission denied')" ;;
      *"Not found in archive"*) die 2 "$archive holds no BUNDLE.json: not a Murmur bundle" ;;
      *) die 2 "cannot unpack $archive: not a .tar.gz bundle ($(printf '%s\n' "$err" | grep -m 1 .))" ;;
    esac
  fi
}
# The disk filled while unpacking, though the estimate said it would fit (gzip -l reports the last member of
# a gzip made of several, and the running device writes to the same disk meanwhile).
no_room_unpacking() {
  avail=$(df -Pk "$base/releases" 2>/dev/null | awk 'NR == 2 { print $4 }')
  die 3 "no space left on $(mount_of "$base/releases") while unpacking $archive, though the $(( ${need:-0} / 1024 )) MB estimated fit; the part unpacked is removed ($(( ${avail:-0} / 1024 )) MB free now): remove old releases (ls $base/releases) or use --keep 2"
}

# The bundle's files and links against its MANIFEST.tsv (after the check that MANIFEST.tsv is the one
# BUNDLE.json names): it holds exactly the files and symbolic links listed ("symlink<TAB>target<TAB>path"
# lines), nothing else but directories, every file matches its sha256 and every link its target, and no
# link leads out of release/ (resolved by the filesystem, through other links too: only release/ is
# installed, and a link out of it would reach into the device).
check_files() {
  odd=$(cd "$bundle" && find . ! -type f ! -type d ! -type l | sed -n 's|^\./||p' | head -n 1)
  [ -z "$odd" ] || die 2 "$bundle holds $odd, which is neither a file, a directory nor a symbolic link: copy the bundle again"
  odd=$( { awk -F '\t' 'NF == 3 { print "L " ($1 == "symlink" ? $3 " -> " $2 : $3) }' "$bundle/MANIFEST.tsv"
      (cd "$bundle" && find . -type f ! -path ./MANIFEST.tsv) | sed 's|^\./|F |'
      (cd "$bundle" && find . -type l -printf 'F %P -> %l\n'); } \
    | awk '{ k = substr($0, 3); if ($1 == "L") l[k] = 1; else f[k] = 1 } END { for (k in f) if (!(k in l)) { print "not in MANIFEST.tsv: " k; exit } for (k in l) if (!(k in f)) { print "missing: " k; exit } }')
  [ -z "$odd" ] || die 2 "$bundle does not hold the files its MANIFEST.tsv lists ($odd): copy the bundle again"
  (cd "$bundle" && awk -F '\t' 'NF == 3 && $1 != "symlink" { print $1 "  " $3 }' MANIFEST.tsv | sha256sum --check --quiet --strict -) \
    || die 2 "$bundle does not match its MANIFEST.tsv (damaged or edited): copy the bundle again"
  inside=$(cd "$bundle/release" && pwd -P)
  awk -F '\t' 'NF == 3 && $1 == "symlink" { print $3 }' "$bundle/MANIFEST.tsv" | while IFS= read -r l; do
    to=$(readlink "$bundle/$l")
    case $l in release/*) ;; *) die 2 "$bundle holds the symbolic link $l outside release/: refused" ;; esac
    case $to in /*) die 2 "$bundle holds the symbolic link $l -> $to, which points outside release/: refused" ;; esac
    case $(realpath -m "$bundle/$l") in "$inside"|"$inside"/*) ;; *) die 2 "$bundle holds the symbolic link $l -> $to, which points outside release/: refused" ;; esac
  done || exit 2
}

# unpacked: the bundle is a .tar.gz unpacked into $tmp; deferred: only its records are, so far (short of
# room: the releases --keep would remove go only once the bundle is known to be installable here).
unpacked=0 deferred=0 tar_bytes=0
if [ $installed = 1 ]; then
  cur=$(current_release)
  { [ -n "$cur" ] && [ -f "$base/releases/$cur/RELEASE.json" ]; } || die 3 "no current release under $base to provision: install one with --bundle FILE.tar.gz first"
  info=$base/releases/$cur/RELEASE.json
elif [ -f "$bundle" ]; then
  # The size unpacked, from the gzip trailer (gzip -l reads the ends only): the room is checked before
  # anything is written, and a truncated or foreign file is told apart here.
  if ! gz=$(gzip -l "$bundle" 2>&1); then
    case $gz in
      *"unexpected end of file"*) die 2 "$bundle is truncated (gzip: unexpected end of file): copy it again" ;;
      *) die 2 "cannot unpack $bundle: not a .tar.gz bundle ($(reason "$gz"))" ;;
    esac
  fi
  tar_bytes=$(printf '%s\n' "$gz" | awk 'NR == 2 { print $2 }')
  case $tar_bytes in ''|*[!0-9]*) tar_bytes=0 ;; esac
  archive=$bundle tmp=$base/releases/.unpack-$$
  rm -rf "$tmp"
  err=$(mkdir -p "$tmp" 2>&1) || cannot_write "$tmp" "$err"
  unpacked=1
  if room_for "$tar_bytes"; then
    unpack_bundle
  else
    deferred=1
    unpack_bundle '*/BUNDLE.json' '*/MANIFEST.tsv'
  fi
  set -- "$tmp"/*/BUNDLE.json
  [ -f "$1" ] || die 2 "$bundle holds no BUNDLE.json: not a Murmur bundle"
  bundle=$(dirname "$1")
fi
if [ $installed = 0 ]; then
  { [ -f "$bundle/BUNDLE.json" ] && { [ -d "$bundle/release" ] || [ $deferred = 1 ]; }; } || die 2 "$bundle is not a Murmur bundle (no BUNDLE.json and release/): pass --bundle FILE.tar.gz"
  info=$bundle/BUNDLE.json
fi

# Fields of a JSON file, one line per key, all in one Node.js start (a start takes about half a second on
# a Raspberry Pi, and an install started one per field it read): "=" and the value for a string (tabs
# and newlines in it made spaces), an empty line for a field that is missing or not a string, or a file
# that is not JSON. dataFormat gives the format a release reads instead, as reads_format does.
jfields() { # file key...
  "$node" -e 'let b = null; try { b = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); } catch {} for (const k of process.argv.slice(2)) { const v = b !== null && typeof b === "object" ? b[k] : undefined; process.stdout.write((k === "dataFormat" ? String(Number.isSafeInteger(v) ? v : 1) : typeof v === "string" ? "=" + v.replace(/[\t\n\r]/g, " ") : "") + "\n"); }' "$@" 2>/dev/null || true
}
{ IFS= read -r version || :; IFS= read -r machine || :; IFS= read -r bundle_format || :; IFS= read -r manifest_sha || :; } <<EOF
$(jfields "$info" version machine dataFormat manifestSha256)
EOF
case $version in =*) version=${version#=} ;; *) die 2 "$info has no version" ;; esac
case $machine in =*) machine=${machine#=} ;; *) die 2 "$info has no machine" ;; esac
[ -n "$bundle_format" ] || bundle_format=1
case $version in ''|.*|*/*|*[!0-9A-Za-z.+_-]*) die 2 "bad version \"$version\" in $info" ;; esac

# The bundle's native binaries are for one CPU; on another they would fail at the first import.
if [ -z "$root" ]; then
  here=$(uname -m)
  [ "$here" = "$machine" ] || die 3 "this bundle is for $machine but this machine is $here: use the bundle built with --target for $here"
elif [ "$(uname -m)" != "$machine" ]; then
  note "bundle is for $machine, this machine is $(uname -m): fine for an image under --prefix, not for running here"
fi

# sodium-native's prebuilt binaries need glibc 2.33 (Raspberry Pi OS bookworm; bullseye has 2.31). Without
# it the runtime falls back to libsodium-wrappers (WebAssembly): it works, with slower signature checks.
if [ -z "$root" ] && command -v getconf >/dev/null 2>&1; then
  glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{ print $2 }')
  case $glibc in
    2.[0-9]|2.[12][0-9]|2.3[0-2]) note "glibc $glibc is older than 2.33: sodium-native cannot load here; Murmur will use libsodium-wrappers (slower signature checks). Raspberry Pi OS bookworm or later has 2.36." ;;
  esac
fi

# The manifest is the one BUNDLE.json names (its sha256 without the lines of the two files that hold it),
# the bundle holds exactly the files it lists, and every file matches it (sha256): a bundle damaged,
# cut short or added to in transit is refused before install. A .tar.gz too big for the free space has
# only its records unpacked so far: its files are checked once old releases made room for them.
started=$(date +%s)
if [ $installed = 0 ]; then
  [ -f "$bundle/MANIFEST.tsv" ] || die 2 "$bundle has no MANIFEST.tsv: copy the bundle again"
  case $manifest_sha in
    =*)
      have=$(awk -F '\t' '$3 != "BUNDLE.json" && $3 != "release/RELEASE.json"' "$bundle/MANIFEST.tsv" | sha256sum | cut -c 1-64)
      [ "$have" = "${manifest_sha#=}" ] || die 2 "$bundle/MANIFEST.tsv is not the manifest its BUNDLE.json names (cut short or edited): copy the bundle again" ;;
    *) note "$bundle/BUNDLE.json names no manifest digest (a bundle from before manifestSha256): its files are checked against MANIFEST.tsv as it is" ;;
  esac
  [ $deferred = 1 ] || check_files
fi

# The provisioning bundle (murmur provision): checked whole before anything is installed. A directory, not a
# tarball: the secret key is never unpacked into a temporary place, and its mode on the way (a FAT USB stick
# shows every file 0755) does not matter, because the installer sets modes and owners itself.
prov_files=''
if [ -n "$provision" ]; then
  [ -d "$provision" ] || die 2 "--provision $provision is not a directory: give the directory murmur provision wrote"
  { [ -f "$provision/PROVISION.json" ] && [ -f "$provision/SHA256SUMS" ]; } \
    || die 2 "$provision is not a provisioning bundle (no PROVISION.json and SHA256SUMS): make one with murmur provision"
  prov_files=$(awk '{ print $2 }' "$provision/SHA256SUMS")
  for f in $prov_files; do
    case $f in device.key|fleet.manifest|device.yaml|mqtt-ca.pem|PROVISION.json) ;; *) die 2 "$provision/SHA256SUMS names \"$f\", which is not part of a provisioning bundle" ;; esac
  done
  for f in device.key fleet.manifest device.yaml PROVISION.json; do
    printf '%s\n' "$prov_files" | grep -qx "$f" || die 2 "$provision/SHA256SUMS does not list $f: make the bundle again with murmur provision"
  done
  if ! sums=$(cd "$provision" && sha256sum --check --strict SHA256SUMS 2>&1); then
    bad=$(printf '%s\n' "$sums" | sed -n 's/: FAILED.*$//p' | tr '\n' ' ')
    die 2 "$provision does not match its SHA256SUMS (${bad:+failed: ${bad% }; }damaged or edited): provision the device again"
  fi
  { IFS= read -r prov_format || :; IFS= read -r prov_id || :; } <<EOF
$(jfields "$provision/PROVISION.json" format id)
EOF
  [ "$prov_format" = =murmur-provision/1 ] || die 2 "$provision/PROVISION.json is not format murmur-provision/1"
  case $prov_id in =*) prov_id=${prov_id#=} ;; *) die 2 "$provision/PROVISION.json has no id" ;; esac
  # An identity is never replaced by accident: the data directory's signer state belongs to it.
  if [ -f "$etc/device.key" ] && ! cmp -s "$provision/device.key" "$etc/device.key"; then
    old_id=$(jfields "$etc/device.key" id)
    case $old_id in =*) old_id=${old_id#=} ;; *) old_id=unreadable ;; esac
    [ $replace_identity = 1 ] || die 3 "$etc/device.key holds another identity (\"$old_id\"); --provision would make this device \"$prov_id\": pass --replace-identity to replace it (the data directory is kept)"
  fi
fi

target_dir=$base/releases/$version
cur=$(current_release)
can_read_format "$bundle_format" \
  || die 3 "release $version reads data formats up to $bundle_format, but $data holds $(format_held): install a release that reads it"
# release_new: the release is copied into releases/; switch: current moves to it (and its health gates it).
release_new=1 switch=1
if [ -d "$target_dir" ]; then
  if [ $force = 0 ]; then
    # Same version from another build (a rebuild without a new commit): never mistaken for "already there".
    cmp -s "$info" "$target_dir/RELEASE.json" \
      || die 3 "release $version is installed from a different build (see $target_dir/RELEASE.json): give the new build another --version, or --rollback and reinstall with --force"
    release_new=0
    if [ "$cur" = "$version" ]; then
      [ -n "$provision" ] || { say "release $version is already installed and current: nothing to do"; exit 0; }
      switch=0
    elif [ -f "$target_dir/.failed-health-check" ]; then
      # The same build, placed whole by an earlier run (a release reaches releases/<version> by one rename).
      note "release $version failed its health check before ($(date -r "$target_dir/.failed-health-check" '+%Y-%m-%d %H:%M')): switching to it again; it is rolled back if it fails again"
    else
      say "release $version is already in releases/ (an earlier install stopped before switching to it): switching to it now"
    fi
  else
    [ "$cur" = "$version" ] && die 3 "release $version is current: --rollback first, then reinstall it with --force"
  fi
fi

if [ $release_new = 1 ]; then
  # Copy beside the old releases under a temporary name, then rename into place.
  staging=$base/releases/.partial-$version-$$
  rm -rf "$staging"
  if [ $unpacked = 1 ]; then
    if [ $deferred = 1 ]; then
      # Installable as far as its records tell: now the room, then the whole bundle, checked.
      make_room "$tar_bytes"
      unpack_bundle
      check_files
    fi
    err=$(mv "$bundle/release" "$staging" 2>&1) || cannot_write "$staging" "$err"
  else
    release_bytes=$(awk -F '\t' 'NF == 3 && $1 != "symlink" && substr($3, 1, 8) == "release/" { n += $2 } END { printf "%d", n }' "$bundle/MANIFEST.tsv")
    make_room "$release_bytes"
    # cp's complaints (one per file on a full disk) are kept to the first.
    if ! err=$(cp -R "$bundle/release" "$staging" 2>&1); then
      rm -rf "$staging"
      case $err in *"No space left"*) no_room ;; *) cannot_write "$staging" "$err" ;; esac
    fi
  fi
  chmod -R go-w "$staging"
  if [ -d "$target_dir" ]; then rm -rf "$target_dir"; fi
  err=$(mv "$staging" "$target_dir" 2>&1) || cannot_write "$target_dir" "$err"
  staging=''
fi

# Data and config directories are created once. The data directory's contents are never modified, moved or
# rolled back by this script; /etc/murmur's change only with --provision.
[ -d "$data" ] || { mkdir -p "$data"; chmod 0750 "$data"; }
[ -d "$etc" ] || { mkdir -p "$etc"; chmod 0750 "$etc"; }

if [ $managed = 1 ]; then
  if ! getent passwd murmur >/dev/null; then
    getent group dialout >/dev/null || groupadd --system dialout
    useradd --system --user-group --home-dir /var/lib/murmur --no-create-home --shell /usr/sbin/nologin --groups dialout murmur
    say "created system user murmur (groups: murmur, dialout)"
  else
    usermod -a -G dialout murmur
  fi
  chown murmur:murmur "$data"
  chown root:murmur "$etc"
else
  note "not creating the system user murmur (in group dialout): $( [ -n "$root" ] && echo "--prefix is not /" || echo "not root" ); run install.sh as root on the device"
fi

# Provisioning: each file written beside its place and renamed over it; device.yaml last, since its presence
# is what says "provisioned". The key is 0600 and owned by the service user; the rest root:murmur 0640.
prov_changed=0
install_etc_file() { # name mode owner
  if ! cmp -s "$provision/$1" "$etc/$1" 2>/dev/null; then prov_changed=1
  elif [ "$(stat -c %a "$etc/$1")" != "${2#0}" ]; then prov_changed=1
  elif [ $managed = 1 ] && [ "$(stat -c %U:%G "$etc/$1")" != "$3" ]; then prov_changed=1; fi
  (umask 077 && cp "$provision/$1" "$etc/.$1.new")
  chmod "$2" "$etc/.$1.new"
  if [ $managed = 1 ]; then chown "$3" "$etc/.$1.new"; fi
  mv -f "$etc/.$1.new" "$etc/$1"
}
if [ -n "$provision" ]; then
  install_etc_file device.key 0600 murmur:murmur
  install_etc_file fleet.manifest 0640 root:murmur
  if printf '%s\n' "$prov_files" | grep -qx mqtt-ca.pem; then install_etc_file mqtt-ca.pem 0640 root:murmur; fi
  install_etc_file device.yaml 0640 root:murmur
  if [ $managed = 1 ]; then
    say "provisioned $prov_id into $etc (device.key 0600 owned by murmur)"
  else
    note "provisioned $prov_id into $etc; the files are owned by $(id -un), not murmur: on the device, run install.sh --provision as root (or chown murmur:murmur /etc/murmur/device.key)"
  fi
  if [ $switch = 0 ] && [ $prov_changed = 0 ]; then
    say "release $version is current and $etc already holds this provisioning: nothing to do"
    exit 0
  fi
fi

# The unit, written whole and renamed into place. A failure here leaves the release in releases/ and
# current where it was: the same install run again switches to it.
# murmur.service, then murmur-rollback.service (its OnFailure=; a release from before it has none to write).
write_unit() { # unit-file path
  err=$( { mkdir -p "$(dirname "$2")" && sed "s|@NODE@|$node|g" "$target_dir/deploy/$1" > "$2.new" && chmod 0644 "$2.new" && mv -f "$2.new" "$2"; } 2>&1) \
    || { rm -f "$2.new" 2>/dev/null || :; cannot_write "$2" "$err" "release $version is in place in releases/ and current is unchanged"; }
}
write_unit murmur.service "$unit"
if [ -f "$target_dir/deploy/murmur-rollback.service" ]; then write_unit murmur-rollback.service "$rollback_unit"; fi
if [ $systemd_up = 1 ]; then
  "$systemctl" daemon-reload || note "systemctl daemon-reload failed"
  "$systemctl" enable murmur.service >/dev/null 2>&1 || note "systemctl enable murmur failed"
elif [ $managed = 1 ]; then
  note "systemd is not running: the unit is written; enable it with systemctl enable murmur"
fi

# Switch: previous <- old current, current <- new (each a single rename). With a health check to pass, the
# release switched from is written down first, and a signal meanwhile switches back.
prev_before=''
if [ $switch = 1 ] && [ $skip_health = 0 ]; then
  # From here a signal undoes the switch, whichever link has moved: the pending record and the trap
  # name what both links named before.
  prev_before=$(previous_release)
  write_pending "$version" "$cur" "$prev_before"
  # shellcheck disable=SC2064 # the releases are fixed now (version names hold no quotes)
  trap "interrupted '$version' '$cur' '$prev_before'" INT TERM HUP
fi
if [ $switch = 1 ]; then date +%s > "$target_dir/.installed-at" 2>/dev/null || :; fi
if [ -n "$cur" ] && [ "$cur" != "$version" ]; then switch_link previous "$cur"; fi
switch_link current "$version"
restart_service
[ -f "$etc/device.yaml" ] || note "no $etc/device.yaml yet: provision the device (murmur provision, then install.sh --provision DIR)"
if [ $switch = 1 ]; then
  say "installed $version in $(( $(date +%s) - started )) s; current -> releases/$version${cur:+ (previous: $cur)}"
fi

# Health gate: the new release must pass within the timeout, or current goes back to the old release.
if [ $skip_health = 0 ]; then
  if [ $switch = 1 ]; then
    check_switched "$version" "$cur" "$prev_before"
  else
    health_check "$target_dir"
    if [ $hc_rc = 3 ]; then
      note "health check skipped: ${hc_out:-nothing to check}"
    elif [ $hc_rc != 0 ]; then
      printf 'install: health check of %s failed after %s attempt(s) in %s s: %s\n' "$version" "$hc_attempts" "$health_timeout" "$hc_out" >&2
      die 1 "the device fails its health check with the new provisioning in $etc; release $version stays current (journalctl -u murmur says why)"
    else
      say "health check passed: $hc_out"
    fi
  fi
fi

prune "$keep"
exit 0
