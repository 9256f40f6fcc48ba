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
