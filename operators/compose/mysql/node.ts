// One MySQL/MariaDB server as the controller sees it: a short-lived admin connection per reconcile, the state that
// decides its role, and the few actions the controller takes on it.
import { createConnection, type Connection, type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import type { ResolvedNode } from '../common/nodes.ts';
import type { DialectSql, ReplicaStatus } from './dialect.ts';

export interface Observed {
  node: ResolvedNode;
  reachable: boolean;
  error?: string;
  readOnly: boolean;
  serverId: number;
  /** MySQL's server_uuid (empty on MariaDB, which has none). */
  serverUuid: string;
  binlogPos: string;
  appliedPos: string;
  currentPos: string;
  semiSource: boolean;
  semiReplica: boolean;
  /** Present when the node replicates (or has a replication configuration). */
  replica?: ReplicaStatus;
  conn?: Connection;
}

const CONNECT_TIMEOUT_MS = 2000;
const QUERY_TIMEOUT_MS = 10_000;
const CLOSE_GRACE_MS = 1000;

interface Login { host: string; port: number; user: string; password: string }
/** How each observed node's connection was opened, to open a second one that can kill a stuck statement. */
const logins = new WeakMap<Connection, Login>();

export async function observe(node: ResolvedNode, user: string, password: string, sql: DialectSql): Promise<Observed> {
  const empty = { node, reachable: false, readOnly: true, serverId: 0, serverUuid: '', binlogPos: '', appliedPos: '', currentPos: '', semiSource: false, semiReplica: false };
  if (!node.host) return { ...empty, error: node.problem ?? 'no address' };
  const login = { host: node.host, port: node.port, user, password };
  let conn: Connection | undefined;
  try {
    conn = await createConnection({ ...login, connectTimeout: CONNECT_TIMEOUT_MS });
    logins.set(conn, login);
    const o: Observed = { ...empty, reachable: true, conn };
    const [vars] = await query<RowDataPacket[]>(o, sql.nodeVariables);
    const v: Record<string, unknown> = vars[0] ?? {};
    const [rs] = await query<RowDataPacket[]>(o, sql.replicaStatus);
    return {
      ...o,
      readOnly: Number(v.read_only) === 1,
      serverId: Number(v.server_id),
      serverUuid: String(v.server_uuid ?? ''),
      binlogPos: String(v.binlog_pos ?? ''),
      appliedPos: String(v.applied_pos ?? ''),
      currentPos: String(v.current_pos ?? ''),
      semiSource: Number(v.semi_source) === 1,
      semiReplica: Number(v.semi_replica) === 1,
      ...(rs[0] ? { replica: sql.parseReplicaStatus(rs[0]) } : {}),
    };
  } catch (err) {
    if (conn) await close(conn);
    return { ...empty, error: (err as Error).message };
  }
}

/**
 * One statement with a deadline. A statement that outlives it (SET GLOBAL read_only=ON waits for commits in
 * flight, which wait for semi-sync acks) is killed on the server too, so it cannot take effect later, unseen; the
 * connection is dropped and the error says what the server was waiting for.
 */
async function query<T extends RowDataPacket[] | ResultSetHeader>(o: Observed, statement: string, timeoutMs = QUERY_TIMEOUT_MS): Promise<[T, unknown]> {
  const conn = o.conn;
  if (!conn) throw new Error(`${o.node.name} is not connected`);
  try {
    return await conn.query<T>({ sql: statement, timeout: timeoutMs });
  } catch (err) {
    if ((err as { code?: string }).code !== 'PROTOCOL_SEQUENCE_TIMEOUT') throw err;
    o.conn = undefined;
    const waiting = await killStuck(conn);
    conn.destroy();
    throw new Error(`${o.node.name}: "${statement.split(' ').slice(0, 4).join(' ')}" did not finish within ${timeoutMs / 1000} s${waiting ? ` (the server was at: ${waiting})` : ''}; cancelled`, { cause: err });
  }
}

/** Kills the statement a connection is stuck in, from a second connection; returns what it was waiting for. */
async function killStuck(conn: Connection): Promise<string> {
  const login = logins.get(conn);
  if (!login) return '';
  let killer: Connection | undefined;
  try {
    killer = await createConnection({ ...login, connectTimeout: CONNECT_TIMEOUT_MS });
    const [rows] = await killer.query<RowDataPacket[]>({ sql: 'SELECT STATE AS state FROM information_schema.PROCESSLIST WHERE ID = ?', values: [conn.threadId], timeout: QUERY_TIMEOUT_MS });
    await killer.query({ sql: `KILL QUERY ${Number(conn.threadId)}`, timeout: QUERY_TIMEOUT_MS });
    return String(rows[0]?.state ?? '');
  } catch {
    return '';
  } finally {
    if (killer) await close(killer);
  }
}

export async function exec(o: Observed, statements: string[], timeoutMs = QUERY_TIMEOUT_MS): Promise<void> {
  for (const s of statements) await query(o, s, timeoutMs);
}

export async function scalar(o: Observed, statement: string, timeoutMs = QUERY_TIMEOUT_MS): Promise<unknown> {
  const [rows] = await query<RowDataPacket[]>(o, statement, timeoutMs);
  const row = rows[0];
  return row ? Object.values(row)[0] : undefined;
}

/** Ends a connection politely, and drops it when the server does not answer (end() waits on a stuck statement). */
async function close(conn: Connection): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const ended = await Promise.race([
    conn.end().then(() => true, () => false),
    new Promise<boolean>((r) => { timer = setTimeout(() => r(false), CLOSE_GRACE_MS); }),
  ]);
  clearTimeout(timer);
  if (!ended) conn.destroy();
}

export async function closeAll(nodes: Observed[]): Promise<void> {
  await Promise.all(nodes.map(async (o) => {
    const conn = o.conn;
    o.conn = undefined;
    if (conn) await close(conn);
  }));
}
