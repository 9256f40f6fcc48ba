// The Operation engine as data: step lists per type, the planner's decisions (queue, run, retry, timeout, cancel)
// and the status they lead to, against a world the test sets, on a FakeClock.
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { FakeClock } from '../clock.ts';
import { engineTemplates } from '../templates.ts';
import { backoffMs, MAX_ATTEMPTS, plan } from './plan.ts';
import { operationStatus, previewStatus } from './status.ts';
import { stepsFor } from './steps.ts';
import type { Decision, Operation, OperationSpec, ServiceView, World } from './types.ts';

const TEMPLATES = engineTemplates(join(import.meta.dirname, '..', '..', 'config', 'templates'));
/** RFC 7386: what a merge patch makes of an object. */
function mergePatch(target: unknown, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(target && typeof target === 'object' ? target as Record<string, unknown> : {}) };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v && typeof v === 'object' && !Array.isArray(v) ? mergePatch(out[k], v as Record<string, unknown>) : v;
  }
  return out;
}
const clock = new FakeClock('2026-01-01T00:00:00Z');

function service(replicas = 3): ServiceView {
  return {
    apiVersion: 'internal.upm.io/v1alpha1', kind: 'MysqlServiceRecord', metadata: { name: 'db', namespace: 'p', generation: 1 },
    spec: { engine: 'mariadb', version: '10.11', topology: { mode: 'async', replicas }, placement: { cluster: 'member1' }, storage: { size: '1Gi' } },
    status: {
      observedGeneration: 1, phase: 'Ready', ready: `${replicas}/${replicas}`, source: 'db-0',
      units: Array.from({ length: replicas }, (_, i) => ({ name: `db-${i}`, ...(i === 0 ? { role: 'source' } : { role: 'replica', lagSeconds: 0 }), ready: true, storage: '1Gi' })),
    },
  };
}

let seq = 0;
function operation(spec: Omit<OperationSpec, 'target'>, name = `op-${++seq}`, created = '2026-01-01T00:00:00Z'): Operation {
  return { metadata: { name, namespace: 'p', uid: name, generation: 1, creationTimestamp: created }, spec: { target: { kind: 'MysqlService', name: 'db' }, ...spec } };
}

function world(svc: ServiceView | undefined = service(), others: Operation[] = []): World {
  return { service: svc, cluster: { name: 'member1', ready: true }, templates: TEMPLATES, others, now: clock.now(), compose: { metadata: { name: 'db' }, spec: { source: { name: 'db-0', unit: 'db-0' }, replicas: [{ name: 'db-1', unit: 'db-1' }, { name: 'db-2', unit: 'db-2' }] } } };
}

/** The member as the services controller would make it: the spec applied, every server ready. */
function settle(w: World, replicas?: number): void {
  const s = w.service as ServiceView;
  const n = replicas ?? ((s.spec.topology as { replicas: number }).replicas);
  s.status = { ...service(n).status, observedGeneration: s.metadata.generation, version: String(s.spec.version) };
}

/** One reconcile as the controller does it: plan, make the effect on the world, record the status. */
function step(op: Operation, w: World): Decision {
  w.now = clock.now();
  const d = plan(op, w);
  if (d.kind === 'run' && d.effect?.on === 'service') {
    const s = w.service as ServiceView;
    s.spec = mergePatch(s.spec, d.effect.patch);
    s.metadata.generation = (s.metadata.generation ?? 1) + 1;
  }
  if (d.kind === 'run' && d.effect?.on === 'compose' && w.compose) w.compose = { ...w.compose, ...mergePatch(w.compose, d.effect.patch) };
  op.status = operationStatus(op, d, w);
  return d;
}

/** Runs the Operation until it ends or needs the member (settle), recording each decision's kind. */
function drive(op: Operation, w: World, onWait: (d: Decision) => void = () => settle(w), max = 30): string[] {
  const kinds: string[] = [];
  for (let i = 0; i < max && !['Succeeded', 'Failed', 'Cancelled'].includes(op.status?.phase ?? ''); i++) {
    const d = step(op, w);
    kinds.push(d.kind === 'run' || d.kind === 'complete' || d.kind === 'wait' ? `${d.kind}:${d.step ?? ''}` : d.kind);
    if (d.kind === 'wait') { onWait(d); clock.step(d.afterMs); }
  }
  return kinds;
}

describe('step lists', () => {
  it('declares each type as named steps, only those its parameters need', () => {
    const w = world();
    const names = (spec: Omit<OperationSpec, 'target'>) => { const s = stepsFor(operation(spec), w); return 'unsupported' in s ? s.unsupported : s.map((x) => x.name); };
    expect(names({ type: 'Scale', scale: { replicas: 5 } })).toEqual(['check', 'set-replicas', 'wait-ready']);
    expect(names({ type: 'Scale', scale: { replicas: 5, storage: { size: '2Gi' }, resources: { cpu: '1' } } })).toEqual(['check', 'set-replicas', 'set-resources', 'grow-storage', 'wait-ready']);
    expect(names({ type: 'Upgrade', upgrade: { version: '11.4' } })).toEqual(['check', 'set-version', 'wait-ready']);
    expect(names({ type: 'Switchover' })).toEqual(['check', 'switch-source', 'wait-source']);
    expect(names({ type: 'Restart' })).toEqual(['check', 'request-restart', 'wait-restarted']);
    expect(names({ type: 'Backup' })).toBe('spec.type: Backup is not supported yet');
  });

  it('says which parameters of a Reconfigure apply live and which roll a restart, from the template', () => {
    const w = world();
    const live = stepsFor(operation({ type: 'Reconfigure', reconfigure: { parameters: { max_connections: '300' } } }), w);
    const rolled = stepsFor(operation({ type: 'Reconfigure', reconfigure: { parameters: { max_connections: '300', innodb_flush_method: 'O_DIRECT' } } }), w);
    if ('unsupported' in live || 'unsupported' in rolled) throw new Error('unsupported');
    expect(live.map((s) => s.name)).toEqual(['check', 'set-parameters', 'apply-live']);
    expect(rolled.map((s) => s.name)).toEqual(['check', 'set-parameters', 'rolling-restart']);
    expect(rolled[1]?.description).toContain('applied live: max_connections; with a rolling restart: innodb_flush_method');
  });
});

describe('a run', () => {
  it('scales 3 -> 5 through the service spec, every step Succeeded, with the conditions kubectl wait reads', () => {
    const w = world();
    const op = operation({ type: 'Scale', scale: { replicas: 5 } });
    const trace = drive(op, w);
    expect(trace).toEqual(['run:check', 'complete:check', 'run:set-replicas', 'complete:set-replicas', 'run:wait-ready', 'wait:wait-ready', 'complete:wait-ready', 'finish']);
    expect((w.service?.spec.topology as { replicas: number }).replicas).toBe(5);
    expect(op.status?.phase).toBe('Succeeded');
    expect(op.status?.steps?.map((s) => [s.name, s.phase])).toEqual([['check', 'Succeeded'], ['set-replicas', 'Succeeded'], ['wait-ready', 'Succeeded']]);
    expect(op.status?.steps?.find((s) => s.name === 'set-replicas')?.attempts).toBe(1);
    expect(op.status?.conditions?.map((c) => [c.type, c.status])).toEqual([['Failed', 'False'], ['Progressing', 'False'], ['Succeeded', 'True']]);
    expect(op.status?.startTime).toBeDefined();
    expect(op.status?.completionTime).toBeDefined();
  });

  it('does not write again a change that is already there (a restart between the write and the status)', () => {
    const w = world();
    const op = operation({ type: 'Scale', scale: { replicas: 5 } });
    step(op, w); step(op, w); // check
    (w.service as ServiceView).spec = { ...(w.service as ServiceView).spec, topology: { mode: 'async', replicas: 5 } };
    const d = plan(op, w);
    expect(d).toMatchObject({ kind: 'run', step: 'set-replicas', message: 'already so: nothing to change' });
    expect('effect' in d && d.effect).toBeFalsy();
  });

  it('makes again a step\'s effect that was recorded Running but never made (a kill between the record and the write)', () => {
    const w = world();
    const op = operation({ type: 'Switchover' });
    step(op, w); step(op, w); // check
    w.now = clock.now();
    const d = plan(op, w);
    expect(d).toMatchObject({ kind: 'run', step: 'switch-source' });
    op.status = operationStatus(op, d, w); // recorded; the process dies before the member's object is patched
    clock.step(backoffMs(1));
    w.now = clock.now();
    expect(plan(op, w)).toMatchObject({ kind: 'run', step: 'switch-source', effect: { on: 'compose', patch: { spec: { source: { unit: 'db-1' } } } } });
  });

  it('keeps a switchover\'s candidate once recorded: the old source, a replica now, is never chosen after a restart', () => {
    const w = world();
    const op = operation({ type: 'Switchover' });
    step(op, w); step(op, w);
    expect(step(op, w)).toMatchObject({ kind: 'run', step: 'switch-source' });
    expect(op.status?.candidate).toBe('db-1');
    // The member did it and the hub's view shows db-0 as the first ready replica: a new process reads the record.
    (w.service as ServiceView).status = { ...(w.service as ServiceView).status, source: 'db-1', units: [{ name: 'db-0', role: 'replica', ready: true }, { name: 'db-1', role: 'source', ready: true }, { name: 'db-2', role: 'replica', ready: true }] };
    const trace = drive(op, w, () => undefined);
    expect(trace.filter((t) => t === 'run:switch-source')).toEqual([]);
    expect(w.compose?.spec?.source).toEqual({ name: 'db-1', unit: 'db-1' });
    expect(op.status).toMatchObject({ phase: 'Succeeded', candidate: 'db-1' });
  });

  it('waits in the queue behind an earlier Operation of the service, and names it', () => {
    const first = operation({ type: 'Scale', scale: { replicas: 5 } }, 'a', '2026-01-01T00:00:00Z');
    const second = operation({ type: 'Reconfigure', reconfigure: { parameters: { max_connections: '300' } } }, 'b', '2026-01-01T00:00:00Z');
    const third = operation({ type: 'Switchover' }, 'c', '2026-01-01T00:00:01Z');
    const all = [first, second, third];
    const others = (o: Operation) => all.filter((x) => x !== o);
    expect(plan(first, world(service(), others(first))).kind).toBe('run');
    expect(plan(second, world(service(), others(second)))).toMatchObject({ kind: 'queue', waitingFor: 'a' });
    expect(plan(third, world(service(), others(third)))).toMatchObject({ kind: 'queue', waitingFor: 'a' });
    second.status = operationStatus(second, plan(second, world(service(), others(second))), world());
    expect(second.status).toMatchObject({ phase: 'Pending', waitingFor: 'a', message: 'waiting for Operation a on the same service' });
    first.status = { phase: 'Succeeded' };
    expect(plan(second, world(service(), others(second))).kind).toBe('run');
    expect(plan(third, world(service(), others(third)))).toMatchObject({ kind: 'queue', waitingFor: 'b' });
  });

  it('cancels a queued Operation without beginning it, and says nothing was changed', () => {
    const op = operation({ type: 'Scale', scale: { replicas: 5 }, cancel: true });
    const w = world(service(), [operation({ type: 'Scale', scale: { replicas: 4 } }, 'earlier', '2025-12-31T00:00:00Z')]);
    op.status = operationStatus(op, plan(op, w), w);
    expect(op.status.phase).toBe('Cancelled');
    expect(op.status.message).toBe('cancelled before it began: nothing was changed');
    expect(op.status.steps?.every((s) => s.phase === 'Cancelled')).toBe(true);
  });

  it('stops a running Operation after its current step, the rest Cancelled, naming what changed', () => {
    const w = world();
    const op = operation({ type: 'Scale', scale: { replicas: 5 } });
    step(op, w); step(op, w); step(op, w); // check, then set-replicas runs
    op.spec.cancel = true;
    expect(step(op, w).kind).toBe('complete');
    expect(step(op, w).kind).toBe('cancel');
    expect(op.status?.steps?.map((s) => s.phase)).toEqual(['Succeeded', 'Succeeded', 'Cancelled']);
    expect(op.status?.message).toBe('cancelled before step wait-ready; already changed: set servers to 5');
  });

  it('refuses a scale below the minimum and a storage shrink before changing anything, naming the field', () => {
    const below = operation({ type: 'Scale', scale: { replicas: 0 } });
    drive(below, world());
    expect(below.status).toMatchObject({ phase: 'Failed' });
    expect(below.status?.message).toBe('step check failed: precondition: spec.scale.replicas: 0 is below the minimum of 1 servers of a MysqlService; nothing was changed');
    const shrink = operation({ type: 'Scale', scale: { storage: { size: '512Mi' } } });
    drive(shrink, world());
    expect(shrink.status?.message).toContain('spec.scale.storage.size: 512Mi would shrink the storage (now 1Gi)');
    expect(shrink.status?.conditions?.find((c) => c.type === 'Failed')?.status).toBe('True');
  });

  it('refuses an upgrade to a version without a template', () => {
    const op = operation({ type: 'Upgrade', upgrade: { version: '11.4' } });
    drive(op, world());
    expect(op.status?.message).toBe('step check failed: precondition: template mariadb-11.4: missing; nothing was changed');
  });

  it('waits, without failing, while the cluster is not Ready, and goes on once it is', () => {
    const w = world();
    w.cluster = { name: 'member1', ready: false, message: 'no heartbeat' };
    const op = operation({ type: 'Scale', scale: { replicas: 5 } });
    expect(step(op, w)).toMatchObject({ kind: 'wait', step: 'check', message: 'cluster member1: not Ready (no heartbeat)' });
    expect(op.status?.phase).toBe('Pending');
    w.cluster = { name: 'member1', ready: true };
    expect(step(op, w)).toMatchObject({ kind: 'run', step: 'check' });
  });

  it('says a running step waits for its member while the cluster is not Ready, and spends no attempt on the member\'s objects', () => {
    const w = world();
    const scale = operation({ type: 'Scale', scale: { replicas: 5 } });
    drive(scale, w, () => undefined, 5);
    w.cluster = { name: 'member1', ready: false, message: 'the member did not answer' };
    expect(step(scale, w)).toMatchObject({ kind: 'wait', step: 'wait-ready' });
    expect(scale.status?.message).toMatch(/^wait-ready: waiting for the member: cluster member1: not Ready \(the member did not answer\); /);
    expect(scale.status?.phase).toBe('Running');
    const sw = operation({ type: 'Switchover' });
    const w2 = world();
    step(sw, w2); step(sw, w2);
    w2.cluster = { name: 'member1', ready: false };
    expect(step(sw, w2)).toMatchObject({ kind: 'wait', step: 'switch-source', message: 'waiting for the member: cluster member1: not Ready' });
    expect(sw.status?.steps?.[1]?.attempts).toBeUndefined();
  });

  it('tries a write that did not take again with backoff, and gives up after the limit', () => {
    const w = world();
    const op = operation({ type: 'Scale', scale: { replicas: 5 } });
    step(op, w); step(op, w);
    // The controller's write fails each time: it records a retry instead of the run.
    const fail = () => { w.now = clock.now(); const d = plan(op, w); op.status = operationStatus(op, d.kind === 'run' ? { kind: 'retry', step: d.step, message: 'connection refused', afterMs: 0 } : d, w); return d; };
    expect(fail().kind).toBe('run');
    expect(op.status?.steps?.[1]).toMatchObject({ phase: 'Running', attempts: 1, message: 'attempt 1 failed: connection refused' });
    clock.step(backoffMs(1) - 1);
    expect(fail()).toMatchObject({ kind: 'wait', afterMs: 1 });
    for (let i = 1; i < MAX_ATTEMPTS; i++) { clock.step(backoffMs(i)); expect(fail().kind).toBe('run'); }
    clock.step(backoffMs(MAX_ATTEMPTS));
    expect(fail()).toMatchObject({ kind: 'fail', step: 'set-replicas' });
    expect(op.status?.message).toBe(`step set-replicas failed: gave up after ${MAX_ATTEMPTS} attempts: attempt ${MAX_ATTEMPTS} failed: connection refused; already changed: set servers to 5`);
  });

  it('fails a step that outlives its timeout, and an Operation that outlives spec.timeoutSeconds', () => {
    const w = world();
    const op = operation({ type: 'Scale', scale: { replicas: 5 } });
    drive(op, w, () => undefined, 6);
    expect(op.status?.steps?.[2]?.phase).toBe('Running');
    clock.step(21 * 60_000);
    expect(step(op, w)).toMatchObject({ kind: 'fail', step: 'wait-ready' });
    expect(op.status?.message).toMatch(/^step wait-ready failed: did not finish within 1200 s: service db: its last change is not applied yet \(3\/3\); already changed: set servers to 5$/);

    const short = operation({ type: 'Scale', scale: { replicas: 5 }, timeoutSeconds: 30 });
    const w2 = world();
    drive(short, w2, () => undefined, 6);
    clock.step(31_000);
    expect(step(short, w2)).toMatchObject({ kind: 'fail', message: 'spec.timeoutSeconds: the Operation did not finish within 30 s' });
  });

  it('switches over by naming the candidate as the source of the compose object, done when the service reports it', () => {
    const w = world();
    const op = operation({ type: 'Switchover' });
    const trace = drive(op, w, () => { (w.service as ServiceView).status = { ...(w.service as ServiceView).status, source: 'db-1' }; });
    expect(trace).toContain('run:switch-source');
    expect(w.compose?.spec).toEqual({ source: { name: 'db-1', unit: 'db-1' }, replicas: [{ name: 'db-0', unit: 'db-0' }, { name: 'db-2', unit: 'db-2' }] });
    expect(op.status).toMatchObject({ phase: 'Succeeded', candidate: 'db-1' });
  });
});

describe('a MySQL switchover to a replica that is not in sync', () => {
  const lagging = (lag: number): World => {
    const w = world();
    const units = (w.service as ServiceView).status?.units ?? [];
    (w.service as ServiceView).status = { ...(w.service as ServiceView).status, units: units.map((u) => (u.name === 'db-2' ? { ...u, lagSeconds: lag } : u)) };
    return w;
  };

  it('fails at its check before anything changes, naming the field, the candidate and its lag', () => {
    const w = lagging(75);
    const op = operation({ type: 'Switchover', switchover: { candidate: 'db-2' } });
    expect(step(op, w)).toEqual({ kind: 'fail', step: 'check', message: 'precondition: spec.switchover.candidate: candidate db-2 in sync: no: 75 s behind db-0, more than the 60 s a switchover allows' });
    expect(op.status?.message).toBe('step check failed: precondition: spec.switchover.candidate: candidate db-2 in sync: no: 75 s behind db-0, more than the 60 s a switchover allows; nothing was changed');
    expect(w.compose?.spec?.source).toEqual({ name: 'db-0', unit: 'db-0' });
  });

  it('reads the lag and its bound from the member\'s MysqlReplication when it was read, and says "in sync: no" in the plan', () => {
    const w = lagging(0);
    w.compose = { ...w.compose!, spec: { ...w.compose!.spec, switchover: { maxLagSeconds: 5 } }, status: { topology: { 'db-2': { lagSeconds: 9 } } } };
    const op = operation({ type: 'Switchover', switchover: { candidate: 'db-2' } });
    const p = previewStatus(op, w);
    expect(p.steps?.[0]?.message).toBe('would fail: spec.switchover.candidate: candidate db-2 in sync: no: 9 s behind db-0, more than the 5 s a switchover allows');
    expect(p.message).toBe('would fail at step check');
    // Caught up: the same request is planned.
    w.compose = { ...w.compose, status: { topology: { 'db-2': { lagSeconds: 0 } } } };
    expect(previewStatus(op, w).steps?.[0]?.message).toBe('ready: service db: found; cluster member1: Ready; service db: Ready (3/3); candidate db-2 in sync: yes (lag 0 s, within 5 s)');
  });

  it('takes the ready replica least behind when none is named', () => {
    const w = lagging(75);
    expect(previewStatus(operation({ type: 'Switchover' }), w).candidate).toBe('db-1');
    const units = (w.service as ServiceView).status?.units ?? [];
    (w.service as ServiceView).status = { ...(w.service as ServiceView).status, units: units.map((u) => (u.name === 'db-1' ? { ...u, lagSeconds: 90 } : u)) };
    expect(previewStatus(operation({ type: 'Switchover' }), w).candidate).toBe('db-2');
  });

  it('waits while the lag is not reported', () => {
    const w = world();
    (w.service as ServiceView).status = { ...(w.service as ServiceView).status, units: (w.service as ServiceView).status?.units?.map(({ lagSeconds: _l, ...u }) => u) };
    expect(plan(operation({ type: 'Switchover', switchover: { candidate: 'db-1' } }), w)).toMatchObject({ kind: 'wait', step: 'check', message: 'candidate db-1: its lag is not reported yet' });
  });
});

describe('a Scale of storage', () => {
  it('fails at its check, naming the class, when the member\'s storage class of the service does not allow expansion', () => {
    const w = world();
    w.cluster = { name: 'member1', ready: true, storageClasses: [{ name: 'fixed', default: true, allowVolumeExpansion: false }, { name: 'grow', default: false, allowVolumeExpansion: true }] };
    const op = operation({ type: 'Scale', scale: { storage: { size: '2Gi' } } });
    expect(previewStatus(op, w).steps?.[0]?.message).toBe('would fail: spec.scale.storage.size: the storage class "fixed" of Cluster "member1" does not allow volume expansion');
    expect(step(op, w)).toEqual({ kind: 'fail', step: 'check', message: 'precondition: spec.scale.storage.size: the storage class "fixed" of Cluster "member1" does not allow volume expansion' });
    expect((w.service as ServiceView).spec.storage).toEqual({ size: '1Gi' });
    // The service's own class, when it names one, is the one that counts.
    const on = world();
    on.cluster = w.cluster;
    (on.service as ServiceView).spec.storage = { size: '1Gi', storageClassName: 'grow' };
    expect(previewStatus(operation({ type: 'Scale', scale: { storage: { size: '2Gi' } } }), on).steps?.[0]?.message).toBe('ready: service db: found; cluster member1: Ready; service db: Ready (3/3); storage: 1Gi -> 2Gi; storage class grow: allows expansion');
  });

  it('is done only once every server\'s volume reports the new size, not when the spec says it', () => {
    const w = world();
    const op = operation({ type: 'Scale', scale: { storage: { size: '2Gi' } } });
    // The services controller applied it and the service is Ready, but the claims still have their old size.
    const trace = drive(op, w, () => settle(w), 8);
    expect(trace).toContain('run:grow-storage');
    expect((w.service as ServiceView).spec.storage).toEqual({ size: '2Gi' });
    expect(op.status?.phase).toBe('Running');
    expect(op.status?.message).toBe('wait-ready: volumes not grown to 2Gi yet: db-0 1Gi, db-1 1Gi, db-2 1Gi');
    const s = w.service as ServiceView;
    s.status = { ...s.status, units: s.status?.units?.map((u) => ({ ...u, storage: '2Gi' })) };
    drive(op, w, () => undefined, 4);
    expect(op.status?.phase).toBe('Succeeded');
  });
});

describe('plan preview', () => {
  it('lists the steps as they would run with each precondition evaluated now', () => {
    const st = previewStatus(operation({ type: 'Upgrade', upgrade: { version: '11.4' } }), world());
    expect(st.steps?.map((s) => s.name)).toEqual(['check', 'set-version', 'wait-ready']);
    expect(st.steps?.[0]?.message).toBe('would fail: template mariadb-11.4: missing');
    expect(st.message).toBe('would fail at step check');
    const ok = previewStatus(operation({ type: 'Scale', scale: { replicas: 5 } }), world());
    expect(ok.steps?.[0]?.message).toBe('ready: service db: found; cluster member1: Ready; service db: Ready (3/3); spec.scale.replicas: 5 servers (1 to 9)');
    expect(ok.message).toBe('plan: check, set-replicas, wait-ready');
  });
});
