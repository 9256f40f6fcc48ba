#!/usr/bin/env bash
# Installs the terminal tools the end-to-end tests drive clients with: tmux (Debian package), in which the k9s test
# runs k9s as a person would. Quick no-op when present; safe to run concurrently (the engines' apt lock). Without
# apt-get or root, prints what is missing and carries on: the k9s test then fails naming tmux.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v tmux >/dev/null && exit 0
if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
  log "tmux is missing; install the Debian package tmux to run the k9s end-to-end test"
  exit 0
fi
lock="$UPM_CACHE_DIR/apt.lock"
mkdir -p "$(dirname "$lock")"
exec 9>"$lock"
flock 9
command -v tmux >/dev/null && exit 0
log "installing tmux from Debian packages"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tmux; } >"$out" 2>&1; then
  tail -n 30 "$out" >&2
  log "apt-get failed"
  exit 1
fi
