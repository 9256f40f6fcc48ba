// Typed rows from what the admin interface returns. ProxySQL's admin answers over the MySQL text protocol, so
// numbers usually arrive as strings; comparing '3306' with 3306 would make every plan rewrite every row, so each
// value is converted here, once, and anything unexpected is reported instead of guessed.

import type { FieldError, ProxysqlState, ReplicationHostgroupRow, ServerRow, UserRow } from './types.ts';

export type RawValue = string | number | bigint | null | undefined | Uint8Array;
export type RawRow = Record<string, RawValue>;

export interface RawState {
  mysql_servers: RawRow[];
  mysql_replication_hostgroups: RawRow[];
  mysql_users: RawRow[];
  /** Rows of `SELECT variable_name, variable_value FROM global_variables WHERE ...`. */
  global_variables: RawRow[];
}

export function parseState(raw: RawState): { state?: ProxysqlState; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const r = new Reader(errors);
  const servers = raw.mysql_servers.map((row, i): ServerRow => {
    const f = `mysql_servers[${i}]`;
    return {
      hostgroup_id: r.int(row, f, 'hostgroup_id'), hostname: r.str(row, f, 'hostname'), port: r.int(row, f, 'port'),
      gtid_port: r.int(row, f, 'gtid_port'), status: r.str(row, f, 'status'), weight: r.int(row, f, 'weight'),
      compression: r.int(row, f, 'compression'), max_connections: r.int(row, f, 'max_connections'),
      max_replication_lag: r.int(row, f, 'max_replication_lag'), use_ssl: r.int(row, f, 'use_ssl'),
      max_latency_ms: r.int(row, f, 'max_latency_ms'), comment: r.str(row, f, 'comment'),
    };
  });
  const hostgroups = raw.mysql_replication_hostgroups.map((row, i): ReplicationHostgroupRow => {
    const f = `mysql_replication_hostgroups[${i}]`;
    return { writer_hostgroup: r.int(row, f, 'writer_hostgroup'), reader_hostgroup: r.int(row, f, 'reader_hostgroup'), check_type: r.str(row, f, 'check_type'), comment: r.str(row, f, 'comment') };
  });
  const users = raw.mysql_users.map((row, i): UserRow => {
    const f = `mysql_users[${i}]`;
    return {
      // password may be NULL (a row added by hand without one): read as '', it differs from any desired row.
      username: r.str(row, f, 'username'), password: r.nullableStr(row, f, 'password') ?? '', active: r.int(row, f, 'active'),
      use_ssl: r.int(row, f, 'use_ssl'), default_hostgroup: r.int(row, f, 'default_hostgroup'),
      default_schema: r.nullableStr(row, f, 'default_schema'), schema_locked: r.int(row, f, 'schema_locked'),
      transaction_persistent: r.int(row, f, 'transaction_persistent'), fast_forward: r.int(row, f, 'fast_forward'),
      backend: r.int(row, f, 'backend'), frontend: r.int(row, f, 'frontend'), max_connections: r.int(row, f, 'max_connections'),
      attributes: r.str(row, f, 'attributes'), comment: r.str(row, f, 'comment'),
    };
  });
  const variables: Record<string, string> = {};
  raw.global_variables.forEach((row, i) => {
    variables[r.str(row, `global_variables[${i}]`, 'variable_name')] = r.str(row, `global_variables[${i}]`, 'variable_value');
  });
  if (errors.length > 0) return { errors };
  return { state: { mysql_servers: servers, mysql_replication_hostgroups: hostgroups, mysql_users: users, global_variables: variables }, errors };
}

class Reader {
  private readonly errors: FieldError[];
  constructor(errors: FieldError[]) {
    this.errors = errors;
  }

  int(row: RawRow, field: string, column: string): number {
    const v = row[column];
    const n = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n)) this.errors.push({ field: `${field}.${column}`, message: `expected an integer, got ${describe(v)}` });
    return n;
  }

  str(row: RawRow, field: string, column: string): string {
    const v = this.nullableStr(row, field, column);
    if (v === null) {
      this.errors.push({ field: `${field}.${column}`, message: 'expected a string, got NULL' });
      return '';
    }
    return v;
  }

  nullableStr(row: RawRow, field: string, column: string): string | null {
    const v = row[column];
    if (v === null) return null;
    if (typeof v === 'string') return v;
    // A driver may hand back text columns as bytes (a password hash with raw salt bytes, for one).
    if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
    if (typeof v === 'number' || typeof v === 'bigint') return String(v);
    this.errors.push({ field: `${field}.${column}`, message: 'missing column' });
    return '';
  }
}

function describe(v: RawValue): string {
  if (v === undefined) return 'no such column';
  if (v === null) return 'NULL';
  if (v instanceof Uint8Array) return 'bytes';
  return JSON.stringify(typeof v === 'bigint' ? String(v) : v);
}
