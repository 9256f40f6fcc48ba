import { describe, expect, it } from '@jest/globals';
import {
  balanceMoves, drainMoves, minIsrBlocker, nextStep, quorumBlocker, replicaCounts, requiredReplication, restartOrder, rolesOf, unitsFor,
  type ClusterSnapshot, type Node, type PartitionState, type PlanInput, type Quorum,
} from './plan.ts';

const NOW = 1_000_000;
const part = (topic: string, partition: number, replicas: number[], isr = replicas): PartitionState => ({ topic, partition, leader: isr[0] ?? -1, replicas, isr });
/** A topic of n partitions with RF replicas each, spread round-robin over the brokers. */
function topic(name: string, n: number, rf: number, brokers: number[]): PartitionState[] {
  return Array.from({ length: n }, (_, i) => part(name, i, Array.from({ length: rf }, (_, k) => brokers[(i + k) % brokers.length] ?? 0)));
}
const quorum = (leader: number, ids: number[], stale: number[] = []): Quorum => ({
  leader, epoch: 3, highWatermark: 100,
  voters: ids.map((id) => ({ id, logEndOffset: stale.includes(id) ? 40 : 100, lastCaughtUpMs: stale.includes(id) ? NOW - 60_000 : NOW - 100, lastFetchMs: NOW - 100 })),
});
const world = (brokers: number[], partitions: PartitionState[], extra: Partial<ClusterSnapshot> = {}): ClusterSnapshot => ({
  clusterId: 'c', brokers, partitions, minIsr: new Map([['orders', 2]]), quorum: quorum(1, [1, 2, 3]), reassigning: [], disagreeing: [], ...extra,
});
const nodes = (n: number, roles: 'Combined' | 'Dedicated' = 'Combined', controllers = 3): Node[] =>
  Array.from({ length: n }, (_, o) => ({ ordinal: o, id: o + 1, unit: `k-${o}`, ready: true, ...rolesOf(o, roles, controllers) }));
function input(over: Partial<PlanInput> = {}): PlanInput {
  return {
    roles: 'Combined', controllers: 3, desiredUnits: 3, unitSetUnits: 3, nodes: nodes(3), outdated: [], updating: [], updateNext: [],
    world: world([1, 2, 3], topic('orders', 6, 3, [1, 2, 3])), configuredReplication: 3, rebalanceOnScaleOut: false,
    balancedBrokers: [1, 2, 3], toUnregister: [], now: NOW, ...over,
  };
}

describe('roles and units', () => {
  it('makes the lowest ordinals the controllers; combined ones are brokers too', () => {
    expect([0, 1, 2, 3].map((o) => rolesOf(o, 'Combined', 3))).toEqual([
      { controller: true, broker: true }, { controller: true, broker: true }, { controller: true, broker: true }, { controller: false, broker: true },
    ]);
    expect([0, 2, 3].map((o) => rolesOf(o, 'Dedicated', 3))).toEqual([{ controller: true, broker: false }, { controller: true, broker: false }, { controller: false, broker: true }]);
    expect(unitsFor(4, 'Combined', 3)).toBe(4);
    expect(unitsFor(4, 'Dedicated', 3)).toBe(7);
  });
});

describe('drainMoves', () => {
  it('replaces every replica on a leaving broker in its place, by the least loaded remaining broker, never twice in one partition', () => {
    const ps = topic('orders', 8, 3, [1, 2, 3, 4]);
    const moves = drainMoves(ps, [4], [1, 2, 3]);
    expect(moves).toHaveLength(ps.filter((p) => p.replicas.includes(4)).length);
    for (const m of moves) {
      const before = ps.find((p) => p.partition === m.partition)?.replicas ?? [];
      expect(m.replicas).not.toContain(4);
      expect(new Set(m.replicas).size).toBe(3);
      // Unchanged replicas keep their places (the preferred leader too, unless it was the leaving broker).
      before.forEach((r, i) => { if (r !== 4) expect(m.replicas[i]).toBe(r); });
    }
    // With RF 3 on 3 brokers every remaining broker holds every partition.
    const after = ps.map((p) => moves.find((m) => m.partition === p.partition)?.replicas ?? p.replicas);
    expect([...replicaCounts(after.map((r, i) => part('orders', i, r))).entries()].sort()).toEqual([[1, 8], [2, 8], [3, 8]]);
  });

  it('spreads the replicas it moves evenly when the remaining brokers have room', () => {
    const ps = topic('events', 10, 2, [1, 2, 3, 4, 5]);
    const moves = drainMoves(ps, [5], [1, 2, 3, 4]);
    const after = ps.map((p) => moves.find((m) => m.partition === p.partition)?.replicas ?? p.replicas);
    const counts = [...replicaCounts(after.map((r, i) => part('events', i, r))).values()];
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(20);
  });

  it('fails loudly rather than producing a replica set that lost a replica', () => {
    expect(() => drainMoves(topic('orders', 1, 3, [1, 2, 3]), [3], [1, 2])).toThrow(/cannot hold them/);
  });
});

describe('balanceMoves', () => {
  it('moves replicas onto a new broker until no broker holds more than one replica above another, per topic', () => {
    const ps = [...topic('orders', 6, 3, [1, 2, 3]), ...topic('logs', 4, 2, [1, 2, 3])];
    const moves = balanceMoves(ps, [1, 2, 3, 4]);
    const after = ps.map((p) => moves.find((m) => m.topic === p.topic && m.partition === p.partition)?.replicas ?? p.replicas);
    for (const t of ['orders', 'logs']) {
      const counts = replicaCounts(after.map((r, i) => ({ ...part(ps[i]?.topic ?? '', 0, r) })).filter((p) => p.topic === t));
      const values = [1, 2, 3, 4].map((b) => counts.get(b) ?? 0);
      expect(Math.max(...values) - Math.min(...values)).toBeLessThanOrEqual(1);
    }
    for (const m of moves) expect(new Set(m.replicas).size).toBe(m.replicas.length);
    // Already balanced: nothing to move.
    expect(balanceMoves(after.map((r, i) => part(ps[i]?.topic ?? '', ps[i]?.partition ?? 0, r)), [1, 2, 3, 4])).toEqual([]);
  });
});

describe('restart safety', () => {
  it('refuses a broker whose restart would take a partition below min.insync.replicas, not one out of that ISR', () => {
    const w = world([1, 2, 3], [part('orders', 0, [1, 2, 3], [1, 2]), part('orders', 1, [2, 3, 1])]);
    expect(minIsrBlocker(1, w)).toMatch(/orders-0 has 2 in-sync replicas \(1,2\) and min.insync.replicas 2/);
    expect(minIsrBlocker(3, w)).toBeUndefined();
    // A topic whose min.insync.replicas equals its replication factor cannot stay writable anyway: it does not block.
    expect(minIsrBlocker(1, world([1, 2], [part('strict', 0, [1, 2])], { minIsr: new Map([['strict', 2]]) }))).toBeUndefined();
  });

  it('keeps a caught-up majority of the quorum without the restarted controller', () => {
    expect(quorumBlocker(2, quorum(1, [1, 2, 3]), 3, NOW)).toBeUndefined();
    expect(quorumBlocker(2, quorum(1, [1, 2, 3], [3]), 3, NOW)).toMatch(/only 1 other voter \(1\) caught up; the quorum needs 2/);
    expect(quorumBlocker(1, { ...quorum(1, [1]), leader: 1 }, 1, NOW)).toBeUndefined();
  });

  it('orders brokers first, then controllers, the active controller last', () => {
    const ns = nodes(5, 'Combined', 3);
    expect(restartOrder(ns, ['k-0', 'k-1', 'k-2', 'k-3', 'k-4'], 2).map((n) => n.unit)).toEqual(['k-4', 'k-3', 'k-2', 'k-0', 'k-1']);
    // Some units only (spec.restartUnits): the same order among them, the others not in it.
    expect(restartOrder(ns, ['k-1', 'k-3'], 2).map((n) => n.unit)).toEqual(['k-3', 'k-1']);
    expect(restartOrder(ns, ['k-2', 'k-0'], 3).map((n) => n.unit)).toEqual(['k-0', 'k-2']);
  });
});

describe('nextStep', () => {
  it('scales out at once', () => {
    expect(nextStep(input({ desiredUnits: 4 }))).toEqual({ kind: 'scale', units: 4, direction: 'out', leaving: [] });
  });

  it('drains a leaving broker first, waits for the moves and the ISR, then scales in', () => {
    const ps = topic('orders', 4, 3, [1, 2, 3, 4]);
    const base = { desiredUnits: 3, unitSetUnits: 4, nodes: nodes(4), world: world([1, 2, 3, 4], ps) };
    const drain = nextStep(input(base));
    expect(drain).toMatchObject({ kind: 'reassign', reason: 'Drain', brokers: [4] });
    if (drain.kind !== 'reassign') throw new Error('expected a reassignment');
    const moved = ps.map((p) => ({ ...p, replicas: drain.moves.find((m) => m.partition === p.partition)?.replicas ?? p.replicas }));
    const inFlight = { topic: 'orders', partition: 0, replicas: [1, 2, 3, 4], adding: [1], removing: [4] };
    expect(nextStep(input({ ...base, world: world([1, 2, 3, 4], ps, { reassigning: [inFlight] }) }))).toMatchObject({ kind: 'wait', phase: 'Draining' });
    // Moved, but one partition not fully in sync yet.
    const lagging = moved.map((p, i) => (i === 0 ? { ...p, isr: p.replicas.slice(0, 2) } : { ...p, isr: p.replicas }));
    expect(nextStep(input({ ...base, world: world([1, 2, 3, 4], lagging) }))).toMatchObject({ kind: 'wait', phase: 'Draining', reason: '1 partition not fully in sync yet' });
    const synced = moved.map((p) => ({ ...p, isr: p.replicas }));
    expect(nextStep(input({ ...base, world: world([1, 2, 3, 4], synced) }))).toEqual({ kind: 'scale', units: 3, direction: 'in', leaving: [4] });
  });

  it('decides nothing but a scale-out while a broker\'s metadata lags the others', () => {
    const lagging = { world: world([1, 2, 3, 4], topic('orders', 4, 3, [1, 2, 3, 4]), { disagreeing: [3] }), nodes: nodes(4), unitSetUnits: 4 };
    expect(nextStep(input({ ...lagging, desiredUnits: 3 }))).toEqual({ kind: 'wait', phase: 'Draining', reason: 'broker 3 not caught up with the cluster metadata yet' });
    expect(nextStep(input({ ...lagging, desiredUnits: 4, outdated: ['k-0'] }))).toMatchObject({ kind: 'wait' });
    expect(nextStep(input({ ...lagging, desiredUnits: 5 }))).toMatchObject({ kind: 'scale', direction: 'out' });
  });

  it('refuses a scale-in below a topic\'s replication factor and changes nothing', () => {
    const step = nextStep(input({ roles: 'Dedicated', controllers: 1, desiredUnits: 3, unitSetUnits: 4, nodes: nodes(4, 'Dedicated', 1), world: world([2, 3, 4], topic('orders', 3, 3, [2, 3, 4])), configuredReplication: 1 }));
    expect(step).toEqual({ kind: 'refuse', field: 'spec.brokers', message: '2 brokers cannot keep the replication factor: topic orders has replication factor 3; scale-in refused, nothing was changed' });
    // The internal topics' configured replication factor counts even before they exist.
    expect(nextStep(input({ roles: 'Dedicated', controllers: 1, desiredUnits: 3, unitSetUnits: 4, nodes: nodes(4, 'Dedicated', 1), world: world([2, 3, 4], []), configuredReplication: 3 })))
      .toMatchObject({ kind: 'refuse', message: expect.stringContaining('the parameters give new topics replication factor 3') });
  });

  it('counts a partition being reassigned at its target size, not old and new replicas together', () => {
    const moving = [part('orders', 0, [1, 2, 3, 4], [1, 2, 3, 4]), part('orders', 1, [2, 3, 1])];
    expect(requiredReplication(moving, 1)).toEqual({ rf: 4, topics: ['orders'] });
    expect(requiredReplication(moving, 1, [{ topic: 'orders', partition: 0, replicas: [1, 2, 3, 4], adding: [1], removing: [4] }])).toEqual({ rf: 3, topics: ['orders'] });
  });

  it('restarts outdated units one at a time, only when every broker is live and nothing is under-replicated', () => {
    const outdated = ['k-0', 'k-1', 'k-2'];
    expect(nextStep(input({ outdated }))).toMatchObject({ kind: 'restart', unit: 'k-2' });
    expect(nextStep(input({ outdated, updateNext: ['k-2'] }))).toMatchObject({ kind: 'wait', reason: 'waiting for the Unit Operator to restart k-2' });
    expect(nextStep(input({ outdated: ['k-0', 'k-1'], updating: ['k-2'], updateNext: ['k-2'] }))).toMatchObject({ kind: 'wait', phase: 'Restarting', reason: expect.stringContaining('k-2 restarting') });
    const urp = [part('orders', 0, [1, 2, 3], [1, 2]), ...topic('orders', 5, 3, [1, 2, 3]).slice(1)];
    expect(nextStep(input({ outdated: ['k-0', 'k-1'], updateNext: ['k-2'], world: world([1, 2, 3], urp) }))).toMatchObject({ kind: 'wait', reason: expect.stringContaining('1 partition under-replicated') });
    expect(nextStep(input({ outdated: ['k-0', 'k-1'], updateNext: ['k-2'], world: world([1, 3], topic('orders', 6, 3, [1, 2, 3])) }))).toMatchObject({ kind: 'wait', reason: expect.stringContaining('broker 2 (k-1) not live') });
    // The active controller (node 1 here) goes last.
    expect(nextStep(input({ outdated: ['k-0', 'k-1'], updateNext: ['k-2'] }))).toMatchObject({ kind: 'restart', unit: 'k-1' });
    expect(nextStep(input({ outdated: ['k-0'], updateNext: ['k-1'] }))).toMatchObject({ kind: 'restart', unit: 'k-0', why: expect.stringContaining('the active controller, last') });
  });

  it('does not wait on a crashed unit as if it were restarting when nothing is outdated', () => {
    expect(nextStep(input({ updating: ['k-1'] }))).toEqual({ kind: 'done' });
  });

  it('rebalances onto new brokers when asked, then records the brokers as balanced', () => {
    const ps = topic('orders', 6, 3, [1, 2, 3]);
    const step = nextStep(input({ unitSetUnits: 4, desiredUnits: 4, nodes: nodes(4), world: world([1, 2, 3, 4], ps), rebalanceOnScaleOut: true }));
    expect(step).toMatchObject({ kind: 'reassign', reason: 'Rebalance', brokers: [4] });
    expect(nextStep(input({ unitSetUnits: 4, desiredUnits: 4, nodes: nodes(4), world: world([1, 2, 3, 4], ps) }))).toEqual({ kind: 'balanced', brokers: [1, 2, 3, 4] });
    // Not before the new broker is live.
    expect(nextStep(input({ unitSetUnits: 4, desiredUnits: 4, nodes: nodes(4), world: world([1, 2, 3], ps), rebalanceOnScaleOut: true }))).toEqual({ kind: 'done' });
  });

  it('unregisters removed brokers after a scale-in', () => {
    expect(nextStep(input({ toUnregister: [4] }))).toEqual({ kind: 'unregister', ids: [4] });
  });
});
