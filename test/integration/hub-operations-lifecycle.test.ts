// Restart, Stop and Start run by the hub, end to end: a project editor asks with kubectl against the hub for a real
// MariaDB service of 3 units on member1. The Restart's dry run names the order (replicas before the source); the run
// writes the request into the hub service, the mirror carries it into the member's UnitSet, and every engine restarts
// exactly once in that order: each Unit records the request's id as restarted and one RestartingEngine Event for it,
// its engine start time moved, and the UnitSet's record of the restart lists them in order. A Restart naming one
// replica restarts that engine only (MariaDB's Uptime says so), the others run on. Stop stops every engine
// (the pods and data stay, the hub service shows Stopped, not Failed), Start brings them back with the data.
import { beforeAll, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { MysqlReplicationResource, type MysqlReplication } from '../../lib/api/compose.upm.io.generated.ts';
import { UnitResource, UnitSetResource, type Unit, type UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import { waitFor } from '../../lib/wait.ts';
import { describeHub } from '../hub.ts';
import { MEMBER, useHubProject } from '../hub-member.ts';
import { mysqlSuite } from '../mysql.ts';
import { operationsOf, type Op } from '../operations.ts';

interface Ev { reason?: string; message?: string; count?: number; involvedObject?: { name?: string } }

describeHub('Restart, Stop and Start run by the hub on a MariaDB service', () => {
  const p = useHubProject('hublife');
  const project = p.project;
  const sql = mysqlSuite(p.fixture, MEMBER);
  let m: KubeClient;
  const as = (args: string[], input?: string) => p.as(args, input);
  const { operation, steps, waitSucceeded } = operationsOf(p, { kind: 'MysqlService', name: 'db' });
  const units = async () => (await m.list<Unit>(UnitResource, { namespace: project, labelSelector: 'unit.upm.io/unitset=db' })).items
    .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '', 'en', { numeric: true }));
  const unitEvents = async (reason: string): Promise<Ev[]> => (await m.list<Ev & { metadata: { name?: string } }>(Resources.events, { namespace: project, fieldSelector: `involvedObject.kind=Unit,reason=${reason}` })).items;
  beforeAll(() => { m = p.member; });

  it('has a MariaDB service of 3 units Ready on member1, with a row written', async () => {
    await as(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'upm.io/v1alpha1', kind: 'MysqlService', metadata: { name: 'db', namespace: project },
      spec: { engine: 'mariadb', version: '10.11', topology: { mode: 'async', replicas: 3 }, placement: { cluster: MEMBER }, resources: { cpu: '1', memory: '256Mi' }, storage: { size: '1Gi' } },
    }));
    await p.hubReaches('mysqlservice', 'db', 'the service Ready', (s) => s.phase === 'Ready' && s.ready === '3/3', 240_000);
    await sql.loadAdmin();
    await sql.query('db-0', 'CREATE DATABASE IF NOT EXISTS life');
    await sql.query('db-0', 'CREATE TABLE IF NOT EXISTS life.kept (id INT PRIMARY KEY, v VARCHAR(32))');
    await sql.query('db-0', "INSERT INTO life.kept VALUES (1, 'before')");
  }, 300_000);

  it('restarts every engine exactly once, the replicas before the source, in the order the dry run showed', async () => {
    const plan = parse(await as(['create', '--dry-run=server', '-o', 'yaml', '-f', '-'], JSON.stringify(operation('restart', { type: 'Restart' })))) as Op;
    expect(plan.status?.message).toBe('plan: check, request-restart, wait-restarted');
    expect(plan.status?.steps?.[0]?.message).toContain('order: db-1, db-2, db-0');
    expect(plan.status?.steps?.[1]?.description).toBe('ask the member to restart every server once, one at a time, in the order db-1, db-2, db-0');
    const before: Record<string, number> = Object.fromEntries((await units()).map((u) => [u.metadata.name ?? '', Date.parse(u.status?.engine?.startedAt ?? '')]));
    expect(Object.values(before).every((t) => t > 0)).toBe(true);

    await as(['create', '-f', '-'], JSON.stringify(operation('restart', { type: 'Restart' })));
    const o = await waitSucceeded('restart', 480);
    expect(o.status?.steps?.map((s) => s.name)).toEqual(plan.status?.steps?.map((s) => s.name));
    expect(steps(o)).toEqual(['check:Succeeded', 'request-restart:Succeeded', 'wait-restarted:Succeeded']);
    const id = o.metadata.uid ?? '';
    expect(id).not.toBe('');
    expect(o.status?.steps?.find((s) => s.name === 'request-restart')?.attempts).toBe(1);

    // The request went through the hub service, and the member's UnitSet recorded it done in the order asked.
    const svc = await p.hubObject('mysqlservice', 'db');
    expect(svc.spec.restart).toEqual({ id, order: ['db-1', 'db-2', 'db-0'] });
    expect(svc.status?.restart).toMatchObject({ id, phase: 'Complete', done: ['db-1', 'db-2', 'db-0'] });
    const us = await m.get<UnitSet>(UnitSetResource, 'db', project);
    expect(us.spec.restart).toEqual({ id, order: ['db-1', 'db-2', 'db-0'] });
    expect(us.status?.restart).toMatchObject({ id, phase: 'Complete', done: ['db-1', 'db-2', 'db-0'] });

    // Each Unit: restarted for this id, one RestartingEngine Event for it, its engine started after the earlier ones.
    const after = await units();
    for (const u of after) expect(u.status?.lastRestartId).toBe(id);
    const events = (await unitEvents('RestartingEngine')).filter((e) => e.message?.includes(`restart ${id} asked for`));
    expect(events.map((e) => [e.involvedObject?.name, e.count ?? 1]).sort()).toEqual([['db-0', 1], ['db-1', 1], ['db-2', 1]]);
    const started = Object.fromEntries(after.map((u) => [u.metadata.name, Date.parse(u.status?.engine?.startedAt ?? '')]));
    for (const n of ['db-0', 'db-1', 'db-2']) expect(started[n]).toBeGreaterThan(before[n] ?? Infinity);
    expect((started['db-1'] as number) < (started['db-2'] as number) && (started['db-2'] as number) < (started['db-0'] as number)).toBe(true);
    expect((await sql.query('db-0', 'SELECT v FROM life.kept WHERE id = 1'))[0]?.v).toBe('before');
  }, 600_000);

  it('restarts one replica only when the Restart names it: its engine restarts once, the others run on', async () => {
    const op = operation('restart-one', { type: 'Restart', restart: { servers: ['db-1'] } });
    const plan = parse(await as(['create', '--dry-run=server', '-o', 'yaml', '-f', '-'], JSON.stringify(op))) as Op;
    expect(plan.status?.steps?.[0]?.message).toContain('servers: 1 of 3 (db-0, db-2 left alone)');
    expect(plan.status?.steps?.[1]?.description).toBe('ask the member to restart only db-1 (the others are left alone) once, one at a time, in the order db-1');
    expect(plan.status?.steps?.[2]?.description).toBe('wait until db-1 was restarted once and the service is Ready');
    // The engines' own word: MariaDB's Uptime, read before and after (each server's start as the engine sees it).
    const uptime = async (u: string) => Number((await sql.query(u, "SHOW GLOBAL STATUS LIKE 'Uptime'"))[0]?.Value);
    const startedAt = async () => Object.fromEntries(await Promise.all(['db-0', 'db-1', 'db-2'].map(async (n) => [n, Date.now() / 1000 - await uptime(n)] as const)));
    const before = await startedAt();
    const unitsBefore = Object.fromEntries((await units()).map((u) => [u.metadata.name ?? '', u]));

    await as(['create', '-f', '-'], JSON.stringify(op));
    const o = await waitSucceeded('restart-one', 300);
    expect(steps(o)).toEqual(['check:Succeeded', 'request-restart:Succeeded', 'wait-restarted:Succeeded']);
    const id = o.metadata.uid ?? '';
    const svc = await p.hubObject('mysqlservice', 'db');
    expect(svc.spec.restart).toEqual({ id, order: ['db-1'], servers: ['db-1'] });
    expect(svc.status?.restart).toMatchObject({ id, phase: 'Complete', done: ['db-1'] });
    const us = await m.get<UnitSet>(UnitSetResource, 'db', project);
    expect(us.spec.restart).toEqual({ id, order: ['db-1'], units: ['db-1'] });
    expect(us.status?.restart).toMatchObject({ id, phase: 'Complete', done: ['db-1'] });

    // db-1's engine started again (MariaDB's Uptime began after the request; one RestartingEngine Event for it); the
    // others' Uptime runs on from before (a second of slack for the rounding of Uptime) and their Units were not asked.
    const after = await startedAt();
    expect(after['db-1']).toBeGreaterThan((before['db-1'] ?? Infinity) + 1);
    for (const n of ['db-0', 'db-2']) expect(Math.abs((after[n] ?? 0) - (before[n] ?? 0))).toBeLessThan(2);
    const now = Object.fromEntries((await units()).map((u) => [u.metadata.name ?? '', u]));
    expect(now['db-1']?.status?.lastRestartId).toBe(id);
    for (const n of ['db-0', 'db-2']) {
      expect(now[n]?.spec.restartId).toBe(unitsBefore[n]?.spec.restartId);
      expect(now[n]?.status?.lastRestartId).not.toBe(id);
      expect(now[n]?.status?.engine?.startedAt).toBe(unitsBefore[n]?.status?.engine?.startedAt);
    }
    const events = (await unitEvents('RestartingEngine')).filter((e) => e.message?.includes(`restart ${id} asked for`));
    expect(events.map((e) => [e.involvedObject?.name, e.count ?? 1])).toEqual([['db-1', 1]]);
    // db-1 replicates again after its restart.
    await sql.query('db-0', "INSERT INTO life.kept VALUES (3, 'one')");
    await waitFor('the row replicated to db-1', async () => (await sql.query('db-1', 'SELECT v FROM life.kept WHERE id = 3').catch(() => []))[0]?.v === 'one', { timeoutMs: 60_000, intervalMs: 500 });
  }, 420_000);

  it('stops every engine in place: pods and data stay, the service shows Stopped (not Failed)', async () => {
    await as(['create', '-f', '-'], JSON.stringify(operation('stop', { type: 'Stop' })));
    const o = await waitSucceeded('stop', 300);
    expect(steps(o)).toEqual(['check:Succeeded', 'stop-servers:Succeeded', 'wait-stopped:Succeeded']);
    const svc = await p.hubObject('mysqlservice', 'db');
    expect(svc.spec.stopped).toBe(true);
    expect(svc.status?.phase).toBe('Stopped');
    expect(svc.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'Stopped' });
    expect(svc.status?.conditions?.find((c) => c.type === 'Degraded')?.status).toBe('False');
    const us = await m.get<UnitSet>(UnitSetResource, 'db', project);
    expect(us.spec.stopped).toBe(true);
    expect(us.status?.phase).toBe('Stopped');
    for (const u of await units()) {
      expect(u.status?.phase).toBe('Stopped');
      expect(u.status?.engine?.state).toBe('Stopped');
    }
    // The MysqlReplication holds still: Stopped, not Degraded, and no failover tried even after its downAfterSeconds.
    await waitFor('the MysqlReplication Stopped', async () => (await m.get<MysqlReplication>(MysqlReplicationResource, 'db', project)).status?.phase === 'Stopped', { timeoutMs: 30_000, intervalMs: 250 });
    await new Promise((r) => setTimeout(r, 8000));
    const mr = await m.get<MysqlReplication>(MysqlReplicationResource, 'db', project);
    expect(mr.status?.phase).toBe('Stopped');
    expect(mr.status?.conditions?.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'False', reason: 'Stopped' });
    expect(mr.spec.source).toMatchObject({ unit: 'db-0' });
    // Since the Stop began (a loaded machine may start the engines of a new service more than downAfterSeconds
    // apart, which the MysqlReplication reports as FailoverBlocked while it bootstraps: not the Stop's doing).
    const since = Date.parse(o.status?.startTime ?? '');
    expect(since).toBeGreaterThan(0);
    const tried = (await m.list<Ev & { metadata: { name?: string }; lastTimestamp?: string }>(Resources.events, { namespace: project, fieldSelector: 'involvedObject.kind=MysqlReplication' })).items
      .filter((e) => ['FailingOver', 'FailoverBlocked', 'FailedOver'].includes(e.reason ?? '') && Date.parse(e.lastTimestamp ?? '') >= since);
    expect(tried.map((e) => `${e.reason}: ${e.message}`)).toEqual([]);
    expect((await p.hubObject('mysqlservice', 'db')).status?.phase).toBe('Stopped');
  }, 360_000);

  it('starts them again: the service Ready, the data back, the source unchanged', async () => {
    await as(['create', '-f', '-'], JSON.stringify(operation('start', { type: 'Start' })));
    const o = await waitSucceeded('start', 400);
    expect(steps(o)).toEqual(['check:Succeeded', 'start-servers:Succeeded', 'wait-ready:Succeeded']);
    const svc = await p.hubObject('mysqlservice', 'db');
    expect(svc.spec.stopped).toBe(false);
    expect(svc.status).toMatchObject({ phase: 'Ready', ready: '3/3', source: 'db-0' });
    for (const u of ['db-0', 'db-1', 'db-2']) {
      await waitFor(`the row on ${u}`, async () => (await sql.query(u, 'SELECT v FROM life.kept WHERE id = 1').catch(() => []))[0]?.v === 'before', { timeoutMs: 60_000, intervalMs: 500 });
    }
    await sql.query('db-0', "INSERT INTO life.kept VALUES (2, 'after')");
    await waitFor('the new row replicated to db-2', async () => (await sql.query('db-2', 'SELECT v FROM life.kept WHERE id = 2'))[0]?.v === 'after', { timeoutMs: 60_000, intervalMs: 500 });
  }, 480_000);
});
