#!/usr/bin/env bash
# Installs the JVM engines the local engine runtime runs from Maven Central jars: Kafka 3.9 and 4.1 (KRaft; two
# releases, so that a cluster can be upgraded in place) and OpenSearch (the local stand-in for Elasticsearch) with its security plugin. Each goes to $UPM_CACHE_DIR/engines/<name>-<version>/, built in a temporary
# directory and renamed into place, so a half-finished install is never used. Quick no-op when present; safe to run
# concurrently (flock). Maven's local repository is kept in the cache too, so an install can be redone offline.
# Without java or mvn, or when Maven Central cannot be reached, prints why and carries on: those two engines are
# then reported NotRunnable, and the rest of the system works.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ENGINES_DIR="$UPM_CACHE_DIR/engines"
KAFKA_DIR="$ENGINES_DIR/kafka-$KAFKA_VERSION"
KAFKA4_DIR="$ENGINES_DIR/kafka-$KAFKA4_VERSION"
OPENSEARCH_DIR="$ENGINES_DIR/opensearch-$OPENSEARCH_VERSION"
MAVEN_REPO="$UPM_CACHE_DIR/maven"
MARKER=.upm-installed

installed() { [ -f "$KAFKA_DIR/$MARKER" ] && [ -f "$KAFKA4_DIR/$MARKER" ] && [ -f "$OPENSEARCH_DIR/$MARKER" ]; }
installed && exit 0
mkdir -p "$ENGINES_DIR"
exec 9>"$ENGINES_DIR/.lock"
flock 9
installed && exit 0
# Maven itself is a Debian package; install it where this command may (root with apt-get), under the lock the
# Debian engine packages are installed with.
if { ! command -v mvn >/dev/null || ! command -v unzip >/dev/null; } && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  log "installing Maven and unzip (Debian packages) to fetch Kafka and OpenSearch"
  (
    exec 8>"$UPM_CACHE_DIR/apt.lock"
    flock 8
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends maven unzip >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq --no-install-recommends maven unzip >/dev/null 2>&1; }
  ) || true
fi
for tool in java mvn unzip; do
  if ! command -v "$tool" >/dev/null; then
    log "no $tool: Kafka and OpenSearch cannot be installed (they come from Maven Central); install a Java 17 JDK and Maven to run them locally"
    exit 0
  fi
done

work=$(mktemp -d "$ENGINES_DIR/.install.XXXXXX")
trap 'rm -rf "$work"' EXIT

# A pom with the given dependencies ("group:artifact:version" each), packaging pom: nothing is built.
pom() {
  local dep g a v
  printf '<project xmlns="http://maven.apache.org/POM/4.0.0">\n  <modelVersion>4.0.0</modelVersion>\n'
  printf '  <groupId>io.upm.local</groupId><artifactId>engine-jars</artifactId><version>1</version><packaging>pom</packaging>\n'
  printf '  <dependencies>\n'
  for dep in "$@"; do
    IFS=: read -r g a v <<<"$dep"
    printf '    <dependency><groupId>%s</groupId><artifactId>%s</artifactId><version>%s</version></dependency>\n' "$g" "$a" "$v"
  done
  printf '  </dependencies>\n</project>\n'
}

# Copies the runtime jars of the given dependencies into $1. Offline first (everything may be in the cache already),
# then from Maven Central. The plugin is named with its version, so no plugin metadata has to be looked up.
fetch() {
  local out=$1; shift
  local dir; dir=$(mktemp -d "$work/pom.XXXXXX")
  pom "$@" >"$dir/pom.xml"
  local goal="org.apache.maven.plugins:maven-dependency-plugin:$MAVEN_DEPENDENCY_PLUGIN:copy-dependencies"
  local args=(-B -q -Dstyle.color=never -f "$dir/pom.xml" "-Dmaven.repo.local=$MAVEN_REPO" "$goal" -DincludeScope=runtime "-DoutputDirectory=$out")
  mvn -o "${args[@]}" >"$dir/offline.log" 2>&1 && return 0
  if ! mvn "${args[@]}" >"$dir/online.log" 2>&1; then
    grep -m 1 -E 'ERROR\] (Plugin|Failed|Could not)' "$dir/online.log" | sed 's/.*\[ERROR\] //' >&2 || tail -n 5 "$dir/online.log" >&2
    log "could not fetch $* from Maven Central (is it reachable?); Kafka and OpenSearch stay NotRunnable locally"
    exit 0
  fi
}

# Fetches one artifact ("group:artifact:version[:type]") into Maven's local repository and prints its path there
# (it runs in a command substitution: the caller says what failed and stops).
fetch_file() {
  local g a v t dir
  IFS=: read -r g a v t <<<"$1"
  t=${t:-jar}
  dir=$(mktemp -d "$work/get.XXXXXX")
  pom >"$dir/pom.xml"
  local goal="org.apache.maven.plugins:maven-dependency-plugin:$MAVEN_DEPENDENCY_PLUGIN:get"
  local args=(-B -q -Dstyle.color=never -f "$dir/pom.xml" "-Dmaven.repo.local=$MAVEN_REPO" "$goal" "-Dartifact=$1" -Dtransitive=false)
  if ! mvn -o "${args[@]}" >"$dir/offline.log" 2>&1 && ! mvn "${args[@]}" >"$dir/online.log" 2>&1; then
    grep -m 1 -E 'ERROR\] (Plugin|Failed|Could not|Couldn)' "$dir/online.log" | sed 's/.*\[ERROR\] //' >&2 || tail -n 5 "$dir/online.log" >&2
    return 1
  fi
  printf '%s/%s/%s/%s/%s-%s.%s\n' "$MAVEN_REPO" "${g//.//}" "$a" "$v" "$a" "$v" "$t"
}

install_kafka() {
  local dir="$work/kafka"
  log "installing Kafka $KAFKA_VERSION from Maven Central jars"
  # kafka_2.13 brings the broker with its reload4j logging binding; kafka-tools the admin CLIs.
  fetch "$dir/lib" "org.apache.kafka:kafka_2.13:$KAFKA_VERSION" "org.apache.kafka:kafka-tools:$KAFKA_VERSION"
  mkdir -p "$dir/config"
  # The broker logs to stdout (the agent keeps it in the unit's engine log); the CLIs only say what went wrong.
  cat >"$dir/config/log4j.properties" <<'PROPS'
log4j.rootLogger=INFO, stdout
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.controller=INFO
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
PROPS
  cat >"$dir/config/tools-log4j.properties" <<'PROPS'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
PROPS
  echo "kafka $KAFKA_VERSION" >"$dir/$MARKER"
  chmod -R a+rX "$dir"
  rm -rf "$KAFKA_DIR"
  mv "$dir" "$KAFKA_DIR"
}

install_kafka4() {
  local dir="$work/kafka4"
  log "installing Kafka $KAFKA4_VERSION from Maven Central jars"
  # Kafka 4 logs with log4j2 (reload4j is gone); its POM names log4j-core but no SLF4J binding, which is added here.
  fetch "$dir/lib" "org.apache.kafka:kafka_2.13:$KAFKA4_VERSION" "org.apache.kafka:kafka-tools:$KAFKA4_VERSION" \
    "org.apache.logging.log4j:log4j-slf4j-impl:$KAFKA4_LOG4J_VERSION"
  mkdir -p "$dir/config"
  cat >"$dir/config/log4j2.properties" <<'PROPS'
# The broker logs to stdout (the agent keeps it in the unit's engine log).
status = error
appender.stdout.type = Console
appender.stdout.name = stdout
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = stdout
logger.request.name = kafka.request.logger
logger.request.level = warn
PROPS
  cat >"$dir/config/tools-log4j2.properties" <<'PROPS'
# The CLIs only say what went wrong, on stderr.
status = error
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = stderr
PROPS
  echo "kafka $KAFKA4_VERSION" >"$dir/$MARKER"
  chmod -R a+rX "$dir"
  rm -rf "$KAFKA4_DIR"
  mv "$dir" "$KAFKA4_DIR"
}

# The security plugin (authentication, roles, transport TLS) as the plugin CLI would install it: the zip's jars,
# descriptor and security policy in plugins/opensearch-security. Its config/ (the demo's users and roles) and tools/
# are left out: the unit agent writes each node's security configuration itself.
install_security_plugin() {
  local to=$1 zip
  zip=$(fetch_file "org.opensearch.plugin:opensearch-security:$OPENSEARCH_SECURITY_VERSION:zip") \
    || { log "could not fetch the OpenSearch security plugin from Maven Central (is it reachable?); OpenSearch stays NotRunnable locally"; exit 0; }
  mkdir -p "$to"
  unzip -q -o "$zip" -x 'config/*' 'tools/*' -d "$to"
  grep -qx "opensearch.version=$OPENSEARCH_VERSION" "$to/plugin-descriptor.properties" \
    || { log "the security plugin $OPENSEARCH_SECURITY_VERSION is not for OpenSearch $OPENSEARCH_VERSION"; exit 1; }
}

install_opensearch() {
  local dir="$work/opensearch"
  local netty="$dir/modules/transport-netty4"
  log "installing OpenSearch $OPENSEARCH_VERSION from Maven Central jars"
  # The server's POM names no log4j-core and no plugin class loader, which the server needs at run time.
  fetch "$dir/lib" "org.opensearch:opensearch:$OPENSEARCH_VERSION" "org.opensearch:opensearch-plugin-classloader:$OPENSEARCH_CLASSLOADER_VERSION" \
    "org.apache.logging.log4j:log4j-core:$OPENSEARCH_LOG4J_VERSION"
  # HTTP and node-to-node transport come from the netty module, which OpenSearch loads from modules/ with a class
  # loader of its own: its jars must not be on the server's class path.
  fetch "$netty" "org.opensearch.plugin:transport-netty4-client:$OPENSEARCH_VERSION"
  cat >"$netty/plugin-descriptor.properties" <<PROPS
# Written by UPM's set-up: the module's jars come from Maven Central, which does not carry the distribution's descriptor.
name=transport-netty4
description=Netty 4 transport (HTTP and node-to-node) for OpenSearch, installed from Maven Central by UPM
version=$OPENSEARCH_VERSION
opensearch.version=$OPENSEARCH_VERSION
java.version=11
classname=org.opensearch.transport.Netty4Plugin
extended.plugins=
has.native.controller=false
PROPS
  # The security manager grants a module only what its policy lists: netty accepts and opens connections, reads
  # the kernel's accept backlog, names its threads' class loader and may set the NIO selector's bug level.
  cat >"$netty/plugin-security.policy" <<'POLICY'
grant {
  permission java.net.SocketPermission "*", "accept,connect";
  permission java.io.FilePermission "/proc/sys/net/core/somaxconn", "read";
  permission java.lang.RuntimePermission "*", "setContextClassLoader";
  permission java.util.PropertyPermission "sun.nio.ch.bugLevel", "write";
};
POLICY
  # OpenSearch grants itself access to bin/ and wants it there, though the jars are started directly.
  mkdir -p "$dir/config" "$dir/plugins" "$dir/bin"
  install_security_plugin "$dir/plugins/opensearch-security"
  cat >"$dir/config/log4j2.properties" <<'PROPS'
# OpenSearch logs to stdout (the agent keeps it in the unit's engine log).
status = error
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n
rootLogger.level = info
rootLogger.appenderRef.console.ref = console
PROPS
  echo "opensearch $OPENSEARCH_VERSION" >"$dir/$MARKER"
  chmod -R a+rX "$dir"
  rm -rf "$OPENSEARCH_DIR"
  mv "$dir" "$OPENSEARCH_DIR"
}

[ -f "$KAFKA_DIR/$MARKER" ] || install_kafka
[ -f "$KAFKA4_DIR/$MARKER" ] || install_kafka4
[ -f "$OPENSEARCH_DIR/$MARKER" ] || install_opensearch
