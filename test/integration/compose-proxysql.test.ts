// ProxysqlSync against the real parts this machine has: a MysqlReplication of real MariaDB servers (source and
// replica, run by the engine runtime) whose accounts and topology the sync reads, the API server's validation, and
// the Compose Operator as a process. There is no ProxySQL server here (no package in any registry this machine can
// use), and none is faked: the node given to the sync is a free loopback port with nothing behind it, so this suite
// shows what is computed and reported; the statements a real ProxySQL would receive, and what its admin tables then
// hold, are covered by the unit tests (operators/compose/proxysql/*.test.ts, on ProxySQL's table definitions in
// SQLite). Nothing here has run against a real ProxySQL.
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { MysqlReplication, ProxysqlSync } from '../../lib/api/compose.upm.io.generated.ts';
import { MysqlReplicationResource, ProxysqlSyncResource } from '../../lib/api/compose.upm.io.generated.ts';
import type { Unit, UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { freePort } from '../../hack/local/ports.ts';
import { kubectl, kubectlOk } from '../kubectl.ts';
import { SQL_CONNECT_TIMEOUT_MS } from '../mysql.ts';
import { useUnitOperator } from '../unit-operator.ts';
import { mariadbUnitSet } from '../fixtures.ts';

const CLUSTER = 'member1';
type Secret = KubeObject & { data?: Record<string, string> };
type Event = KubeObject & { reason?: string; message?: string; type?: string };
const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

describe('ProxysqlSync on a real MariaDB MysqlReplication (no ProxySQL server)', () => {
  const f = useUnitOperator(CLUSTER, 'cproxy', { engines: true, compose: true });
  let c: KubeClient;
  let ns: string;
  let admin: { user: string; password: string };
  // Free loopback ports with nothing behind them, one per sync: two syncs naming one ProxySQL are refused.
  let deadPort: number;
  let otherPort: number;
  beforeAll(async () => { c = f.client; ns = f.ns; deadPort = await freePort(); otherPort = await freePort(); });

  const ipOf = async (name: string) => (await c.get<Unit>(UnitResource, name, ns)).status?.podIP ?? '';
  const query = async (unit: string, sql: string): Promise<RowDataPacket[]> => {
    const conn = await createConnection({ host: await ipOf(unit), port: 3306, user: admin.user, password: admin.password, connectTimeout: SQL_CONNECT_TIMEOUT_MS });
    try { return (await conn.query<RowDataPacket[]>(sql))[0]; } finally { await conn.end(); }
  };
  const ps = (name = 'proxy') => c.get<ProxysqlSync>(ProxysqlSyncResource, name, ns);
  const condition = (p: ProxysqlSync, type: string) => p.status?.conditions?.find((x) => x.type === type);
  const waitSync = (what: string, ok: (p: ProxysqlSync) => boolean, name = 'proxy', timeoutMs = 60_000) =>
    waitFor(what, async () => { const p = await ps(name); return ok(p) ? p : undefined; }, { timeoutMs, intervalMs: 250 });
  const events = async (name = 'proxy') => (await c.list<Event>(Resources.events, { namespace: ns, fieldSelector: `involvedObject.name=${name},involvedObject.kind=ProxysqlSync` })).items;
  const sync = (name: string, spec: string) => `
apiVersion: compose.upm.io/v1alpha1
kind: ProxysqlSync
metadata: { name: ${name}, namespace: ${ns} }
spec:
${spec}`;

  it('refuses bad specs at the API, each message naming the field', async () => {
    const node = `  proxysql: [{ name: p0, host: 127.0.0.1, port: ${deadPort} }]`;
    const cases: [string, string, string][] = [
      ['bad-hg', `  mysqlReplication: db\n  secretName: proxy-admin\n${node}\n  hostgroups: { writer: 5, reader: 5 }`, 'spec.hostgroups.reader: must differ from spec.hostgroups.writer'],
      ['bad-both', '  mysqlReplication: db\n  secretName: proxy-admin\n  proxysql: [{ name: p0, unit: proxy-0, host: 127.0.0.1 }]', 'spec.proxysql[0]: Invalid value: give either unit or host (with port)'],
      ['bad-twice', `  mysqlReplication: db\n  secretName: proxy-admin\n  proxysql: [{ name: a, host: 127.0.0.1, port: ${deadPort} }, { name: b, host: 127.0.0.1, port: ${deadPort} }]`, 'spec.proxysql: the same host and port are listed twice'],
      ['bad-none', '  mysqlReplication: db\n  secretName: proxy-admin\n  proxysql: []', 'spec.proxysql: Invalid value: 0: spec.proxysql in body should have at least 1 items'],
      ['bad-port', '  mysqlReplication: db\n  secretName: proxy-admin\n  proxysql: [{ name: p0, host: 127.0.0.1, port: 70000 }]', 'spec.proxysql[0].port: Invalid value: 70000'],
      ['bad-mr', `  secretName: proxy-admin\n${node}`, 'spec.mysqlReplication: Required value'],
      ['bad-check', `  mysqlReplication: db\n  secretName: proxy-admin\n${node}\n  hostgroups: { checkType: readonly }`, 'spec.hostgroups.checkType: Unsupported value: "readonly"'],
      ['bad-interval', `  mysqlReplication: db\n  secretName: proxy-admin\n${node}\n  syncIntervalSeconds: 1`, 'spec.syncIntervalSeconds: Invalid value: 1'],
    ];
    for (const [name, spec, message] of cases) {
      const r = await kubectl(CLUSTER, ['apply', '-f', '-'], sync(name, spec));
      expect({ name, code: r.code }).toEqual({ name, code: 1 });
      expect(r.stderr).toContain(message);
    }
    expect((await kubectlOk(CLUSTER, ['-n', ns, 'get', 'ps', '-o', 'name'])).trim()).toBe('');
    // `ps` is this kind's alone among the cluster's short names.
    const resources = await kubectlOk(CLUSTER, ['api-resources', '--no-headers']);
    expect(resources.split('\n').filter((l) => l.split(/\s+/)[1]?.split(',').includes('ps')).map((l) => l.split(/\s+/)[0])).toEqual(['proxysqlsyncs']);
  });

  it('reports a missing MysqlReplication as a condition naming spec.mysqlReplication, without touching any node', async () => {
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], sync('orphan', `  mysqlReplication: nope\n  secretName: proxy-admin\n  proxysql: [{ name: p0, host: 127.0.0.1, port: ${otherPort} }]`));
    const p = await waitSync('MysqlReplicationNotFound', (x) => condition(x, 'TopologyReady')?.reason === 'MysqlReplicationNotFound', 'orphan');
    expect(condition(p, 'TopologyReady')?.message).toBe(`spec.mysqlReplication: MysqlReplication "nope" not found in ${ns}`);
    expect(condition(p, 'Synced')).toMatchObject({ status: 'False', reason: 'NoDesiredState' });
    expect(p.status).toMatchObject({ synced: false, servers: 0, users: 0, observedGeneration: p.metadata.generation });
    // No desired state: the node was not even tried.
    expect(p.status?.nodes?.[0]).toMatchObject({ name: 'p0', reachable: false, lastError: '' });
    expect((await events('orphan')).map((e) => [e.type, e.reason])).toContainEqual(['Warning', 'MysqlReplicationNotFound']);
  });

  it('computes the desired state off the real replication: source writer, replica reader, application accounts only', async () => {
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], `${mariadbUnitSet(ns, 2)}---
apiVersion: compose.upm.io/v1alpha1
kind: MysqlReplication
metadata: { name: db, namespace: ${ns} }
spec:
  secretName: db-credentials
  source: { name: db-0, unit: db-0 }
  replicas: [{ name: db-1, unit: db-1 }]
---
apiVersion: v1
kind: Secret
metadata: { name: proxy-admin, namespace: ${ns} }
stringData: { admin-username: upm_admin, admin-password: proxy-admin-pw }
`);
    await waitFor('UnitSet ready', async () => (await c.get<UnitSet>(UnitSetResource, 'db', ns)).status?.readyUnits === 2, { timeoutMs: 90_000 });
    const secret = await c.get<Secret>(Resources.secrets, 'db-credentials', ns);
    admin = { user: b64(secret.data?.['admin-username']), password: b64(secret.data?.['admin-password']) };
    await waitFor('replication ready', async () => (await c.get<MysqlReplication>(MysqlReplicationResource, 'db', ns)).status?.ready === true, { timeoutMs: 60_000 });
    // Application accounts made on the source (they replicate): one to copy, one the spec excludes, one ProxySQL
    // cannot use (no password hash), one reachable only from the server's own host.
    for (const sql of [
      "CREATE USER 'app'@'%' IDENTIFIED BY 'app-pw'", "CREATE USER 'report'@'%' IDENTIFIED BY 'report-pw'",
      "CREATE USER 'sock'@'%' IDENTIFIED VIA unix_socket", "CREATE USER 'local'@'localhost' IDENTIFIED BY 'local-pw'",
    ]) await query('db-0', sql);
    const appHash = String((await query('db-0', "SELECT authentication_string AS h FROM mysql.user WHERE User = 'app'"))[0]?.h);
    expect(appHash).toMatch(/^\*[0-9A-F]{40}$/);

    await kubectlOk(CLUSTER, ['apply', '-f', '-'], sync('proxy', `  mysqlReplication: db
  secretName: proxy-admin
  proxysql: [{ name: p0, host: 127.0.0.1, port: ${deadPort} }, { name: p1, unit: proxy-missing }]
  users: { exclude: [report] }
  syncIntervalSeconds: 5`));
    const [ip0, ip1] = [await ipOf('db-0'), await ipOf('db-1')];
    const p = await waitSync('desired state with the app account', (x) => (x.status?.desired?.users ?? []).includes('app') && x.status?.nodes?.[0]?.lastError !== '');
    expect(p.status?.desired).toEqual({
      writerHostgroup: 10,
      readerHostgroup: 20,
      servers: [
        { hostgroup: 10, role: 'writer', name: 'db-0', host: ip0, port: 3306, status: 'ONLINE', weight: 1000 },
        { hostgroup: 20, role: 'reader', name: 'db-1', host: ip1, port: 3306, status: 'ONLINE', weight: 1000 },
      ],
      // Not upm_admin, upm_repl, upm_monitor, root, mariadb.sys (platform and system), report (excluded), local; the
      // template's application account upm_app is copied: applications use it through ProxySQL.
      users: ['app', 'upm_app'],
      usersManaged: true,
      leftOut: [],
      usersLeftOut: [{ account: "'sock'@'%'", reason: 'sock: not a mysql_native_password or caching_sha2_password hash (other plugins and passwordless accounts cannot go through ProxySQL); left out' }],
    });
    expect(p.status).toMatchObject({ synced: false, syncedNodes: '0/2', servers: 2, users: 2, source: 'db-0', observedGeneration: p.metadata.generation });
    expect(p.status?.desiredDigest).toMatch(/^[0-9a-f]{16}$/);
    expect(condition(p, 'TopologyReady')).toMatchObject({ status: 'True', reason: 'Resolved', message: 'writer db-0, 1 readers' });
    expect(condition(p, 'UsersReady')).toMatchObject({ status: 'False', reason: 'UsersLeftOut' });
    // Never a password, a hash or the monitor password in status.
    const monitorPassword = b64(secret.data?.['monitor-password']);
    const text = JSON.stringify(p.status);
    for (const secretText of [appHash, 'app-pw', monitorPassword, admin.password, 'proxy-admin-pw']) expect(text).not.toContain(secretText);

    // The ProxySQL node with nothing behind its address, and the one whose unit does not exist, are each reported.
    expect(p.status?.nodes?.[0]).toMatchObject({ name: 'p0', host: '127.0.0.1', port: deadPort, reachable: false, synced: false, appliedDigest: '' });
    expect(p.status?.nodes?.[0]?.lastError).toBe(`cannot connect to the admin interface: connect ECONNREFUSED 127.0.0.1:${deadPort}`);
    expect(p.status?.nodes?.[1]).toMatchObject({ name: 'p1', host: '', port: 6032, reachable: false, synced: false, lastError: 'unit proxy-missing not found' });
    expect(condition(p, 'Synced')).toMatchObject({
      status: 'False', reason: 'NodesNotSynced',
      message: `spec.proxysql[0] (p0): cannot connect to the admin interface: connect ECONNREFUSED 127.0.0.1:${deadPort}; spec.proxysql[1] (p1): unit proxy-missing not found`,
    });
    expect(condition(p, 'Degraded')).toMatchObject({ status: 'True' });
    expect(await kubectlOk(CLUSTER, ['-n', ns, 'get', 'ps', 'proxy'])).toMatch(/NAME\s+REPLICATION\s+SYNCED\s+SERVERS\s+USERS\s+AGE\nproxy\s+db\s+0\/2\s+2\s+2\s+/);
    const ev = await events();
    expect(ev.map((e) => [e.type, e.reason])).toEqual(expect.arrayContaining([['Normal', 'DesiredStateChanged'], ['Warning', 'NodeNotSynced'], ['Warning', 'NodesNotSynced'], ['Warning', 'UsersLeftOut']]));
    expect(ev.find((e) => e.reason === 'DesiredStateChanged')?.message).toBe('writer hostgroup 10: db-0; reader hostgroup 20: db-1; users: app, upm_app');
    expect(ev.map((e) => e.message).join('\n')).not.toContain(appHash);
  });

  it('picks up an account created on the source without any Kubernetes change, and one dropped', async () => {
    await query('db-0', "CREATE USER 'late'@'%' IDENTIFIED BY 'late-pw'");
    await waitSync('late in the desired users', (x) => JSON.stringify(x.status?.desired?.users) === '["app","late","upm_app"]', 'proxy', 30_000);
    await query('db-0', "DROP USER 'late'@'%'");
    const p = await waitSync('late gone', (x) => JSON.stringify(x.status?.desired?.users) === '["app","upm_app"]', 'proxy', 30_000);
    expect(p.status?.users).toBe(2);
  });

  it('follows a switchover of the MysqlReplication: the new source is the writer, the old one a reader', async () => {
    const before = (await ps()).status?.desiredDigest;
    await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'mr', 'db', '--type', 'merge', '-p',
      JSON.stringify({ spec: { source: { name: 'db-1', unit: 'db-1' }, replicas: [{ name: 'db-0', unit: 'db-0' }] } })]);
    await waitFor('db-1 is the source', async () => {
      const m = await c.get<MysqlReplication>(MysqlReplicationResource, 'db', ns);
      return m.status?.ready === true && m.status.source === 'db-1' && m.status.topology?.['db-0']?.role === 'Replica';
    }, { timeoutMs: 60_000 });
    const [ip0, ip1] = [await ipOf('db-0'), await ipOf('db-1')];
    const p = await waitSync('desired state follows', (x) => x.status?.source === 'db-1' && x.status.desired?.servers?.every((s) => s.status === 'ONLINE') === true);
    expect(p.status?.desired?.servers).toEqual([
      { hostgroup: 10, role: 'writer', name: 'db-1', host: ip1, port: 3306, status: 'ONLINE', weight: 1000 },
      { hostgroup: 20, role: 'reader', name: 'db-0', host: ip0, port: 3306, status: 'ONLINE', weight: 1000 },
    ]);
    expect(p.status?.desiredDigest).not.toBe(before);
    expect(condition(p, 'TopologyReady')?.message).toBe('writer db-1, 1 readers');
    const announced = (await events()).filter((e) => e.reason === 'DesiredStateChanged').map((e) => e.message);
    expect(announced).toContain('writer hostgroup 10: db-1; reader hostgroup 20: db-0; users: app, upm_app');
  });

  it('writes status only when something changed, though it re-reads the source and retries the node all the time', async () => {
    const before = (await ps()).metadata.resourceVersion;
    // More than a sync interval (5 s) and several retries of the unreachable node.
    await new Promise((r) => setTimeout(r, 8000));
    expect((await ps()).metadata.resourceVersion).toBe(before);
  });

  it('observes only under skip-reconcile, and a restarted operator resumes without announcing anything twice', async () => {
    await kubectlOk(CLUSTER, ['-n', ns, 'annotate', 'ps', 'proxy', 'compose.upm.io/skip-reconcile=true']);
    await waitSync('ReconcileSkipped', (x) => condition(x, 'Synced')?.reason === 'ReconcileSkipped');
    await kubectlOk(CLUSTER, ['-n', ns, 'annotate', 'ps', 'proxy', 'compose.upm.io/skip-reconcile-']);
    await waitSync('NodesNotSynced again', (x) => condition(x, 'Synced')?.reason === 'NodesNotSynced');

    const count = async (reason: string) => (await events()).filter((e) => e.reason === reason).reduce((n, e) => n + ((e as { count?: number }).count ?? 1), 0);
    const [changes, unreachable] = [await count('DesiredStateChanged'), await count('NodeNotSynced')];
    await f.restartCompose();
    // Something to do after the restart, so that a pass certainly ran: one more account.
    await query('db-1', "CREATE USER 'after'@'%' IDENTIFIED BY 'after-pw'");
    await waitSync('after in the desired users', (x) => (x.status?.desired?.users ?? []).includes('after'), 'proxy', 30_000);
    expect(await count('DesiredStateChanged')).toBe(changes + 1);
    // The unreachable node's error did not change, so it is not reported again.
    expect(await count('NodeNotSynced')).toBe(unreachable);
  });

  it('reports a missing admin Secret as a condition naming spec.secretName, and a ProxySQL another sync already owns', async () => {
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], sync('nosecret', `  mysqlReplication: db
  secretName: nope
  proxysql: [{ name: mine, host: 127.0.0.2, port: ${otherPort} }, { name: theirs, host: 127.0.0.1, port: ${deadPort} }]`));
    const p = await waitSync('SecretNotFound', (x) => condition(x, 'Synced')?.reason === 'SecretNotFound', 'nosecret');
    expect(condition(p, 'Synced')?.message).toBe(`spec.secretName: Secret "nope" not found in ${ns}`);
    expect(p.status?.desired?.servers?.map((s) => `${s.role}:${s.name}`)).toEqual(['writer:db-1', 'reader:db-0']);
    // Without credentials a node is not tried; the one "proxy" (created earlier) syncs is left to it.
    expect(p.status?.nodes).toEqual([
      expect.objectContaining({ name: 'mine', reachable: false, lastError: '' }),
      expect.objectContaining({ name: 'theirs', lastError: 'also named by ProxysqlSync "proxy" (spec.proxysql[0]), created earlier; left to it' }),
    ]);
  });
});
