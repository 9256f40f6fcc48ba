// The application accounts of the MySQL side, as ProxySQL needs them: read from the source's grant tables, one
// query per dialect, then turned into MysqlUser entries (desired.ts filters and validates them).
//   - roles cannot log in: skipped;
//   - accounts whose host is local only ('localhost', '127.0.0.1', '::1') cannot be used through ProxySQL, which
//     connects from its own address: skipped, so that e.g. app@localhost never conflicts with app@'%';
//   - a locked account is copied inactive (ProxySQL then refuses it, as the server would);
//   - max_user_connections, when set, bounds the account's connections through ProxySQL too.
import type { MysqlUser } from './types.ts';

export type Dialect = 'mariadb' | 'mysql';

/**
 * MariaDB 10.4+ keeps accounts in mysql.global_priv (JSON) and mysql.user is a view over it without the lock flag;
 * MySQL 8 has account_locked in mysql.user and marks no roles (they are locked accounts without a password).
 */
export const ACCOUNTS_SQL: Record<Dialect, string> = {
  mariadb: 'SELECT u.User AS user, u.Host AS host, u.plugin AS plugin, u.authentication_string AS hash, u.is_role AS is_role, '
    + "u.max_user_connections AS max_user_connections, JSON_VALUE(g.Priv, '$.account_locked') AS locked "
    + 'FROM mysql.user u JOIN mysql.global_priv g ON g.User = u.User AND g.Host = u.Host',
  mysql: "SELECT User AS user, Host AS host, plugin, authentication_string AS hash, 'N' AS is_role, "
    + 'max_user_connections, account_locked AS locked FROM mysql.user',
};

export interface Account {
  user: string;
  host: string;
  plugin: string;
  hash: string;
  isRole: boolean;
  locked: boolean;
  maxUserConnections: number;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '::1']);

const text = (v: unknown): string => (v === null || v === undefined ? '' : Buffer.isBuffer(v) ? v.toString('utf8') : String(v));
const truthy = (v: unknown): boolean => ['1', 'true', 'y', 'yes'].includes(text(v).toLowerCase());

export function parseAccounts(rows: Record<string, unknown>[]): Account[] {
  return rows.map((r) => ({
    user: text(r.user),
    host: text(r.host),
    plugin: text(r.plugin),
    hash: text(r.hash),
    isRole: truthy(r.is_role),
    locked: truthy(r.locked),
    maxUserConnections: Number(text(r.max_user_connections)) || 0,
  }));
}

/** An account as MySQL writes it, for messages: 'app'@'%'. */
export const accountLabel = (a: Pick<Account, 'user' | 'host'>): string => `'${a.user}'@'${a.host}'`;

export interface AccountUsers {
  users: MysqlUser[];
  /** labels[i] names users[i]'s account, so that desired.ts's `users[i]` errors can name the account instead. */
  labels: string[];
}

export function usersFromAccounts(accounts: Account[], opts: { defaultHostgroup?: number; maxConnections?: number } = {}): AccountUsers {
  const users: MysqlUser[] = [];
  const labels: string[] = [];
  for (const a of accounts) {
    if (a.isRole || LOCAL_HOSTS.has(a.host.toLowerCase())) continue;
    const maxConnections = a.maxUserConnections > 0 ? a.maxUserConnections : opts.maxConnections;
    users.push({
      username: a.user,
      passwordHash: a.hash,
      ...(opts.defaultHostgroup !== undefined ? { defaultHostgroup: opts.defaultHostgroup } : {}),
      ...(maxConnections !== undefined ? { maxConnections } : {}),
      ...(a.locked ? { active: false } : {}),
    });
    labels.push(accountLabel(a));
  }
  return { users, labels };
}
