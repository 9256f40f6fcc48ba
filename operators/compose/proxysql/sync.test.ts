// The whole chain on data: a MysqlReplication's status and the source's accounts in, the admin statements a
// ProxySQL node receives out, run against ProxySQL's table definitions in SQLite (admin-tables.testing.ts; not a
// ProxySQL: no monitor, no admin parser).
import { describe, expect, it } from '@jest/globals';
import type { MysqlReplication } from '../../../lib/api/compose.upm.io.generated.ts';
import { parseAccounts, usersFromAccounts } from './accounts.ts';
import { SqliteAdmin } from './admin-tables.testing.ts';
import { desiredState } from './desired.ts';
import type { RawRow } from './parse.ts';
import { planSync } from './statements.ts';
import { describeDesired, desiredSummary } from './summary.ts';
import { digestState, readState, syncNode, type AdminSession } from './sync.ts';
import { topologyOf } from './topology.ts';
import { DEFAULT_USER_FILTER, type ProxysqlState } from './types.ts';

type Node = NonNullable<NonNullable<MysqlReplication['status']>['topology']>[string];
const ip = (n: number) => `127.128.0.${10 + n}`;
const source = (n: number): Node => ({ host: ip(n), port: 3306, role: 'Source', status: 'Healthy', ready: true, readOnly: false });
const replica = (n: number): Node => ({ host: ip(n), port: 3306, role: 'Replica', status: 'Healthy', ready: true, readOnly: true, ioThread: 'Yes', sqlThread: 'Yes' });
function replication(src: number, replicas: number[]): MysqlReplication {
  return {
    metadata: { name: 'db', namespace: 'ns' },
    spec: { secretName: 'db-credentials', source: { name: `db-${src}`, unit: `db-${src}` } },
    status: { source: `db-${src}`, topology: Object.fromEntries([[`db-${src}`, source(src)], ...replicas.map((n) => [`db-${n}`, replica(n)])]) },
  };
}

const HASH_APP = '*72B37E3F4D899EDC98A9363172669E192CE424D5';
const HASH_APP_NEW = '*520BA5BE3924F1A0DB9941C4EA0911B19CBDE1A3';
const accountRows = (appHash = HASH_APP) => [
  { user: 'root', host: 'localhost', plugin: 'mysql_native_password', hash: 'invalid', is_role: 'N', max_user_connections: 0, locked: null },
  { user: 'upm_admin', host: '%', plugin: 'mysql_native_password', hash: '*B69027D44F6E5EDC07F1AEAD1477967B16F28227', is_role: 'N', max_user_connections: 0, locked: null },
  { user: 'app', host: '%', plugin: 'mysql_native_password', hash: appHash, is_role: 'N', max_user_connections: 0, locked: null },
];

/** What the controller computes for one pass. */
function desiredFor(mr: MysqlReplication, rows = accountRows()): ProxysqlState {
  const topology = topologyOf(mr).topology;
  if (!topology) throw new Error('no topology');
  const { users } = usersFromAccounts(parseAccounts(rows), { maxConnections: 10000 });
  const r = desiredState(topology, { writer: 10, reader: 20 }, users, { monitor: { username: 'upm_monitor', password: 'm0n-pw' }, userFilter: [...DEFAULT_USER_FILTER] });
  expect(r.errors).toEqual([]);
  if (!r.desired) throw new Error('no desired state');
  return r.desired;
}

const SERVER_INSERT = 'INSERT INTO mysql_servers (hostgroup_id, hostname, port, gtid_port, status, weight, compression, max_connections, max_replication_lag, use_ssl, max_latency_ms, comment) VALUES';
const LOAD_SERVERS = ['LOAD MYSQL SERVERS TO RUNTIME', 'SAVE MYSQL SERVERS TO DISK'];
const ALL_LOADS = ['LOAD MYSQL VARIABLES TO RUNTIME', 'SAVE MYSQL VARIABLES TO DISK', ...LOAD_SERVERS, 'LOAD MYSQL USERS TO RUNTIME', 'SAVE MYSQL USERS TO DISK'];
const KEY = 'mysql-admin-password';

/** The edits of a session's log: what it ran other than reading. */
const edits = (admin: SqliteAdmin, from = 0) => admin.log.slice(from).filter((s) => !s.startsWith('SELECT'));
const layersMatch = (admin: SqliteAdmin) => ['SERVERS', 'USERS', 'VARIABLES'].every((m) => admin.runtime.get(m) === admin.snapshot(m) && admin.disk.get(m) === admin.snapshot(m));

async function sync(admin: AdminSession, desired: ProxysqlState, appliedDigest?: string, extra: { apply?: boolean; manageUsers?: boolean } = {}) {
  const manageUsers = extra.manageUsers ?? true;
  const digest = digestState(desired, manageUsers, KEY);
  return { digest, result: await syncNode(admin, { desired, manageUsers, digest, apply: extra.apply ?? true, ...(appliedDigest ? { appliedDigest } : {}) }) };
}

describe('syncNode', () => {
  it('configures a fresh node, then does nothing while the replication stays the same', async () => {
    const admin = new SqliteAdmin();
    const d = desiredFor(replication(0, [1]));
    const first = await sync(admin, d);
    expect(first.result).toMatchObject({ synced: true, resumed: false, servers: 2, users: 1, change: 'mysql_servers +2 -0 ~0, mysql_replication_hostgroups +1 -0 ~0, mysql_users +1 -0 ~0, global_variables mysql-monitor_password mysql-monitor_username mysql-monitor_writer_is_also_reader' });
    expect(edits(admin).slice(-6)).toEqual(ALL_LOADS);
    expect(layersMatch(admin)).toBe(true);
    // Platform accounts never reach ProxySQL.
    expect(admin.main().mysql_users.map((u) => u.username)).toEqual(['app']);

    const mark = admin.log.length;
    const again = await sync(admin, d, first.digest);
    expect(again.result).toMatchObject({ synced: true, statements: 0, change: 'no change' });
    expect(edits(admin, mark)).toEqual([]);
  });

  it('follows a switchover with exactly two DELETEs, two INSERTs and one LOAD and SAVE of the servers', async () => {
    const admin = new SqliteAdmin();
    const before = await sync(admin, desiredFor(replication(0, [1, 2])));
    const mark = admin.log.length;
    const after = desiredFor(replication(1, [0, 2]));
    const r = await sync(admin, after, before.digest);
    expect(edits(admin, mark)).toEqual([
      `DELETE FROM mysql_servers WHERE hostgroup_id = 10 AND hostname = '${ip(0)}' AND port = 3306`,
      `DELETE FROM mysql_servers WHERE hostgroup_id = 20 AND hostname = '${ip(1)}' AND port = 3306`,
      `${SERVER_INSERT} (10, '${ip(1)}', 3306, 0, 'ONLINE', 1000, 0, 2000, 0, 0, 0, 'db-1')`,
      `${SERVER_INSERT} (20, '${ip(0)}', 3306, 0, 'ONLINE', 1000, 0, 2000, 0, 0, 0, 'db-0')`,
      ...LOAD_SERVERS,
    ]);
    expect(r.digest).not.toBe(before.digest);
    expect(r.result).toMatchObject({ synced: true, statements: 6, change: 'mysql_servers +2 -2 ~0' });
    expect(layersMatch(admin)).toBe(true);
    // Idempotent: the state it leaves plans nothing.
    expect(planSync(await readState(admin), after).statements).toEqual([]);
  });

  it('re-hashes a user whose password changed on the source, and only that', async () => {
    const admin = new SqliteAdmin();
    const before = await sync(admin, desiredFor(replication(0, [1])));
    const mark = admin.log.length;
    await sync(admin, desiredFor(replication(0, [1]), accountRows(HASH_APP_NEW)), before.digest);
    expect(edits(admin, mark)).toEqual([`UPDATE mysql_users SET password = '${HASH_APP_NEW}' WHERE username = 'app'`, 'LOAD MYSQL USERS TO RUNTIME', 'SAVE MYSQL USERS TO DISK']);
  });

  it('finishes a sync cut off between the edits and the LOAD: the next pass loads and saves everything again', async () => {
    const admin = new SqliteAdmin();
    const before = await sync(admin, desiredFor(replication(0, [1])));
    const after = desiredFor(replication(1, [0]));
    // Reads (4) and four edits go through; the connection dies at the LOAD.
    admin.failAt = admin.log.length + 4 + 4;
    await expect(sync(admin, after, before.digest)).rejects.toThrow(/connection lost/);
    expect(planSync(await readState(admin), after).statements).toEqual([]);
    expect(admin.runtime.get('SERVERS')).not.toBe(admin.snapshot('SERVERS'));

    // The node's status still records the old digest: main tables as desired, runtime unknown.
    const mark = admin.log.length;
    const r = await sync(admin, after, before.digest);
    expect(r.result).toMatchObject({ synced: true, resumed: true, statements: 6, change: 'loaded to runtime and saved to disk again' });
    expect(edits(admin, mark)).toEqual(ALL_LOADS);
    expect(layersMatch(admin)).toBe(true);
    // Recorded, the digest stops any further LOAD.
    const mark2 = admin.log.length;
    await sync(admin, after, r.digest);
    expect(edits(admin, mark2)).toEqual([]);
  });

  it('removes rows it did not write, a user without any password included', async () => {
    const admin = new SqliteAdmin();
    const d = desiredFor(replication(0, [1]));
    const first = await sync(admin, d);
    await admin.query("INSERT INTO mysql_users (username) VALUES ('manual')");
    await admin.query("INSERT INTO mysql_servers (hostgroup_id, hostname) VALUES (99, 'elsewhere')");
    const mark = admin.log.length;
    // Same desired state and digest: what differs is found by reading, not remembered.
    const r = await sync(admin, d, first.digest);
    expect(edits(admin, mark)).toEqual([
      "DELETE FROM mysql_servers WHERE hostgroup_id = 99 AND hostname = 'elsewhere' AND port = 3306",
      "DELETE FROM mysql_users WHERE username = 'manual'",
      ...LOAD_SERVERS, 'LOAD MYSQL USERS TO RUNTIME', 'SAVE MYSQL USERS TO DISK',
    ]);
    expect(r.result).toMatchObject({ synced: true, servers: 2, users: 1 });
  });

  it('reports a change ProxySQL did not keep instead of calling the node synced', async () => {
    const admin = new SqliteAdmin();
    admin.refused.add('mysql-monitor_password');
    const r = await sync(admin, desiredFor(replication(0, [1])));
    expect(r.result.synced).toBe(false);
    expect(r.result.error).toBe('ProxySQL did not keep the change (still different: global_variables mysql-monitor_password)');
    expect(r.result.error).not.toContain('m0n-pw');
  });

  it('only reads and compares when applying is off (skip-reconcile)', async () => {
    const admin = new SqliteAdmin();
    const r = await sync(admin, desiredFor(replication(0, [1])), undefined, { apply: false });
    expect(r.result).toMatchObject({ synced: false, statements: 0, servers: 0, users: 0 });
    expect(r.result.change).toMatch(/^would change mysql_servers \+2/);
    expect(edits(admin)).toEqual([]);
  });

  it('leaves mysql_users alone while the accounts cannot be read', async () => {
    const admin = new SqliteAdmin();
    const first = await sync(admin, desiredFor(replication(0, [1])));
    const mark = admin.log.length;
    const noUsers = { ...desiredFor(replication(1, [0])), mysql_users: [] };
    const r = await sync(admin, noUsers, first.digest, { manageUsers: false });
    expect(r.result.synced).toBe(true);
    expect(edits(admin, mark).filter((s) => s.includes('mysql_users') || s.includes('USERS'))).toEqual([]);
    expect(admin.main().mysql_users.map((u) => u.username)).toEqual(['app']);
  });

  it('refuses to plan from admin tables it cannot read', async () => {
    const odd: AdminSession = {
      query: (sql: string): Promise<RawRow[]> => Promise.resolve(sql.includes('FROM mysql_replication_hostgroups') ? [{ writer_hostgroup: 'ten', reader_hostgroup: '20', check_type: 'read_only', comment: '' }] : []),
    };
    await expect(syncNode(odd, { desired: desiredFor(replication(0, [1])), manageUsers: true, digest: 'x', apply: true }))
      .rejects.toThrow('unexpected admin table contents: mysql_replication_hostgroups[0].writer_hostgroup: expected an integer, got "ten"');
  });
});

describe('digest and summary', () => {
  it('changes with any row, a password hash included, and depends on its key', () => {
    const d = desiredFor(replication(0, [1]));
    const base = digestState(d, true, KEY);
    expect(base).toMatch(/^[0-9a-f]{16}$/);
    expect(digestState(structuredClone(d), true, KEY)).toBe(base);
    expect(digestState(desiredFor(replication(0, [1]), accountRows(HASH_APP_NEW)), true, KEY)).not.toBe(base);
    expect(digestState(d, false, KEY)).not.toBe(base);
    expect(digestState(d, true, 'another key')).not.toBe(base);
  });

  it('shows servers by hostgroup and users by name, never a hash or the monitor password', () => {
    const mr = replication(0, [1, 2]);
    const failing = mr.status?.topology?.['db-2'];
    if (failing) Object.assign(failing, { ready: false, sqlThread: 'No' });
    const s = desiredSummary({ desired: desiredFor(mr), writer: 10, reader: 20, usersManaged: true, leftOut: [{ name: 'db-3', reason: 'isolated' }], usersLeftOut: [] });
    expect(s.servers).toEqual([
      { hostgroup: 10, role: 'writer', name: 'db-0', host: ip(0), port: 3306, status: 'ONLINE', weight: 1000 },
      { hostgroup: 20, role: 'reader', name: 'db-1', host: ip(1), port: 3306, status: 'ONLINE', weight: 1000 },
      { hostgroup: 20, role: 'reader', name: 'db-2', host: ip(2), port: 3306, status: 'OFFLINE_SOFT', weight: 1000 },
    ]);
    expect(s.users).toEqual(['app']);
    expect(describeDesired(s)).toBe('writer hostgroup 10: db-0; reader hostgroup 20: db-1, db-2 (OFFLINE_SOFT); users: app');
    expect(JSON.stringify(s)).not.toMatch(/\*72B3|m0n-pw/);
  });
});
