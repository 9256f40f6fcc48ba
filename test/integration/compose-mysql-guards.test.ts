// The MysqlReplication guards on real MariaDB servers, each made to trip on purpose: a switchover whose candidate
// cannot catch up in time, semi-sync that blocks writes instead of falling back, a switchover to a replica with an
// errant transaction, a failover that would lose too much, and a former source that diverged.
import type { Connection } from 'mysql2/promise';
import { describe, expect, it } from '@jest/globals';
import type { MysqlReplication } from '../../lib/api/compose.upm.io.generated.ts';
import type { UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { kubectlOk } from '../kubectl.ts';
import { useUnitOperator } from '../unit-operator.ts';
import { mariadbReplication } from '../fixtures.ts';
import { mysqlSuite } from '../mysql.ts';

const CLUSTER = 'member1';
const SKIP = 'compose.upm.io/skip-reconcile';
const KIND_LABEL = 'compose.upm.io/mysqlreplication';
type Service = KubeObject & { spec?: { selector?: Record<string, string> } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const refs = (...names: string[]) => names.map((n) => ({ name: n, unit: n }));

describe('MysqlReplication guards on real MariaDB', () => {
  const f = useUnitOperator(CLUSTER, 'cmguard', { engines: true, compose: true });
  const { connect, query, mr, waitReady, loadAdmin, loseEngine, readOnly, patch } = mysqlSuite(f, CLUSTER);
  const condition = async () => (await mr()).status?.conditions?.find((x) => x.type === 'TopologyReady');
  const waitCondition = async (reason: string, pattern: RegExp, timeoutMs = 30_000) => {
    try {
      await waitFor(`${reason} condition`, async () => { const x = await condition(); return x?.reason === reason && pattern.test(x.message ?? ''); }, { timeoutMs, intervalMs: 250 });
    } catch (err) {
      throw new Error(`${(err as Error).message}; condition ${JSON.stringify(await condition())}`, { cause: err });
    }
  };
  const annotateSkip = (on: boolean) => kubectlOk(CLUSTER, ['-n', f.ns, 'annotate', 'mr', 'db', on ? `${SKIP}=true` : `${SKIP}-`]);
  const slave = async (n: string) => (await query(n, 'SHOW SLAVE STATUS'))[0];
  const binlogPos = async (n: string) => String((await query(n, 'SELECT @@global.gtid_binlog_pos AS p'))[0]?.p);
  /** The pods a role Service selects. */
  const selected = async (svc: string) => {
    const s = await f.client.get<Service>(Resources.services, svc, f.ns);
    const selector = Object.entries(s.spec?.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
    return (await f.client.list<KubeObject>(Resources.pods, { namespace: f.ns, labelSelector: selector })).items.map((p) => p.metadata.name).sort();
  };
  const eventCount = async (fragment: string) => {
    const list = await f.client.list<KubeObject & { message?: string; count?: number }>(Resources.events, { namespace: f.ns, fieldSelector: 'involvedObject.name=db,involvedObject.kind=MysqlReplication' });
    return list.items.filter((e) => (e.message ?? '').includes(fragment)).reduce((n, e) => n + (e.count ?? 1), 0);
  };
  /** Over `ms`, `check` holds at every look. */
  const holds = async (ms: number, check: () => Promise<void>) => {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(500)) await check();
  };

  it('wires 1 source + 2 replicas', async () => {
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], mariadbReplication(f.ns));
    await waitFor('UnitSet ready', async () => (await f.client.get<UnitSet>(UnitSetResource, 'db', f.ns)).status?.readyUnits === 3, { timeoutMs: 90_000 });
    await loadAdmin();
    await waitReady('replication ready');
    await query('db-0', 'CREATE DATABASE g');
    await query('db-0', 'CREATE TABLE g.t (id INT PRIMARY KEY, v INT NOT NULL)');
    await query('db-0', 'INSERT INTO g.t VALUES (1, 0), (2, 0)');
    for (const r of ['db-1', 'db-2']) {
      await waitFor(`rows on ${r}`, async () => (await query(r, 'SELECT COUNT(*) AS n FROM g.t'))[0]?.n === 2, { timeoutMs: 10_000 });
    }
  }, 180_000);

  it('opens the old source again when the candidate does not catch up in time, promotes nothing, and retries once it has', async () => {
    // db-1 cannot apply the next change of row 1: a transaction of its own holds the row (its SQL thread keeps
    // running, waiting for the lock, so the lag guard lets the switchover start).
    const lock: Connection = await connect('db-1');
    try {
      await lock.query('BEGIN');
      await lock.query('SELECT * FROM g.t WHERE id = 1 FOR UPDATE');
      await query('db-0', 'UPDATE g.t SET v = v + 1 WHERE id = 1');
      const final = await binlogPos('db-0');
      await waitFor('db-1 received the change', async () => String((await slave('db-1'))?.Gtid_IO_Pos) === final, { timeoutMs: 10_000 });
      await patch({ source: { name: 'db-1', unit: 'db-1' }, replicas: refs('db-0', 'db-2'), switchover: { catchUpTimeoutSeconds: 2 } });
      await waitCondition('SwitchoverFailed', /db-1 did not apply .* within 2s; db-0 takes writes again/);
      const m = await mr();
      expect(m.status?.failedSwitchover).toMatchObject({ to: 'db-1', position: final });
      expect(m.status?.phase).toBe('SwitchingOver');
      expect(m.spec.source.name).toBe('db-1'); // the request stands; the condition says why it is not done
      expect(m.status?.source).toBe('db-0');
      expect(await eventCount('fenced db-0 (read-only)')).toBe(1);
      // Not promoted, and not fenced again while db-1 still lacks the position: db-0 keeps taking writes, keeps the
      // source's label and the readwrite Service.
      await holds(8000, async () => {
        expect(await readOnly('db-0')).toBe(0);
        expect(await readOnly('db-1')).toBe(1);
        expect(await slave('db-1')).toMatchObject({ Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes' });
      });
      await query('db-0', 'INSERT INTO g.t VALUES (3, 0)');
      expect(await eventCount('fenced db-0 (read-only)')).toBe(1);
      expect(await selected('db-readwrite')).toEqual(['db-0']);
      expect((await condition())?.reason).toBe('SwitchoverFailed');
    } finally {
      await lock.query('ROLLBACK').catch(() => undefined);
      await lock.end();
    }
    // db-1 applies what it missed: the same request goes through.
    await waitReady('db-1 is the source', (x) => x.status?.source === 'db-1' && x.status.observedGeneration === x.metadata.generation);
    expect((await mr()).status?.failedSwitchover).toBeUndefined();
    expect(Number((await query('db-1', 'SELECT v FROM g.t WHERE id = 1'))[0]?.v)).toBe(1);
    expect(await selected('db-readwrite')).toEqual(['db-1']);
  }, 180_000);

  it('semi-sync never falls back: with no replica acknowledging, a write on the source waits, then completes once one returns', async () => {
    await patch({ mode: 'semisync' });
    await waitReady('semi-sync on', (x) => ['db-0', 'db-1', 'db-2'].every((n) => x.status?.topology?.[n]?.semiSync === true));
    expect(Number((await query('db-1', 'SELECT @@global.rpl_semi_sync_master_timeout AS t'))[0]?.t)).toBeGreaterThanOrEqual(86_400_000);
    const semiStatus = async () => Object.fromEntries((await query('db-1', "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_%'")).map((r) => [r.Variable_name, String(r.Value)]));
    const offBefore = (await semiStatus()).Rpl_semi_sync_master_no_times;
    // The operator keeps its hands off (it would restart the IO threads) while every replica stops acknowledging.
    await annotateSkip(true);
    await sleep(2000);
    let writer: Connection | undefined;
    try {
      for (const r of ['db-0', 'db-2']) await query(r, 'STOP SLAVE IO_THREAD');
      for (const r of ['db-0', 'db-2']) expect((await slave(r))?.Slave_IO_Running).toBe('No');
      writer = await connect('db-1');
      let doneAt = 0;
      const write = writer.query('INSERT INTO g.t VALUES (10, 0)').then(() => { doneAt = Date.now(); });
      await sleep(5000);
      expect(doneAt).toBe(0);
      const st = await semiStatus();
      expect(st.Rpl_semi_sync_master_status).toBe('ON');
      expect(st.Rpl_semi_sync_master_no_times).toBe(offBefore);
      const backAt = Date.now();
      await query('db-2', 'START SLAVE IO_THREAD');
      await write;
      expect(doneAt).toBeGreaterThanOrEqual(backAt);
      // Acknowledged means received (in db-2's relay log); applied follows.
      expect(String((await slave('db-2'))?.Gtid_IO_Pos)).toBe(await binlogPos('db-1'));
      await waitFor('the write applied on db-2', async () => (await query('db-2', 'SELECT id FROM g.t WHERE id = 10')).length === 1, { timeoutMs: 10_000 });
    } finally {
      await writer?.end().catch(() => undefined);
      await annotateSkip(false);
    }
    await patch({ mode: 'async' });
    await waitReady('async again', (x) => ['db-0', 'db-1', 'db-2'].every((n) => x.status?.topology?.[n]?.semiSync === false) && x.status?.topology?.['db-0']?.ioThread === 'Yes');
  }, 180_000);

  it('refuses a switchover to a replica with an errant transaction', async () => {
    // A write on replica db-2 itself (the admin account may write on a read-only server): a transaction db-1 never had.
    await query('db-2', 'INSERT INTO g.t VALUES (100, 0)');
    expect(await binlogPos('db-2')).toMatch(/^0-3-/);
    expect(await slave('db-2')).toMatchObject({ Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes' }); // otherwise healthy
    await patch({ source: { name: 'db-2', unit: 'db-2' }, replicas: refs('db-0', 'db-1') });
    await waitCondition('SwitchoverBlocked', /db-2 holds transactions db-1 never had \(errant/);
    await holds(6000, async () => {
      expect(await readOnly('db-1')).toBe(0);
      expect(await readOnly('db-2')).toBe(1);
      expect(await slave('db-2')).toBeDefined();
    });
    expect(await eventCount('fenced db-1')).toBe(0);
    expect((await mr()).status?.source).toBe('db-1');
    await patch({ source: { name: 'db-1', unit: 'db-1' }, replicas: refs('db-0', 'db-2') });
    await waitReady('db-1 the source as asked', (x) => x.status?.source === 'db-1' && x.status.observedGeneration === x.metadata.generation);
  }, 120_000);

  it('fails over past an errant replica only within maxLostTransactions; the diverged former source stays fenced, out of both Services', async () => {
    await patch({ failover: { downAfterSeconds: 3, maxLostTransactions: 2 } });
    // db-0 stops receiving; the source then commits 5 transactions that only db-2 (errant, so never a candidate)
    // receives: db-2 is the most advanced replica, db-0 the only clean one, 5 transactions behind.
    await annotateSkip(true);
    await sleep(2000);
    await query('db-0', 'STOP SLAVE IO_THREAD');
    for (let i = 0; i < 5; i++) await query('db-1', `INSERT INTO g.t VALUES (${200 + i}, 0)`);
    const last = await binlogPos('db-1');
    await waitFor('db-2 received everything', async () => String((await slave('db-2'))?.Gtid_IO_Pos) === last, { timeoutMs: 10_000 });
    await waitFor('the operator saw the source at its last position', async () => (await mr()).status?.sourcePosition === last, { timeoutMs: 30_000 });
    const lost = await loseEngine('db-1');
    await annotateSkip(false);

    await waitCondition('FailoverBlocked', /promoting db-0 would lose 5 transactions \(more than failover.maxLostTransactions 2\)/, 60_000);
    await holds(6000, async () => {
      expect(await readOnly('db-0')).toBe(1);
      expect(await readOnly('db-2')).toBe(1);
    });
    let m: MysqlReplication = await mr();
    expect(m.spec.source.name).toBe('db-1');
    expect(m.status?.lastFailover).toBeUndefined();
    expect(String((await slave('db-2'))?.Gtid_IO_Pos)).toBe(last);
    expect(String((await slave('db-0'))?.Gtid_IO_Pos)).not.toBe(last);

    // Allowed to lose that much, the operator promotes the clean replica, never the errant one.
    await patch({ failover: { downAfterSeconds: 3, maxLostTransactions: 10 } });
    await waitReady('db-0 promoted', (x) => x.status?.lastFailover?.to === 'db-0', 60_000, false);
    m = await mr();
    expect(m.status?.lastFailover).toMatchObject({ from: 'db-1', to: 'db-0', lostTransactions: 5 });
    expect(m.spec.source.name).toBe('db-0');
    expect(await readOnly('db-0')).toBe(0);
    expect(await readOnly('db-2')).toBe(1);

    // The former source returns holding 5 transactions db-0 never had: fenced, not replicating, in no Service.
    await lost.restore();
    await waitFor('db-1 back, reported diverged', async () => /^diverged: /.test((await mr()).status?.topology?.['db-1']?.lastError ?? ''), { timeoutMs: 60_000 });
    await holds(6000, async () => {
      expect(await readOnly('db-1')).toBe(1);
      expect(await query('db-1', 'SHOW SLAVE STATUS')).toHaveLength(0);
    });
    m = await mr();
    expect(m.status?.topology?.['db-1']).toMatchObject({ status: 'Healthy', readOnly: true, isolated: true, ready: false });
    expect(m.status?.topology?.['db-1']?.lastError).toContain(m.status?.lastFailover?.promotedPosition);
    const pod = await f.client.get<KubeObject>(Resources.pods, 'db-1', f.ns);
    expect(pod.metadata.labels?.['compose.upm.io/role']).toBe('none');
    expect((await f.client.get<Service>(Resources.services, 'db-readwrite', f.ns)).spec?.selector).toEqual({ [KIND_LABEL]: 'db', 'compose.upm.io/role': 'source' });
    expect((await f.client.get<Service>(Resources.services, 'db-readonly', f.ns)).spec?.selector).toEqual({ [KIND_LABEL]: 'db', 'compose.upm.io/role': 'replica' });
    expect(await selected('db-readwrite')).toEqual(['db-0']);
    expect(await selected('db-readonly')).not.toContain('db-1');
    expect(Number((await query('db-1', 'SELECT COUNT(*) AS n FROM g.t WHERE id >= 200'))[0]?.n)).toBe(5);
    expect(Number((await query('db-0', 'SELECT COUNT(*) AS n FROM g.t WHERE id >= 200'))[0]?.n)).toBe(0);
  }, 240_000);
});
