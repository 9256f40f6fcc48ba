import { describe, expect, it } from '@jest/globals';
import { desiredState } from './desired.ts';
import { DEFAULT_USER_FILTER, type DesiredOptions, type MysqlUser, type ProxysqlState, type ServerRow, type Topology } from './types.ts';

const host = (n: number): string => `db-${n}.db-headless.ns.svc.cluster.local`;

function topology(source: number | undefined, replicas: number[]): Topology {
  return {
    mode: 'async',
    ...(source === undefined ? {} : { source: { name: `db-${source}`, host: host(source), port: 3306, ready: true } }),
    replicas: replicas.map((n) => ({ name: `db-${n}`, host: host(n), port: 3306, ready: true })),
  };
}

const HASH_APP = '*6691484EA6B50DDDE1926A220DA01FA9E575C18A';
const HASH_REPORT = '*2AFD99E79E4AA23DE141540F4179F64FFB3AC521';
const HASH_SHA2 = `$A$005$ab'c\\d\ne\x01fghijklmnop${'Xy0./Zq9Lm2Ns3Ot4Pu5Qv6Rw7Sx8Ty9Uz0Va1Wb2Xc'}`;
const users: MysqlUser[] = [
  { username: 'report', passwordHash: HASH_REPORT, defaultHostgroup: 20, maxConnections: 100 },
  { username: 'app', passwordHash: HASH_APP },
];
const opts: DesiredOptions = { monitor: { username: 'upm_monitor', password: 'm0n' }, serverVersion: '10.11.8-MariaDB-log' };

function server(hostgroup: number, n: number, patch: Partial<ServerRow> = {}): ServerRow {
  return {
    hostgroup_id: hostgroup, hostname: host(n), port: 3306, gtid_port: 0, status: 'ONLINE', weight: 1000, compression: 0,
    max_connections: 2000, max_replication_lag: 0, use_ssl: 0, max_latency_ms: 0, comment: `db-${n}`, ...patch,
  };
}

function desired(t: Topology, settings = {}, u: MysqlUser[] = users, o: DesiredOptions = opts): ProxysqlState {
  const result = desiredState(t, settings, u, o);
  expect(result.errors).toEqual([]);
  if (!result.desired) throw new Error('no desired state');
  return result.desired;
}

describe('desiredState: servers and hostgroups', () => {
  it('puts the source in the writer hostgroup and the replicas in the reader hostgroup, with defaults', () => {
    const d = desired(topology(0, [2, 1]));
    expect(d.mysql_replication_hostgroups).toEqual([{ writer_hostgroup: 10, reader_hostgroup: 20, check_type: 'read_only', comment: 'async' }]);
    // Sorted by (hostgroup, host, port) whatever the input order.
    expect(d.mysql_servers).toEqual([server(10, 0), server(20, 1), server(20, 2)]);
    expect(d.global_variables).toEqual({
      'mysql-monitor_username': 'upm_monitor',
      'mysql-monitor_password': 'm0n',
      'mysql-server_version': '10.11.8-MariaDB-log',
      'mysql-monitor_writer_is_also_reader': 'false',
    });
  });

  it('takes hostgroups, limits, lag, check type and comment from the settings', () => {
    const d = desired(topology(0, [1]), { writer: 1, reader: 2, maxConnections: 500, maxReplicationLagSeconds: 30, comment: 'orders' }, users, { ...opts, checkType: 'super_read_only' });
    expect(d.mysql_replication_hostgroups).toEqual([{ writer_hostgroup: 1, reader_hostgroup: 2, check_type: 'super_read_only', comment: 'orders' }]);
    // The lag limit applies to readers only: the source is no replica.
    expect(d.mysql_servers).toEqual([server(1, 0, { max_connections: 500 }), server(2, 1, { max_connections: 500, max_replication_lag: 30 })]);
  });

  it('leaves isolated replicas out of every hostgroup (upstream served reads from them)', () => {
    const t = topology(0, [1, 2]);
    t.replicas[0] = { ...t.replicas[0]!, isolated: true };
    expect(desired(t).mysql_servers).toEqual([server(10, 0), server(20, 2)]);
  });

  it('keeps a failed source in the writer hostgroup but OFFLINE_SOFT, and unready replicas too', () => {
    const t = topology(0, [1, 2]);
    t.source = { ...t.source!, ready: false };
    t.replicas[1] = { ...t.replicas[1]!, ready: false, lagSeconds: 3 };
    expect(desired(t).mysql_servers).toEqual([server(10, 0, { status: 'OFFLINE_SOFT' }), server(20, 1), server(20, 2, { status: 'OFFLINE_SOFT' })]);
  });

  it('has an empty writer hostgroup without a source', () => {
    expect(desired(topology(undefined, [1])).mysql_servers).toEqual([server(20, 1)]);
  });

  it('lets the source also read, at a token weight, and tells ProxySQL the writer is also a reader', () => {
    const d = desired(topology(0, [1]), { sourceAlsoReads: true });
    expect(d.mysql_servers).toEqual([server(10, 0), server(20, 0, { weight: 1 }), server(20, 1)]);
    expect(d.global_variables['mysql-monitor_writer_is_also_reader']).toBe('true');
  });

  it('leaves the monitor account and the server version alone when not given', () => {
    const d = desired(topology(0, [1]), {}, users, {});
    expect(d.global_variables).toEqual({ 'mysql-monitor_writer_is_also_reader': 'false' });
  });

  it('uses the replication mode as the default hostgroup comment', () => {
    const t = topology(0, [1]);
    t.mode = 'semisync';
    expect(desired(t).mysql_replication_hostgroups[0]?.comment).toBe('semisync');
  });
});

describe('desiredState: users', () => {
  it('copies every user with the writer as default hostgroup, transaction persistence and active', () => {
    expect(desired(topology(0, [1])).mysql_users).toEqual([
      { username: 'app', password: HASH_APP, active: 1, use_ssl: 0, default_hostgroup: 10, default_schema: null, schema_locked: 0, transaction_persistent: 1, fast_forward: 0, backend: 1, frontend: 1, max_connections: 10000, attributes: '', comment: '' },
      { username: 'report', password: HASH_REPORT, active: 1, use_ssl: 0, default_hostgroup: 20, default_schema: null, schema_locked: 0, transaction_persistent: 1, fast_forward: 0, backend: 1, frontend: 1, max_connections: 100, attributes: '', comment: '' },
    ]);
  });

  it('follows a non-default writer hostgroup, keeps a caching_sha2 hash as is and honours active=false', () => {
    const d = desired(topology(0, [1]), { writer: 5, reader: 6 }, [{ username: 'svc', passwordHash: HASH_SHA2, active: false }]);
    expect(d.mysql_users).toHaveLength(1);
    expect(d.mysql_users[0]).toMatchObject({ username: 'svc', password: HASH_SHA2, default_hostgroup: 5, active: 0 });
  });

  it('never copies the platform and system accounts, nor the monitor account', () => {
    const system = ['upm_admin', 'upm_repl', 'upm_monitor', 'root', 'mysql.sys', 'mysql.session', 'mysql.infoschema', 'mariadb.sys', 'prx_mon'];
    const all = [...system.map((username) => ({ username, passwordHash: HASH_APP })), ...users];
    const d = desired(topology(0, [1]), {}, all, { ...opts, monitor: { username: 'prx_mon', password: 'x' } });
    expect(d.mysql_users.map((u) => u.username)).toEqual(['app', 'report']);
  });

  it("matches the filter's '%' as a wildcard and everything else literally", () => {
    const names = ['mysql.sys', 'mysqlXsys', 'upm_admin', 'upmXadmin', 'rootless', 'app_ro'];
    const d = desired(topology(0, [1]), {}, names.map((username) => ({ username, passwordHash: HASH_APP })), { userFilter: ['mysql.%', 'upm_admin', 'root', 'app%'] });
    expect(d.mysql_users.map((u) => u.username)).toEqual(['mysqlXsys', 'rootless', 'upmXadmin']);
  });

  it('filters before validating: system accounts without a usable hash are no errors', () => {
    const system: MysqlUser[] = [
      { username: 'root', passwordHash: 'invalid' },
      { username: 'mariadb.sys', passwordHash: '' },
      { username: 'upm_repl', passwordHash: 'ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY' },
    ];
    const r = desiredState(topology(0, [1]), {}, [...system, ...users], opts);
    expect(r.errors).toEqual([]);
    expect(r.desired?.mysql_users.map((u) => u.username)).toEqual(['app', 'report']);
  });

  it('copies only the included names, and exclusion wins over inclusion', () => {
    const names = ['app_rw', 'app_ro', 'report', 'app_admin'].map((username) => ({ username, passwordHash: HASH_APP }));
    const d = desired(topology(0, [1]), {}, names, { ...opts, userInclude: ['app_%'], userFilter: [...DEFAULT_USER_FILTER, 'app_admin'] });
    expect(d.mysql_users.map((u) => u.username)).toEqual(['app_ro', 'app_rw']);
    // An excluded name with a bad hash is not reported either.
    const r = desiredState(topology(0, [1]), {}, [{ username: 'report', passwordHash: 'x' }], { userInclude: ['app%'] });
    expect(r.errors).toEqual([]);
  });

  it('drops an exact duplicate silently and a conflicting one with an error', () => {
    const dup = desiredState(topology(0, [1]), {}, [...users, { username: 'app', passwordHash: HASH_APP }], opts);
    expect(dup.errors).toEqual([]);
    expect(dup.desired?.mysql_users.map((u) => u.username)).toEqual(['app', 'report']);

    const conflict = desiredState(topology(0, [1]), {}, [...users, { username: 'app', passwordHash: HASH_REPORT }], opts);
    expect(conflict.errors).toEqual([{ field: 'users[2].username', message: 'app is also users[1] with a different password or settings; left out' }]);
    expect(conflict.desired?.mysql_users.map((u) => u.username)).toEqual(['report']);
  });
});

describe('desiredState: validation', () => {
  const fields = (t: Topology, settings = {}, u: MysqlUser[] = users, o: DesiredOptions = opts): string[] => desiredState(t, settings, u, o).errors.map((e) => e.field);

  it('refuses writer == reader and out-of-range settings, with no desired state', () => {
    const r = desiredState(topology(0, [1]), { writer: 20, reader: 20, maxConnections: -1, maxReplicationLagSeconds: 1.5 }, users, opts);
    expect(r.desired).toBeUndefined();
    expect(r.errors).toEqual([
      { field: 'settings.reader', message: 'must differ from the writer hostgroup (20)' },
      { field: 'settings.maxConnections', message: 'must be an integer from 0 to 2147483647, got -1' },
      { field: 'settings.maxReplicationLagSeconds', message: 'must be an integer from 0 to 126144000, got 1.5' },
    ]);
  });

  it('refuses a replica that is the source, by name or by address', () => {
    const byName = topology(0, [1]);
    byName.replicas.push({ name: 'db-0', host: 'other', port: 3306, ready: true });
    expect(desiredState(byName, {}, users, opts)).toEqual({ errors: [{ field: 'topology.replicas[1].name', message: 'db-0 is the source' }] });

    const byAddress = topology(0, [1]);
    byAddress.replicas.push({ name: 'db-9', host: host(0).toUpperCase(), port: 3306, ready: true });
    expect(desiredState(byAddress, {}, users, opts).errors).toEqual([{ field: 'topology.replicas[1]', message: `${host(0)}:3306 is the source's address` }]);
  });

  it('refuses two replicas on one address, isolated or not, but not the same host on another port', () => {
    const t = topology(0, [1, 2]);
    t.replicas.push({ name: 'db-3', host: host(1), port: 3306, ready: true, isolated: true }, { name: 'db-4', host: host(1), port: 3307, ready: true });
    expect(desiredState(t, {}, users, opts).errors).toEqual([{ field: 'topology.replicas[2]', message: `${host(1)}:3306 is also the address of topology.replicas[0]` }]);
  });

  it('refuses empty names, bad hosts and ports, an unknown check type and bad monitor options', () => {
    const t = topology(0, [1]);
    t.replicas.push({ name: '', host: 'a b', port: 0, ready: true });
    const o = { checkType: 'readonly', monitor: { username: '', password: 'p' }, serverVersion: 'x\n' } as unknown as DesiredOptions;
    expect(fields(t, {}, users, o)).toEqual(['topology.replicas[1].name', 'topology.replicas[1].host', 'topology.replicas[1].port', 'monitor.username', 'serverVersion', 'checkType']);
  });

  it('reports bad users without blocking the rest: empty name, unusable hash, bad numbers', () => {
    const bad: MysqlUser[] = [
      { username: '', passwordHash: HASH_APP },
      { username: 'plain', passwordHash: 'secret' },
      { username: 'nopass', passwordHash: '' },
      { username: 'ed', passwordHash: 'ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY' },
      { username: 'shortsha', passwordHash: '$A$005$tooshort' },
      { username: 'hg', passwordHash: HASH_APP, defaultHostgroup: -1, maxConnections: 2.5 },
      ...users,
    ];
    const r = desiredState(topology(0, [1]), {}, bad, opts);
    expect(r.errors.map((e) => e.field)).toEqual([
      'users[0].username', 'users[1].passwordHash', 'users[2].passwordHash', 'users[3].passwordHash', 'users[4].passwordHash', 'users[5].defaultHostgroup', 'users[5].maxConnections',
    ]);
    // Messages never carry the hash.
    expect(r.errors.map((e) => e.message).join('\n')).not.toMatch(/secret|ZIgUREUg|tooshort/);
    expect(r.desired?.mysql_users.map((u) => u.username)).toEqual(['app', 'report']);
  });

  it('reports user errors next to fatal ones', () => {
    const r = desiredState(topology(0, [1]), { writer: 1, reader: 1 }, [{ username: '', passwordHash: HASH_APP }], opts);
    expect(r.desired).toBeUndefined();
    expect(r.errors.map((e) => e.field)).toEqual(['settings.reader', 'users[0].username']);
  });
});
