// Failover of a MysqlService: refused while the source is up (use a Switchover), the named or most advanced reachable
// replica asked of the member's MysqlReplication once (spec.failover.request with the Operation's uid), done when the
// member records that request's failover and the candidate takes writes, failed with the member's reason when it
// refuses; a failover the engine made by itself changes nothing (or is refused when another server was named). A
// RedisService without Sentinel goes through its RedisReplication spec.source; with Sentinel a named replica goes
// through its spec.failover.request, and without a name the Operation waits for the Sentinels' own election.
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { engineTemplates } from '../templates.ts';
import { plan } from './plan.ts';
import { operationStatus, previewStatus } from './status.ts';
import { stepsFor } from './steps.ts';
import type { Decision, Operation, OperationSpec, ServiceUnit, ServiceView, World } from './types.ts';

const TEMPLATES = engineTemplates(join(import.meta.dirname, '..', '..', 'config', 'templates'));
const NOW = new Date('2026-01-01T00:00:00Z');

function db(units: ServiceUnit[], source = ''): ServiceView {
  return {
    apiVersion: 'internal.upm.io/v1alpha1', kind: 'MysqlServiceRecord', metadata: { name: 'db', namespace: 'p', generation: 1 },
    spec: { engine: 'mariadb', version: '10.11', topology: { mode: 'async', replicas: 3 }, placement: { cluster: 'member1' } },
    status: { observedGeneration: 1, phase: source ? 'Ready' : 'Degraded', ready: '2/3', source, units },
  };
}
/** db-0 down: the replicas are reachable but not ready (their IO threads lost it). */
const sourceDown: ServiceUnit[] = [{ name: 'db-0', role: 'none', ready: false }, { name: 'db-1', role: 'replica', ready: false }, { name: 'db-2', role: 'replica', ready: false }];
const allUp: ServiceUnit[] = [{ name: 'db-0', role: 'source', ready: true }, { name: 'db-1', role: 'replica', ready: true }, { name: 'db-2', role: 'replica', ready: true }];

type Node = { status: 'Healthy' | 'Failed'; role: 'Source' | 'Replica' | 'None'; gtidPosition?: string };
function mr(source: string, topology: Record<string, Node>, status: Record<string, unknown> = {}, spec: Record<string, unknown> = {}): NonNullable<World['compose']> {
  return { metadata: { name: 'db' }, spec: { source: { name: source, unit: source }, ...spec }, status: { source: '', topology, ...status } };
}
const downTopology: Record<string, Node> = {
  'db-0': { status: 'Failed', role: 'None' }, 'db-1': { status: 'Healthy', role: 'Replica', gtidPosition: '0-1-40' }, 'db-2': { status: 'Healthy', role: 'Replica', gtidPosition: '0-1-42' },
};

function op(spec: Omit<OperationSpec, 'target'>): Operation {
  return { metadata: { name: 'fo', namespace: 'p', uid: 'uid-1', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { target: { kind: 'MysqlService', name: 'db' }, ...spec } };
}
function world(service: ServiceView, compose?: World['compose']): World {
  return { service, cluster: { name: 'member1', ready: true }, templates: TEMPLATES, others: [], now: NOW, ...(compose ? { compose } : {}) };
}
function runUntilWait(o: Operation, w: World): Decision[] {
  const out: Decision[] = [];
  for (let i = 0; i < 10; i++) {
    const d = plan(o, w);
    out.push(d);
    o.status = operationStatus(o, d, w);
    if (!['run', 'complete'].includes(d.kind) || (d.kind === 'run' && d.effect)) break;
  }
  return out;
}

describe('Failover of a MysqlService', () => {
  it('previews check, request-failover, wait-promoted from the hub\'s view, the source down and the named replica reachable', () => {
    const o = op({ type: 'Failover', failover: { candidate: 'db-1' } });
    const w = world(db(sourceDown));
    const d = stepsFor(o, w);
    expect('unsupported' in d ? d : d.map((s) => s.name)).toEqual(['check', 'request-failover', 'wait-promoted']);
    const p = previewStatus(o, w);
    expect(p.steps?.[0]?.message).toBe('ready: service db: found; cluster member1: Ready; source db-0: down; candidate db-1: a reachable replica');
    expect(p.candidate).toBe('db-1');
  });

  it('is refused before anything changes while the source is up: use a Switchover', () => {
    const o = op({ type: 'Failover', failover: { candidate: 'db-1' } });
    const up = mr('db-0', { 'db-0': { status: 'Healthy', role: 'Source' }, 'db-1': { status: 'Healthy', role: 'Replica' }, 'db-2': { status: 'Healthy', role: 'Replica' } }, { source: 'db-0' });
    for (const w of [world(db(allUp, 'db-0')), world(db(allUp, 'db-0'), up)]) {
      const d = plan(op({ type: 'Failover', failover: { candidate: 'db-1' } }), w);
      expect(d).toEqual({ kind: 'fail', step: 'check', message: 'precondition: spec.type: the source db-0 is up and takes writes: a Failover is only for a source that is down; use a Switchover' });
    }
    expect(previewStatus(o, world(db(allUp, 'db-0'))).message).toBe('would fail at step check');
  });

  it('refuses a candidate that is down, not a server of the service, or the failed source', () => {
    const w = world(db(sourceDown), mr('db-0', { ...downTopology, 'db-2': { status: 'Failed', role: 'None' } }));
    const msg = (candidate: string) => { const d = plan(op({ type: 'Failover', failover: { candidate } }), w); return d.kind === 'fail' ? d.message : d.kind; };
    expect(msg('db-2')).toBe('precondition: spec.failover.candidate: db-2 is down too');
    expect(msg('db-0')).toBe('precondition: spec.failover.candidate: db-0 is down: it is the source that failed');
    expect(msg('other-1')).toBe('precondition: spec.failover.candidate: other-1 is not a server of service db');
  });

  it('picks the reachable replica with the most advanced GTID position when none is named, and asks the member once', () => {
    const o = op({ type: 'Failover' });
    const w = world(db(sourceDown), mr('db-0', downTopology));
    const ds = runUntilWait(o, w);
    const run = ds.at(-1);
    expect(run).toMatchObject({ kind: 'run', step: 'request-failover', effect: { on: 'compose', kind: 'MysqlReplication', name: 'db', patch: { spec: { failover: { request: { id: 'uid-1', candidate: 'db-2' } } } } } });
    expect(o.status?.candidate).toBe('db-2');
    expect(o.status?.steps?.[0]?.message).toContain('candidate db-2: the most advanced reachable replica (db-1 0-1-40, db-2 0-1-42)');
    // The request is there: the step is not made again; the wait goes on until the member records it.
    w.compose = mr('db-0', downTopology, {}, { failover: { request: { id: 'uid-1', candidate: 'db-2' } } });
    expect(runUntilWait(o, w).at(-1)).toMatchObject({ kind: 'wait', step: 'wait-promoted', message: 'waiting for the member to promote db-2' });
    w.compose = mr('db-2', { ...downTopology, 'db-2': { status: 'Healthy', role: 'Source', gtidPosition: '0-1-42' } }, {
      source: 'db-2', lastFailover: { from: 'db-0', to: 'db-2', request: 'uid-1', lostTransactions: 0 }, failoverRequest: { id: 'uid-1', outcome: 'Done' },
    }, { failover: { request: { id: 'uid-1', candidate: 'db-2' } } });
    const end = runUntilWait(o, w);
    expect(end.map((d) => d.kind)).toEqual(['complete', 'finish']);
    expect(o.status?.phase).toBe('Succeeded');
    expect(o.status?.steps?.[2]?.message).toBe('db-2 takes the writes (promoted from db-0, 0 transactions of the old source\'s last seen position lost)');
  });

  it('fails with the member\'s reason when the member refuses the request', () => {
    const o = op({ type: 'Failover', failover: { candidate: 'db-1' } });
    const w = world(db(sourceDown), mr('db-0', downTopology));
    runUntilWait(o, w);
    w.compose = mr('db-0', downTopology, { failoverRequest: { id: 'uid-1', outcome: 'Refused', message: 'spec.failover.request.candidate: db-1 holds transactions the source never had' } }, { failover: { request: { id: 'uid-1', candidate: 'db-1' } } });
    const d = runUntilWait(o, w).at(-1);
    expect(d).toEqual({ kind: 'fail', step: 'wait-promoted', message: 'the member refused the failover: spec.failover.request.candidate: db-1 holds transactions the source never had' });
  });

  it('changes nothing when the engine already failed over (its old source still down), and refuses another named server', () => {
    const after = mr('db-1', { ...downTopology, 'db-1': { status: 'Healthy', role: 'Source', gtidPosition: '0-2-3' } }, {
      source: 'db-1', lastFailover: { time: '2025-12-31T23:59:00Z', from: 'db-0', to: 'db-1', reason: 'source db-0 unreachable' },
    });
    const o = op({ type: 'Failover' });
    const w = world(db(sourceDown, 'db-1'), after);
    const ds = runUntilWait(o, w);
    expect(ds.map((d) => d.kind)).toEqual(['run', 'complete', 'run', 'complete', 'run', 'complete', 'finish']);
    expect(ds.some((d) => d.kind === 'run' && d.effect)).toBe(false);
    expect(o.status?.steps?.map((s) => s.message)).toEqual([
      'service db: found; cluster member1: Ready; the engine already failed over from db-0 to db-1 at 2025-12-31T23:59:00Z (db-0 is still down): nothing left to do',
      'nothing asked: the engine already promoted db-1',
      'the engine already failed over from db-0 to db-1 at 2025-12-31T23:59:00Z',
    ]);
    const other = plan(op({ type: 'Failover', failover: { candidate: 'db-2' } }), w);
    expect(other).toMatchObject({ kind: 'fail', message: 'precondition: spec.failover.candidate: the engine already failed over from db-0 to db-1 at 2025-12-31T23:59:00Z (db-0 is still down); to move the writes to db-2, use a Switchover' });
    // Once the old source is back, it is an ordinary source that is up.
    w.compose = after;
    (after.status?.topology as Record<string, Node>)['db-0'] = { status: 'Healthy', role: 'Replica' };
    expect(plan(op({ type: 'Failover' }), w)).toMatchObject({ kind: 'fail', message: expect.stringContaining('the source db-1 is up and takes writes') });
  });

  it('is not supported yet for the other kinds', () => {
    const o = { ...op({ type: 'Failover' }), spec: { type: 'Failover', target: { kind: 'KafkaService', name: 'db' } } };
    expect(stepsFor(o, world(db(sourceDown)))).toEqual({ unsupported: 'spec.type: Failover of a KafkaService is not supported yet' });
  });
});

describe('Failover of a RedisService', () => {
  function redis(units: ServiceUnit[], sentinel: boolean): ServiceView {
    return {
      apiVersion: 'internal.upm.io/v1alpha1', kind: 'RedisServiceRecord', metadata: { name: 'r', namespace: 'p', generation: 1 },
      spec: { version: '7.2', topology: { mode: 'replication', replicas: 3 }, ...(sentinel ? { options: { sentinel: { enabled: true } } } : {}), placement: { cluster: 'member1' } },
      status: { observedGeneration: 1, phase: 'Degraded', ready: '0/3', units },
    };
  }
  const units: ServiceUnit[] = [{ name: 'r-0', role: 'none', ready: false }, { name: 'r-1', role: 'replica', ready: false }, { name: 'r-2', role: 'replica', ready: false }];
  type RNode = { status: 'Healthy' | 'Failed'; role: 'Source' | 'Replica' | 'None'; offset?: number };
  const rr = (source: string, topology: Record<string, RNode>, status: Record<string, unknown> = {}, sentinel = false): NonNullable<World['compose']> =>
    ({ metadata: { name: 'r' }, spec: { source: { name: source, unit: source }, ...(sentinel ? { sentinel: { nodes: [] } } : {}) }, status: { source: '', topology, ...status } });
  const down: Record<string, RNode> = { 'r-0': { status: 'Failed', role: 'None' }, 'r-1': { status: 'Healthy', role: 'Replica', offset: 900 }, 'r-2': { status: 'Healthy', role: 'Replica', offset: 1000 } };
  const rop = (spec: Omit<OperationSpec, 'target'>): Operation => ({ ...op(spec), spec: { target: { kind: 'RedisService', name: 'r' }, ...spec } });

  it('without Sentinel: names the most advanced replica (by offset) as the RedisReplication source, done when it takes the writes', () => {
    const o = rop({ type: 'Failover' });
    const w = world(redis(units, false), rr('r-0', down));
    const run = runUntilWait(o, w).at(-1);
    expect(run).toMatchObject({ kind: 'run', step: 'set-source', effect: { on: 'compose', kind: 'RedisReplication', name: 'r', patch: { spec: { source: { name: 'r-2', unit: 'r-2' }, replicas: [{ name: 'r-0', unit: 'r-0' }, { name: 'r-1', unit: 'r-1' }] } } } });
    expect(o.status?.candidate).toBe('r-2');
    w.compose = rr('r-2', down);
    expect(runUntilWait(o, w).at(-1)).toMatchObject({ kind: 'wait', step: 'wait-promoted' });
    w.compose = rr('r-2', { ...down, 'r-2': { status: 'Healthy', role: 'Source', offset: 1000 } }, { source: 'r-2', lastFailover: { from: 'r-0', to: 'r-2', by: 'Operator' } });
    runUntilWait(o, w);
    expect(o.status?.phase).toBe('Succeeded');
    expect(o.status?.steps?.[2]?.message).toBe('r-2 takes the writes (promoted from r-0 by the Operator)');
  });

  it('with Sentinel: waits for the Sentinels, then reports their failover without changing anything', () => {
    const o = rop({ type: 'Failover' });
    const w = world(redis(units, true), rr('r-0', down, {}, true));
    expect(runUntilWait(o, w).at(-1)).toMatchObject({ kind: 'wait', step: 'check', message: expect.stringContaining('the Sentinels fail the master over by themselves') });
    w.compose = rr('r-1', { ...down, 'r-1': { status: 'Healthy', role: 'Source', offset: 900 } }, { source: 'r-1', lastFailover: { time: '2026-01-01T00:00:00Z', from: 'r-0', to: 'r-1', by: 'Sentinel' } }, true);
    const ds = runUntilWait(o, w);
    expect(ds.some((d) => d.kind === 'run' && d.effect)).toBe(false);
    expect(o.status?.phase).toBe('Succeeded');
    expect(o.status?.candidate).toBe('r-1');
    expect(o.status?.steps?.[0]?.message).toContain('the engine already failed over from r-0 to r-1 at 2026-01-01T00:00:00Z (r-0 is still down): nothing left to do');
  });

  it('with Sentinel: reports the election the member noted with spec.source before its status.lastFailover follows', () => {
    const o = rop({ type: 'Failover' });
    const w = world(redis(units, true), rr('r-0', down, {}, true));
    expect(runUntilWait(o, w).at(-1)).toMatchObject({ kind: 'wait', step: 'check' });
    const moved = rr('r-2', { ...down, 'r-2': { status: 'Healthy', role: 'Source', offset: 1000 } }, { source: 'r-2' }, true);
    moved.metadata = { ...moved.metadata, annotations: { 'compose.upm.io/last-failover': JSON.stringify({ time: '2026-01-01T00:00:00Z', from: 'r-0', to: 'r-2', by: 'Sentinel' }) } };
    w.compose = moved;
    expect(runUntilWait(o, w).some((d) => d.kind === 'run' && d.effect)).toBe(false);
    expect(o.status?.phase).toBe('Succeeded');
    expect(o.status?.candidate).toBe('r-2');
  });

  it('with Sentinel and a named replica: previews what the Sentinels are asked, writes the request once, done when the member records it', () => {
    const o = rop({ type: 'Failover', failover: { candidate: 'r-1' } });
    const w = world(redis(units, true), rr('r-0', down, {}, true));
    const d = stepsFor(o, w);
    expect('unsupported' in d ? d : d.map((s) => s.name)).toEqual(['check', 'request-failover', 'wait-promoted']);
    expect(previewStatus(o, w).steps?.[0]?.message).toBe('ready: service r: found; cluster member1: Ready; source r-0: down; candidate r-1: a reachable replica at 900; '
      + 'the Sentinels are asked to fail over to r-1; the other replicas are held at priority 0 until it is done');
    expect(runUntilWait(o, w).at(-1)).toMatchObject({ kind: 'run', step: 'request-failover', effect: { on: 'compose', kind: 'RedisReplication', name: 'r', patch: { spec: { failover: { request: { id: 'uid-1', candidate: 'r-1' } } } } } });
    const asked = { ...rr('r-0', down, {}, true) };
    asked.spec = { ...asked.spec, failover: { request: { id: 'uid-1', candidate: 'r-1' } } };
    w.compose = asked;
    const waiting = runUntilWait(o, w);
    expect(waiting.some((x) => x.kind === 'run' && x.effect)).toBe(false);
    expect(waiting.at(-1)).toMatchObject({ kind: 'wait', step: 'wait-promoted', message: 'waiting for the member to promote r-1' });
    const done = rr('r-1', { ...down, 'r-1': { status: 'Healthy', role: 'Source', offset: 900 } }, {
      source: 'r-1', lastFailover: { from: 'r-0', to: 'r-1', by: 'Sentinel', request: 'uid-1' }, failoverRequest: { id: 'uid-1', outcome: 'Done' },
    }, true);
    w.compose = { ...done, spec: { ...done.spec, failover: { request: { id: 'uid-1', candidate: 'r-1' } } } };
    runUntilWait(o, w);
    expect(o.status?.phase).toBe('Succeeded');
    expect(o.status?.steps?.[2]?.message).toBe('r-1 takes the writes (promoted from r-0 by the Sentinels, as requested)');
  });

  it('with Sentinel and a named replica: fails with the member\'s reason when it refuses', () => {
    const o = rop({ type: 'Failover', failover: { candidate: 'r-1' } });
    const w = world(redis(units, true), rr('r-0', down, {}, true));
    runUntilWait(o, w);
    const refused = rr('r-0', down, { failoverRequest: { id: 'uid-1', outcome: 'Refused', message: 'spec.failover.request.candidate: r-1 has replica-priority 0: it is configured never to be promoted' } }, true);
    w.compose = { ...refused, spec: { ...refused.spec, failover: { request: { id: 'uid-1', candidate: 'r-1' } } } };
    expect(runUntilWait(o, w).at(-1)).toEqual({ kind: 'fail', step: 'wait-promoted', message: 'the member refused the failover: spec.failover.request.candidate: r-1 has replica-priority 0: it is configured never to be promoted' });
  });

  it('is refused while the master is up', () => {
    const up = rr('r-0', { ...down, 'r-0': { status: 'Healthy', role: 'Source' } }, { source: 'r-0' });
    expect(plan(rop({ type: 'Failover' }), world(redis(units, false), up))).toMatchObject({ kind: 'fail', message: 'precondition: spec.type: the source r-0 is up and takes writes: a Failover is only for a source that is down; use a Switchover' });
  });
});
