#!/usr/bin/env bash
# Runs every benchmark under bench/ (or those named: `npm run bench -- controller-throughput`) and prints figures.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"
names=("$@")
[ ${#names[@]} -gt 0 ] || names=($(cd bench && ls *.bench.ts | sed 's/\.bench\.ts$//'))
for n in "${names[@]}"; do
  echo "== $n"
  node "bench/$n.bench.ts"
  echo
done
