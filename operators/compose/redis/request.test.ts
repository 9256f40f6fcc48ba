// A failover request with Sentinel, one pass at a time: what it refuses, the priorities it holds (written down
// before), the one Sentinel it asks once it has read them, never twice, the answer, and the priorities put back.
import { describe, expect, it } from '@jest/globals';
import type { Replication, SentinelMaster } from './observe.ts';
import { plan, type NodeState, type SentinelState } from './plan.ts';
import { decideRequest, restorePriorities, type Held, type RequestInput } from './request.ts';

const ip = (n: string) => `127.1.0.${n.charCodeAt(0) - 96}`;
const replicaOf = (m: string): Replication => ({ role: 'slave', masterHost: ip(m), masterPort: 6379, linkUp: false, offset: 100, failoverState: 'no-failover', replicas: [] });
const node = (name: string, repl: Replication | undefined, priority = 100, extra: Partial<NodeState> = {}): NodeState =>
  ({ name, host: ip(name), port: 6379, aliases: [ip(name)], isolated: false, reachable: !!repl, ...(repl ? { repl, priority } : { error: 'connect ECONNREFUSED' }), ...extra });
/** a (the source) down, b and c its replicas. */
const downed = (pb = 100, pc = 100) => [node('a', undefined), node('b', replicaOf('a'), pb), node('c', replicaOf('a'), pc)];
const watching = (priorities: Record<string, number>, extra: Partial<SentinelMaster> = {}): SentinelMaster => ({
  host: ip('a'), port: 6379, flags: ['master', 's_down'], configEpoch: 0, numSlaves: 2, numOtherSentinels: 2, quorum: 2, downAfterMs: 60000, failoverTimeoutMs: 60000,
  parallelSyncs: 1, replicas: Object.keys(priorities), priorities, ...extra,
});
const sentinels = (priorities: Record<string, number> = { [`${ip('b')}:6379`]: 100, [`${ip('c')}:6379`]: 100 }): SentinelState[] =>
  ['s1', 's2', 's3'].map((name) => ({ name, host: `127.2.0.${name.slice(1)}`, port: 26379, reachable: true, master: watching(priorities) }));
const NOW = 1_000_000;
const REQ = { id: 'op-1', candidate: 'b' };

function decide(nodes: NodeState[], extra: Partial<RequestInput> = {}, states = sentinels()) {
  const source = extra.source ?? 'a';
  const p = plan({ source, nodes, lastSource: source === 'a' ? '' : source, now: NOW, sentinel: { settings: { quorum: 2, downAfterMs: 60000, failoverTimeoutMs: 60000, parallelSyncs: 1 }, states } });
  return decideRequest({
    name: 'rr', request: REQ, source: 'a', nodes, sentinels: states, topology: p.topology, ...(p.active ? { active: p.active } : {}), now: NOW, timeoutMs: 75_000, ...extra,
  });
}

describe('a failover request with Sentinel', () => {
  it('refuses a candidate that is not a reachable replica that may be promoted', () => {
    const refused = (nodes: NodeState[], candidate: string) => { const d = decide(nodes, { request: { id: 'op-1', candidate } }); return d.kind === 'answer' ? `${d.outcome}: ${d.message}` : d.kind; };
    expect(refused(downed(), 'x')).toBe('Refused: spec.failover.request.candidate: x is not a replica of rr');
    expect(refused(downed(), 'a')).toBe('Refused: spec.failover.request.candidate: a is not a replica of rr');
    expect(refused([node('a', undefined), node('b', undefined), node('c', replicaOf('a'))], 'b')).toBe('Refused: spec.failover.request.candidate: b is unreachable (connect ECONNREFUSED)');
    expect(refused([node('a', undefined), node('b', { ...replicaOf('a'), role: 'master' }), node('c', replicaOf('a'))], 'b')).toBe('Refused: spec.failover.request.candidate: b is not a replica (it is a master of its own)');
    expect(refused(downed(0), 'b')).toBe('Refused: spec.failover.request.candidate: b has replica-priority 0: it is configured never to be promoted');
    expect(refused([node('a', undefined), node('b', replicaOf('a'), 100, { isolated: true }), node('c', replicaOf('a'))], 'b')).toBe('Refused: spec.failover.request.candidate: b is isolated');
  });

  it('refuses while the source takes writes, and without Sentinels', () => {
    const up = [node('a', { role: 'master', offset: 100, failoverState: 'no-failover', replicas: [] }), node('b', { ...replicaOf('a'), linkUp: true }), node('c', { ...replicaOf('a'), linkUp: true })];
    const states = sentinels().map((s) => ({ ...s, master: { ...(s.master as SentinelMaster), flags: ['master'] } }));
    expect(decide(up, {}, states)).toMatchObject({ kind: 'answer', outcome: 'Refused', message: expect.stringContaining('the source a is reachable and takes writes') });
    expect(decide(up, { request: { id: 'op-1', candidate: 'x' } }, states)).toMatchObject({ kind: 'answer', outcome: 'Refused', message: 'spec.failover.request.candidate: x is not a replica of rr' });
    expect(decide(downed(), { sentinels: undefined } as Partial<RequestInput>)).toMatchObject({ kind: 'answer', outcome: 'Refused', message: 'spec.failover.request: rr has no Sentinels (spec.sentinel); without them, name b in spec.source to promote it' });
  });

  it('holds the other replicas at 0 (what they had written down first), asks one Sentinel once it read them, then waits, never asking again', () => {
    const first = decide(downed(100, 50));
    expect(first).toEqual({ kind: 'hold', held: { id: 'op-1', candidate: 'b', priorities: { c: 50 } }, set: [{ node: 'c', priority: 0 }], message: 'the other replicas (c) are held at priority 0 so that only b can be promoted' });
    const held: Held = { id: 'op-1', candidate: 'b', priorities: { c: 50 } };
    // c set, but the Sentinels still have the old priorities: not asked yet.
    expect(decide(downed(100, 0), { held })).toEqual({ kind: 'wait', message: 'waiting for the Sentinels to read the held priorities (b the only replica above 0)' });
    // A server that reset its priority (a restart) is held again.
    expect(decide(downed(100, 50), { held })).toMatchObject({ kind: 'hold', held, set: [{ node: 'c', priority: 0 }] });
    const read = sentinels({ [`${ip('b')}:6379`]: 100, [`${ip('c')}:6379`]: 0 });
    expect(decide(downed(100, 0), { held }, read)).toMatchObject({ kind: 'fire', held, sentinel: 's1' });
    // Asked: it is never asked again, however long the wait, and given up past the timeout.
    const fired = { ...held, sentinel: 's1', firedAt: NOW - 1000 };
    expect(decide(downed(100, 0), { held: fired }, read)).toMatchObject({ kind: 'wait', message: expect.stringContaining('Sentinel s1 was asked to fail over to b at') });
    const busy = read.map((s) => ({ ...s, master: { ...(s.master as SentinelMaster), flags: ['master', 'failover_in_progress'] } }));
    expect(decide(downed(100, 0), { held: fired }, busy).kind).toBe('wait');
    expect(decide(downed(100, 0), { held: { ...fired, firedAt: NOW - 80_000 } }, read)).toMatchObject({ kind: 'answer', outcome: 'Refused', message: expect.stringContaining('the Sentinels did not name it master within 75 s; given up') });
  });

  it('asks nothing while a Sentinel fails over by itself; its election of the candidate counts, another is refused', () => {
    const busy = sentinels().map((s) => ({ ...s, master: { ...(s.master as SentinelMaster), flags: ['master', 'o_down', 'failover_in_progress'] } }));
    expect(decide(downed(), {}, busy)).toMatchObject({ kind: 'wait' });
    const elected = (to: string) => {
      const nodes = [node('a', undefined), node(to, { role: 'master', offset: 100, failoverState: 'no-failover', replicas: [] }), node(to === 'b' ? 'c' : 'b', replicaOf(to))];
      const states = sentinels().map((s) => ({ ...s, master: { ...(s.master as SentinelMaster), host: ip(to), flags: ['master'], configEpoch: 1 } }));
      return { nodes, states };
    };
    const b = elected('b');
    // The planner records it first (with the request id when it is the candidate), then the request is answered.
    expect(decide(b.nodes, {}, b.states)).toEqual({ kind: 'wait', message: 'the Sentinels elected b; recording it' });
    expect(decide(b.nodes, { source: 'b' }, b.states)).toMatchObject({ kind: 'answer', outcome: 'Done', message: 'b takes the writes (the Sentinels elected it by themselves)' });
    expect(decide(b.nodes, { lastFailover: { from: 'a', to: 'b', request: 'op-1' } }, b.states)).toEqual({ kind: 'answer', id: 'op-1', outcome: 'Done', message: 'b promoted by the Sentinels as requested (was a)' });
    const c = elected('c');
    expect(decide(c.nodes, { source: 'c' }, c.states)).toMatchObject({ kind: 'answer', outcome: 'Refused', message: expect.stringContaining('the source c is reachable and takes writes') });
  });

  it('puts every held priority back once answered (or dropped), each server as soon as it answers', () => {
    const held: Held = { id: 'op-1', candidate: 'b', priorities: { c: 50, d: 100 } };
    const nodes = [...downed(100, 0), node('d', undefined)];
    expect(decide(nodes, { held, answered: 'op-1' })).toEqual({ kind: 'restore', set: [{ node: 'c', priority: 50 }], left: { ...held, priorities: { d: 100 } } });
    expect(decide(nodes, { held, request: undefined } as Partial<RequestInput>)).toMatchObject({ kind: 'restore', set: [{ node: 'c', priority: 50 }] });
    // A new request puts back an older one's first.
    expect(decide(nodes, { held, request: { id: 'op-2', candidate: 'b' } })).toMatchObject({ kind: 'restore' });
    expect(restorePriorities(held, [...downed(100, 50), node('d', replicaOf('b'), 100)])).toEqual({ kind: 'restore', set: [] });
    expect(decide(downed(), { answered: 'op-1' })).toEqual({ kind: 'none' });
  });
});
