// ZooKeeper driver: Debian's ZooKeeper jars run directly with java (zkServer.sh hard-codes /var/log/zookeeper and
// adds neither a logging binding nor heap flags). None of its settings is dynamic, so there is no setLive; the
// ensemble's membership is (reconfig), and a server that already runs with the membership a new config lists needs
// no restart for it.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
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

/**
 * A "#upm:" value of the config as rendered. With reconfig ZooKeeper rewrites the config file itself (server lines
 * moved to its dynamic file, comments dropped) after keeping the file as it was in <file>.bak: read there then.
 */
function renderedValue(configPath: string, name: string): string | undefined {
  const read = (p: string) => { try { return readFileSync(p, 'utf8'); } catch { return ''; } };
  return upmValue(read(configPath), name) ?? upmValue(read(`${configPath}.bak`), name);
}

/** The JVM arguments only this node may read (the super user's digest): an @-file, so neither ps nor the log shows them. */
const argFile = (env: EngineEnv) => join(env.runDir, 'zookeeper.jvm-args');

/** ZooKeeper's digest of "user:password" (base64 of its SHA-1), as DigestAuthenticationProvider expects. */
export function superDigest(username: string, password: string): string {
  return `${username}:${createHash('sha1').update(`${username}:${password}`).digest('base64')}`;
}

/** A server line's value as ZooKeeper compares members: address, quorum and election ports, role (no client part). */
function normalizeServer(value: string): string {
  const [quorum = ''] = value.split(';');
  const parts = quorum.trim().split(':');
  return parts.length >= 4 ? parts.slice(0, 4).join(':') : `${parts.slice(0, 3).join(':')}:participant`;
}

/** The "server.N=..." lines of a config file (or of the "membership:" part of `conf`), by server id. */
export function serverLines(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const m of text.matchAll(/^\s*server\.([0-9]+)\s*=\s*(\S+)\s*$/gm)) out.set(Number(m[1]), normalizeServer(m[2] ?? ''));
  return out;
}

/** The membership a running server reports (`conf`): its servers and the configuration's version (hex). */
export function membershipOf(conf: string): { servers: Map<number, string>; version: string } | undefined {
  const at = conf.indexOf('membership:');
  if (at < 0) return undefined;
  const part = conf.slice(at);
  return { servers: serverLines(part), version: /^version=([0-9a-f]+)/m.exec(part)?.[1] ?? '' };
}

async function prepare(env: EngineEnv, configPath: string): Promise<void> {
  await mkdir(env.dataDir, { recursive: true });
  await mkdir(env.runDir, { recursive: true });
  const config = await readFile(configPath, 'utf8');
  const myid = renderedValue(configPath, 'myid');
  if (!myid || !/^[0-9]+$/.test(myid)) throw new Error(`zookeeper ${env.unit}: ${configPath} has no "#upm:myid=<n>" line`);
  // With reconfig, ZooKeeper moves the server list into a dynamic file of its own and points the config at it. A
  // server that joined but was not (yet) added, or was removed, then finds itself absent there and cannot start:
  // it starts again from the config as rendered, which ZooKeeper kept as <file>.bak.
  const dynamic = /^dynamicConfigFile=(.+)$/m.exec(config)?.[1]?.trim();
  if (dynamic) {
    const listed = await readFile(dynamic, 'utf8').then((d) => serverLines(d).has(Number(myid)), () => false);
    const backup = `${configPath}.bak`;
    if (!listed && (await readFile(backup, 'utf8').then((b) => serverLines(b).has(Number(myid)), () => false))) {
      await copyFile(backup, configPath);
    }
  }
  const file = join(env.dataDir, 'myid');
  const current = await readFile(file, 'utf8').then((s) => s.trim(), () => undefined);
  if (current !== myid) await writeFile(file, `${myid}\n`);
  // The admin account is ZooKeeper's super user (as in the pod template's start command).
  const user = env.credentials['admin-username'];
  const password = env.credentials['admin-password'];
  const args = user && password ? `-Dzookeeper.DigestAuthenticationProvider.superDigest=${superDigest(user, password)}\n` : '';
  await mkdir(dirname(argFile(env)), { recursive: true });
  await writeFile(argFile(env), args, { mode: 0o600 });
}

/**
 * A config that differs from the running one only in its server lines needs no restart when the server already
 * runs with exactly that membership (the ensemble was reconfigured to it).
 */
async function runsAlready(env: EngineEnv, running: string, next: string): Promise<boolean> {
  const rest = (t: string) => t.split('\n').filter((l) => !/^\s*server\.[0-9]+\s*=/.test(l)).join('\n');
  if (rest(running) !== rest(next)) return false;
  const live = membershipOf(await tcpExchange(env.address, CLIENT_PORT, 'conf').catch(() => ''));
  if (!live) return false;
  const want = serverLines(next);
  return want.size === live.servers.size && [...want].every(([id, v]) => live.servers.get(id) === v);
}

function heapMb(configPath: string): number {
  const asked = Number(renderedValue(configPath, 'heap-mb'));
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
      `-Dlog4j.configuration=file:${ZK_LOG4J_PROPERTIES}`, `@${argFile(env)}`,
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
  runsAlready,
};
