#!/usr/bin/env bash
# The run command (README): starts the local UPM system in the foreground; Ctrl-C stops it.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"
exec node hack/local/main.ts "$@"
