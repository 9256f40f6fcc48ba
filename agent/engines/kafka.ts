// Kafka driver (KRaft): the broker and controller from Maven Central jars (installed by the project's set-up) run
// directly with java. The storage of each node is formatted once, with the cluster ID of the rendered config, before
// its first start; the node answers Kafka's ApiVersions request once it serves; dynamic broker settings change
// through the Admin API (kafka-configs). As the pod's start command does, the SASL/PLAIN account comes from the
// unit's credentials and stays out of the rendered config. Two releases are installed (3.9 and 4.1): the rendered
// config's "#upm:kafka-version=" line (the template's) says which one a unit runs, so that a version change of the
// UnitSet restarts each unit on the other release's jars with its data as it is.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { basename, join } from 'node:path';
import { engineHome, heapMb, installedRequirement, KAFKA4_VERSION, KAFKA_VERSION, smallJvm, upmValue } from './jvm.ts';
import { EngineNotRunnable, type EngineDriver, type EngineEnv, type LaunchSpec } from './types.ts';
import { installHint, resolveHost, rewriteLines, run, writeAtomically, type LineSyntax, type Requirement, type Rewrite } from './util.ts';
import { JAVA } from './zookeeper.ts';

/** One installed Kafka release: its jars and how its JVMs are told their logging config. */
export interface KafkaInstall { version: string; home: string; lib: string; serverLogging: string; toolsLogging: string }

function install(version: string): KafkaInstall {
  const home = engineHome('kafka', version);
  // Kafka 3.9 logs with reload4j (log4j 1 properties), Kafka 4 with log4j2: the set-up writes a config for each.
  const logging = (prefix: string) => (version.startsWith('3.')
    ? `-Dlog4j.configuration=file:${join(home, 'config', `${prefix}log4j.properties`)}`
    : `-Dlog4j2.configurationFile=${join(home, 'config', `${prefix}log4j2.properties`)}`);
  return { version, home, lib: join(home, 'lib', '*'), serverLogging: logging(''), toolsLogging: logging('tools-') };
}

/** The installed release of each template version line ("#upm:kafka-version"); a config without the line is 3.9. */
export const KAFKA_INSTALLS: Record<string, KafkaInstall> = { '3.9': install(KAFKA_VERSION), '4.1': install(KAFKA4_VERSION) };
const DEFAULT_LINE = '3.9';
export const KAFKA_HOME = (KAFKA_INSTALLS[DEFAULT_LINE] as KafkaInstall).home;

/** The release a rendered config asks for; throws EngineNotRunnable when it is not one this node has. */
export function kafkaInstallFor(config: string): KafkaInstall {
  const line = upmValue(config, 'kafka-version') ?? DEFAULT_LINE;
  const found = KAFKA_INSTALLS[line];
  if (!found) throw new EngineNotRunnable('kafka', `no Kafka ${line} here (releases: ${Object.keys(KAFKA_INSTALLS).join(', ')})`);
  const req = installedRequirement(found.home, `Kafka ${found.version}`);
  if (!existsSync(req.path)) throw new EngineNotRunnable('kafka', `${req.path} is missing: ${installHint(req)}`);
  return found;
}

/** What any Kafka unit needs; the release a unit's config names is checked when it is prepared and launched. */
export const KAFKA_REQUIRES: Requirement[] = [
  { path: JAVA, debianPackage: 'openjdk-17-jre-headless' },
  installedRequirement(KAFKA_HOME, `Kafka ${KAFKA_VERSION}`),
];

/** The template's listener ports (every unit has an address of its own, so the ports are the same everywhere). */
export const BROKER_PORT = 9092;
export const CONTROLLER_PORT = 9093;
/** The heap the template asks for (half the memory limit) is capped: several clusters share a small machine here. */
export const MAX_HEAP_MB = 256;
/** Kafka's default log-cleaner buffer (128 MB) does not fit a small heap: the broker dies at start with an OOM. */
const DEFAULT_DEDUPE_BUFFER = 128 * 1024 * 1024;

const propSyntax: LineSyntax = {
  parse(line) {
    const m = /^\s*([A-Za-z0-9_.-]+)\s*=\s*(.*?)\s*$/.exec(line);
    return m?.[1] ? { key: m[1], value: m[2] ?? '' } : undefined;
  },
  format: (key, value) => `${key}=${value}`,
};

/** The settings of a properties file (last one wins, as in Java). */
export function properties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const kv = propSyntax.parse(line);
    if (kv) out.set(kv.key, kv.value);
  }
  return out;
}

/** "NAME://host:port,..." with every host replaced. */
function mapListenerHosts(value: string, host: (name: string, old: string) => string): string {
  return value.split(',').map((l) => {
    const m = /^\s*([A-Za-z0-9_]+):\/\/(\[[^\]]*\]|[^:]*):([0-9]+)\s*$/.exec(l);
    return m ? `${m[1]}://${host(m[1] ?? '', m[2] ?? '')}:${m[3]}` : l.trim();
  }).join(',');
}

/** "id@host:port,..." with every host resolved on this node. */
function resolveVoters(value: string, env: EngineEnv): string {
  return value.split(',').map((v) => {
    const m = /^\s*([0-9]+)@(.+):([0-9]+)\s*$/.exec(v);
    return m ? `${m[1]}@${resolveHost(env, m[2] ?? '')}:${m[3]}` : v.trim();
  }).join(',');
}

/**
 * A JAAS option value: a quoted string of Java's StreamTokenizer, which reads backslash escapes and ends at a line
 * break, so backslashes, quotes and line breaks are escaped.
 */
export const jaasValue = (s: string): string => `"${s.replace(/[\\"\n\r]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\${c}`))}"`;
/**
 * A value as a line of a .properties file, which Java reads as ISO-8859-1 with backslash escapes: backslashes doubled,
 * and every character but printable ASCII (line breaks, controls, anything non-ASCII) as a \uXXXX escape, so that no
 * value can end its line or be read as other characters.
 */
export const propValue = (s: string): string => s.replace(/\\/g, '\\\\').replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** A SASL/PLAIN user of the credentials (role admin or app); its name becomes a JAAS option name (user_<name>). */
function account(env: EngineEnv, role: string): { user: string; password: string } | undefined {
  const user = env.credentials[`${role}-username`];
  const password = env.credentials[`${role}-password`];
  if (!user || !password) return undefined;
  if (!/^[A-Za-z0-9_.-]+$/.test(user)) throw new Error(`kafka ${env.unit}: ${role} username "${user}" cannot be a SASL/PLAIN user`);
  return { user, password };
}

/**
 * The admin account's PLAIN login; on a server also the users it accepts (user_<name>): the admin account, and on
 * the brokers' listeners (`withApp`) the application account of the credentials too.
 */
function plainLogin(env: EngineEnv, server: boolean, withApp = false): string | undefined {
  const admin = account(env, 'admin');
  if (!admin) return undefined;
  const accepted = server ? [admin, ...(withApp ? [account(env, 'app')].filter((a) => a !== undefined) : [])] : [];
  const users = accepted.map((a) => ` user_${a.user}=${jaasValue(a.password)}`).join('');
  return `org.apache.kafka.common.security.plain.PlainLoginModule required username=${jaasValue(admin.user)} password=${jaasValue(admin.password)}${users};`;
}

/** Listener names of the rendered config that use SASL, lower-cased as Kafka's listener.name.<name>. prefix wants. */
function saslListeners(props: Map<string, string>): string[] {
  return (props.get('listener.security.protocol.map') ?? '').split(',')
    .map((e) => e.trim().split(':'))
    .filter(([, proto]) => proto?.startsWith('SASL_'))
    .map(([name]) => (name ?? '').toLowerCase());
}

export function localizeKafka(rendered: string, env: EngineEnv): string {
  const props = properties(rendered);
  const heap = heapMb(rendered, MAX_HEAP_MB);
  const rewrites = new Map<string, Rewrite>([
    // Listen on this node's address only (a listener without a host would bind every interface).
    ['listeners', (old) => mapListenerHosts(old, () => env.address)],
    ['advertised.listeners', (old) => mapListenerHosts(old, (_n, host) => (host ? resolveHost(env, host) : env.address))],
    ['controller.quorum.voters', (old) => resolveVoters(old, env)],
    ['controller.quorum.bootstrap.servers', (old) => old.split(',').map((s) => s.trim().replace(/^(.+):([0-9]+)$/, (_m, h: string, p: string) => `${resolveHost(env, h)}:${p}`)).join(',')],
    // Data on this node's volume: each directory of the template keeps its name there.
    ['log.dirs', (old) => old.split(',').map((d) => join(env.dataDir, basename(d.trim()))).join(',')],
    ['log.dir', (old) => join(env.dataDir, basename(old))],
    ['metadata.log.dir', (old) => join(env.dataDir, basename(old))],
  ]);
  const notes = new Map([['listeners', 'the pod address; every process of this machine shares one loopback interface']]);
  const { lines } = rewriteLines(rendered.replace(/\n$/, '').split('\n'), propSyntax, rewrites, { notes });
  const extra: string[] = [];
  const dedupe = Number(props.get('log.cleaner.dedupe.buffer.size') ?? DEFAULT_DEDUPE_BUFFER);
  if (dedupe > (heap * 1024 * 1024) / 4) {
    extra.push(`# node-local (unit agent): the heap is capped at ${heap} MB here, so the log cleaner's buffer shrinks with it`);
    extra.push(propSyntax.format('log.cleaner.dedupe.buffer.size', String(Math.floor((heap * 1024 * 1024) / 8))));
  }
  const admin = account(env, 'admin');
  const sasl = saslListeners(props);
  if (admin && sasl.length) {
    // As the pod's start command does: the admin account logs in everywhere and is the authorizer's super user (the
    // brokers, the controllers and the operator are it); the application account is known to the brokers' listeners.
    const controllers = new Set((props.get('controller.listener.names') ?? 'CONTROLLER').split(',').map((n) => n.trim().toLowerCase()));
    extra.push('# node-local (unit agent): the SASL/PLAIN accounts from the unit\'s credentials, as the pod\'s start command adds them');
    extra.push(propSyntax.format('super.users', `User:${admin.user}`));
    for (const name of sasl) extra.push(propSyntax.format(`listener.name.${name}.plain.sasl.jaas.config`, propValue(plainLogin(env, true, !controllers.has(name)) ?? '')));
  }
  return `${[...lines, ...extra].join('\n')}\n`;
}

// --- the node's facts, written by prepare for the probe and the admin calls -----------------------------------------

/** `version`: the release the node runs, whose CLIs talk to it (absent in facts written before there were two). */
interface NodeFacts { nodeId: number; broker: boolean; controller: boolean; brokerPort: number; controllerPort: number; version?: string }

const factsFile = (env: EngineEnv): string => join(env.runDir, 'kafka-node.json');
/** Client properties of the admin account for the CLIs (with the SASL login, so private to the agent). */
export const adminClientConfig = (env: EngineEnv): string => join(env.runDir, 'kafka-admin.properties');

function listenerPort(props: Map<string, string>, name: string, fallback: number): number {
  const m = new RegExp(`(?:^|,)\\s*${name}://[^,]*:([0-9]+)`, 'i').exec(props.get('listeners') ?? '');
  return m?.[1] ? Number(m[1]) : fallback;
}

function nodeFacts(props: Map<string, string>, version: string): NodeFacts {
  const roles = (props.get('process.roles') ?? '').split(',').map((r) => r.trim());
  const controllerName = (props.get('controller.listener.names') ?? 'CONTROLLER').split(',')[0]?.trim() ?? 'CONTROLLER';
  const brokerName = props.get('inter.broker.listener.name') ?? 'PLAINTEXT';
  return {
    nodeId: Number(props.get('node.id')),
    broker: roles.includes('broker'),
    controller: roles.includes('controller'),
    brokerPort: listenerPort(props, brokerName, BROKER_PORT),
    controllerPort: listenerPort(props, controllerName, CONTROLLER_PORT),
    version,
  };
}

async function readFacts(env: EngineEnv): Promise<NodeFacts | undefined> {
  try {
    return JSON.parse(await readFile(factsFile(env), 'utf8')) as NodeFacts;
  } catch {
    return undefined;
  }
}

/** Client properties matching the protocol of the given listener (SASL/PLAIN as the admin account, or plaintext). */
function clientProperties(props: Map<string, string>, listener: string, env: EngineEnv): string {
  const proto = new Map((props.get('listener.security.protocol.map') ?? '').split(',').map((e) => e.trim().split(':') as [string, string])).get(listener) ?? 'PLAINTEXT';
  const login = plainLogin(env, false);
  const lines = [`security.protocol=${proto}`];
  if (proto.startsWith('SASL_') && login) lines.push('sasl.mechanism=PLAIN', `sasl.jaas.config=${propValue(login)}`);
  return `${lines.join('\n')}\n`;
}

async function prepare(env: EngineEnv, configPath: string): Promise<void> {
  const config = await readFile(configPath, 'utf8');
  const props = properties(config);
  const release = kafkaInstallFor(config);
  const facts = nodeFacts(props, release.version);
  if (!Number.isInteger(facts.nodeId)) throw new Error(`kafka ${env.unit}: ${configPath} has no node.id`);
  const clusterId = upmValue(config, 'cluster-id');
  if (!clusterId || !/^[A-Za-z0-9_-]{22}$/.test(clusterId)) throw new Error(`kafka ${env.unit}: ${configPath} has no "#upm:cluster-id=<22 base64url characters>" line`);
  const dirs = [...(props.get('log.dirs') ?? props.get('log.dir') ?? '').split(','), props.get('metadata.log.dir') ?? '']
    .map((d) => d.trim()).filter(Boolean);
  if (!dirs.length) throw new Error(`kafka ${env.unit}: ${configPath} has no log.dirs`);
  // A formatted directory keeps its cluster: say so plainly instead of letting the broker fail on a mismatch.
  const formatted: string[] = [];
  for (const d of dirs) {
    const meta = await readFile(join(d, 'meta.properties'), 'utf8').catch(() => undefined);
    if (meta === undefined) continue;
    formatted.push(d);
    const id = properties(meta).get('cluster.id');
    if (id && id !== clusterId) throw new Error(`kafka ${env.unit}: ${d} belongs to Kafka cluster ${id}, but the config names cluster ${clusterId}`);
  }
  for (const d of dirs) await mkdir(d, { recursive: true });
  await mkdir(env.runDir, { recursive: true });
  await writeAtomically(factsFile(env), (tmp) => writeFile(tmp, JSON.stringify(facts)));
  const listener = facts.broker ? props.get('inter.broker.listener.name') ?? 'PLAINTEXT' : (props.get('controller.listener.names') ?? 'CONTROLLER').split(',')[0] ?? 'CONTROLLER';
  await writeAtomically(adminClientConfig(env), (tmp) => writeFile(tmp, clientProperties(props, listener, env), { mode: 0o600 }));
  if (formatted.length === dirs.length) return; // formatted once, never again
  // First start: format the directories that are not yet (--ignore-formatted leaves the others alone).
  // The release's own StorageTool: it writes the bootstrap metadata.version that release starts with.
  await kafkaTool(env.unit, 'kafka.tools.StorageTool', ['format', '--cluster-id', clusterId, '--config', configPath, '--ignore-formatted'], { timeoutMs: 120_000, version: release.version });
}

/**
 * Runs one of Kafka's CLIs (a JVM of its own, so about a second each); `target` names what it talks to, for errors.
 * `version` picks the release (3.9's CLIs unless said; either release's talk to both brokers).
 */
export function kafkaTool(target: string, mainClass: string, args: string[], opts: { timeoutMs?: number; input?: string; version?: string } = {}): Promise<string> {
  const wanted = opts.version ?? KAFKA_VERSION;
  const release = Object.values(KAFKA_INSTALLS).find((i) => i.version === wanted);
  if (!release) return Promise.reject(new Error(`no Kafka ${wanted} CLIs (releases: ${Object.values(KAFKA_INSTALLS).map((i) => i.version).join(', ')})`));
  return run(`${basename(mainClass.replace(/\./g, '/'))} on ${target}`, JAVA, [
    '-Xmx128m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto',
    release.toolsLogging, '-cp', release.lib, mainClass, ...args,
  ], { timeoutMs: opts.timeoutMs ?? 60_000, ...(opts.input === undefined ? {} : { input: opts.input }) });
}

function launch(env: EngineEnv, configPath: string): LaunchSpec {
  const config = readFileSync(configPath, 'utf8');
  const heap = heapMb(config, MAX_HEAP_MB);
  const release = kafkaInstallFor(config);
  return {
    command: JAVA,
    args: [
      ...smallJvm(heap, 64),
      release.serverLogging, `-Dkafka.logs.dir=${env.runDir}`,
      '-cp', release.lib, 'kafka.Kafka', configPath,
    ],
    stopSignal: 'SIGTERM',
  };
}

// --- probe: Kafka's ApiVersions request ---------------------------------------------------------------------------

const API_VERSIONS = 18;

/** ApiVersions v0 (request header v1), the one request a listener answers before any authentication. */
export function apiVersionsRequest(correlationId: number, clientId = 'upm-agent'): Buffer {
  const client = Buffer.from(clientId);
  const body = Buffer.alloc(2 + 2 + 4 + 2 + client.length);
  body.writeInt16BE(API_VERSIONS, 0);
  body.writeInt16BE(0, 2);
  body.writeInt32BE(correlationId, 4);
  body.writeInt16BE(client.length, 8);
  client.copy(body, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

/** The error code and number of APIs of an ApiVersions v0 response (size prefix included), or undefined while partial. */
export function parseApiVersions(buf: Buffer, correlationId: number): { errorCode: number; apis: number } | undefined {
  if (buf.length < 4) return undefined;
  const size = buf.readInt32BE(0);
  if (buf.length < 4 + size) return undefined;
  if (size < 10 || buf.readInt32BE(4) !== correlationId) throw new Error('not an ApiVersions response');
  return { errorCode: buf.readInt16BE(8), apis: buf.readInt32BE(10) };
}

/** Asks host:port for its API versions: true when the listener serves requests (it accepts only once it does). */
export function answersApiVersions(host: string, port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const correlationId = Math.floor(Math.random() * 2 ** 31);
    let got = Buffer.alloc(0);
    const socket = connect({ host, port });
    const done = (ok: boolean) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('connect', () => socket.write(apiVersionsRequest(correlationId)));
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      try {
        const r = parseApiVersions(got, correlationId);
        if (r) done(r.errorCode === 0 && r.apis > 0);
      } catch {
        done(false);
      }
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}

/** Ready: the broker listener serves (it opens once the broker has caught up with the metadata); a controller-only node's controller listener. */
async function probe(env: EngineEnv): Promise<boolean> {
  const facts = await readFacts(env);
  if (!facts) return false;
  return answersApiVersions(env.address, facts.broker ? facts.brokerPort : facts.controllerPort);
}

// --- dynamic broker settings (kafka-configs through the Admin API) --------------------------------------------------

async function configTarget(env: EngineEnv): Promise<{ args: string[]; version: string }> {
  const facts = await readFacts(env);
  if (!facts) throw new Error(`kafka ${env.unit}: not prepared yet`);
  const bootstrap = facts.broker ? ['--bootstrap-server', `${env.address}:${facts.brokerPort}`] : ['--bootstrap-controller', `${env.address}:${facts.controllerPort}`];
  return { args: [...bootstrap, '--command-config', adminClientConfig(env), '--entity-type', 'brokers', '--entity-name', String(facts.nodeId)], version: facts.version ?? KAFKA_VERSION };
}

/** This node's settings as dynamic per-broker configs (they live in the cluster's metadata and survive restarts). */
async function setLive(env: EngineEnv, changes: Map<string, string>): Promise<void> {
  if (!changes.size) return;
  for (const k of changes.keys()) if (!/^[a-z0-9._-]+$/.test(k)) throw new Error(`kafka ${env.unit}: "${k}" is not a Kafka setting`);
  // kafka-configs reads "k=v,k=v": a value with commas goes in brackets.
  const pairs = [...changes].map(([k, v]) => `${k}=${v.includes(',') ? `[${v}]` : v}`).join(',');
  const target = await configTarget(env);
  await kafkaTool(env.unit, 'kafka.admin.ConfigCommand', [...target.args, '--alter', '--add-config', pairs], { version: target.version });
}

/** The values in force on this node (dynamic, static or default), from kafka-configs --describe --all. */
async function readLive(env: EngineEnv, keys: string[]): Promise<Map<string, string>> {
  if (!keys.length) return new Map();
  const target = await configTarget(env);
  const out = await kafkaTool(env.unit, 'kafka.admin.ConfigCommand', [...target.args, '--describe', '--all'], { version: target.version });
  const all = new Map<string, string>();
  for (const line of out.split('\n')) {
    const m = /^\s+([a-z0-9._-]+)=(.*?) sensitive=(?:true|false) synonyms=/.exec(line);
    if (m?.[1]) all.set(m[1], m[2] ?? '');
  }
  return new Map(keys.flatMap((k) => (all.has(k) ? [[k, all.get(k) ?? '']] : [])));
}

export const kafkaDriver: EngineDriver = {
  engine: 'kafka',
  localize: localizeKafka,
  prepare,
  launch,
  probe,
  setLive,
  readLive,
};
