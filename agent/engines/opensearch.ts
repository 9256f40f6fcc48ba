// OpenSearch driver (the local stand-in for Elasticsearch: the same REST API for everything used here). The server
// and its netty transport module come from Maven Central jars, installed by the project's set-up with the module
// layout OpenSearch expects, with the security plugin: every REST call here is the platform's admin account's (basic
// authentication over plain HTTP), nodes talk to each other over TLS (opensearch-security.ts writes the files).
// OpenSearch refuses to run as root, so on a root agent it runs as nobody (uid 65534), owning only its data, config
// and scratch directories. Cluster-wide dynamic settings change through _cluster/settings.
import { chmod, chown, copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { securityFiles } from './opensearch-security.ts';
import { engineHome, heapMb, installedRequirement, OPENSEARCH_VERSION, smallJvm } from './jvm.ts';
import type { EngineDriver, EngineEnv, LaunchSpec } from './types.ts';
import { exists, resolveHost, rewriteLines, type LineSyntax, type Requirement, type Rewrite } from './util.ts';
import { JAVA } from './zookeeper.ts';

export const OPENSEARCH_HOME = engineHome('opensearch', OPENSEARCH_VERSION);
export const SETPRIV = '/usr/bin/setpriv';

export const OPENSEARCH_REQUIRES: Requirement[] = [
  { path: JAVA, debianPackage: 'openjdk-17-jre-headless' },
  { path: SETPRIV, debianPackage: 'util-linux' },
  installedRequirement(OPENSEARCH_HOME, `OpenSearch ${OPENSEARCH_VERSION}`),
];

export const HTTP_PORT = 9200;
/** The heap the template asks for (half the memory limit) is capped: several clusters share a small machine here. */
export const MAX_HEAP_MB = 256;
/** The user OpenSearch runs as when the agent is root ("nobody": no account has to be created). */
export const OPENSEARCH_UID = 65534;

/** The bootstrap setting: a node that has joined its cluster once must start without it (see prepare). */
const INITIAL_MANAGERS = 'cluster.initial_cluster_manager_nodes';
/** Written into the data directory once the node has served in a cluster (it then holds the cluster's state). */
const JOINED_MARKER = '.upm-joined';

// Top-level "key: value" lines of opensearch.yml (lists below a key are indented, and so left alone).
const ymlSyntax: LineSyntax = {
  parse(line) {
    const m = /^([A-Za-z0-9_.-]+):(?:\s+(.*?))?\s*$/.exec(line);
    return m?.[1] ? { key: m[1], value: m[2] ?? '' } : undefined;
  },
  format: (key, value) => `${key}: ${value}`,
};

const yamlString = (s: string): string => JSON.stringify(s);

/** The node's own directory for OpenSearch's config, logs and temporary files (path.conf must hold opensearch.yml). */
const osDir = (env: EngineEnv, sub: 'config' | 'logs' | 'tmp'): string => join(env.runDir, 'opensearch', sub);

/** Node-local settings: set where the rendered file has them, added otherwise. */
function requiredSettings(env: EngineEnv): Map<string, string> {
  return new Map([
    ['network.host', env.address],
    ['path.data', yamlString(env.dataDir)],
    ['path.logs', yamlString(osDir(env, 'logs'))],
  ]);
}

/** The hosts of a seed list ("host:port" lines below discovery.seed_hosts), resolved on this node. */
function resolveSeedHosts(lines: string[], env: EngineEnv): string[] {
  let inSeeds = false;
  return lines.map((line) => {
    if (/^[A-Za-z]/.test(line)) inSeeds = line.startsWith('discovery.seed_hosts:');
    const m = inSeeds ? /^(\s+-\s+)("?)([^":\s]+)(:[0-9]+)?\2\s*$/.exec(line) : null;
    return m ? `${m[1]}${resolveHost(env, m[3] ?? '')}${m[4] ?? ''}` : line;
  });
}

export function localizeOpensearch(rendered: string, env: EngineEnv): string {
  const required = requiredSettings(env);
  const rewrites = new Map<string, Rewrite>([
    ...required,
    // Bind and publish this node's address only (the template binds every interface of the pod).
    ['network.bind_host', env.address],
    ['network.publish_host', (old) => (old ? resolveHost(env, old.replace(/^"|"$/g, '')) : env.address)],
  ]);
  const notes = new Map([['network.host', 'the pod address; every process of this machine shares one loopback interface']]);
  const { lines, found } = rewriteLines(resolveSeedHosts(rendered.replace(/\n$/, '').split('\n'), env), ymlSyntax, rewrites, { notes });
  const missing = [...required].filter(([k]) => !found.has(k)).map(([k, v]) => ymlSyntax.format(k, v));
  if (missing.length) lines.push('# node-local (unit agent): address and paths of this node', ...missing);
  return `${lines.join('\n')}\n`;
}

/** The config without `key` and the list lines below it. */
export function dropSetting(yml: string, key: string): string {
  const out: string[] = [];
  let dropping = false;
  for (const line of yml.split('\n')) {
    if (!/^\s/.test(line) || line === '') dropping = ymlSyntax.parse(line)?.key === key;
    if (!dropping) out.push(line);
  }
  return out.join('\n');
}

const runsAsRoot = (): boolean => process.getuid?.() === 0;

/** Owns `path` as OpenSearch's user (only the directories: what OpenSearch creates inside is its own already). */
async function own(path: string): Promise<void> {
  if (!runsAsRoot()) return;
  const st = await stat(path);
  if (st.uid !== OPENSEARCH_UID || st.gid !== OPENSEARCH_UID) await chown(path, OPENSEARCH_UID, OPENSEARCH_UID);
}

/**
 * Lays out the node's config directory (opensearch.yml, log4j2.properties) and its own data, log and temporary
 * directories. The initial cluster-manager nodes are for the cluster's first forming only: a node that has served
 * in its cluster (the marker bootstrap writes) starts without them, so it can never bootstrap a second cluster.
 */
async function prepare(env: EngineEnv, configPath: string): Promise<void> {
  let yml = await readFile(configPath, 'utf8');
  if (await exists(join(env.dataDir, JOINED_MARKER))) yml = dropSetting(yml, INITIAL_MANAGERS);
  for (const dir of [env.dataDir, join(env.runDir, 'opensearch'), osDir(env, 'config'), osDir(env, 'logs'), osDir(env, 'tmp')]) {
    await mkdir(dir, { recursive: true });
    await own(dir);
  }
  // JNA checks its temporary directory with access(2) as the real uid (see launch): open to all, below private ones.
  if (runsAsRoot()) await chmod(osDir(env, 'tmp'), 0o1777);
  await writeFile(join(osDir(env, 'config'), 'opensearch.yml'), yml, { mode: 0o644 });
  await copyFile(join(OPENSEARCH_HOME, 'config', 'log4j2.properties'), join(osDir(env, 'config'), 'log4j2.properties'));
  await writeSecurityFiles(env);
}

/**
 * The security plugin's files: its first configuration (the admin account hashed) and the transport TLS material,
 * in directories and files only OpenSearch's user may read (the plugin warns of anything more open).
 */
async function writeSecurityFiles(env: EngineEnv): Promise<void> {
  for (const [rel, text] of Object.entries(await securityFiles(env.credentials, env.unit))) {
    const path = join(osDir(env, 'config'), rel);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await own(dirname(path));
    await rm(path, { force: true });
    await writeFile(path, text, { mode: 0o600, flag: 'wx' });
    await own(path);
  }
}

function launch(env: EngineEnv, configPath: string): LaunchSpec {
  const heap = heapMb(readFileSync(configPath, 'utf8'), MAX_HEAP_MB);
  const java = [
    ...smallJvm(heap), '-Xss1m',
    // The flags OpenSearch's own jvm.options sets for netty, log4j and locales.
    '-Dio.netty.noUnsafe=true', '-Dio.netty.noKeySetOptimization=true', '-Dio.netty.recycler.maxCapacityPerThread=0',
    '-Dlog4j.shutdownHookEnabled=false', '-Dlog4j2.disable.jmx=true', '-Djava.locale.providers=SPI,COMPAT',
    '-Dfile.encoding=UTF-8', `-Djava.io.tmpdir=${osDir(env, 'tmp')}`,
    `-Dopensearch.path.home=${OPENSEARCH_HOME}`, `-Dopensearch.path.conf=${osDir(env, 'config')}`, '-Dopensearch.distribution.type=tar',
    '-cp', join(OPENSEARCH_HOME, 'lib', '*'), 'org.opensearch.bootstrap.OpenSearch',
  ];
  if (!runsAsRoot()) return { command: JAVA, args: java, stopSignal: 'SIGTERM' };
  // OpenSearch refuses an effective uid of root: it runs as nobody, with one capability (reading and traversing
  // what it does not own: the engine install and the runtime's private directories above its own). Its real uid
  // stays root, because OpenSearch checks its paths with access(2), which judges by the real uid; the bounding set
  // leaves it no other capability, so it writes only where it owns the directory.
  const caps = ['--bounding-set=-all,+dac_read_search', '--inh-caps=-all,+dac_read_search', '--ambient-caps=+dac_read_search'];
  return {
    command: SETPRIV,
    args: [`--euid=${OPENSEARCH_UID}`, `--egid=${OPENSEARCH_UID}`, '--clear-groups', ...caps, '--', JAVA, ...java],
    stopSignal: 'SIGTERM',
  };
}

// --- REST ---------------------------------------------------------------------------------------------------------

/** Basic authentication as the platform's admin account (the security plugin refuses anonymous requests). */
export function adminAuth(env: EngineEnv): Record<string, string> {
  const user = env.credentials['admin-username'] ?? '';
  const password = env.credentials['admin-password'] ?? '';
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/** One REST call to this node as the admin account; throws with OpenSearch's own reason when it answers an error. */
export async function rest<T>(env: EngineEnv, method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<T> {
  const res = await fetch(`http://${env.address}:${HTTP_PORT}${path}`, {
    method,
    headers: { ...adminAuth(env), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  if (!res.ok) {
    let reason = text.slice(0, 500);
    try {
      const e = (JSON.parse(text) as { error?: { reason?: string } | string }).error;
      reason = typeof e === 'string' ? e : e?.reason ?? reason;
    } catch { /* not JSON */ }
    throw new Error(`${method} ${path} on ${env.unit}: ${res.status} ${reason}`);
  }
  return JSON.parse(text) as T;
}

interface Health { status: string; number_of_nodes: number; discovered_cluster_manager?: boolean }

/** The node's view of its cluster's health, or undefined while it does not answer. */
export async function clusterHealth(env: EngineEnv, local = true): Promise<Health | undefined> {
  try {
    return await rest<Health>(env, 'GET', `/_cluster/health${local ? '?local=true' : ''}`, undefined, 3000);
  } catch {
    return undefined;
  }
}

/** Ready: HTTP answers and the node knows its elected cluster manager (it has joined a cluster). */
async function probe(env: EngineEnv): Promise<boolean> {
  return (await clusterHealth(env))?.discovered_cluster_manager === true;
}

/** Once the node has served in its cluster, it is bootstrapped for good (prepare then drops the initial managers). */
async function bootstrap(env: EngineEnv): Promise<void> {
  const marker = join(env.dataDir, JOINED_MARKER);
  if (!(await exists(marker))) await writeFile(marker, `${new Date().toISOString()}\n`);
}

/** Persistent cluster settings: they apply to every node at once and survive restarts of the whole cluster. */
async function setLive(env: EngineEnv, changes: Map<string, string>): Promise<void> {
  if (!changes.size) return;
  await rest(env, 'PUT', '/_cluster/settings', { persistent: Object.fromEntries(changes) });
}

type Flat = Record<string, unknown>;

/** The values in force: transient over persistent over the node's own (opensearch.yml or default). */
async function readLive(env: EngineEnv, keys: string[]): Promise<Map<string, string>> {
  if (!keys.length) return new Map();
  const s = await rest<{ persistent: Flat; transient: Flat; defaults?: Flat }>(env, 'GET', '/_cluster/settings?flat_settings=true&include_defaults=true');
  const nodes = await rest<{ nodes: Record<string, { settings: Flat }> }>(env, 'GET', '/_nodes/_local/settings?flat_settings=true');
  const own = Object.values(nodes.nodes)[0]?.settings ?? {};
  const out = new Map<string, string>();
  for (const k of keys) {
    const v = s.transient[k] ?? s.persistent[k] ?? own[k] ?? s.defaults?.[k];
    if (v !== undefined) out.set(k, Array.isArray(v) ? v.join(',') : String(v));
  }
  return out;
}

export const opensearchDriver: EngineDriver = {
  engine: 'opensearch',
  localize: localizeOpensearch,
  prepare,
  launch,
  probe,
  bootstrap,
  setLive,
  readLive,
};
