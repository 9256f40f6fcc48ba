// ZooKeeper driver: Debian's ZooKeeper jars run directly with java (zkServer.sh hard-codes /var/log/zookeeper and
// adds neither a logging binding nor heap flags). None of its settings is dynamic, so there is no setLive.
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EngineDriver, EngineEnv, LaunchSpec } from './types.ts';
import { rewriteLines, tcpExchange, type LineSyntax, type Requirement, type Rewrite } from './util.ts';

export const JAVA = '/usr/bin/java';
export const JAVA_LIB = '/usr/share/java';
export const ZOOKEEPER_JAR = `${JAVA_LIB}/zookeeper.jar`;
export const SLF4J_LOG4J_JAR = `${JAVA_LIB}/slf4j-log4j12.jar`;
export const LOG4J_JAR = `${JAVA_LIB}/log4j-1.2.jar`;
export const ZK_LOG4J_PROPERTIES = '/etc/zookeeper/conf/log4j.properties';

export const ZOOKEEPER_REQUIRES: Requirement[] = [
  { path: JAVA, debianPackage: 'openjdk-17-jre-headless' },
  { path: ZOOKEEPER_JAR, debianPackage: 'libzookeeper-java' },
  { path: SLF4J_LOG4J_JAR, debianPackage: 'libslf4j-java' },
  { path: LOG4J_JAR, debianPackage: 'liblog4j1.2-java' },
  { path: ZK_LOG4J_PROPERTIES, debianPackage: 'zookeeper' },
];

export const CLIENT_PORT = 2181;
/** The heap the template asks for (half the memory limit) is capped: several ensembles share a small machine here. */
export const MAX_HEAP_MB = 128;

const PROMETHEUS_PROVIDER = 'org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider';

const cfgSyntax: LineSyntax = {
  parse(line) {
    const m = /^\s*([A-Za-z0-9_.]+)\s*=\s*(.*?)\s*$/.exec(line);
    return m?.[1] ? { key: m[1], value: m[2] ?? '' } : undefined;
  },
  format: (key, value) => `${key}=${value}`,
};

/** The jar of ZooKeeper's Prometheus metrics provider, if this node has one (Debian ships none). */
function prometheusJar(): string | undefined {
  try {
    const jar = readdirSync(JAVA_LIB).find((f) => f.startsWith('zookeeper-prometheus-metrics') && f.endsWith('.jar'));
    return jar ? join(JAVA_LIB, jar) : undefined;
  } catch {
    return undefined;
  }
}

/** Node-local settings: set where the rendered file has them, added otherwise. */
function requiredSettings(env: EngineEnv): Map<string, string> {
  return new Map([
    ['dataDir', env.dataDir],
    ['clientPortAddress', env.address],
    ['quorumListenOnAllIPs', 'false'],
    // Where the AdminServer listens when enabled (its default is 0.0.0.0:8080, shared by all nodes here).
    ['admin.serverAddress', env.address],
  ]);
}

/** Comments out the metrics provider when its class is not on this node's classpath (the server would not start). */
function withoutMissingMetrics(lines: string[]): string[] {
  const provider = lines.find((l) => cfgSyntax.parse(l)?.key === 'metricsProvider.className');
  if (!provider?.includes(PROMETHEUS_PROVIDER) || prometheusJar()) return lines;
  const out = lines.map((l) => (cfgSyntax.parse(l)?.key.startsWith('metricsProvider.') ? `#${l}` : l));
  const at = out.findIndex((l) => l.startsWith('#metricsProvider.'));
  out.splice(at, 0, '# node-local (unit agent): Debian has no zookeeper-prometheus-metrics jar, so no metrics provider');
  return out;
}

export function localizeZookeeper(rendered: string, env: EngineEnv): string {
  const required = requiredSettings(env);
  const rewrites = new Map<string, Rewrite>([...required, ['dataLogDir', join(env.dataDir, 'txlog')]]);
  const notes = new Map([['quorumListenOnAllIPs', 'on all IPs, quorum and election ports would bind 0.0.0.0, and every node of this machine uses the same ports']]);
  const { lines, found } = rewriteLines(rendered.replace(/\n$/, '').split('\n'), cfgSyntax, rewrites, { notes });
  const missing = [...required].filter(([k]) => !found.has(k)).map(([k, v]) => cfgSyntax.format(k, v));
  const out = withoutMissingMetrics(lines);
  if (missing.length) out.push('# node-local (unit agent): data directory and listen address of this node', ...missing);
  return `${out.join('\n')}\n`;
}

/** A "#upm:<name>=<value>" line of the rendered config (read by the start command in a pod). */
function upmValue(config: string, name: string): string | undefined {
  return new RegExp(`^#upm:${name}=(.*)$`, 'm').exec(config)?.[1]?.trim();
}

async function prepare(env: EngineEnv, configPath: string): Promise<void> {
  await mkdir(env.dataDir, { recursive: true });
  await mkdir(env.runDir, { recursive: true });
  const myid = upmValue(await readFile(configPath, 'utf8'), 'myid');
  if (!myid || !/^[0-9]+$/.test(myid)) throw new Error(`zookeeper ${env.unit}: ${configPath} has no "#upm:myid=<n>" line`);
  const file = join(env.dataDir, 'myid');
  const current = await readFile(file, 'utf8').then((s) => s.trim(), () => undefined);
  if (current !== myid) await writeFile(file, `${myid}\n`);
}

function heapMb(configPath: string): number {
  const asked = Number(upmValue(readFileSync(configPath, 'utf8'), 'heap-mb'));
  return Number.isFinite(asked) && asked > 0 ? Math.min(asked, MAX_HEAP_MB) : MAX_HEAP_MB;
}

function launch(env: EngineEnv, configPath: string): LaunchSpec {
  const heap = heapMb(configPath);
  const extra = prometheusJar();
  const classpath = [ZOOKEEPER_JAR, SLF4J_LOG4J_JAR, LOG4J_JAR, ...(extra ? [extra] : [])].join(':');
  return {
    command: JAVA,
    args: [
      `-Xms${Math.min(32, heap)}m`, `-Xmx${heap}m`,
      // A small, quick-starting JVM: serial GC and the C1 compiler only.
      '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xss512k',
      `-Dzookeeper.log.dir=${env.runDir}`, '-Dzookeeper.root.logger=INFO,CONSOLE',
      `-Dlog4j.configuration=file:${ZK_LOG4J_PROPERTIES}`,
      // Default only: an admin.enableServer line in the config overrides it.
      '-Dzookeeper.admin.enableServer=false',
      '-cp', classpath, 'org.apache.zookeeper.server.quorum.QuorumPeerMain', configPath,
    ],
    stopSignal: 'SIGTERM',
  };
}

/** The server's `srvr` answer ("Mode: leader" etc.); whitelisted by the template. */
export function srvr(env: EngineEnv): Promise<string> {
  return tcpExchange(env.address, CLIENT_PORT, 'srvr');
}

/** The "Mode:" of the server (leader, follower, standalone), or undefined while it does not serve. */
export async function zookeeperMode(env: EngineEnv): Promise<string | undefined> {
  try {
    return /^Mode: (\S+)/m.exec(await srvr(env))?.[1];
  } catch {
    return undefined;
  }
}

export const zookeeperDriver: EngineDriver = {
  engine: 'zookeeper',
  localize: localizeZookeeper,
  prepare,
  launch,
  probe: async (env) => (await zookeeperMode(env)) !== undefined,
};
