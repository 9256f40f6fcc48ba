import { describe, expect, it } from '@jest/globals';
import { compareServers, desiredState } from './desired.ts';
import { SqliteAdmin } from './admin-tables.testing.ts';
import { parseState } from './parse.ts';
import { sqlPassword, sqlString } from './sql.ts';
import { describePlan, loadAndSaveAll, planSync } from './statements.ts';
import type { DesiredOptions, HostgroupSettings, MysqlUser, ProxysqlState, Topology, UserRow } from './types.ts';

const host = (n: number): string => `db-${n}.db-headless.ns.svc.cluster.local`;

function topology(source: number, replicas: number[]): Topology {
  return {
    mode: 'async',
    source: { name: `db-${source}`, host: host(source), port: 3306, ready: true },
    replicas: replicas.map((n) => ({ name: `db-${n}`, host: host(n), port: 3306, ready: true })),
  };
}

const HASH_APP = '*6691484EA6B50DDDE1926A220DA01FA9E575C18A';
const HASH_APP_NEW = '*520BA5BE3924F1A0DB9941C4EA0911B19CBDE1A3';
const HASH_REPORT = '*2AFD99E79E4AA23DE141540F4179F64FFB3AC521';
/** caching_sha2_password: 20 salt bytes holding a quote, a backslash, a newline and \x01, then 43 digest characters. */
const HASH_SHA2 = `$A$005$ab'c\\d\ne\x01fghijklmnop${'Xy0./Zq9Lm2Ns3Ot4Pu5Qv6Rw7Sx8Ty9Uz0Va1Wb2Xc'}`;
const users: MysqlUser[] = [{ username: 'app', passwordHash: HASH_APP }];
const opts: DesiredOptions = { monitor: { username: 'upm_monitor', password: 'm0n' }, serverVersion: '10.11.8-MariaDB-log' };
const settings: Partial<HostgroupSettings> = { maxReplicationLagSeconds: 10 };

function desired(t: Topology, u: MysqlUser[] = users, s: Partial<HostgroupSettings> = settings, o: DesiredOptions = opts): ProxysqlState {
  const result = desiredState(t, s, u, o);
  expect(result.errors).toEqual([]);
  if (!result.desired) throw new Error('no desired state');
  return result.desired;
}

const EMPTY: ProxysqlState = { mysql_servers: [], mysql_replication_hostgroups: [], mysql_users: [], global_variables: {} };
const SERVER_INSERT = 'INSERT INTO mysql_servers (hostgroup_id, hostname, port, gtid_port, status, weight, compression, max_connections, max_replication_lag, use_ssl, max_latency_ms, comment) VALUES';
const USER_INSERT = 'INSERT INTO mysql_users (username, password, active, use_ssl, default_hostgroup, default_schema, schema_locked, transaction_persistent, fast_forward, backend, frontend, max_connections, attributes, comment) VALUES';
const LOAD_SERVERS = ['LOAD MYSQL SERVERS TO RUNTIME', 'SAVE MYSQL SERVERS TO DISK'];
const LOAD_USERS = ['LOAD MYSQL USERS TO RUNTIME', 'SAVE MYSQL USERS TO DISK'];
const LOAD_VARIABLES = ['LOAD MYSQL VARIABLES TO RUNTIME', 'SAVE MYSQL VARIABLES TO DISK'];

/** ProxySQL's admin main tables in SQLite: runs the edits, reads rows back (admin-tables.testing.ts). */
class FakeAdmin {
  readonly admin = new SqliteAdmin();
  run(statements: string[]): void {
    for (const sql of statements) this.admin.exec(sql);
  }
  read(): ProxysqlState {
    return this.admin.main();
  }
  sync(want: ProxysqlState): string[] {
    const { statements } = planSync(this.read(), want);
    this.run(statements);
    return statements;
  }
}

describe('planSync: servers and hostgroups', () => {
  it('configures an empty ProxySQL with exact statements, edits first and loads last', () => {
    const plan = planSync(EMPTY, desired(topology(0, [1, 2])));
    expect(plan.changed).toEqual({ servers: true, users: true, hostgroups: true, variables: true });
    expect(plan.statements).toEqual([
      "INSERT INTO mysql_replication_hostgroups (writer_hostgroup, reader_hostgroup, check_type, comment) VALUES (10, 20, 'read_only', 'async')",
      `${SERVER_INSERT} (10, '${host(0)}', 3306, 0, 'ONLINE', 1000, 0, 2000, 0, 0, 0, 'db-0')`,
      `${SERVER_INSERT} (20, '${host(1)}', 3306, 0, 'ONLINE', 1000, 0, 2000, 10, 0, 0, 'db-1')`,
      `${SERVER_INSERT} (20, '${host(2)}', 3306, 0, 'ONLINE', 1000, 0, 2000, 10, 0, 0, 'db-2')`,
      `${USER_INSERT} ('app', '${HASH_APP}', 1, 0, 10, NULL, 0, 1, 0, 1, 1, 10000, '', '')`,
      "UPDATE global_variables SET variable_value = 'm0n' WHERE variable_name = 'mysql-monitor_password'",
      "UPDATE global_variables SET variable_value = 'upm_monitor' WHERE variable_name = 'mysql-monitor_username'",
      "UPDATE global_variables SET variable_value = 'false' WHERE variable_name = 'mysql-monitor_writer_is_also_reader'",
      "UPDATE global_variables SET variable_value = '10.11.8-MariaDB-log' WHERE variable_name = 'mysql-server_version'",
      ...LOAD_VARIABLES,
      ...LOAD_SERVERS,
      ...LOAD_USERS,
    ]);
  });

  it('plans nothing when ProxySQL already holds the desired state', () => {
    const d = desired(topology(0, [1, 2]));
    const none = { added: 0, removed: 0, updated: 0 };
    expect(planSync(structuredClone(d), d)).toEqual({
      statements: [],
      changed: { servers: false, users: false, hostgroups: false, variables: false },
      summary: { mysql_servers: none, mysql_replication_hostgroups: none, mysql_users: none, global_variables: [] },
    });
  });

  it('swaps the source and a replica after a switchover with two DELETEs and two INSERTs', () => {
    const before = desired(topology(0, [1, 2]));
    const plan = planSync(before, desired(topology(1, [0, 2])));
    expect(plan.statements).toEqual([
      `DELETE FROM mysql_servers WHERE hostgroup_id = 10 AND hostname = '${host(0)}' AND port = 3306`,
      `DELETE FROM mysql_servers WHERE hostgroup_id = 20 AND hostname = '${host(1)}' AND port = 3306`,
      `${SERVER_INSERT} (10, '${host(1)}', 3306, 0, 'ONLINE', 1000, 0, 2000, 0, 0, 0, 'db-1')`,
      `${SERVER_INSERT} (20, '${host(0)}', 3306, 0, 'ONLINE', 1000, 0, 2000, 10, 0, 0, 'db-0')`,
      ...LOAD_SERVERS,
    ]);
    expect(plan.changed).toEqual({ servers: true, users: false, hostgroups: false, variables: false });
    expect(describePlan(plan)).toBe('mysql_servers +2 -2 ~0');
  });

  it('replaces the hostgroup pair when the reader changes, even onto a reader another pair held', () => {
    const admin = new FakeAdmin();
    admin.sync(desired(topology(0, [1])));
    // A pair someone added by hand holds reader hostgroup 30, which the new settings want.
    admin.run(["INSERT INTO mysql_replication_hostgroups (writer_hostgroup, reader_hostgroup) VALUES (40, 30)"]);
    const d = desired(topology(0, [1]), users, { ...settings, reader: 30 });
    expect(admin.sync(d).slice(0, 3)).toEqual([
      'DELETE FROM mysql_replication_hostgroups WHERE writer_hostgroup = 10',
      'DELETE FROM mysql_replication_hostgroups WHERE writer_hostgroup = 40',
      "INSERT INTO mysql_replication_hostgroups (writer_hostgroup, reader_hostgroup, check_type, comment) VALUES (10, 30, 'read_only', 'async')",
    ]);
    expect(admin.read().mysql_replication_hostgroups).toEqual(d.mysql_replication_hostgroups);
    expect(admin.sync(d)).toEqual([]);
  });

  it('marks a failed source OFFLINE_SOFT with one UPDATE, and brings it back ONLINE', () => {
    const healthy = desired(topology(0, [1]));
    const failed = topology(0, [1]);
    failed.source = { ...failed.source!, ready: false };
    const down = desired(failed);
    const where = `WHERE hostgroup_id = 10 AND hostname = '${host(0)}' AND port = 3306`;
    expect(planSync(healthy, down).statements).toEqual([`UPDATE mysql_servers SET status = 'OFFLINE_SOFT' ${where}`, ...LOAD_SERVERS]);
    expect(planSync(down, healthy).statements).toEqual([`UPDATE mysql_servers SET status = 'ONLINE' ${where}`, ...LOAD_SERVERS]);
  });

  it('removes a replica once it is isolated', () => {
    const t = topology(0, [1, 2]);
    const before = desired(t);
    t.replicas[1] = { ...t.replicas[1]!, isolated: true };
    expect(planSync(before, desired(t)).statements).toEqual([`DELETE FROM mysql_servers WHERE hostgroup_id = 20 AND hostname = '${host(2)}' AND port = 3306`, ...LOAD_SERVERS]);
  });

  it('updates only the columns that differ, and deletes servers and hostgroup pairs it does not know', () => {
    const d = desired(topology(0, [1]));
    const current = structuredClone(d);
    current.mysql_servers[1] = { ...current.mysql_servers[1]!, weight: 1, use_ssl: 1 };
    current.mysql_servers.push({ ...current.mysql_servers[0]!, hostgroup_id: 99, hostname: 'stray' });
    current.mysql_replication_hostgroups[0] = { ...current.mysql_replication_hostgroups[0]!, check_type: 'READ_ONLY' };
    current.mysql_replication_hostgroups.push({ writer_hostgroup: 0, reader_hostgroup: 1, check_type: 'read_only', comment: '' });
    const plan = planSync(current, d);
    expect(plan.statements).toEqual([
      'DELETE FROM mysql_replication_hostgroups WHERE writer_hostgroup = 0',
      "UPDATE mysql_replication_hostgroups SET check_type = 'read_only' WHERE writer_hostgroup = 10",
      "DELETE FROM mysql_servers WHERE hostgroup_id = 99 AND hostname = 'stray' AND port = 3306",
      `UPDATE mysql_servers SET weight = 1000, use_ssl = 0 WHERE hostgroup_id = 20 AND hostname = '${host(1)}' AND port = 3306`,
      ...LOAD_SERVERS,
    ]);
    expect(plan.changed).toEqual({ servers: true, users: false, hostgroups: true, variables: false });
  });

  it('moves everything to new hostgroup ids', () => {
    const before = desired(topology(0, [1]));
    const plan = planSync(before, desired(topology(0, [1]), users, { writer: 1, reader: 2 }));
    expect(plan.statements.slice(0, 2)).toEqual([
      'DELETE FROM mysql_replication_hostgroups WHERE writer_hostgroup = 10',
      "INSERT INTO mysql_replication_hostgroups (writer_hostgroup, reader_hostgroup, check_type, comment) VALUES (1, 2, 'read_only', 'async')",
    ]);
    expect(plan.statements.filter((s) => s.startsWith('DELETE FROM mysql_servers'))).toHaveLength(2);
    expect(plan.statements.filter((s) => s.startsWith('INSERT INTO mysql_servers'))).toHaveLength(2);
    expect(plan.statements).toContain("UPDATE mysql_users SET default_hostgroup = 1 WHERE username = 'app'");
    expect(plan.statements.slice(-4)).toEqual([...LOAD_SERVERS, ...LOAD_USERS]);
  });
});

describe('planSync: users and variables', () => {
  it('adds, removes and re-hashes users with exact statements', () => {
    const before = desired(topology(0, [1]), [{ username: 'app', passwordHash: HASH_APP }, { username: 'legacy', passwordHash: HASH_REPORT }]);
    const after = desired(topology(0, [1]), [{ username: 'app', passwordHash: HASH_APP_NEW }, { username: 'report', passwordHash: HASH_REPORT, defaultHostgroup: 20 }]);
    const plan = planSync(before, after);
    expect(plan.statements).toEqual([
      "DELETE FROM mysql_users WHERE username = 'legacy'",
      `${USER_INSERT} ('report', '${HASH_REPORT}', 1, 0, 20, NULL, 0, 1, 0, 1, 1, 10000, '', '')`,
      `UPDATE mysql_users SET password = '${HASH_APP_NEW}' WHERE username = 'app'`,
      ...LOAD_USERS,
    ]);
    expect(plan.changed).toEqual({ servers: false, users: true, hostgroups: false, variables: false });
  });

  it('deletes system accounts someone added by hand, and replaces a user kept as two rows', () => {
    const d = desired(topology(0, [1]), [{ username: 'app', passwordHash: HASH_APP }, { username: 'root', passwordHash: HASH_REPORT }]);
    expect(d.mysql_users.map((u) => u.username)).toEqual(['app']);
    const row = d.mysql_users[0]!;
    const current: ProxysqlState = {
      ...structuredClone(d),
      mysql_users: [
        { ...row, frontend: 0 },
        { ...row, backend: 0 },
        { ...row, username: 'root', password: HASH_REPORT },
      ],
    };
    expect(planSync(current, d).statements).toEqual([
      "DELETE FROM mysql_users WHERE username = 'root'",
      "DELETE FROM mysql_users WHERE username = 'app'",
      `${USER_INSERT} ('app', '${HASH_APP}', 1, 0, 10, NULL, 0, 1, 0, 1, 1, 10000, '', '')`,
      ...LOAD_USERS,
    ]);
  });

  it('changes only the variables that differ and loads only that module', () => {
    const d = desired(topology(0, [1]));
    const current = structuredClone(d);
    current.global_variables['mysql-monitor_password'] = 'old';
    current.global_variables['mysql-threads'] = '4';
    const plan = planSync(current, d);
    expect(plan.statements).toEqual(["UPDATE global_variables SET variable_value = 'm0n' WHERE variable_name = 'mysql-monitor_password'", ...LOAD_VARIABLES]);
    expect(plan.changed).toEqual({ servers: false, users: false, hostgroups: false, variables: true });
    // The summary names the variable, never its value.
    expect(plan.summary.global_variables).toEqual(['mysql-monitor_password']);
    expect(describePlan(plan)).toBe('global_variables mysql-monitor_password');
  });
});

describe('planSync: options and helpers', () => {
  it('leaves mysql_users alone when the accounts are not managed this time', () => {
    const d = desired(topology(0, [1]));
    const current = { ...structuredClone(d), mysql_users: [{ ...d.mysql_users[0]!, username: 'other' }] };
    const plan = planSync(current, { ...d, mysql_users: [] }, { users: false });
    expect(plan.statements).toEqual([]);
    expect(plan.changed.users).toBe(false);
    // Managed, the same difference is two edits.
    expect(planSync(current, d).statements).toEqual([
      "DELETE FROM mysql_users WHERE username = 'other'",
      `${USER_INSERT} ('app', '${HASH_APP}', 1, 0, 10, NULL, 0, 1, 0, 1, 1, 10000, '', '')`,
      ...LOAD_USERS,
    ]);
  });

  it('repeats every LOAD and SAVE in the order a plan uses', () => {
    expect(loadAndSaveAll()).toEqual([...LOAD_VARIABLES, ...LOAD_SERVERS, ...LOAD_USERS]);
  });

  it('describes a plan by counts and variable names only', () => {
    const before = desired(topology(0, [1]), [{ username: 'app', passwordHash: HASH_APP }, { username: 'old', passwordHash: HASH_REPORT }]);
    const after = desired(topology(0, [1, 2]), [{ username: 'app', passwordHash: HASH_APP_NEW }], settings, { ...opts, monitor: { username: 'upm_monitor', password: 'n3w' } });
    const text = describePlan(planSync(before, after));
    expect(text).toBe('mysql_servers +1 -0 ~0, mysql_users +0 -1 ~1, global_variables mysql-monitor_password');
    expect(text).not.toMatch(/n3w|\*520B/);
  });
});

describe('literals', () => {
  it('doubles single quotes and keeps backslashes, as SQLite reads them', () => {
    expect(sqlString("it's")).toBe("'it''s'");
    expect(sqlString('a\\b\\')).toBe("'a\\b\\'");
    expect(sqlString("'; DROP TABLE mysql_servers; --")).toBe("'''; DROP TABLE mysql_servers; --'");
    expect(sqlString('')).toBe("''");
  });

  it('sends native hashes as text and caching_sha2 hashes through UNHEX', () => {
    expect(sqlPassword(HASH_APP)).toBe(`'${HASH_APP}'`);
    // '$A$005$' then a b ' c \ d \n e \x01 f ...
    expect(sqlPassword(HASH_SHA2)).toMatch(/^UNHEX\('24412430303524616227635C640A650166[0-9A-F]+'\)$/);
    expect(sqlPassword(HASH_SHA2)).toHaveLength(`UNHEX('')`.length + 2 * HASH_SHA2.length);
  });

  it('keeps quotes in host names, users and comments inside their literals', () => {
    const t = topology(0, []);
    t.source = { name: 'db-0', host: "db-'0", port: 3306, ready: true };
    const d = desired(t, [{ username: "o'brien\\", passwordHash: HASH_APP }], { comment: "it's" });
    expect(planSync(EMPTY, d).statements.slice(0, 3)).toEqual([
      "INSERT INTO mysql_replication_hostgroups (writer_hostgroup, reader_hostgroup, check_type, comment) VALUES (10, 20, 'read_only', 'it''s')",
      `${SERVER_INSERT} (10, 'db-''0', 3306, 0, 'ONLINE', 1000, 0, 2000, 0, 0, 0, 'db-0')`,
      `${USER_INSERT} ('o''brien\\', '${HASH_APP}', 1, 0, 10, NULL, 0, 1, 0, 1, 1, 10000, '', '')`,
    ]);
  });
});

describe('against ProxySQL table definitions (SQLite)', () => {
  it('applies a sync, reads the same rows back, and then plans nothing', () => {
    const admin = new FakeAdmin();
    const d = desired(topology(0, [1, 2]), [...users, { username: 'svc', passwordHash: HASH_SHA2 }], { sourceAlsoReads: true });
    expect(admin.sync(d).length).toBeGreaterThan(0);
    const back = admin.read();
    expect(back.mysql_servers.sort(compareServers)).toEqual(d.mysql_servers);
    expect(back.mysql_replication_hostgroups).toEqual(d.mysql_replication_hostgroups);
    expect(back.mysql_users).toEqual(d.mysql_users);
    expect(back.mysql_users.find((u: UserRow) => u.username === 'svc')?.password).toBe(HASH_SHA2);
    expect(back.global_variables).toEqual(d.global_variables);
    expect(admin.sync(d)).toEqual([]);
  });

  it('survives hostile names and values without breaking out of a literal', () => {
    const admin = new FakeAdmin();
    const evil = "x'); DELETE FROM mysql_servers; --";
    const t = topology(0, [1]);
    t.replicas[0] = { ...t.replicas[0]!, name: evil, host: "h'1\\" };
    const d = desired(t, [{ username: evil, passwordHash: HASH_APP }, { username: 'back\\slash', passwordHash: HASH_SHA2 }], { comment: evil }, { ...opts, monitor: { username: "mon'", password: "p'\\w" }, serverVersion: "8.0'" });
    admin.sync(d);
    const back = admin.read();
    expect(back.mysql_servers.sort(compareServers)).toEqual(d.mysql_servers);
    expect(back.mysql_users.map((u) => u.username)).toEqual(['back\\slash', evil]);
    expect(back.mysql_replication_hostgroups[0]?.comment).toBe(evil);
    expect(back.global_variables['mysql-monitor_password']).toBe("p'\\w");
    expect(admin.sync(d)).toEqual([]);
  });

  it('walks through a switchover, a failure and a recovery, each plan leaving nothing to do', () => {
    const admin = new FakeAdmin();
    const failed = topology(1, [0, 2]);
    failed.source = { ...failed.source!, ready: false };
    for (const t of [topology(0, [1, 2]), topology(1, [0, 2]), failed, topology(2, [0, 1])]) {
      const d = desired(t);
      admin.sync(d);
      // SQLite hands rows back in storage order, as ProxySQL may: planning must not depend on it.
      expect(admin.read().mysql_servers.sort(compareServers)).toEqual(d.mysql_servers);
      expect(admin.sync(d)).toEqual([]);
    }
  });
});

describe('parseState', () => {
  it('turns the text protocol strings into numbers and reports what it cannot read', () => {
    const ok = parseState({
      mysql_servers: [],
      mysql_replication_hostgroups: [{ writer_hostgroup: '10', reader_hostgroup: '20', check_type: 'read_only', comment: '' }],
      mysql_users: [],
      global_variables: [{ variable_name: 'mysql-server_version', variable_value: '8.0.11' }],
    });
    expect(ok).toEqual({
      state: { mysql_servers: [], mysql_replication_hostgroups: [{ writer_hostgroup: 10, reader_hostgroup: 20, check_type: 'read_only', comment: '' }], mysql_users: [], global_variables: { 'mysql-server_version': '8.0.11' } },
      errors: [],
    });
    const bad = parseState({ mysql_servers: [], mysql_replication_hostgroups: [{ writer_hostgroup: 'ten', reader_hostgroup: '20', check_type: null }], mysql_users: [], global_variables: [] });
    expect(bad).toEqual({
      errors: [
        { field: 'mysql_replication_hostgroups[0].writer_hostgroup', message: 'expected an integer, got "ten"' },
        { field: 'mysql_replication_hostgroups[0].check_type', message: 'expected a string, got NULL' },
        { field: 'mysql_replication_hostgroups[0].comment', message: 'missing column' },
      ],
    });
  });
});
