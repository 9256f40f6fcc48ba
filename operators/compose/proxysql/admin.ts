// The two connections the sync makes, both over the MySQL protocol (mysql2), both short-lived (one per pass):
// ProxySQL's admin interface, and the MySQL source to read its accounts. Text protocol only: ProxySQL's admin
// interface has no prepared statements.
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { ACCOUNTS_SQL, parseAccounts, type Account, type Dialect } from './accounts.ts';
import type { RawRow } from './parse.ts';
import type { AdminSession } from './sync.ts';

const CONNECT_TIMEOUT_MS = 2000;
const QUERY_TIMEOUT_MS = 10_000;

export interface Endpoint { host: string; port: number; user: string; password: string }

export interface OpenSession extends AdminSession {
  close(): Promise<void>;
}

async function connect(e: Endpoint): Promise<Connection> {
  return createConnection({ host: e.host, port: e.port, user: e.user, password: e.password, connectTimeout: CONNECT_TIMEOUT_MS });
}

export async function openAdmin(e: Endpoint): Promise<OpenSession> {
  const conn = await connect(e);
  // A dropped connection emits 'error' on the connection object; the pending query rejects with it anyway.
  conn.on('error', () => undefined);
  return {
    async query(sql: string): Promise<RawRow[]> {
      const [rows] = await conn.query({ sql, timeout: QUERY_TIMEOUT_MS });
      return Array.isArray(rows) ? (rows as RawRow[]) : [];
    },
    close: () => conn.end().catch(() => undefined),
  };
}

export async function readAccounts(e: Endpoint, dialect: Dialect): Promise<Account[]> {
  const conn = await connect(e);
  conn.on('error', () => undefined);
  try {
    const [rows] = await conn.query<RowDataPacket[]>({ sql: ACCOUNTS_SQL[dialect], timeout: QUERY_TIMEOUT_MS });
    return parseAccounts(rows);
  } finally {
    await conn.end().catch(() => undefined);
  }
}
