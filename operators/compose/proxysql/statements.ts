// The admin statements that turn ProxySQL's current main tables into the desired ones: nothing when they already
// match, otherwise the fewest row edits followed by LOAD ... TO RUNTIME and SAVE ... TO DISK for each edited module.
//
// Order: every table edit first, every LOAD last. The controller stops at the first failing statement, and then
// nothing half-edited has reached the runtime; the next reconcile plans again from the main tables. Within a table,
// DELETEs come first so that a switchover's INSERTs never collide with a primary key or UNIQUE(reader_hostgroup)
// still held by a row that goes. Variables load first, so that the monitor checks the new servers with the new
// account from the start.

import { compareServers, compareStrings } from './desired.ts';
import { sqlInt, sqlNullableString, sqlPassword, sqlString } from './sql.ts';
import type { ProxysqlState, ReplicationHostgroupRow, ServerRow, SyncPlan, TableSummary, UserRow } from './types.ts';

interface TableEdits { deletes: string[]; inserts: string[]; updates: string[] }

const SERVER_COLUMNS = ['hostgroup_id', 'hostname', 'port', 'gtid_port', 'status', 'weight', 'compression', 'max_connections', 'max_replication_lag', 'use_ssl', 'max_latency_ms', 'comment'] as const;
const HOSTGROUP_COLUMNS = ['writer_hostgroup', 'reader_hostgroup', 'check_type', 'comment'] as const;
const USER_COLUMNS = ['username', 'password', 'active', 'use_ssl', 'default_hostgroup', 'default_schema', 'schema_locked', 'transaction_persistent', 'fast_forward', 'backend', 'frontend', 'max_connections', 'attributes', 'comment'] as const;

export const LOAD_SAVE = {
  variables: ['LOAD MYSQL VARIABLES TO RUNTIME', 'SAVE MYSQL VARIABLES TO DISK'],
  // mysql_replication_hostgroups belongs to the servers module: one LOAD covers both tables.
  servers: ['LOAD MYSQL SERVERS TO RUNTIME', 'SAVE MYSQL SERVERS TO DISK'],
  users: ['LOAD MYSQL USERS TO RUNTIME', 'SAVE MYSQL USERS TO DISK'],
} as const;

export interface PlanOptions {
  /** false: mysql_users is left as it is (the source's accounts could not be read this time). */
  users?: boolean;
}

export function planSync(current: ProxysqlState, desired: ProxysqlState, opts: PlanOptions = {}): SyncPlan {
  const hostgroups = planHostgroups(current.mysql_replication_hostgroups, desired.mysql_replication_hostgroups);
  const servers = planServers(current.mysql_servers, desired.mysql_servers);
  const users = opts.users === false ? emptyEdits() : planUsers(current.mysql_users, desired.mysql_users);
  const variables = planVariables(current.global_variables, desired.global_variables);

  const changed = { servers: hasEdits(servers), users: hasEdits(users), hostgroups: hasEdits(hostgroups), variables: variables.length > 0 };
  const statements = [...flatten(hostgroups), ...flatten(servers), ...flatten(users), ...variables.map((v) => v.statement)];
  if (changed.variables) statements.push(...LOAD_SAVE.variables);
  if (changed.servers || changed.hostgroups) statements.push(...LOAD_SAVE.servers);
  if (changed.users) statements.push(...LOAD_SAVE.users);
  const summary = {
    mysql_servers: summarize(servers),
    mysql_replication_hostgroups: summarize(hostgroups),
    mysql_users: summarize(users),
    global_variables: variables.map((v) => v.name),
  };
  return { statements, changed, summary };
}

/**
 * Every LOAD and SAVE, for a node whose main tables already hold the desired rows but whose last sync may have
 * stopped before loading them (the operator killed between the edits and the LOAD): repeating a LOAD of what is
 * already loaded changes nothing.
 */
export function loadAndSaveAll(): string[] {
  return [...LOAD_SAVE.variables, ...LOAD_SAVE.servers, ...LOAD_SAVE.users];
}

/** One line for events and status: "mysql_servers +1 -1 ~0, global_variables mysql-monitor_password". */
export function describePlan(plan: SyncPlan): string {
  const parts: string[] = [];
  for (const table of ['mysql_servers', 'mysql_replication_hostgroups', 'mysql_users'] as const) {
    const t = plan.summary[table];
    if (t.added + t.removed + t.updated > 0) parts.push(`${table} +${t.added} -${t.removed} ~${t.updated}`);
  }
  if (plan.summary.global_variables.length > 0) parts.push(`global_variables ${plan.summary.global_variables.join(' ')}`);
  return parts.join(', ') || 'no change';
}

function planHostgroups(current: ReplicationHostgroupRow[], desired: ReplicationHostgroupRow[]): TableEdits {
  // Keyed by the pair, so that a new reader hostgroup is a DELETE and an INSERT: the DELETEs run first, and an
  // UPDATE could otherwise hit UNIQUE(reader_hostgroup) while another pair still holds that reader.
  return planKeyed(current, desired, {
    table: 'mysql_replication_hostgroups',
    key: (r) => `${r.writer_hostgroup}/${r.reader_hostgroup}`,
    where: (r) => `writer_hostgroup = ${sqlInt(r.writer_hostgroup)}`,
    columns: HOSTGROUP_COLUMNS,
    value: (r, c) => (c === 'check_type' || c === 'comment' ? sqlString(r[c]) : sqlInt(r[c])),
    order: (a, b) => a.writer_hostgroup - b.writer_hostgroup,
  });
}

function planServers(current: ServerRow[], desired: ServerRow[]): TableEdits {
  // Keyed by the table's primary key: a server changing hostgroup (a switchover) is one DELETE and one INSERT.
  return planKeyed(current, desired, {
    table: 'mysql_servers',
    key: (r) => `${r.hostgroup_id}\0${r.hostname}\0${r.port}`,
    where: (r) => `hostgroup_id = ${sqlInt(r.hostgroup_id)} AND hostname = ${sqlString(r.hostname)} AND port = ${sqlInt(r.port)}`,
    columns: SERVER_COLUMNS,
    value: (r, c) => (c === 'hostname' || c === 'status' || c === 'comment' ? sqlString(r[c]) : sqlInt(r[c])),
    order: compareServers,
  });
}

function planUsers(current: UserRow[], desired: UserRow[]): TableEdits {
  const edits: TableEdits = { deletes: [], inserts: [], updates: [] };
  const value = (r: UserRow, c: (typeof USER_COLUMNS)[number]): string => {
    switch (c) {
      case 'password': return sqlPassword(r.password);
      case 'default_schema': return sqlNullableString(r.default_schema);
      case 'username': case 'attributes': case 'comment': return sqlString(r[c]);
      default: return sqlInt(r[c]);
    }
  };
  const where = (username: string): string => `username = ${sqlString(username)}`;
  const insert = (r: UserRow): string => `INSERT INTO mysql_users (${USER_COLUMNS.join(', ')}) VALUES (${USER_COLUMNS.map((c) => value(r, c)).join(', ')})`;

  // A user may hold two rows (backend-only and frontend-only); the desired shape is one row that is both, so any
  // other shape is replaced as a whole.
  const byName = new Map<string, UserRow[]>();
  for (const row of current) byName.set(row.username, [...(byName.get(row.username) ?? []), row]);
  const wanted = new Set(desired.map((r) => r.username));

  for (const username of [...byName.keys()].sort(compareStrings)) {
    if (!wanted.has(username)) edits.deletes.push(`DELETE FROM mysql_users WHERE ${where(username)}`);
  }
  for (const row of [...desired].sort((a, b) => compareStrings(a.username, b.username))) {
    const have = byName.get(row.username) ?? [];
    const only = have.length === 1 ? have[0] : undefined;
    if (have.length === 0) {
      edits.inserts.push(insert(row));
    } else if (only && only.backend === 1 && only.frontend === 1) {
      const sets = USER_COLUMNS.filter((c) => only[c] !== row[c]).map((c) => `${c} = ${value(row, c)}`);
      if (sets.length > 0) edits.updates.push(`UPDATE mysql_users SET ${sets.join(', ')} WHERE ${where(row.username)}`);
    } else {
      edits.deletes.push(`DELETE FROM mysql_users WHERE ${where(row.username)}`);
      edits.inserts.push(insert(row));
    }
  }
  return edits;
}

function planVariables(current: Record<string, string>, desired: Record<string, string>): { name: string; statement: string }[] {
  // Only the variables the sync owns; ProxySQL always has a row for each, so UPDATE is enough. LOAD copies the
  // runtime values back into main, so a value ProxySQL rejected would show up as a difference again next time.
  return Object.keys(desired)
    .sort(compareStrings)
    .filter((name) => current[name] !== desired[name])
    .map((name) => ({ name, statement: `UPDATE global_variables SET variable_value = ${sqlString(desired[name] ?? '')} WHERE variable_name = ${sqlString(name)}` }));
}

interface KeyedTable<R, C extends keyof R> {
  table: string;
  key: (r: R) => string;
  where: (r: R) => string;
  columns: readonly C[];
  value: (r: R, c: C) => string;
  order: (a: R, b: R) => number;
}

function planKeyed<R, C extends keyof R>(current: R[], desired: R[], t: KeyedTable<R, C>): TableEdits {
  const edits: TableEdits = { deletes: [], inserts: [], updates: [] };
  const have = new Map(current.map((r) => [t.key(r), r]));
  const want = new Map(desired.map((r) => [t.key(r), r]));
  for (const row of [...current].sort(t.order)) {
    if (!want.has(t.key(row))) edits.deletes.push(`DELETE FROM ${t.table} WHERE ${t.where(row)}`);
  }
  for (const row of [...desired].sort(t.order)) {
    const old = have.get(t.key(row));
    if (!old) {
      edits.inserts.push(`INSERT INTO ${t.table} (${t.columns.join(', ')}) VALUES (${t.columns.map((c) => t.value(row, c)).join(', ')})`);
      continue;
    }
    const sets = t.columns.filter((c) => old[c] !== row[c]).map((c) => `${String(c)} = ${t.value(row, c)}`);
    if (sets.length > 0) edits.updates.push(`UPDATE ${t.table} SET ${sets.join(', ')} WHERE ${t.where(row)}`);
  }
  return edits;
}

function emptyEdits(): TableEdits {
  return { deletes: [], inserts: [], updates: [] };
}

function summarize(e: TableEdits): TableSummary {
  return { added: e.inserts.length, removed: e.deletes.length, updated: e.updates.length };
}

function hasEdits(e: TableEdits): boolean {
  return e.deletes.length + e.inserts.length + e.updates.length > 0;
}

function flatten(e: TableEdits): string[] {
  return [...e.deletes, ...e.inserts, ...e.updates];
}
