// One MySQL/MariaDB server as the controller sees it: a short-lived admin connection per reconcile, the state that
// decides its role, and the few actions the controller takes on it.
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
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

export async function observe(node: ResolvedNode, user: string, password: string, sql: DialectSql): Promise<Observed> {
  const empty = { node, reachable: false, readOnly: true, serverId: 0, serverUuid: '', binlogPos: '', appliedPos: '', currentPos: '', semiSource: false, semiReplica: false };
  if (!node.host) return { ...empty, error: node.problem ?? 'no address' };
  let conn: Connection | undefined;
  try {
    conn = await createConnection({ host: node.host, port: node.port, user, password, connectTimeout: CONNECT_TIMEOUT_MS });
    const [vars] = await conn.query<RowDataPacket[]>({ sql: sql.nodeVariables, timeout: QUERY_TIMEOUT_MS });
    const v: Record<string, unknown> = vars[0] ?? {};
    const [rs] = await conn.query<RowDataPacket[]>({ sql: sql.replicaStatus, timeout: QUERY_TIMEOUT_MS });
    return {
      node, reachable: true, conn,
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
    await conn?.end().catch(() => undefined);
    return { ...empty, error: (err as Error).message };
  }
}

export async function exec(o: Observed, statements: string[], timeoutMs = QUERY_TIMEOUT_MS): Promise<void> {
  if (!o.conn) throw new Error(`${o.node.name} is not connected`);
  for (const s of statements) await o.conn.query({ sql: s, timeout: timeoutMs });
}

export async function scalar(o: Observed, statement: string, timeoutMs = QUERY_TIMEOUT_MS): Promise<unknown> {
  if (!o.conn) throw new Error(`${o.node.name} is not connected`);
  const [rows] = await o.conn.query<RowDataPacket[]>({ sql: statement, timeout: timeoutMs });
  const row = rows[0];
  return row ? Object.values(row)[0] : undefined;
}

export async function closeAll(nodes: Observed[]): Promise<void> {
  await Promise.all(nodes.map((o) => o.conn?.end().catch(() => undefined)));
}
