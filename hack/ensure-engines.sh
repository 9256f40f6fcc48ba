#!/usr/bin/env bash
# Installs the real data engines the local engine runtime runs: MariaDB, Redis, Redis Sentinel and ZooKeeper from
# Debian packages, then Kafka and OpenSearch from Maven Central jars (ensure-maven-engines.sh). Quick no-op when they
# are present; safe to run concurrently (flock). Without apt-get or root, prints what is missing and carries on: the
# engine suites then fail with the engine named, and the rest of the system works.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Debian packages.
engines_missing() {
  local f
  for f in /usr/sbin/mariadbd /usr/bin/mariadb-install-db /usr/bin/mariadb /usr/bin/mariadb-dump /usr/bin/mariadb-admin \
    /usr/bin/redis-server /usr/bin/redis-sentinel /usr/bin/redis-cli /usr/share/java/zookeeper.jar; do
    [ -e "$f" ] || echo "$f"
  done
  command -v java >/dev/null || echo java
}
# The engines only: their services are not used (the runtime starts its own processes).
apt_install_locked engines_missing 'run real engines locally' mariadb-server mariadb-client redis-server redis-sentinel redis-tools zookeeper
# Kafka and OpenSearch from Maven Central (they need the Java runtime the packages above bring).
bash "$HACK_DIR/ensure-maven-engines.sh"
