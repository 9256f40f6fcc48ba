# Shared shell helpers for hack/ scripts. Source it; it defines no side effects beyond variables.
HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HACK_DIR/.." && pwd)
# shellcheck source=versions.env
. "$HACK_DIR/versions.env"
# Everything built or downloaded lives outside the repository, keyed by version, so a fresh clone reuses it.
UPM_CACHE_DIR=${UPM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/upm}
# Go's standard install location, for environments whose PATH does not name it.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then PATH="/usr/local/go/bin:$PATH"; export PATH; fi
GO_VERSION=$(go env GOVERSION 2>/dev/null || echo nogo)
BIN_KEY="k8s-v${K8S_VERSION}_etcd-v${ETCD_VERSION}_kwok-v${KWOK_VERSION}_${GO_VERSION}"
BIN_DIR="$UPM_CACHE_DIR/bin/$BIN_KEY"
log() { printf '[hack] %s\n' "$*" >&2; }

# Installs Debian packages, one installer at a time machine-wide: `apt_install_locked <missing> <purpose> <package>...`.
# <missing> is a command that prints what is absent (nothing when all is there): then nothing is done. Without
# apt-get or root it says what is missing and what for, and returns 0 so that the caller carries on. Otherwise it
# waits for the apt lock, looks again (a concurrent run may have installed meanwhile), installs, and fails when
# anything is still missing.
apt_install_locked() {
  local missing=$1 purpose=$2
  shift 2
  [ -z "$("$missing")" ] && return 0
  if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
    log "missing: $("$missing" | tr '\n' ' ')- install the Debian packages $* to $purpose"
    return 0
  fi
  local lock="$UPM_CACHE_DIR/apt.lock"
  mkdir -p "$(dirname "$lock")"
  # A subshell holds the lock: it is released when the subshell ends, whichever way.
  (
    exec 9>"$lock"
    flock 9
    [ -z "$("$missing")" ] && exit 0
    log "installing Debian packages: $*"
    export DEBIAN_FRONTEND=noninteractive
    out=$(mktemp)
    trap 'rm -f "$out"' EXIT
    # --no-install-recommends: what was asked for only.
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@"; } >"$out" 2>&1; then
      tail -n 30 "$out" >&2
      log "apt-get failed"
      exit 1
    fi
    [ -z "$("$missing")" ] || { log "still missing after install: $("$missing" | tr '\n' ' ')"; exit 1; }
  )
}
