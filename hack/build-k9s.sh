#!/usr/bin/env bash
# Builds k9s (github.com/derailed/k9s), a terminal client many Kubernetes users work in, from the Go module proxy
# into the cache (outside the repository) for the end-to-end test that drives it against the hub. Skips when built;
# safe to run concurrently (a lock serialises builders). Prints the directory that holds the k9s binary on stdout.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0

command -v go >/dev/null || { log "Go is needed once to build k9s (see README)"; exit 1; }
dir="$UPM_CACHE_DIR/tools/k9s-v${K9S_VERSION}_${GO_VERSION}"
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if [ -f "$dir/.complete" ] && [ -x "$dir/k9s" ]; then echo "$dir"; exit 0; fi

main() {
  log "building k9s v$K9S_VERSION into $dir (cold: a few minutes on 2 cores)"
  local t0; t0=$(date +%s)
  GOBIN="$dir" go install -trimpath -ldflags "-s -w -X github.com/derailed/k9s/cmd.version=v$K9S_VERSION" \
    "github.com/derailed/k9s@v$K9S_VERSION"
  printf 'k9s\t%s\n' "$(( $(date +%s) - t0 ))" >"$dir/build-report.tsv"
  touch "$dir/.complete"
  log "built k9s in $(( $(date +%s) - t0 )) s"
  echo "$dir"
}
main "$@"
