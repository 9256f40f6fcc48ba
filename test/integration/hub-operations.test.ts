// Operations carried out by the hub, end to end: a project editor runs day-2 work on a real MariaDB service (3 units on
// member1) with kubectl against the hub. The plan of an Operation is previewed with a server-side dry run (its steps,
// each precondition evaluated now, nothing stored); Scale 3 -> 5, a Reconfigure of a dynamic parameter (applied live,
// no server restarted) and a Switchover each reach Succeeded with their steps, `kubectl wait --for=condition=Succeeded`
// returning; three Operations created at once run one at a time in creation order, a queued one cancelled is never
// begun; bad Operations (a scale below the engine's minimum, a storage shrink, an upgrade to a version without a
// template) are refused by the API with the field named. A Reconfigure of a restart-needed parameter rolls the
// servers one at a time, and a kill -9 of the hub controllers in the middle of it changes nothing twice: a new
// process takes the Operation on from its status and every server restarts exactly once.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { beforeAll, expect, it } from '@jest/globals';
import { MysqlReplicationResource, type MysqlReplication } from '../../lib/api/compose.upm.io.generated.ts';
import { UnitResource, type Unit } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { waitFor } from '../../lib/wait.ts';
import { killHubControllers } from '../hub-controllers.ts';
import { describeHub, hubState, kubectlAs } from '../hub.ts';
import { MEMBER, useHubProject } from '../hub-member.ts';
import { mysqlSuite } from '../mysql.ts';
import { operationsOf } from '../operations.ts';

describeHub('Operations run by the hub on a MariaDB service', () => {
  const p = useHubProject('hubops');
  const project = p.project;
  const sql = mysqlSuite(p.fixture, MEMBER);
  let m: KubeClient;
  const as = (args: string[], input?: string) => p.as(args, input);
  const { operation, getOp, preview, steps, waitPhase, waitSucceeded } = operationsOf(p, { kind: 'MysqlService', name: 'db' });
  const opEvents = async (name: string): Promise<string[]> => {
    const out = await as(['get', 'events', '-n', project, '--field-selector', `involvedObject.kind=Operation,involvedObject.name=${name}`, '-o', 'jsonpath={range .items[*]}{.reason}{" "}{.message}{"\\n"}{end}']);
    return out.split('\n').filter(Boolean);
  };
  const refused = async (name: string, spec: Record<string, unknown>) => {
    const r = await kubectlAs(p.kc, ['create', '-f', '-'], JSON.stringify(operation(name, spec)));
    expect(r.code).not.toBe(0);
    expect((await kubectlAs(p.kc, ['get', 'operation', name, '-n', project])).stderr).toContain('NotFound');
    return r.stderr;
  };
  let restarted: number | undefined;
  /** The steps the dry run of the Scale planned, for the real run to be held to. */
  let previewed: string[] = [];
  beforeAll(() => { m = p.member; });
  const serviceEvents = async (reason: string): Promise<string[]> => {
    const out = await as(['get', 'events', '-n', project, '--field-selector', `involvedObject.kind=MysqlService,involvedObject.name=db,reason=${reason}`, '-o', 'jsonpath={range .items[*]}{.message}{"\\n"}{end}']);
    return out.split('\n').filter(Boolean);
  };

  it('has a MariaDB service of 3 units Ready on member1', async () => {
    await as(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'upm.io/v1alpha1', kind: 'MysqlService', metadata: { name: 'db', namespace: project },
      spec: { engine: 'mariadb', version: '10.11', topology: { mode: 'async', replicas: 3 }, placement: { cluster: MEMBER }, resources: { cpu: '1', memory: '256Mi' }, storage: { size: '1Gi' } },
    }));
    await p.hubReaches('mysqlservice', 'db', 'the service Ready', (s) => s.phase === 'Ready' && s.ready === '3/3', 240_000);
  }, 300_000);

  it('previews a Scale with a server-side dry run: the steps as they would run, preconditions evaluated now, nothing stored', async () => {
    const o = await preview('preview', { type: 'Scale', scale: { replicas: 5 } });
    expect(o.status?.steps?.map((s) => [s.name, s.phase])).toEqual([['check', 'Pending'], ['set-replicas', 'Pending'], ['wait-ready', 'Pending']]);
    expect(o.status?.steps?.[0]?.message).toBe(`ready: service db: found; cluster ${MEMBER}: Ready; service db: Ready (3/3); spec.scale.replicas: 5 servers (1 to 9)`);
    expect(o.status?.message).toBe('plan: check, set-replicas, wait-ready');
    previewed = (o.status?.steps ?? []).map((s) => s.name);
    expect((await kubectlAs(p.kc, ['get', 'operation', 'preview', '-n', project])).stderr).toContain('NotFound');
    expect((await p.hubObject('mysqlservice', 'db')).spec.topology).toMatchObject({ replicas: 3 });
  });

  it('refuses bad Operations at the API, naming the field: below the minimum, a storage shrink, a version without a template', async () => {
    expect(await refused('too-small', { type: 'Scale', scale: { replicas: 0 } })).toContain('spec.scale.replicas: Invalid value: 0: a MysqlService has 1 to 9 servers');
    expect(await refused('shrink', { type: 'Scale', scale: { storage: { size: '512Mi' } } })).toContain('spec.scale.storage.size: Invalid value: "512Mi": storage may only grow');
    expect(await refused('no-template', { type: 'Upgrade', upgrade: { version: '11.4' } })).toContain('spec.upgrade.version: Unsupported value: "11.4": no engine template mariadb-11.4');
  });

  it('scales 3 -> 5 through the service spec: every step Succeeded, an Event per step, kubectl wait returns, the OperationLog names it', async () => {
    await as(['create', '-f', '-'], JSON.stringify(operation('scale', { type: 'Scale', scale: { replicas: 5 } })));
    const o = await waitSucceeded('scale', 300);
    expect(o.status?.steps?.map((s) => s.name)).toEqual(previewed);
    expect(steps(o)).toEqual(['check:Succeeded', 'set-replicas:Succeeded', 'wait-ready:Succeeded']);
    expect(o.status?.steps?.find((s) => s.name === 'set-replicas')?.attempts).toBe(1);
    expect(o.status?.conditions?.find((c) => c.type === 'Failed')?.status).toBe('False');
    const svc = await p.hubObject('mysqlservice', 'db');
    expect(svc.spec.topology).toMatchObject({ replicas: 5 });
    expect(svc.status?.ready).toBe('5/5');
    expect((await as(['get', 'operation', 'scale', '-n', project, '--no-headers'])).split(/\s+/).slice(1, 5)).toEqual(['Scale', 'mysqlservice/db', 'Succeeded', '3/3']);
    const events = await opEvents('scale');
    for (const step of ['check', 'set-replicas', 'wait-ready']) expect(events).toContainEqual(expect.stringMatching(new RegExp(`^StepSucceeded step ${step}: `)));
    expect(await serviceEvents('StepSucceeded')).toContain('Operation scale: step set-replicas: spec.topology.replicas is 5');
    // The project's audit trail names the Operation and who asked for it.
    const logs = JSON.parse(await as(['get', 'operationlogs', '-n', project, '-o', 'json'])) as { items: { spec: { user: string; verb: string; resource: string; name?: string; result: { code: number } } }[] };
    expect(logs.items.map((l) => l.spec)).toContainEqual(expect.objectContaining({ user: p.editor, verb: 'create', resource: 'operations', name: 'scale', result: expect.objectContaining({ code: 201 }) }));
  }, 360_000);

  it('reconfigures a dynamic parameter live: the step list says so, no server restarts', async () => {
    await sql.loadAdmin();
    const started = async () => Object.fromEntries((await m.list<Unit>(UnitResource, { namespace: project, labelSelector: 'unit.upm.io/unitset=db' })).items.map((u) => [u.metadata.name, u.status?.engine?.startedAt]));
    const before = await started();
    expect(Object.keys(before)).toHaveLength(5);
    await as(['create', '-f', '-'], JSON.stringify(operation('tune', { type: 'Reconfigure', reconfigure: { parameters: { max_connections: '300' } } })));
    const o = await waitSucceeded('tune', 240);
    expect(steps(o)).toEqual(['check:Succeeded', 'set-parameters:Succeeded', 'apply-live:Succeeded']);
    expect(o.status?.steps?.find((s) => s.name === 'set-parameters')?.description).toContain('applied live: max_connections; with a rolling restart: none');
    for (const u of ['db-0', 'db-1', 'db-2', 'db-3', 'db-4']) {
      await waitFor(`max_connections on ${u}`, async () => String((await sql.query(u, "SHOW VARIABLES LIKE 'max_connections'"))[0]?.Value) === '300', { timeoutMs: 30_000 });
    }
    // Every engine still runs since before the change.
    expect(await started()).toEqual(before);
  }, 300_000);

  it('switches the source over to db-1 through the member MysqlReplication, done when the service reports it', async () => {
    const spec = { type: 'Switchover', switchover: { candidate: 'db-1' } };
    const plan = await preview('switch', spec);
    expect(plan.status?.candidate).toBe('db-1');
    expect(plan.status?.steps?.[0]?.message).toMatch(new RegExp(`^ready: service db: found; cluster ${MEMBER}: Ready; service db: Ready \\(5/5\\); candidate db-1 in sync: yes \\(lag \\d+ s, within 60 s\\)$`));
    expect(plan.status?.steps?.[1]?.message).toMatch(/^would change: name the candidate as the source of the member's MysqlReplication/);
    await as(['create', '-f', '-'], JSON.stringify(operation('switch', spec)));
    const o = await waitSucceeded('switch', 300);
    // The run took the steps the plan said, in that order.
    expect(o.status?.steps?.map((s) => s.name)).toEqual(plan.status?.steps?.map((s) => s.name));
    expect(steps(o)).toEqual(['check:Succeeded', 'switch-source:Succeeded', 'wait-source:Succeeded']);
    expect(o.status?.candidate).toBe('db-1');
    expect((await p.hubObject('mysqlservice', 'db')).status?.source).toBe('db-1');
    const mr = await m.get<MysqlReplication>(MysqlReplicationResource, 'db', project);
    expect(mr.spec.source).toMatchObject({ unit: 'db-1' });
    expect(mr.status?.source).toBe('db-1');
    expect((await sql.query('db-1', 'SELECT @@read_only AS ro'))[0]?.ro).toBe(0);
    // The hub's mirror derives spec.source from the member: it took the switchover as its own, no drift was put back.
    expect(await serviceEvents('DriftCorrected')).toEqual([]);
  }, 360_000);

  it('runs three Operations created at once one at a time in creation order; a queued one cancelled is never begun', async () => {
    const list = { apiVersion: 'v1', kind: 'List', items: [
      operation('q-1', { type: 'Scale', scale: { replicas: 4 } }),
      operation('q-2', { type: 'Reconfigure', reconfigure: { parameters: { max_connections: '310' } } }),
      operation('q-3', { type: 'Scale', scale: { replicas: 3 } }),
    ] };
    await as(['create', '-f', '-'], JSON.stringify(list));
    await as(['patch', 'operation', 'q-3', '-n', project, '--type', 'merge', '-p', '{"spec":{"cancel":true}}']);
    const q1 = await waitSucceeded('q-1', 300);
    const q2 = await waitSucceeded('q-2', 300);
    expect(Date.parse(q2.status?.startTime ?? '')).toBeGreaterThanOrEqual(Date.parse(q1.status?.completionTime ?? ''));
    // q-2 said whom it waited for. Its Event is the record: the Pending status lasts only as long as q-1 runs, which
    // a poll started after the create can miss.
    expect(await opEvents('q-2')).toContain('Queued waiting for Operation q-1 on the same service');
    const q3 = await waitPhase('q-3', ['Cancelled'], { timeoutMs: 30_000, intervalMs: 500 });
    expect(q3.status?.message).toBe('cancelled before it began: nothing was changed');
    expect(q3.status?.startTime).toBeUndefined();
    expect(q3.status?.steps?.every((s) => s.phase === 'Cancelled')).toBe(true);
    const svc = await p.hubObject('mysqlservice', 'db');
    expect(svc.spec.topology).toMatchObject({ replicas: 4 });
    expect((svc.spec.options as { parameters?: Record<string, string> }).parameters).toMatchObject({ max_connections: '310' });
  }, 720_000);

  it('rolls a restart-needed parameter unit by unit, and a kill -9 of the hub controllers mid-step changes nothing twice', async () => {
    const units = async () => (await m.list<Unit>(UnitResource, { namespace: project, labelSelector: 'unit.upm.io/unitset=db' })).items;
    const starts = new Map<string, Set<string>>();
    let polling = true;
    const poll = (async () => {
      while (polling) {
        for (const u of await units()) {
          const at = u.status?.engine?.startedAt;
          if (at) starts.set(u.metadata.name ?? '', (starts.get(u.metadata.name ?? '') ?? new Set()).add(at));
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    try {
      await waitFor('every unit seen', async () => starts.size === 4, { timeoutMs: 10_000 });
      await as(['create', '-f', '-'], JSON.stringify(operation('roll', { type: 'Reconfigure', reconfigure: { parameters: { innodb_log_buffer_size: '32M' } } })));
      await waitFor('the rolling restart running', async () => (await getOp('roll')).status?.steps?.find((s) => s.name === 'rolling-restart')?.phase === 'Running', { timeoutMs: 60_000, intervalMs: 200 });
      restarted = await killHubControllers();
      const o = await waitSucceeded('roll', 120).catch(async (err: unknown) => {
        const log = (await readFile(hubState().logs.controllers, 'utf8')).split('\n').filter((l) => !l.includes('"level":20')).join('\n');
        const us = await m.request<{ status?: unknown }>('GET', `/apis/unit.upm.io/v1alpha1/namespaces/${project}/unitsets/db`);
        const svc = (await p.hubObject('mysqlservice', 'db')).status;
        throw new Error(`${(err as Error).message}; hub service status ${JSON.stringify(svc)}; member UnitSet status ${JSON.stringify(us.status)}; the restarted hub controllers (pid ${String(restarted)}) ${restarted && existsSync(`/proc/${restarted}`) ? 'run' : 'are gone'}, their log ends: ${log.slice(-4000)}`, { cause: err });
      });
      expect(steps(o)).toEqual(['check:Succeeded', 'set-parameters:Succeeded', 'rolling-restart:Succeeded']);
      expect(o.status?.steps?.find((s) => s.name === 'set-parameters')?.attempts).toBe(1);
      expect(o.status?.steps?.[1]?.description).toContain('applied live: none; with a rolling restart: innodb_log_buffer_size');
      await waitFor('every unit restarted', async () => [...starts.values()].every((s) => s.size >= 2), { timeoutMs: 60_000 });
    } finally {
      polling = false;
      await poll;
    }
    // Each server restarted once: its first start and one more.
    expect([...starts.entries()].map(([u, s]) => [u, s.size]).sort()).toEqual([['db-0', 2], ['db-1', 2], ['db-2', 2], ['db-3', 2]]);
    for (const u of ['db-0', 'db-1', 'db-2', 'db-3']) expect(String((await sql.query(u, "SHOW VARIABLES LIKE 'innodb_log_buffer_size'"))[0]?.Value)).toBe(String(32 * 1024 * 1024));
    expect((await opEvents('roll')).filter((e) => e.startsWith('StepSucceeded step set-parameters'))).toHaveLength(1);
  }, 480_000);
});
