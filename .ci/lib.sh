# Functions .ci/run uses, kept apart so test/ci/ci-run.test.ts can run them against fake commands on PATH.
# Source it; it defines functions only. Every failure prints one line that says what to do.

# vitest 4 and vite 7 refuse older Node.js; package.json "engines" says the same.
ci_node_min_major=20
ci_node_min_minor=19

ci_fail() {
  echo ".ci/run: $*" >&2
  return 1
}

# version_at_least MAJOR MINOR VERSION: true when VERSION ("v20.19.0", "20.19.2+dfsg-1") is MAJOR.MINOR or newer.
version_at_least() {
  local want_major=$1 want_minor=$2 v=${3#v}
  v=${v#*:} # a Debian epoch ("1:20.19.2") is not the major version
  local major=${v%%.*} rest=${v#*.}
  local minor=${rest%%[!0-9]*}
  [[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]] || return 1
  ((10#$major > want_major || (10#$major == want_major && 10#$minor >= want_minor)))
}

ci_node_fix="Install Node.js ${ci_node_min_major}.${ci_node_min_minor} or newer and put it first on PATH: Debian 13 (trixie) and later ship it (apt-get install nodejs npm); Debian 12 (bookworm) ships Node.js 18, which is too old, so use a newer Debian release or your vendor's Node.js ${ci_node_min_major}.x/22.x package"

# Fails with the fix when `node` on PATH is older than the minimum or does not answer.
check_node_version() {
  local where version
  where=$(command -v node) || ci_fail "Node.js is not installed. $ci_node_fix" || return 1
  version=$(node --version 2>/dev/null) || ci_fail "$where does not run (node --version failed). $ci_node_fix" || return 1
  version_at_least "$ci_node_min_major" "$ci_node_min_minor" "$version" ||
    ci_fail "Murmur needs Node.js >= ${ci_node_min_major}.${ci_node_min_minor}, but $where is $version. $ci_node_fix" || return 1
}

# as_root CMD...: runs CMD as root, through sudo when this user is not root.
as_root() {
  if [[ $(id -u) == 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    # CI has no terminal to type a password into: -n fails at once instead of waiting for one.
    if sudo -n true 2>/dev/null; then
      sudo -n "$@"
    elif [[ -t 0 ]]; then
      sudo "$@"
    else
      ci_fail "needs root for '$*': sudo asks for a password and there is no terminal; run as root, allow this user passwordless sudo, or run that command yourself first"
    fi
  else
    ci_fail "needs root for '$*': this user is not root and sudo is not installed; run as root or run that command yourself first"
  fi
}

ci_apt_updated=
apt_update_once() {
  [[ -n $ci_apt_updated ]] && return 0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
  ci_apt_updated=1
}

# apt_install PKG...: installs quietly; apt's own errors still reach stderr.
apt_install() {
  apt_update_once || return 1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The Debian candidate version of a package, or "" when apt knows none.
apt_candidate() {
  LC_ALL=C apt-cache policy "$1" 2>/dev/null | while read -r key value _; do
    if [[ $key == Candidate: && $value != '(none)' ]]; then
      echo "$value"
      break
    fi
  done
}

# Node.js from Debian when there is none at all and Debian's is new enough; otherwise the check's fix.
ensure_node() {
  if ! command -v node >/dev/null; then
    apt_update_once || return 1
    local candidate
    candidate=$(apt_candidate nodejs)
    if [[ -n $candidate ]] && version_at_least "$ci_node_min_major" "$ci_node_min_minor" "$candidate"; then
      apt_install nodejs npm || return 1
    else
      ci_fail "Node.js is not installed and this Debian's nodejs package is ${candidate:-missing}. $ci_node_fix" || return 1
    fi
  fi
  check_node_version || return 1
  ensure_npm
}

# Debian's npm is 9; package.json's allowScripts needs npm 11 (it is read from 11.16 on), so an older
# npm is replaced by npm 11 from the npm registry, with the npm that is there.
ci_npm_min_major=10
ensure_npm() {
  if ! command -v npm >/dev/null; then apt_install npm || return 1; fi
  local version
  version=$(npm --version 2>/dev/null) || ci_fail "npm does not run (npm --version failed); reinstall it (apt-get install --reinstall npm)" || return 1
  version_at_least "$ci_npm_min_major" 0 "$version" && return 0
  as_root npm install --global --no-audit --no-fund --loglevel=error npm@11 >/dev/null || return 1
  hash -r
  version=$(npm --version 2>/dev/null) || version=none
  version_at_least "$ci_npm_min_major" 0 "$version" ||
    ci_fail "npm is $version after 'npm install --global npm@11'; put the new npm (usually in /usr/local/bin) first on PATH" || return 1
}
