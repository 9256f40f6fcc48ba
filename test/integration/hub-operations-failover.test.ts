// Failover run by the hub, end to end: a project editor asks with kubectl against the hub for a real MariaDB service
// of 3 units on member1 whose automatic failover is off (spec.options.failover.automatic false, carried into the
// member's MysqlReplication). While the source is up, a Failover is refused by its precondition before anything
// changes (use a Switchover). Once the source's engine is lost (killed, and nothing restarts it) and the member did
// not promote anyone by itself, the dry run shows the steps with their preconditions evaluated (the source down, the
// named replica reachable); the Failover to db-2 writes spec.failover.request with its uid into the member's
// MysqlReplication, the Compose Operator promotes db-2 and records the failover with that id, and the Operation
// Succeeds. Writes through the readwrite endpoint with the connection Secret go to db-2 and reach db-1; the old
// source, started again, follows db-2. With automatic failover on (the default) the member promotes a replica by
// itself within seconds: a Failover then finds it done and changes nothing, and one naming another server is refused
// with the advice to use a Switchover.
import { beforeAll, expect, it } from '@jest/globals';
import { createConnection } from 'mysql2/promise';
import { MysqlReplicationResource, type MysqlReplication } from '../../lib/api/compose.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { describeHub } from '../hub.ts';
import { MEMBER, useHubProject } from '../hub-member.ts';
import { b64, mysqlSuite, SQL_CONNECT_TIMEOUT_MS } from '../mysql.ts';
import { operationsOf } from '../operations.ts';

describeHub('Failover run by the hub on a MariaDB service', () => {
  const p = useHubProject('hubfail');
  const project = p.project;
  const sql = mysqlSuite(p.fixture, MEMBER);
  let m: KubeClient;
  const as = (args: string[], input?: string) => p.as(args, input);
  const { operation, preview, steps, waitPhase, waitSucceeded } = operationsOf(p, { kind: 'MysqlService', name: 'db' });
  const mr = () => m.get<MysqlReplication>(MysqlReplicationResource, 'db', project);
  /** Writes a row with the application account of the connection Secret, at the address the readwrite endpoint reports. */
  const writeThroughReadwrite = async (id: number, body: string): Promise<string> => {
    const s = JSON.parse(await as(['get', 'secret', 'db-connection', '-n', project, '-o', 'json'])) as KubeObject & { data: Record<string, string> };
    const rw = (await p.hubObject('mysqlservice', 'db')).status?.endpoints?.find((e) => e.role === 'readwrite');
    const address = rw?.addresses[0] ?? '';
    const app = await createConnection({ host: address, port: Number(b64(s.data.port)), user: b64(s.data.user), password: b64(s.data.password), connectTimeout: SQL_CONNECT_TIMEOUT_MS });
    try {
      await app.query('CREATE DATABASE IF NOT EXISTS app');
      await app.query('CREATE TABLE IF NOT EXISTS app.notes (id INT PRIMARY KEY, body TEXT)');
      await app.query('INSERT INTO app.notes VALUES (?, ?)', [id, body]);
    } finally { await app.end(); }
    return address;
  };
  let lost: { restore(): Promise<void> } | undefined;
  beforeAll(() => { m = p.member; });

  it('has a MariaDB service of 3 units Ready on member1 with automatic failover off, a row written through the readwrite endpoint', async () => {
    await as(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'upm.io/v1alpha1', kind: 'MysqlService', metadata: { name: 'db', namespace: project },
      spec: {
        engine: 'mariadb', version: '10.11', topology: { mode: 'async', replicas: 3 }, placement: { cluster: MEMBER }, resources: { cpu: '1', memory: '256Mi' }, storage: { size: '1Gi' },
        options: { failover: { automatic: false } },
      },
    }));
    await p.hubReaches('mysqlservice', 'db', 'the service Ready with its connection Secret', (s) => s.phase === 'Ready' && s.ready === '3/3' && s.connectionSecret === 'db-connection', 240_000);
    await sql.loadAdmin();
    expect((await mr()).spec.failover).toMatchObject({ enabled: false });
    expect(await writeThroughReadwrite(1, 'before')).toBe(await sql.ipOf('db-0'));
  }, 300_000);

  it('refuses a Failover while the source is up, before anything changes: use a Switchover', async () => {
    const spec = { type: 'Failover', failover: { candidate: 'db-2' } };
    const plan = await preview('too-soon', spec);
    expect(plan.status?.message).toBe('would fail at step check');
    expect(plan.status?.steps?.[0]?.message).toBe('would fail: spec.type: the source db-0 is up and takes writes: a Failover is only for a source that is down; use a Switchover');
    const before = await mr();
    await as(['create', '-f', '-'], JSON.stringify(operation('too-soon', spec)));
    const o = await waitPhase('too-soon', ['Failed'], { timeoutMs: 60_000 });
    expect(steps(o)).toEqual(['check:Failed', 'request-failover:Cancelled', 'wait-promoted:Cancelled']);
    expect(o.status?.message).toBe('step check failed: precondition: spec.type: the source db-0 is up and takes writes: a Failover is only for a source that is down; use a Switchover; nothing was changed');
    const after = await mr();
    expect(after.spec).toEqual(before.spec);
    expect(after.spec.failover?.request).toBeUndefined();
    expect(after.status?.source).toBe('db-0');
  }, 120_000);

  it('with the source down and no automatic failover, previews the steps with the source down and the named replica reachable', async () => {
    lost = await sql.loseEngine('db-0');
    await sql.waitReady('db-0 seen down by the Compose Operator', (x) => x.status?.topology?.['db-0']?.status === 'Failed' && !!x.status.sourceUnreachableSince, 60_000, false);
    await p.hubReaches('mysqlservice', 'db', 'no source on the hub', (s) => !s.source && s.units?.find((u) => u.name === 'db-0')?.role === 'none', 60_000);
    // Where an automatic failover would have promoted a replica (both replicas lost the source, for longer than the
    // member's downAfterSeconds of 5 s), nobody was: the writes wait for the hub.
    await sql.waitReady('both replicas lost db-0 for over 5 s', (y) => ['db-1', 'db-2'].every((n) => y.status?.topology?.[n]?.ioThread !== 'Yes')
      && Date.now() - Date.parse(y.status?.sourceUnreachableSince ?? '') > 8000, 60_000, false);
    const x = await mr();
    expect(x.spec.source.name).toBe('db-0');
    expect(x.status?.phase).toBe('Degraded');
    expect(x.status?.lastFailover).toBeUndefined();

    const plan = await preview('promote', { type: 'Failover', failover: { candidate: 'db-2' } });
    expect(plan.status?.message).toBe('plan: check, request-failover, wait-promoted');
    expect(plan.status?.candidate).toBe('db-2');
    expect(plan.status?.steps?.[0]?.message).toBe(`ready: service db: found; cluster ${MEMBER}: Ready; source db-0: down; candidate db-2: a reachable replica`);
    expect(plan.status?.steps?.[1]?.message).toMatch(/^would change: ask the member's MysqlReplication to promote the candidate now/);
  }, 180_000);

  it('promotes the named replica through the member MysqlReplication once, and writes through the readwrite endpoint go to it', async () => {
    await as(['create', '-f', '-'], JSON.stringify(operation('promote', { type: 'Failover', failover: { candidate: 'db-2' } })));
    const o = await waitSucceeded('promote', 240);
    expect(steps(o)).toEqual(['check:Succeeded', 'request-failover:Succeeded', 'wait-promoted:Succeeded']);
    expect(o.status?.candidate).toBe('db-2');
    expect(o.status?.steps?.[0]?.message).toContain('source db-0: down; candidate db-2: a reachable replica at 0-');
    expect(o.status?.steps?.find((s) => s.name === 'request-failover')?.attempts).toBe(1);
    expect(o.status?.steps?.[2]?.message).toMatch(/^db-2 takes the writes \(promoted from db-0, \d+ transactions/);
    const id = o.metadata.uid ?? '';
    expect(id).not.toBe('');

    // The member: asked once by this Operation's uid, the failover recorded with it, db-2 the source in spec and status.
    const x = await mr();
    expect(x.spec.failover?.request).toEqual({ id, candidate: 'db-2' });
    expect(x.spec.source).toMatchObject({ name: 'db-2', unit: 'db-2' });
    expect(x.spec.replicas?.map((r) => r.name).sort()).toEqual(['db-0', 'db-1']);
    expect(x.status?.lastFailover).toMatchObject({ from: 'db-0', to: 'db-2', request: id });
    expect(x.status?.failoverRequest).toMatchObject({ id, outcome: 'Done' });
    expect(x.status?.source).toBe('db-2');
    expect(await sql.readOnly('db-2')).toBe(0);
    expect((await sql.query('db-2', 'SELECT body FROM app.notes WHERE id = 1'))[0]?.body).toBe('before');

    // The hub: db-2 takes the writes, its readwrite endpoint reaches it, the application writes there and db-1 follows.
    await p.hubReaches('mysqlservice', 'db', 'db-2 the source on the hub', (s) => s.source === 'db-2' && (s.lastFailover as { to?: string } | undefined)?.to === 'db-2', 60_000);
    const db2 = await sql.ipOf('db-2');
    await p.hubReaches('mysqlservice', 'db', 'the readwrite endpoint on db-2', (s) => JSON.stringify(s.endpoints?.find((e) => e.role === 'readwrite')?.addresses) === JSON.stringify([db2]), 60_000);
    expect(await writeThroughReadwrite(2, 'after the failover')).toBe(db2);
    await waitFor('the row on db-1', async () => (await sql.query('db-1', 'SELECT body FROM app.notes WHERE id = 2'))[0]?.body === 'after the failover', { timeoutMs: 30_000 });
    await sql.waitReady('db-1 replicating from db-2', (y) => y.status?.topology?.['db-1']?.sourceHost === `${db2}:3306`, 30_000, false);
  }, 360_000);

  it('has the old source follow db-2 when it is started again: one writer, the service Ready 3/3', async () => {
    await lost?.restore();
    const db2 = await sql.ipOf('db-2');
    await sql.waitReady('db-0 replicating from db-2', (y) => y.status?.topology?.['db-0']?.sourceHost === `${db2}:3306`, 120_000);
    expect(await sql.readOnly('db-0')).toBe(1);
    await waitFor('the rows on db-0', async () => Number((await sql.query('db-0', 'SELECT COUNT(*) AS n FROM app.notes'))[0]?.n) === 2, { timeoutMs: 30_000 });
    await p.hubReaches('mysqlservice', 'db', 'the service Ready 3/3 with db-2 the source', (s) => s.phase === 'Ready' && s.ready === '3/3' && s.source === 'db-2', 120_000);
  }, 300_000);

  it('with automatic failover on (the default), finds the engine already failed over: changes nothing, and refuses to name another server', async () => {
    const auto = operationsOf(p, { kind: 'MysqlService', name: 'auto' });
    const autoSql = mysqlSuite(p.fixture, MEMBER, 'auto');
    await as(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'upm.io/v1alpha1', kind: 'MysqlService', metadata: { name: 'auto', namespace: project },
      spec: { engine: 'mariadb', version: '10.11', topology: { mode: 'async', replicas: 3 }, placement: { cluster: MEMBER }, resources: { cpu: '1', memory: '256Mi' }, storage: { size: '1Gi' } },
    }));
    await p.hubReaches('mysqlservice', 'auto', 'the service Ready', (s) => s.phase === 'Ready' && s.ready === '3/3', 240_000);
    await autoSql.loadAdmin();
    expect((await autoSql.mr()).spec.failover?.enabled).not.toBe(false);
    await autoSql.loseEngine('auto-0');
    await autoSql.waitReady('the member failed over by itself', (y) => y.status?.lastFailover?.from === 'auto-0' && !!y.status.source && y.status.source === y.status.lastFailover.to, 60_000, false);
    const promoted = (await autoSql.mr()).status?.lastFailover?.to ?? '';
    const other = ['auto-1', 'auto-2'].find((n) => n !== promoted) ?? '';
    await p.hubReaches('mysqlservice', 'auto', `${promoted} the source on the hub`, (s) => s.source === promoted, 60_000);
    const before = await autoSql.mr();

    await as(['create', '-f', '-'], JSON.stringify(auto.operation('late', { type: 'Failover' })));
    const o = await auto.waitSucceeded('late', 120);
    expect(auto.steps(o)).toEqual(['check:Succeeded', 'request-failover:Succeeded', 'wait-promoted:Succeeded']);
    expect(o.status?.candidate).toBe(promoted);
    expect(o.status?.steps?.[0]?.message).toMatch(new RegExp(`the engine already failed over from auto-0 to ${promoted} at \\S+ \\(auto-0 is still down\\): nothing left to do$`));
    expect(o.status?.steps?.[1]?.message).toBe(`nothing asked: the engine already promoted ${promoted}`);
    expect(o.status?.steps?.[1]?.attempts ?? 0).toBe(0);

    await as(['create', '-f', '-'], JSON.stringify(auto.operation('elsewhere', { type: 'Failover', failover: { candidate: other } })));
    const f = await auto.waitPhase('elsewhere', ['Failed'], { timeoutMs: 60_000 });
    expect(auto.steps(f)).toEqual(['check:Failed', 'request-failover:Cancelled', 'wait-promoted:Cancelled']);
    expect(f.status?.message).toContain(`(auto-0 is still down); to move the writes to ${other}, use a Switchover; nothing was changed`);
    // Neither Operation asked the member for anything.
    const after = await autoSql.mr();
    expect(after.spec).toEqual(before.spec);
    expect(after.spec.failover?.request).toBeUndefined();
  }, 420_000);
});
