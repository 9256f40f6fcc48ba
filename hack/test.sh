#!/usr/bin/env bash
# The test command (README): type-check, lint, then unit and integration tests (jest) against a local control
# plane this command starts, or against an existing cluster when UPM_TEST_KUBECONFIG is set.
# Extra arguments go to jest (e.g. `npm test -- lib/workqueue`).
set -euo pipefail
started=$(date +%s)
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# The clients the end-to-end tests drive in a terminal (the run command needs neither): k9s, built from the Go
# module proxy like the control plane, and tmux.
UPM_K9S_DIR=$(bash "$HACK_DIR/build-k9s.sh")
export UPM_K9S_DIR
bash "$HACK_DIR/ensure-tools.sh" >&2
cd "$REPO_ROOT"
log "type-check"; npx tsc -p tsconfig.json --noEmit
log "lint"; npx eslint .
log "jest"
results=$(mktemp)
trap 'rm -f "$results"' EXIT
status=0
NODE_OPTIONS="--experimental-vm-modules --disable-warning=ExperimentalWarning ${NODE_OPTIONS:-}" \
  npx jest --json --outputFile="$results" "$@" || status=$?
log "test command took $(( $(date +%s) - started )) s"
# One plain closing line that CI reads: "tests: N passed, N failed[, N skipped]".
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const failed = r.numFailedTests + r.numRuntimeErrorTestSuites, skipped = r.numPendingTests + r.numTodoTests;
  console.log(`\ntests: ${r.numPassedTests} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$results" || echo "tests: 0 passed, 1 failed"
exit $status
