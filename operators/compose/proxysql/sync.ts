// One ProxySQL node brought to the desired state through its admin interface: read the main tables, plan, run the
// plan, read again to check that ProxySQL kept it. Works on any AdminSession (mysql2 against a real ProxySQL in the
// controller; ProxySQL's table definitions in SQLite in the unit tests).
//
// Resuming: the edits go to the main tables and only LOAD puts them to work. If a pass stops between the two (the
// operator killed), the next pass finds the main tables as desired and would plan nothing, leaving the runtime
// behind. So each node's status records the digest of the state it last loaded; main tables as desired but another
// digest recorded means "loaded? unknown", and every module is loaded and saved again (harmless when it was).
import { createHmac } from 'node:crypto';
import { VAR_MONITOR_PASSWORD, VAR_MONITOR_USERNAME, VAR_SERVER_VERSION, VAR_WRITER_IS_ALSO_READER, compareStrings } from './desired.ts';
import { parseState, type RawRow } from './parse.ts';
import { sqlString } from './sql.ts';
import { describePlan, loadAndSaveAll, planSync } from './statements.ts';
import type { ProxysqlState, SyncPlan } from './types.ts';

export interface AdminSession {
  /** Runs one admin statement; rows for a SELECT, [] otherwise. */
  query(sql: string): Promise<RawRow[]>;
}

/** Every global variable the sync may own; only those are read. */
export const MANAGED_VARIABLES = [VAR_MONITOR_USERNAME, VAR_MONITOR_PASSWORD, VAR_SERVER_VERSION, VAR_WRITER_IS_ALSO_READER];

// Explicit columns: a later ProxySQL may add columns, and the plan only knows these.
export const READ_SQL = {
  mysql_servers: 'SELECT hostgroup_id, hostname, port, gtid_port, status, weight, compression, max_connections, max_replication_lag, use_ssl, max_latency_ms, comment FROM mysql_servers',
  mysql_replication_hostgroups: 'SELECT writer_hostgroup, reader_hostgroup, check_type, comment FROM mysql_replication_hostgroups',
  mysql_users: 'SELECT username, password, active, use_ssl, default_hostgroup, default_schema, schema_locked, transaction_persistent, fast_forward, backend, frontend, max_connections, attributes, comment FROM mysql_users',
  global_variables: `SELECT variable_name, variable_value FROM global_variables WHERE variable_name IN (${MANAGED_VARIABLES.map(sqlString).join(', ')})`,
};

export class UnreadableState extends Error {}

export async function readState(session: AdminSession): Promise<ProxysqlState> {
  const raw = {
    mysql_servers: await session.query(READ_SQL.mysql_servers),
    mysql_replication_hostgroups: await session.query(READ_SQL.mysql_replication_hostgroups),
    mysql_users: await session.query(READ_SQL.mysql_users),
    global_variables: await session.query(READ_SQL.global_variables),
  };
  const { state, errors } = parseState(raw);
  if (!state) throw new UnreadableState(`unexpected admin table contents: ${errors.slice(0, 3).map((e) => `${e.field}: ${e.message}`).join('; ')}`);
  return state;
}

/**
 * A short digest of a desired state, for status. Keyed (HMAC), because the state holds password hashes and the
 * monitor password: a plain hash of it would let anyone who reads the status test password guesses offline.
 */
export function digestState(state: ProxysqlState, manageUsers: boolean, key: string): string {
  const variables = Object.keys(state.global_variables).sort(compareStrings).map((k) => [k, state.global_variables[k]]);
  const canonical = JSON.stringify([state.mysql_replication_hostgroups, state.mysql_servers, manageUsers ? state.mysql_users : 'unmanaged', variables]);
  return createHmac('sha256', key).update(canonical).digest('hex').slice(0, 16);
}

export interface NodeSyncInput {
  desired: ProxysqlState;
  /** false: mysql_users is left alone. */
  manageUsers: boolean;
  digest: string;
  /** The digest this node's status says it last loaded. */
  appliedDigest?: string;
  /** false: read and compare only (skip-reconcile). */
  apply: boolean;
}

export interface NodeSyncResult {
  /** The node's main tables hold the desired state, loaded to runtime and saved to disk. */
  synced: boolean;
  /** Statements run this pass (0 when nothing was needed or apply was off). */
  statements: number;
  /** What was (or, without apply, would be) changed. */
  change: string;
  /** Only every LOAD and SAVE was repeated (see the top of this file). */
  resumed: boolean;
  servers: number;
  users: number;
  /** Set when ProxySQL did not keep what was written. */
  error?: string;
}

export async function syncNode(session: AdminSession, input: NodeSyncInput): Promise<NodeSyncResult> {
  const current = await readState(session);
  const planOpts = { users: input.manageUsers };
  const plan = planSync(current, input.desired, planOpts);
  const count = (s: ProxysqlState) => ({ servers: s.mysql_servers.length, users: s.mysql_users.length });
  const needsLoad = plan.statements.length === 0 && input.appliedDigest !== input.digest;
  if (!input.apply) {
    return { synced: plan.statements.length === 0 && !needsLoad, statements: 0, change: describePending(plan, needsLoad), resumed: false, ...count(current) };
  }
  if (plan.statements.length === 0 && !needsLoad) return { synced: true, statements: 0, change: 'no change', resumed: false, ...count(current) };

  const statements = needsLoad ? loadAndSaveAll() : plan.statements;
  for (const sql of statements) await session.query(sql);

  const after = await readState(session);
  const left = planSync(after, input.desired, planOpts);
  const result = { statements: statements.length, change: needsLoad ? 'loaded to runtime and saved to disk again' : describePlan(plan), resumed: needsLoad, ...count(after) };
  if (left.statements.length > 0) {
    return { ...result, synced: false, error: `ProxySQL did not keep the change (still different: ${describePlan(left)})` };
  }
  return { ...result, synced: true };
}

function describePending(plan: SyncPlan, needsLoad: boolean): string {
  if (plan.statements.length > 0) return `would change ${describePlan(plan)}`;
  return needsLoad ? 'would load to runtime and save to disk' : 'no change';
}
