// Operations of the hub on a real MariaDB service (3 units on member1), with kubectl as a project editor: a switchover
// to a replica held behind its source (FLUSH TABLES WITH READ LOCK on it while the source takes writes) fails at its
// check, naming the candidate and its lag, and the member's MysqlReplication spec.source never changes (every state
// followed with a watch); the dry run says "in sync: no". Released, the replica catches up and the same switchover
// succeeds. A Scale of compute rolls the servers one at a time onto the new cpu and memory; a Scale of storage grows
// every claim (the kwok-volume class allows expansion; the local cluster's KWOK resizes its volumes) without
// restarting a server, and the hub reports each server's new volume size. A storage shrink is refused by the API.
import { expect, it } from '@jest/globals';
import type { Connection } from 'mysql2/promise';
import { parse } from 'yaml';
import { MysqlReplicationResource, type MysqlReplication } from '../../lib/api/compose.upm.io.generated.ts';
import { Resources, type ResourceType } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import type { ServiceUnit } from '../../lib/operations/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { describeHub, kubectlAs } from '../hub.ts';
import { MEMBER, useHubProject } from '../hub-member.ts';
import { mysqlSuite } from '../mysql.ts';
import { operationsOf, type Op } from '../operations.ts';
import { watchPodsDown, watchStates } from '../watch-states.ts';

type Pod = KubeObject & { spec?: { containers?: { name: string; resources?: { limits?: Record<string, string> } }[] } };
type Claim = KubeObject & { spec?: { volumeName?: string; resources?: { requests?: { storage?: string } } }; status?: { capacity?: { storage?: string } } };
type Volume = KubeObject & { spec?: { capacity?: { storage?: string } } };
const PersistentVolumes: ResourceType = { group: '', version: 'v1', plural: 'persistentvolumes', kind: 'PersistentVolume', namespaced: false };
const UNITS = ['db-0', 'db-1', 'db-2'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeHub('A switchover to a lagging MariaDB replica, and Scale of compute and storage, run by the hub', () => {
  const p = useHubProject('hublag');
  const project = p.project;
  const sql = mysqlSuite(p.fixture, MEMBER);
  const { operation, getOp, steps, waitSucceeded } = operationsOf(p, { kind: 'MysqlService', name: 'db' });
  const preview = async (name: string, spec: Record<string, unknown>): Promise<Op> =>
    parse(await p.as(['create', '--dry-run=server', '-o', 'yaml', '-f', '-'], JSON.stringify(operation(name, spec)))) as Op;
  const unitOf = (units: ServiceUnit[] | undefined, name: string) => units?.find((u) => u.name === name);
  const pods = async () => new Map((await p.member.list<Pod>(Resources.pods, { namespace: project, labelSelector: 'unit.upm.io/unitset=db' })).items.map((x) => [x.metadata.name ?? '', x]));
  const rows = async (unit: string) => Number((await sql.query(unit, 'SELECT COUNT(*) AS n FROM shop.t'))[0]?.n);
  let written = 0;

  it('has a MariaDB service of 3 units Ready on member1, db-0 the source, each volume 1Gi as the hub reports', async () => {
    await p.as(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'upm.io/v1alpha1', kind: 'MysqlService', metadata: { name: 'db', namespace: project },
      spec: { engine: 'mariadb', version: '10.11', topology: { mode: 'async', replicas: 3 }, placement: { cluster: MEMBER }, resources: { cpu: '500m', memory: '256Mi' }, storage: { size: '1Gi' } },
    }));
    const st = await p.hubReaches('mysqlservice', 'db', 'the service Ready, its volumes reported', (s) => s.phase === 'Ready' && s.ready === '3/3' && (s.units ?? []).every((u) => !!u.storage), 300_000);
    expect(st.source).toBe('db-0');
    expect(st.units?.map((u) => [u.name, u.role, u.storage])).toEqual([['db-0', 'source', '1Gi'], ['db-1', 'replica', '1Gi'], ['db-2', 'replica', '1Gi']]);
    await sql.loadAdmin();
    await sql.query('db-0', 'CREATE DATABASE shop');
    await sql.query('db-0', 'CREATE TABLE shop.t (id INT PRIMARY KEY, at DATETIME(3) NOT NULL)');
    await sql.query('db-0', `INSERT INTO shop.t VALUES (${++written}, NOW(3))`);
  }, 360_000);

  it('fails a switchover to a replica held behind its source at its check, naming it and its lag; spec.source never changes; released, the same switchover succeeds', async () => {
    const spec = { type: 'Switchover', switchover: { candidate: 'db-2' } };
    // The replica's SQL thread waits behind a global read lock while the source keeps taking writes. The Compose
    // Operator leaves it be: its threads still run and follow the source, so it stays a ready replica, ever further behind.
    const lock: Connection = await sql.connect('db-2');
    let writing = true;
    let writerError: unknown;
    const writer = (async () => {
      while (writing) {
        await sql.query('db-0', `INSERT INTO shop.t VALUES (${written + 1}, NOW(3))`);
        written++;
        await sleep(1000);
      }
    })().catch((err: unknown) => { writerError = err; });
    try {
      await lock.query('FLUSH TABLES WITH READ LOCK');
      const st = await p.hubReaches('mysqlservice', 'db', 'db-2 over 60 s behind db-0', (s) => (unitOf(s.units, 'db-2')?.lagSeconds ?? 0) > 60, 240_000);
      expect(st.phase).toBe('Ready');
      expect(unitOf(st.units, 'db-2')).toMatchObject({ role: 'replica', ready: true });
      expect(unitOf(st.units, 'db-1')?.lagSeconds).toBeLessThanOrEqual(5);

      const plan = await preview('to-lagging', spec);
      process.stdout.write(`dry run of the switchover to the lagging db-2: ${JSON.stringify(plan.status?.steps?.[0])}\n`);
      expect(plan.status?.message).toBe('would fail at step check');
      const planned = /^would fail: spec\.switchover\.candidate: candidate db-2 in sync: no: (\d+) s behind db-0, more than the 60 s a switchover allows$/.exec(plan.status?.steps?.[0]?.message ?? '');
      expect(planned).not.toBeNull();
      expect(Number(planned?.[1])).toBeGreaterThan(60);

      // Every state of the member's MysqlReplication from before the Operation is created until after it ended.
      const sources: string[] = [];
      const watch = await watchStates<MysqlReplication>(p.member, MysqlReplicationResource, { namespace: project }, (objs) => {
        const m = objs.get('db');
        if (m) sources.push(`${m.spec.source.unit ?? ''}`);
      });
      let o: Op;
      try {
        await p.as(['create', '-f', '-'], JSON.stringify(operation('to-lagging', spec)));
        o = await waitFor('to-lagging Failed', async () => { const x = await getOp('to-lagging'); return x.status?.phase === 'Failed' ? x : undefined; }, { timeoutMs: 60_000, intervalMs: 250 });
        // Nothing comes after the failure either.
        await sleep(5000);
      } finally {
        await watch.stop();
      }
      expect(o.status?.message).toMatch(/^step check failed: precondition: spec\.switchover\.candidate: candidate db-2 in sync: no: \d+ s behind db-0, more than the 60 s a switchover allows; nothing was changed$/);
      expect(Number(/ (\d+) s behind/.exec(o.status?.message ?? '')?.[1])).toBeGreaterThan(60);
      expect(steps(o)).toEqual(['check:Failed', 'switch-source:Cancelled', 'wait-source:Cancelled']);
      expect(o.status?.steps?.find((s) => s.name === 'switch-source')?.attempts).toBeUndefined();
      expect(sources.length).toBeGreaterThan(0);
      expect([...new Set(sources)]).toEqual(['db-0']);
      expect((await p.hubObject('mysqlservice', 'db')).status?.source).toBe('db-0');
      expect(await sql.readOnly('db-0')).toBe(0);
    } finally {
      writing = false;
      await writer;
      await lock.query('UNLOCK TABLES').finally(() => lock.end());
    }
    expect(writerError).toBeUndefined();

    // Released: db-2 applies what it was behind on; the same switchover is planned and goes through.
    await p.hubReaches('mysqlservice', 'db', 'db-2 caught up', (s) => unitOf(s.units, 'db-2')?.lagSeconds === 0, 120_000);
    const plan = await preview('to-caught-up', spec);
    expect(plan.status?.steps?.[0]?.message).toMatch(/^ready: .*; candidate db-2 in sync: yes \(lag 0 s, within 60 s\)$/);
    await p.as(['create', '-f', '-'], JSON.stringify(operation('to-caught-up', spec)));
    const o = await waitSucceeded('to-caught-up', 300);
    expect(steps(o)).toEqual(['check:Succeeded', 'switch-source:Succeeded', 'wait-source:Succeeded']);
    expect((await p.hubObject('mysqlservice', 'db')).status?.source).toBe('db-2');
    expect((await p.member.get<MysqlReplication>(MysqlReplicationResource, 'db', project)).spec.source).toMatchObject({ unit: 'db-2' });
    expect(await sql.readOnly('db-2')).toBe(0);
    // Every row the old source took, the lagging ones too, is on the new source.
    expect(await rows('db-2')).toBe(written);
  }, 600_000);

  it('scales compute: the servers roll one at a time onto the new cpu and memory, the hub shows them, no row lost', async () => {
    const before = await pods();
    const down = await watchPodsDown(p.member, { namespace: project, labelSelector: 'unit.upm.io/unitset=db' }, UNITS);
    let o: Op;
    try {
      await p.as(['create', '-f', '-'], JSON.stringify(operation('compute', { type: 'Scale', scale: { resources: { cpu: '1', memory: '512Mi' } } })));
      o = await waitSucceeded('compute', 600);
    } finally {
      await down.stop();
    }
    process.stdout.write(`compute scale: down per server ${UNITS.map((u) => `${u} ${((down.spans.get(u) ?? 0) / 1000).toFixed(1)} s`).join(', ')}; steps ${JSON.stringify(o.status?.steps)}\n`);
    expect(steps(o)).toEqual(['check:Succeeded', 'set-resources:Succeeded', 'wait-ready:Succeeded']);
    // One server at a time, and each of them in turn.
    expect(down.maxDown).toBe(1);
    expect([...down.spans.keys()].sort()).toEqual(UNITS);
    const after = await pods();
    for (const u of UNITS) {
      expect(after.get(u)?.metadata.uid).not.toBe(before.get(u)?.metadata.uid);
      const limits = (after.get(u)?.spec?.containers ?? []).map((c) => c.resources?.limits).filter((l) => l?.cpu);
      expect(`${u}: ${JSON.stringify(limits)}`).toBe(`${u}: ${JSON.stringify([{ cpu: '1', memory: '512Mi' }])}`);
    }
    const svc = await p.hubObject('mysqlservice', 'db');
    expect(svc.spec.resources).toEqual({ cpu: '1', memory: '512Mi' });
    expect(svc.status).toMatchObject({ phase: 'Ready', ready: '3/3', observedGeneration: svc.metadata.generation });
    const source = String(svc.status?.source ?? '');
    expect(UNITS).toContain(source);
    expect(await rows(source)).toBe(written);
  }, 720_000);

  it('grows the storage 1Gi -> 2Gi: every claim expanded by the member, no server restarted, the hub reports the size; a shrink is refused', async () => {
    const before = await pods();
    const spec = { type: 'Scale', scale: { storage: { size: '2Gi' } } };
    const plan = await preview('storage', spec);
    expect(plan.status?.steps?.map((s) => s.name)).toEqual(['check', 'grow-storage', 'wait-ready']);
    expect(plan.status?.steps?.[0]?.message).toMatch(/; storage: 1Gi -> 2Gi; storage class kwok-volume: allows expansion$/);
    await p.as(['create', '-f', '-'], JSON.stringify(operation('storage', spec)));
    const o = await waitSucceeded('storage', 300);
    expect(steps(o)).toEqual(['check:Succeeded', 'grow-storage:Succeeded', 'wait-ready:Succeeded']);
    const claims = (await p.member.list<Claim>(Resources.persistentVolumeClaims, { namespace: project, labelSelector: 'unit.upm.io/unitset=db' })).items;
    expect(claims.map((c) => [c.metadata.name, c.spec?.resources?.requests?.storage, c.status?.capacity?.storage]).sort()).toEqual(UNITS.map((u) => [`${u}-data`, '2Gi', '2Gi']));
    for (const c of claims) expect((await p.member.get<Volume>(PersistentVolumes, c.spec?.volumeName ?? '')).spec?.capacity?.storage).toBe('2Gi');
    const svc = await p.hubObject('mysqlservice', 'db');
    expect(svc.spec.storage).toMatchObject({ size: '2Gi' });
    expect(svc.status?.units?.map((u) => [u.name, u.storage])).toEqual(UNITS.map((u) => [u, '2Gi']));
    // Grown in place: every pod is the one from before.
    const after = await pods();
    expect(UNITS.map((u) => after.get(u)?.metadata.uid)).toEqual(UNITS.map((u) => before.get(u)?.metadata.uid));

    const shrink = await kubectlAs(p.kc, ['create', '-f', '-'], JSON.stringify(operation('shrink', { type: 'Scale', scale: { storage: { size: '1Gi' } } })));
    expect(shrink.code).not.toBe(0);
    expect(shrink.stderr).toContain('spec.scale.storage.size: Invalid value: "1Gi": storage may only grow (the MysqlService has 2Gi)');
  }, 420_000);
});
