#!/usr/bin/env bash
# Prints a directory holding a Node that satisfies package.json's engines (>= NODE_MIN). Uses the machine's Node
# when it is new enough; otherwise installs NODE_VERSION from the npm registry (the node-linux-<arch> package
# ships the official binary) into the cache. Idempotent.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

if command -v node >/dev/null; then
  current=$(node -p process.versions.node)
  if version_ge "$current" "$NODE_MIN"; then dirname "$(command -v node)"; exit 0; fi
fi
case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) log "unsupported arch $(uname -m)"; exit 1 ;; esac
dest="$UPM_CACHE_DIR/node/$NODE_VERSION"
if [ ! -x "$dest/bin/node" ]; then
  log "installing Node $NODE_VERSION from the npm registry into $dest"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-$arch@$NODE_VERSION" >/dev/null && tar -xzf ./*.tgz)
  mkdir -p "$dest/bin"
  mv "$tmp/package/bin/node" "$dest/bin/node.tmp" && mv "$dest/bin/node.tmp" "$dest/bin/node"
  rm -rf "$tmp"
fi
echo "$dest/bin"
