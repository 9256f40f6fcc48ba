# Sourced by the run and test commands: puts a current Node first on PATH, installs npm packages when the lock
# file changed, builds (or finds cached) control-plane binaries and installs the data engines. Idempotent and quiet when nothing is to do.
_upm_hack=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$_upm_hack/lib.sh"
_node_dir=$(bash "$_upm_hack/ensure-node.sh")
export PATH="$_node_dir:$PATH"
# npm's own per-user config may hold settings for other projects; keep its warnings out of our output.
export npm_config_loglevel=${npm_config_loglevel:-error}
_stamp="$REPO_ROOT/node_modules/.upm-installed"
_want="$(sha256sum "$REPO_ROOT/package-lock.json" | cut -c1-64) $(node --version)"
if [ ! -f "$_stamp" ] || [ "$(cat "$_stamp")" != "$_want" ]; then
  log "installing npm packages (npm ci)"
  (cd "$REPO_ROOT" && npm ci --no-audit --no-fund >&2)
  echo "$_want" >"$_stamp"
fi
UPM_BIN_DIR=$(bash "$_upm_hack/build-binaries.sh")
# The real engines behind simulated data pods (Debian packages).
bash "$_upm_hack/ensure-engines.sh" >&2
export UPM_BIN_DIR
# kubectl from the same Kubernetes release (the machine's may be outside the supported version skew).
export PATH="$UPM_BIN_DIR:$PATH"
unset _upm_hack _node_dir _stamp _want
