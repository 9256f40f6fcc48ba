// Redis and Redis Sentinel drivers: the Debian redis-server from the rendered redis.conf / sentinel.conf, probed and
// configured over RESP on TCP. Redis backups are RDB snapshots.
import { constants } from 'node:fs';
import { access, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pairs, parseInfo, redisCommand, RespError, type RespValue } from './resp.ts';
import type { BackupResult, EngineDriver, EngineEnv, LaunchSpec } from './types.ts';
import { copyAtomically, exists, poll, rewriteLines, type LineSyntax, type Requirement, type Rewrite } from './util.ts';

export const REDIS_SERVER = '/usr/bin/redis-server';
export const REDIS_SENTINEL = '/usr/bin/redis-sentinel';

export const REDIS_REQUIRES: Requirement[] = [{ path: REDIS_SERVER, debianPackage: 'redis-server' }];
export const SENTINEL_REQUIRES: Requirement[] = [{ path: REDIS_SENTINEL, debianPackage: 'redis-sentinel' }];

export const REDIS_PORT = 6379;
export const SENTINEL_PORT = 26379;

// The template leaves dbfilename at its default and names the AOF directory and file explicitly; a restore (engine
// stopped) cannot ask the server, so these are the names it writes.
const RDB_FILE = 'dump.rdb';
const AOF_DIR = 'appendonlydir';
const AOF_NAME = 'appendonly.aof';

const confSyntax: LineSyntax = {
  parse(line) {
    const m = /^\s*([A-Za-z][A-Za-z0-9-]*)(?:\s+(.*?))?\s*$/.exec(line);
    return m?.[1] ? { key: m[1], value: m[2] ?? '' } : undefined;
  },
  format: (key, value) => `${key} ${value}`,
  normalize: (key) => key.toLowerCase(),
};

/** A path as a config value: quoted when it has blanks or quotes (Redis reads "..." with backslash escapes). */
const pathValue = (p: string): string => (/[\s"']/.test(p) ? `"${p.replace(/[\\"]/g, (c) => `\\${c}`)}"` : p);

/** Node-local settings: set where the rendered file has them, added otherwise. */
function requiredSettings(env: EngineEnv): Map<string, string> {
  return new Map([
    ['bind', env.address],
    // Outgoing connections from a 127.x address otherwise leave from 127.0.0.1: peers would see the wrong address.
    ['bind-source-addr', env.address],
    // Protected mode trusts only 127.0.0.1 and ::1, not the other 127.x addresses of this node.
    ['protected-mode', 'no'],
    ['dir', pathValue(env.dataDir)],
    // The agent supervises the process: it must stay in the foreground.
    ['daemonize', 'no'],
  ]);
}

/** Paths moved to this node only when the rendered file sets them (logfile "" means stdout and stays). */
function pathSettings(env: EngineEnv): Map<string, Rewrite> {
  const file = (name: string): Rewrite => (old) => (old === '' || old === '""' ? undefined : pathValue(join(env.runDir, name)));
  return new Map([['logfile', file('redis.log')], ['pidfile', file('redis.pid')], ['unixsocket', file('redis.sock')]]);
}

export function localizeRedis(rendered: string, env: EngineEnv): string {
  const required = requiredSettings(env);
  const rewrites = new Map<string, Rewrite>([...pathSettings(env), ...required]);
  const { lines, found } = rewriteLines(rendered.replace(/\n$/, '').split('\n'), confSyntax, rewrites);
  const missing = [...required].filter(([k]) => !found.has(k)).map(([k, v]) => confSyntax.format(k, v));
  if (missing.length) lines.push('# node-local (unit agent): listen and source address of this node', ...missing);
  return `${lines.join('\n')}\n`;
}

function command(env: EngineEnv, port: number, args: string[]): Promise<RespValue> {
  return redisCommand(env.address, port, args);
}

async function info(env: EngineEnv, section: string): Promise<Map<string, string>> {
  return parseInfo(String(await command(env, REDIS_PORT, ['INFO', section])));
}

async function probeOn(env: EngineEnv, port: number): Promise<boolean> {
  try {
    return (await command(env, port, ['PING'])) === 'PONG';
  } catch (err) {
    // A server that wants a password is serving (the local config sets none; a pod's adds requirepass).
    return err instanceof RespError && err.message.startsWith('NOAUTH');
  }
}

async function prepareDirs(env: EngineEnv): Promise<void> {
  await mkdir(env.dataDir, { recursive: true });
  await mkdir(env.runDir, { recursive: true });
}

async function setLive(env: EngineEnv, changes: Map<string, string>): Promise<void> {
  if (!changes.size) return;
  // One CONFIG SET for all keys: Redis 7 applies them all or none.
  await configCall(env, ['CONFIG', 'SET', ...[...changes].flat()]);
}

async function readLive(env: EngineEnv, keys: string[]): Promise<Map<string, string>> {
  if (!keys.length) return new Map();
  const got = pairs(await configCall(env, ['CONFIG', 'GET', ...keys]));
  return new Map(keys.flatMap((k) => (got.has(k) ? [[k, got.get(k) ?? '']] : [])));
}

async function configCall(env: EngineEnv, args: string[]): Promise<RespValue> {
  try {
    return await command(env, REDIS_PORT, args);
  } catch (err) {
    throw new Error(`${args.slice(0, 2).join(' ')} on ${env.unit}: ${(err as Error).message}`, { cause: err });
  }
}

/** Starts a background save, waiting out one already running (BGSAVE refuses to start a second). */
async function startBgsave(env: EngineEnv): Promise<number> {
  return poll(`BGSAVE on ${env.unit} to start`, async () => {
    const before = Number((await info(env, 'persistence')).get('rdb_saves') ?? 0);
    try {
      // SCHEDULE: while an AOF rewrite runs, the save starts right after it instead of failing.
      await command(env, REDIS_PORT, ['BGSAVE', 'SCHEDULE']);
      return before;
    } catch (err) {
      if (err instanceof RespError && /already in progress/i.test(err.message)) return undefined;
      throw err;
    }
  }, { timeoutMs: 600_000, intervalMs: 200 });
}

/** Waits until a save counted after `before` has finished, and checks that it succeeded. */
async function waitForSave(env: EngineEnv, before: number): Promise<void> {
  const done = await poll(`BGSAVE on ${env.unit} to finish`, async () => {
    const p = await info(env, 'persistence');
    return Number(p.get('rdb_saves') ?? 0) > before && p.get('rdb_bgsave_in_progress') === '0' ? p : undefined;
  }, { timeoutMs: 3_600_000, intervalMs: 100 });
  if (done.get('rdb_last_bgsave_status') !== 'ok') throw new Error(`BGSAVE on ${env.unit} failed (see the server log)`);
}

async function backup(env: EngineEnv, target: string): Promise<BackupResult> {
  const before = await startBgsave(env);
  await waitForSave(env, before);
  const cfg = pairs(await configCall(env, ['CONFIG', 'GET', 'dir', 'dbfilename']));
  const source = join(cfg.get('dir') ?? env.dataDir, cfg.get('dbfilename') ?? RDB_FILE);
  const bytes = await copyAtomically(source, target);
  return { path: target, bytes, format: 'rdb' };
}

/**
 * With appendonly yes, Redis loads the AOF and ignores dump.rdb; with no AOF at all it even starts empty. So the
 * snapshot also becomes the base of a fresh multi-part AOF (a manifest naming an RDB-format base file). The config
 * is not known here (the engine is stopped), so the AOF is written unless the data directory shows that AOF is
 * off: a dump.rdb and no AOF directory.
 */
async function restoreAof(env: EngineEnv, source: string): Promise<void> {
  const aofDir = join(env.dataDir, AOF_DIR);
  const aofInUse = await exists(aofDir);
  if (!aofInUse && (await exists(join(env.dataDir, RDB_FILE)))) return;
  const prefix = aofInUse ? (await manifestPrefix(aofDir)) ?? AOF_NAME : AOF_NAME;
  await rm(aofDir, { recursive: true, force: true });
  await mkdir(aofDir, { recursive: true });
  const base = `${prefix}.1.base.rdb`;
  await copyAtomically(source, join(aofDir, base));
  await writeFile(join(aofDir, `${prefix}.manifest`), `file ${base} seq 1 type b\n`);
}

/** The appendfilename in use, from the name of the manifest Redis wrote. */
async function manifestPrefix(aofDir: string): Promise<string | undefined> {
  const manifest = (await readdir(aofDir)).find((f) => f.endsWith('.manifest'));
  return manifest?.slice(0, -'.manifest'.length);
}

async function restore(env: EngineEnv, source: string): Promise<void> {
  if (!(await exists(source))) throw new Error(`restore of ${env.unit}: no backup at ${source}`);
  await mkdir(env.dataDir, { recursive: true });
  await restoreAof(env, source);
  await copyAtomically(source, join(env.dataDir, RDB_FILE));
}

/**
 * The application account's ACL rules: every key and channel, every command but the admin and dangerous ones (no
 * CONFIG, FLUSHALL, DEBUG, SHUTDOWN, REPLICAOF, ACL, MODULE, KEYS...), except INFO, which client libraries send to see
 * that a server is ready (ioredis' ready check) and which shows no secret. The pod template's accounts file has the
 * same line.
 */
export const APP_ACL_RULES = ['~*', '&*', '+@all', '-@admin', '-@dangerous', '+info'];

/**
 * Creates the application account (each start: ACL SETUSER is not saved without an ACL file). A server that wants
 * a password got its accounts from its pod's accounts file (requirepass and user lines), so there is nothing to do.
 */
async function bootstrapRedis(env: EngineEnv): Promise<void> {
  const user = env.credentials['app-username'];
  const password = env.credentials['app-password'];
  if (!user || !password) return;
  try {
    await command(env, REDIS_PORT, ['ACL', 'SETUSER', user, 'reset', 'on', `>${password}`, ...APP_ACL_RULES]);
  } catch (err) {
    if (err instanceof RespError && err.message.startsWith('NOAUTH')) return;
    // The message names the account, never its password (a refused rule is echoed in Redis' error: no cause kept).
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`creating the application account ${user} on ${env.unit}: ${(err as Error).message.replaceAll(password, '***')}`);
  }
}

function launchRedis(_env: EngineEnv, configPath: string): LaunchSpec {
  return { command: REDIS_SERVER, args: [configPath], stopSignal: 'SIGTERM' };
}

export const redisDriver: EngineDriver = {
  engine: 'redis',
  localize: localizeRedis,
  prepare: prepareDirs,
  launch: launchRedis,
  probe: (env) => probeOn(env, REDIS_PORT),
  bootstrap: bootstrapRedis,
  setLive,
  readLive,
  backup,
  restore,
  restoreNeedsStop: true,
};

// --- Sentinel ---------------------------------------------------------------------------------------------------

/** Sentinel-wide settings (SENTINEL CONFIG SET); the others in its template are per monitored master. */
const SENTINEL_GLOBAL = new Set(['resolve-hostnames', 'announce-hostnames', 'announce-ip', 'announce-port']);

async function sentinelCall(env: EngineEnv, args: string[]): Promise<RespValue> {
  try {
    return await command(env, SENTINEL_PORT, ['SENTINEL', ...args]);
  } catch (err) {
    throw new Error(`SENTINEL ${args.slice(0, 2).join(' ')} on ${env.unit}: ${(err as Error).message}`, { cause: err });
  }
}

async function monitoredMasters(env: EngineEnv): Promise<string[]> {
  const masters = await sentinelCall(env, ['MASTERS']);
  return Array.isArray(masters) ? masters.map((m) => pairs(m).get('name') ?? '').filter(Boolean) : [];
}

/** Sentinel-wide keys with SENTINEL CONFIG SET; per-master keys with SENTINEL SET on every monitored master. */
async function sentinelSetLive(env: EngineEnv, changes: Map<string, string>): Promise<void> {
  const perMaster = [...changes].filter(([k]) => !SENTINEL_GLOBAL.has(k));
  for (const [k, v] of changes) if (SENTINEL_GLOBAL.has(k)) await sentinelCall(env, ['CONFIG', 'SET', k, v]);
  if (!perMaster.length) return;
  for (const master of await monitoredMasters(env)) await sentinelCall(env, ['SET', master, ...perMaster.flat()]);
}

/** Sentinel-wide keys only: per-master values belong to each master (SENTINEL MASTER <name>). */
async function sentinelReadLive(env: EngineEnv, keys: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const k of keys.filter((key) => SENTINEL_GLOBAL.has(key))) {
    const got = pairs(await sentinelCall(env, ['CONFIG', 'GET', k]));
    if (got.has(k)) out.set(k, got.get(k) ?? '');
  }
  return out;
}

/** Sentinel rewrites its config file (and creates a temporary file beside it): both must be writable. */
async function prepareSentinel(env: EngineEnv, configPath: string): Promise<void> {
  await prepareDirs(env);
  try {
    await access(configPath, constants.W_OK);
    await access(dirname(configPath), constants.W_OK);
  } catch {
    throw new Error(`sentinel ${env.unit}: ${configPath} and its directory must be writable (Sentinel rewrites its config)`);
  }
}

function launchSentinel(_env: EngineEnv, configPath: string): LaunchSpec {
  return { command: REDIS_SENTINEL, args: [configPath], stopSignal: 'SIGTERM' };
}

export const redisSentinelDriver: EngineDriver = {
  engine: 'redis-sentinel',
  localize: localizeRedis,
  prepare: prepareSentinel,
  launch: launchSentinel,
  probe: (env) => probeOn(env, SENTINEL_PORT),
  setLive: sentinelSetLive,
  readLive: sentinelReadLive,
};
