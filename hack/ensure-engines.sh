#!/usr/bin/env bash
# Installs the real data engines the local engine runtime runs: MariaDB, Redis, Redis Sentinel and ZooKeeper from
# Debian packages, then Kafka and OpenSearch from Maven Central jars (ensure-maven-engines.sh). Quick no-op when they
# are present; safe to run concurrently (flock). Without apt-get or root, prints what is missing and carries on: the
# engine suites then fail with the engine named, and the rest of the system works.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Debian packages, in a subshell: its early exits end only this part.
(
  PACKAGES=(mariadb-server mariadb-client redis-server redis-sentinel redis-tools zookeeper)
  missing() {
    local f
    for f in /usr/sbin/mariadbd /usr/bin/mariadb-install-db /usr/bin/mariadb /usr/bin/mariadb-dump /usr/bin/mariadb-admin \
      /usr/bin/redis-server /usr/bin/redis-sentinel /usr/bin/redis-cli /usr/share/java/zookeeper.jar; do
      [ -e "$f" ] || echo "$f"
    done
    command -v java >/dev/null || echo java
  }

  [ -z "$(missing)" ] && exit 0
  if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
    log "engines missing ($(missing | tr '\n' ' ')); install the Debian packages ${PACKAGES[*]} to run real engines locally"
    exit 0
  fi
  lock="${UPM_CACHE_DIR:-$HOME/.cache/upm}/apt.lock"
  mkdir -p "$(dirname "$lock")"
  exec 9>"$lock"
  flock 9
  [ -z "$(missing)" ] && exit 0
  log "installing engines from Debian packages: ${PACKAGES[*]}"
  export DEBIAN_FRONTEND=noninteractive
  out=$(mktemp)
  trap 'rm -f "$out"' EXIT
  # --no-install-recommends: the engines only; their services are not used (the runtime starts its own processes).
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"; } >"$out" 2>&1; then
    tail -n 30 "$out" >&2
    log "apt-get failed"
    exit 1
  fi
  [ -z "$(missing)" ] || { log "still missing after install: $(missing | tr '\n' ' ')"; exit 1; }
)
# Kafka and OpenSearch from Maven Central (they need the Java runtime the packages above bring).
bash "$HACK_DIR/ensure-maven-engines.sh"
