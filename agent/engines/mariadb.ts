// MariaDB driver: runs the Debian mariadbd from the rendered my.cnf, creates the platform accounts over the unix
// socket (root authenticates by socket), changes settings with SET GLOBAL and takes logical backups.
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackupResult, EngineDriver, EngineEnv, LaunchSpec } from './types.ts';
import { exists, quantityBytes, rewriteLines, run, runWithFiles, writeAtomically, type LineSyntax, type Requirement, type Rewrite } from './util.ts';

export const MARIADBD = '/usr/sbin/mariadbd';
export const MARIADB_INSTALL_DB = '/usr/bin/mariadb-install-db';
export const MARIADB_CLIENT = '/usr/bin/mariadb';
export const MARIADB_ADMIN = '/usr/bin/mariadb-admin';
export const MARIADB_DUMP = '/usr/bin/mariadb-dump';

export const MARIADB_REQUIRES: Requirement[] = [
  { path: MARIADBD, debianPackage: 'mariadb-server' },
  { path: MARIADB_INSTALL_DB, debianPackage: 'mariadb-server' },
  { path: MARIADB_CLIENT, debianPackage: 'mariadb-client' },
  { path: MARIADB_ADMIN, debianPackage: 'mariadb-client' },
  { path: MARIADB_DUMP, debianPackage: 'mariadb-client' },
];

/** The data directory is a subdirectory of the volume, as in the template (a volume's lost+found must not block it). */
export const dataSubdir = (env: EngineEnv): string => join(env.dataDir, 'data');
const socketPath = (env: EngineEnv): string => join(env.runDir, 'mysqld.sock');

const normalize = (key: string): string => key.toLowerCase().replace(/-/g, '_');

const cnfSyntax: LineSyntax = {
  parse(line) {
    const m = /^\s*([A-Za-z0-9_-]+)\s*(?:=\s*(.*?))?\s*$/.exec(line);
    return m?.[1] ? { key: m[1], value: m[2] ?? '' } : undefined;
  },
  format: (key, value) => `${key} = ${value}`,
  normalize,
};

/** Option groups mariadbd reads (the client tools read other groups, so they are left alone). */
const SERVER_GROUP = /^(mysqld|server|mariadb|mariadbd|galera)(-[0-9.]+)?$/i;

/** Node-local settings: set where the rendered file has them, added otherwise. */
function requiredSettings(env: EngineEnv): Map<string, string> {
  return new Map([
    ['bind_address', env.address],
    ['datadir', dataSubdir(env)],
    ['socket', socketPath(env)],
    ['pid_file', join(env.runDir, 'mysqld.pid')],
    // The agent (and so mariadbd) runs as root on this node; mariadbd refuses root unless told so.
    ['user', 'root'],
  ]);
}

/** Paths moved to this node only when the rendered file sets them. */
function pathSettings(env: EngineEnv): Map<string, Rewrite> {
  return new Map<string, Rewrite>([
    ['log_error', join(env.runDir, 'mariadb.err')],
  ]);
}

/** An option file cut at its [section] headers; a block's first line is its header (none before the first). */
interface Block { group?: string; lines: string[] }

function blocks(lines: string[]): Block[] {
  const out: Block[] = [{ lines: [] }];
  for (const line of lines) {
    const group = /^\s*\[([^\]]+)\]\s*$/.exec(line)?.[1]?.trim();
    if (group) out.push({ group, lines: [line] });
    else out.at(-1)?.lines.push(line);
  }
  return out;
}

const isServerBlock = (b: Block): boolean => b.group !== undefined && SERVER_GROUP.test(b.group);

export function localizeMariadb(rendered: string, env: EngineEnv): string {
  const required = requiredSettings(env);
  const rewrites = new Map<string, Rewrite>([...pathSettings(env), ...required]);
  const found = new Set<string>();
  const all = blocks(rendered.split('\n'));
  for (const block of all.filter(isServerBlock)) {
    const r = rewriteLines(block.lines, cnfSyntax, rewrites);
    r.found.forEach((k) => found.add(k));
    block.lines = r.lines;
  }
  const missing = [...required].filter(([k]) => !found.has(k)).map(([k, v]) => cnfSyntax.format(k, v));
  let first = all.find(isServerBlock);
  if (!first) all.push((first = { group: 'mariadb', lines: ['[mariadb]'] }));
  first.lines.splice(1, 0, '# node-local (unit agent): listen address, paths and user of this node', ...missing);
  return all.flatMap((b) => b.lines).join('\n');
}

/** Common arguments of the client tools: no option files, root over this node's socket. */
const clientArgs = (env: EngineEnv): string[] => ['--no-defaults', `--socket=${socketPath(env)}`, '--user=root'];

/** Runs SQL as root over the socket (SQL on stdin, so passwords stay out of the process list). */
export function sql(env: EngineEnv, statements: string, what = 'mariadb'): Promise<string> {
  return run(`${what} on ${env.unit}`, MARIADB_CLIENT, [...clientArgs(env), '--batch', '--skip-column-names'], { input: statements });
}

/** A string literal (default sql_mode: backslash escapes are on). */
export function literal(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A setting's value for SET GLOBAL: sizes in bytes, booleans as ON/OFF, numbers bare, anything else quoted. */
export function sqlValue(value: string): string {
  const v = value.trim();
  if (/^-?[0-9]+(\.[0-9]+)?$/.test(v)) return v;
  if (/^(true|on|yes)$/i.test(v)) return 'ON';
  if (/^(false|off|no)$/i.test(v)) return 'OFF';
  const bytes = quantityBytes(v);
  return bytes !== undefined ? String(bytes) : literal(v);
}

/** A system variable name; refused unless it is a plain identifier (it is spliced into SQL). */
function variable(key: string): string {
  const name = normalize(key);
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a MariaDB system variable name: ${JSON.stringify(key)}`);
  return name;
}

/** Privileges of each platform role (REPLICATION CLIENT is BINLOG MONITOR since 10.5). */
const ROLE_GRANTS: Record<string, string> = {
  admin: 'ALL PRIVILEGES',
  replication: 'REPLICATION SLAVE, REPLICATION SLAVE ADMIN, BINLOG MONITOR',
  // SLAVE MONITOR is what SHOW SLAVE STATUS needs since 10.5, for the exporter's replication metrics.
  monitor: 'PROCESS, BINLOG MONITOR, SLAVE MONITOR, SELECT',
};
/** The accounts the agent creates: the platform's, and the application account (APP_PRIVILEGES). */
const ROLES = [...Object.keys(ROLE_GRANTS), 'app'];

/**
 * The application account's data privileges: everything on tables, views, routines, triggers and events of every
 * database, no administration (no SUPER, GRANT OPTION, replication, SHUTDOWN, FILE, PROCESS, RELOAD, CREATE USER:
 * those are global privileges, never granted at database level).
 */
export const APP_PRIVILEGES = 'SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, REFERENCES, INDEX, ALTER, CREATE TEMPORARY TABLES, '
  + 'LOCK TABLES, EXECUTE, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, EVENT, TRIGGER';
/**
 * The server's own schemas. A database-level grant on `%` matches them too, and write access to mysql.* is every
 * privilege (the account tables). The server uses the most specific matching database row, not their union, so a
 * row naming each of them with a harmless privilege (SHOW VIEW) shadows the `%` row there.
 */
const SYSTEM_SCHEMAS = ['mysql', 'sys'];

/** The GRANT statements of a role's account (`account` as SQL: 'user'@'%'). */
export function grantStatements(role: string, account: string): string[] {
  if (role === 'app') {
    return [`GRANT ${APP_PRIVILEGES} ON \`%\`.* TO ${account};`, ...SYSTEM_SCHEMAS.map((db) => `GRANT SHOW VIEW ON \`${db}\`.* TO ${account};`)];
  }
  return [`GRANT ${ROLE_GRANTS[role]} ON *.* TO ${account}${role === 'admin' ? ' WITH GRANT OPTION' : ''};`];
}

export function accountStatements(role: string, user: string, password: string): string[] {
  const account = `${literal(user)}@'%'`;
  return [
    `CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY ${literal(password)};`,
    // Also for an existing account: the password in the Secret wins.
    `ALTER USER ${account} IDENTIFIED BY ${literal(password)};`,
    ...grantStatements(role, account),
  ];
}

async function bootstrap(env: EngineEnv): Promise<void> {
  const statements = ROLES.flatMap((role) => {
    const user = env.credentials[`${role}-username`];
    const password = env.credentials[`${role}-password`];
    return user && password ? accountStatements(role, user, password) : [];
  });
  if (!statements.length) return;
  // Accounts are per node: replication (wired later) must not copy them to replicas, which create their own.
  await sql(env, ['SET sql_log_bin = 0;', ...statements].join('\n'), 'creating the platform and application accounts');
}

async function prepare(env: EngineEnv, configPath: string): Promise<void> {
  await mkdir(env.runDir, { recursive: true });
  const datadir = dataSubdir(env);
  if (await exists(join(datadir, 'mysql'))) return;
  // Initialise beside the final place and rename, so an interrupted run is redone instead of half-used.
  const staging = `${datadir}.init`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await run(`initialising the MariaDB data directory of ${env.unit}`, MARIADB_INSTALL_DB, [
    `--defaults-file=${configPath}`, `--datadir=${staging}`,
    '--auth-root-authentication-method=socket', '--skip-test-db',
  ], { timeoutMs: 300_000 });
  await rm(datadir, { recursive: true, force: true });
  await rename(staging, datadir);
}

function launch(_env: EngineEnv, configPath: string): LaunchSpec {
  // mariadbd stays in the foreground; --defaults-file keeps /etc/mysql out of it.
  return { command: MARIADBD, args: [`--defaults-file=${configPath}`], stopSignal: 'SIGTERM' };
}

async function probe(env: EngineEnv): Promise<boolean> {
  try {
    await run('mariadb-admin ping', MARIADB_ADMIN, [...clientArgs(env), '--connect-timeout=2', 'ping'], { timeoutMs: 5000 });
    return true;
  } catch {
    return false;
  }
}

async function setLive(env: EngineEnv, changes: Map<string, string>): Promise<void> {
  if (!changes.size) return;
  // One statement: MariaDB applies all the assignments or, when one fails, none.
  const assignments = [...changes].map(([k, v]) => `${variable(k)} = ${sqlValue(v)}`);
  await sql(env, `SET GLOBAL ${assignments.join(', ')};`, 'SET GLOBAL');
}

async function readLive(env: EngineEnv, keys: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!keys.length) return out;
  const row = await sql(env, `SELECT ${keys.map((k) => `@@GLOBAL.${variable(k)}`).join(', ')};`, 'reading settings');
  const values = row.replace(/\n$/, '').split('\t');
  keys.forEach((k, i) => out.set(k, values[i] ?? ''));
  return out;
}

async function backup(env: EngineEnv, target: string, opts: { database?: string }): Promise<BackupResult> {
  const scope = opts.database ? ['--databases', opts.database] : ['--all-databases'];
  const args = [...clientArgs(env), '--single-transaction', '--routines', '--events', '--triggers', '--hex-blob', ...scope];
  const bytes = await writeAtomically(target, (tmp) => runWithFiles(`mariadb-dump of ${env.unit}`, MARIADB_DUMP, args, { stdout: tmp }));
  return { path: target, bytes, format: 'mariadb-dump' };
}

async function restore(env: EngineEnv, source: string): Promise<void> {
  // The dump names its databases (--databases / --all-databases: CREATE DATABASE + USE), so none is passed here.
  // It is written to the binlog on purpose: replicas follow a restore of their source.
  await runWithFiles(`restoring ${source} into ${env.unit}`, MARIADB_CLIENT, clientArgs(env), { stdin: source });
}

export const mariadbDriver: EngineDriver = {
  engine: 'mariadb',
  localize: localizeMariadb,
  prepare,
  launch,
  probe,
  bootstrap,
  setLive,
  readLive,
  backup,
  restore,
  restoreNeedsStop: false,
};
