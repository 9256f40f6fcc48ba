// The step lists that differ by kind: a RedisService's switchover through its RedisReplication (candidate named or
// the best one, a replica not in sync refused), and when a Scale is over for Redis (Sentinels not counted), Redis
// Cluster (slots settled, not only servers ready) and ZooKeeper (its bounds).
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { engineTemplates } from '../templates.ts';
import { plan } from './plan.ts';
import { operationStatus, previewStatus } from './status.ts';
import { scaleSettled } from './steps-kinds.ts';
import { stepsFor } from './steps.ts';
import type { Decision, Operation, OperationSpec, ServiceUnit, ServiceView, World } from './types.ts';

const TEMPLATES = engineTemplates(join(import.meta.dirname, '..', '..', 'config', 'templates'));
const NOW = new Date('2026-01-01T00:00:00Z');

function redis(units: ServiceUnit[], master = 'r-0'): ServiceView {
  return {
    apiVersion: 'internal.upm.io/v1alpha1', kind: 'RedisServiceRecord', metadata: { name: 'r', namespace: 'p', generation: 1 },
    spec: { version: '7.2', topology: { mode: 'replication', replicas: 3 }, options: { sentinel: { enabled: true } }, placement: { cluster: 'member1' } },
    status: { observedGeneration: 1, phase: 'Ready', ready: `${units.length}/${units.length}`, master, units },
  };
}
const sentinels: ServiceUnit[] = [0, 1, 2].map((i) => ({ name: `r-sentinel-${i}`, role: 'sentinel', ready: true }));
const servers = (n: number, notInSync: string[] = []): ServiceUnit[] => Array.from({ length: n }, (_, i) => ({ name: `r-${i}`, role: i === 0 ? 'source' : 'replica', ready: !notInSync.includes(`r-${i}`) }));

function op(kind: string, name: string, spec: Omit<OperationSpec, 'target'>): Operation {
  return { metadata: { name: 'o', namespace: 'p', uid: 'o', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { target: { kind, name }, ...spec } };
}
function world(service: ServiceView, compose?: World['compose']): World {
  return { service, cluster: { name: 'member1', ready: true }, templates: TEMPLATES, others: [], now: NOW, ...(compose ? { compose } : {}) };
}
const names = (o: Operation, w: World) => { const d = stepsFor(o, w); return 'unsupported' in d ? d.unsupported : d.map((s) => s.name); };

/** Plans and records until the planner waits or ends: the decisions taken. */
function runUntilWait(o: Operation, w: World): Decision[] {
  const out: Decision[] = [];
  for (let i = 0; i < 10; i++) {
    const d = plan(o, w);
    out.push(d);
    if (d.kind === 'run' && d.effect?.on === 'compose' && w.compose) w.compose = { ...w.compose, spec: { ...w.compose.spec, ...(d.effect.patch.spec as Record<string, unknown>) } };
    o.status = operationStatus(o, d, w);
    if (!['run', 'complete'].includes(d.kind) || (d.kind === 'run' && d.effect)) break;
  }
  return out;
}

describe('Switchover of a RedisService', () => {
  const rr = (source: string) => ({ metadata: { name: 'r' }, spec: { source: { name: source, unit: source } }, status: { topology: { 'r-1': { lagBytes: 0 }, 'r-2': { lagBytes: 42 } } } });

  it('plans check, switch-source, wait-source, the named replica in sync', () => {
    const o = op('RedisService', 'r', { type: 'Switchover', switchover: { candidate: 'r-2' } });
    const w = world(redis([...servers(3), ...sentinels]), rr('r-0'));
    expect(names(o, w)).toEqual(['check', 'switch-source', 'wait-source']);
    const p = previewStatus(o, w);
    expect(p.candidate).toBe('r-2');
    expect(p.steps?.[0]?.message).toBe('ready: service r: found; cluster member1: Ready; service r: Ready (6/6); candidate r-2 in sync: yes, lag 42 bytes');
  });

  it('names the candidate as the RedisReplication source with the others as its replicas, then waits until the hub reports it the master', () => {
    const o = op('RedisService', 'r', { type: 'Switchover', switchover: { candidate: 'r-1' } });
    const w = world(redis([...servers(3), ...sentinels]), rr('r-0'));
    const ds = runUntilWait(o, w);
    const run = ds.find((d) => d.kind === 'run' && d.effect);
    expect(run).toMatchObject({ step: 'switch-source', effect: { on: 'compose', kind: 'RedisReplication', name: 'r', patch: { spec: { source: { name: 'r-1', unit: 'r-1' }, replicas: [{ name: 'r-0', unit: 'r-0' }, { name: 'r-2', unit: 'r-2' }] } } } });
    // Done at once (the write is there), then waiting for the member to report it.
    runUntilWait(o, w);
    expect(plan(o, w)).toMatchObject({ kind: 'wait', step: 'wait-source', message: 'the master is still r-0' });
    w.service = redis([{ name: 'r-0', role: 'replica', ready: true }, { name: 'r-1', role: 'source', ready: true }, { name: 'r-2', role: 'replica', ready: true }, ...sentinels], 'r-1');
    expect(runUntilWait(o, w).map((d) => d.kind)).toEqual(['complete', 'finish']);
    expect(o.status?.phase).toBe('Succeeded');
    expect(o.status?.candidate).toBe('r-1');
    // The switch was made once: a repeated plan finds it there.
    expect(o.status?.steps?.find((s) => s.name === 'switch-source')?.attempts).toBe(1);
  });

  it('takes the first replica in sync when none is named', () => {
    const o = op('RedisService', 'r', { type: 'Switchover' });
    const w = world(redis([...servers(3, ['r-1']), ...sentinels]));
    // r-1 is not in sync, so the service is not Ready either; the best candidate is still r-2.
    expect(previewStatus(o, world(redis([...servers(3), ...sentinels]))).candidate).toBe('r-1');
    expect(previewStatus(o, w).candidate).toBe('r-2');
  });

  it('refuses a named replica that is not in sync, a Sentinel, and the master itself, naming the field', () => {
    const fail = (candidate: string, units: ServiceUnit[]) => plan(op('RedisService', 'r', { type: 'Switchover', switchover: { candidate } }), world(redis(units)));
    expect(fail('r-2', [...servers(3, ['r-2']), ...sentinels])).toEqual({ kind: 'fail', step: 'check', message: 'precondition: spec.switchover.candidate: r-2 is not a replica in sync with the master (replica, not ready)' });
    expect(fail('r-sentinel-0', [...servers(3), ...sentinels])).toMatchObject({ kind: 'fail', message: 'precondition: spec.switchover.candidate: r-sentinel-0 is not a Redis server of service r' });
    expect(fail('r-0', [...servers(3), ...sentinels])).toMatchObject({ kind: 'fail', message: 'precondition: spec.switchover.candidate: r-0 already takes the writes' });
    expect(plan(op('RedisService', 'r', { type: 'Switchover' }), world(redis([{ name: 'r-0', role: 'source', ready: true }])))).toMatchObject({ kind: 'fail', message: 'precondition: spec.type: service r has no replica in sync to hand over to' });
  });

  it('is still unsupported on a Redis Cluster', () => {
    expect(names(op('RedisClusterService', 'rc', { type: 'Switchover' }), world(redis(servers(3))))).toBe('spec.type: Switchover of a RedisClusterService is not supported yet');
  });
});

describe('Scale: when it is over, by kind', () => {
  it('counts the Redis servers, not the Sentinels', () => {
    const o = op('RedisService', 'r', { type: 'Scale', scale: { replicas: 3 } });
    expect(scaleSettled(o, world(redis([...servers(2), ...sentinels])))).toEqual({ ok: false, message: '2 of 3 servers ready' });
    expect(scaleSettled(o, world(redis([...servers(3, ['r-2']), ...sentinels])))).toEqual({ ok: false, message: '2 of 3 servers ready' });
    expect(scaleSettled(o, world(redis([...servers(3), ...sentinels])))).toEqual({ ok: true, message: '3 servers ready' });
  });

  const rc = (status: Record<string, unknown>, units: number, shards = 4): ServiceView => ({
    apiVersion: 'internal.upm.io/v1alpha1', kind: 'RedisClusterServiceRecord', metadata: { name: 'rc', namespace: 'p', generation: 2 },
    spec: { version: '7.2', topology: { shards, replicasPerShard: 1 }, placement: { cluster: 'member1' } },
    status: { observedGeneration: 2, phase: 'Ready', units: Array.from({ length: units }, (_, i) => ({ name: `rc-${i}`, role: i % 2 ? 'replica' : 'master', ready: true })), ...status },
  });

  it('waits for a Redis Cluster\'s slots to be settled, not only for its servers', () => {
    const grow = op('RedisClusterService', 'rc', { type: 'Scale', scale: { shards: 4 } });
    expect(names(grow, world(rc({}, 6, 3)))).toEqual(['check', 'set-shards', 'wait-ready']);
    const settledBy = (status: Record<string, unknown>, units = 8) => scaleSettled(grow, world(rc(status, units)));
    const base = { slotsAssigned: 16384, shards: 4, reshard: '', leavingNodes: 0 };
    expect(settledBy({ ...base, slotsAssigned: 12288 })).toEqual({ ok: false, message: '12288 of 16384 slots assigned' });
    expect(settledBy({ ...base, reshard: 'Rebalance: 896 slots left to move from rc-0 to rc-6 (128 moved)' })).toEqual({ ok: false, message: 'slots moving: Rebalance: 896 slots left to move from rc-0 to rc-6 (128 moved)' });
    expect(settledBy({ ...base, shards: 3 })).toEqual({ ok: false, message: '3 of 4 shards hold slots' });
    expect(settledBy(base, 6)).toEqual({ ok: false, message: '6 servers run, 8 wanted' });
    expect(settledBy(base)).toEqual({ ok: true, message: '4 shards hold all 16384 slots, none moving; 8 servers ready' });

    // A shrink: the shard left the spec, so 3 shards hold slots at once; it is over when the leaving nodes are drained and gone.
    const shrink = op('RedisClusterService', 'rc', { type: 'Scale', scale: { shards: 3 } });
    const after = (status: Record<string, unknown>, units: number) => scaleSettled(shrink, world(rc(status, units, 3)));
    expect(after({ ...base, shards: 3, reshard: 'Drain: 3968 slots left to move from rc-6 to rc-0 (128 moved)', leavingNodes: 2 }, 8)).toMatchObject({ ok: false, message: expect.stringMatching(/^slots moving: Drain/) });
    expect(after({ ...base, shards: 3, leavingNodes: 2 }, 8)).toEqual({ ok: false, message: '2 nodes still leaving the cluster' });
    expect(after({ ...base, shards: 3 }, 8)).toEqual({ ok: false, message: '8 servers run, 6 wanted' });
    expect(after({ ...base, shards: 3 }, 6)).toMatchObject({ ok: true });
  });

  it('holds a ZooKeeper ensemble to 3 to 7 servers, odd', () => {
    const zk: ServiceView = {
      apiVersion: 'internal.upm.io/v1alpha1', kind: 'ZookeeperServiceRecord', metadata: { name: 'zk', namespace: 'p', generation: 1 },
      spec: { version: '3.8', topology: { replicas: 3 }, placement: { cluster: 'member1' } },
      status: { observedGeneration: 1, phase: 'Ready', ready: '3/3', units: ['follower', 'leader', 'follower'].map((role, i) => ({ name: `zk-${i}`, role, ready: true })) },
    };
    const scale = (replicas: number) => plan(op('ZookeeperService', 'zk', { type: 'Scale', scale: { replicas } }), world(zk));
    expect(scale(1)).toMatchObject({ kind: 'fail', message: 'precondition: spec.scale.replicas: 1 is below the minimum of 3 servers of a ZookeeperService' });
    expect(scale(4)).toMatchObject({ kind: 'fail', message: 'precondition: spec.scale.replicas: 4 must be odd: a ZookeeperService needs a majority of its servers' });
    expect(scale(5)).toMatchObject({ kind: 'run', step: 'check' });
  });
});
