#!/usr/bin/env bash
# Installs the terminal tools the end-to-end tests drive clients with: tmux (Debian package), in which the k9s test
# runs k9s as a person would. Quick no-op when present; safe to run concurrently (the apt lock). Without apt-get or
# root, prints what is missing and carries on: the k9s test then fails naming tmux.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

missing() { command -v tmux >/dev/null || echo tmux; }
apt_install_locked missing 'run the k9s end-to-end test' tmux
