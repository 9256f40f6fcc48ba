import { describe, expect, it } from '@jest/globals';
import type { Replication, SentinelMaster } from './observe.ts';
import { plan, sentinelView, settingsDiff, type NodeState, type PlanInput, type SentinelSettings, type SentinelState } from './plan.ts';

const ip = (n: string) => ({ a: '127.1.0.1', b: '127.1.0.2', c: '127.1.0.3' } as Record<string, string>)[n] ?? '127.1.0.9';
const master = (replicas: string[] = [], offset = 100): Replication => ({
  role: 'master', offset, failoverState: 'no-failover',
  replicas: replicas.map((r) => ({ ip: ip(r), port: 6379, state: 'online', offset })),
});
const replicaOf = (m: string, linkUp = true, offset = 100): Replication => ({
  role: 'slave', masterHost: ip(m), masterPort: 6379, linkUp, syncInProgress: false, offset, failoverState: 'no-failover', replicas: [],
});
function node(name: string, repl: Replication | undefined, extra: Partial<NodeState> = {}): NodeState {
  return { name, host: ip(name), port: 6379, aliases: [ip(name), `${name}.rs-headless.ns.svc.cluster.local`], isolated: false, reachable: !!repl, ...(repl ? { repl } : { error: 'connect ECONNREFUSED' }), ...extra };
}
const settings: SentinelSettings = { quorum: 2, downAfterMs: 5000, failoverTimeoutMs: 60000, parallelSyncs: 1 };
function watching(n: string, epoch = 0, extra: Partial<SentinelMaster> = {}): SentinelMaster {
  return { host: ip(n), port: 6379, flags: ['master'], configEpoch: epoch, numSlaves: 2, numOtherSentinels: 2, quorum: 2, downAfterMs: 5000, failoverTimeoutMs: 60000, parallelSyncs: 1, replicas: [], ...extra };
}
const sentinel = (name: string, m?: SentinelMaster, reachable = true): SentinelState =>
  ({ name, host: `127.2.0.${name.slice(1)}`, port: 26379, reachable, ...(m ? { master: m } : {}), ...(reachable ? {} : { error: 'timeout' }) });
const healthy = () => [node('a', master(['b', 'c'])), node('b', replicaOf('a')), node('c', replicaOf('a'))];
const input = (nodes: NodeState[], extra: Partial<PlanInput> = {}): PlanInput => ({ source: 'a', nodes, lastSource: 'a', now: 1_000_000, ...extra });
const withSentinels = (states: SentinelState[]) => ({ sentinel: { settings, states } });

describe('plan: wiring without Sentinels', () => {
  it('points every other server at the source on a fresh set of masters', () => {
    const p = plan(input([node('a', master()), node('b', master()), node('c', master())], { lastSource: undefined } as Partial<PlanInput>));
    expect(p.topology).toEqual({ kind: 'steady' });
    expect(p.active).toBe('a');
    expect(p.wiring).toEqual([{ node: 'b', do: 'replicaof' }, { node: 'c', do: 'replicaof' }]);
    expect(p.sentinel).toEqual([]);
  });

  it('does nothing when everything already replicates from the source', () => {
    expect(plan(input(healthy()))).toEqual({ topology: { kind: 'steady' }, active: 'a', wiring: [], sentinel: [] });
  });

  it('recognises a replica pointed at the source by its DNS name', () => {
    const b = node('b', { ...replicaOf('a'), masterHost: 'a.rs-headless.ns.svc.cluster.local' });
    const nodes = healthy();
    nodes[1] = b;
    nodes[0] = { ...node('a', master(['b', 'c'])), aliases: [ip('a'), 'a.rs-headless.ns.svc.cluster.local'] };
    expect(plan(input(nodes)).wiring).toEqual([]);
  });

  it('re-points a returning former source (a master of its own) at once', () => {
    const nodes = [node('a', master(['c'])), node('b', master()), node('c', replicaOf('a'))];
    expect(plan(input(nodes)).wiring).toEqual([{ node: 'b', do: 'replicaof' }]);
  });

  it('detaches an isolated replica and leaves an isolated master alone', () => {
    expect(plan(input([node('a', master(['b', 'c'])), node('b', replicaOf('a'), { isolated: true }), node('c', replicaOf('a'))])).wiring)
      .toEqual([{ node: 'b', do: 'detach' }]);
    expect(plan(input([node('a', master(['c'])), node('b', master(), { isolated: true }), node('c', replicaOf('a'))])).wiring).toEqual([]);
  });

  it('never fails over by itself when the source is down, and says so', () => {
    const p = plan(input([node('a', undefined), node('b', replicaOf('a', false)), node('c', replicaOf('a', false))]));
    expect(p.topology).toMatchObject({ kind: 'source-down', reason: 'SourceDown' });
    expect(p.topology).toMatchObject({ message: expect.stringMatching(/^spec\.source: a is unreachable.*without spec\.sentinel the operator does not fail over on its own/) });
    expect(p.wiring).toEqual([]);
  });

  it('promotes a replica a person named as spec.source while no server takes writes', () => {
    const p = plan(input([node('a', undefined), node('b', replicaOf('a', false)), node('c', replicaOf('a', false))], { source: 'b' }));
    expect(p.topology).toEqual({ kind: 'promote', node: 'b', from: 'a' });
  });

  it('does not promote while a handover is running on any server', () => {
    const handing = { ...replicaOf('b'), failoverState: 'failover-in-progress' };
    const p = plan(input([node('a', handing), node('b', replicaOf('a')), node('c', replicaOf('a'))], { source: 'b' }));
    expect(p.topology).toMatchObject({ kind: 'wait', reason: 'SwitchingOver' });
  });
});

describe('plan: switchover', () => {
  it('switches over to the in-sync replica named as spec.source', () => {
    const p = plan(input(healthy(), { source: 'b' }));
    expect(p.topology).toEqual({ kind: 'switchover', from: 'a', to: 'b', step: 'issue', message: 'switching over a -> b' });
    expect(p.active).toBe('a');
    expect(p.wiring).toEqual([]);
  });

  it('waits while the handover runs, then wires the rest to the new source', () => {
    const during = [node('a', { ...master(['b', 'c']), failoverState: 'waiting-for-sync' }), node('b', replicaOf('a')), node('c', replicaOf('a'))];
    expect(plan(input(during, { source: 'b', switchover: { from: 'a', to: 'b', issuedAt: 999_000 } })).topology).toMatchObject({ kind: 'wait', phase: 'SwitchingOver' });
    const after = [node('a', replicaOf('b')), node('b', master(['a'])), node('c', replicaOf('a'))];
    const p = plan(input(after, { source: 'b', switchover: { from: 'a', to: 'b', issuedAt: 999_000 } }));
    expect(p.topology).toEqual({ kind: 'steady' });
    expect(p.wiring).toEqual([{ node: 'c', do: 'replicaof' }]);
  });

  it('finishes a switchover that stopped after the old source was demoted, even with the Sentinels removed', () => {
    const nodes = [node('a', replicaOf('b', false, 100)), node('b', replicaOf('a', false, 100)), node('c', replicaOf('a', false))];
    const rec = { from: 'a', to: 'b', issuedAt: 999_000 };
    expect(plan(input(nodes, { source: 'b', switchover: rec, ...withSentinels([sentinel('s1'), sentinel('s2'), sentinel('s3')]) })).topology)
      .toEqual({ kind: 'complete-switchover', from: 'a', to: 'b' });
    // Not without the record, and not when the candidate lacks what the old source had.
    expect(plan(input(nodes, { source: 'b' })).topology).toMatchObject({ kind: 'promote', node: 'b' });
    const behind = [node('a', replicaOf('b', false, 120)), node('b', replicaOf('a', false, 100)), node('c', replicaOf('a', false))];
    expect(plan(input(behind, { source: 'b', switchover: rec, ...withSentinels([sentinel('s1'), sentinel('s2'), sentinel('s3')]) })).topology.kind).toBe('source-down');
  });

  it('does not issue twice: an attempt that ended without a swap is reported, then retried after the backoff', () => {
    const rec = { from: 'a', to: 'b', issuedAt: 990_000 };
    const failed = plan(input(healthy(), { source: 'b', switchover: rec }));
    expect(failed.topology).toMatchObject({ kind: 'switchover', step: 'failed' });
    expect(failed.active).toBe('a');
    const backoff = plan(input(healthy(), { source: 'b', switchover: { ...rec, retryAfter: 1_010_000 } }));
    expect(backoff.topology).toMatchObject({ kind: 'switchover', step: 'backoff' });
    const again = plan(input(healthy(), { source: 'b', switchover: { ...rec, retryAfter: 999_000 } }));
    expect(again.topology).toMatchObject({ kind: 'switchover', step: 'issue' });
  });

  it('is blocked while the candidate is not an in-sync replica of the source, and wires it first', () => {
    const nodes = [node('a', master(['c'])), node('b', master()), node('c', replicaOf('a'))];
    const p = plan(input(nodes, { source: 'b' }));
    expect(p.topology).toMatchObject({ kind: 'switchover', step: 'blocked', message: expect.stringMatching(/^spec\.source: b does not replicate from a/) });
    expect(p.wiring).toEqual([{ node: 'b', do: 'replicaof' }]);
    const syncing = plan(input([node('a', master(['c'])), node('b', replicaOf('a', false)), node('c', replicaOf('a'))], { source: 'b' }));
    expect(syncing.topology).toMatchObject({ step: 'blocked', message: expect.stringContaining('not in sync') });
  });

  it('with Sentinels, needs every one of them to answer', () => {
    const states = [sentinel('s1', watching('a')), sentinel('s2', watching('a')), sentinel('s3', undefined, false)];
    const p = plan(input(healthy(), { source: 'b', ...withSentinels(states) }));
    expect(p.topology).toMatchObject({ kind: 'switchover', step: 'blocked', message: expect.stringMatching(/^spec\.sentinel\.nodes: s3 do not answer/) });
  });
});

describe('plan: Sentinels', () => {
  const all = (m?: SentinelMaster) => [sentinel('s1', m), sentinel('s2', m), sentinel('s3', m)];

  it('registers the source with every Sentinel that does not watch it, and fixes settings that differ', () => {
    const states = [sentinel('s1'), sentinel('s2', watching('a', 0, { downAfterMs: 30000 })), sentinel('s3', watching('a'))];
    const p = plan(input(healthy(), withSentinels(states)));
    expect(p.sentinel).toEqual([{ sentinel: 's1', do: 'monitor' }, { sentinel: 's2', do: 'set', changes: [['down-after-milliseconds', '5000']] }]);
  });

  it('follows a failover the Sentinels made: a majority names another master', () => {
    const nodes = [node('a', undefined), node('b', master(['c'])), node('c', replicaOf('b'))];
    const p = plan(input(nodes, withSentinels(all(watching('b', 1)))));
    expect(p.topology).toEqual({ kind: 'record-failover', from: 'a', to: 'b' });
    expect(p.wiring).toEqual([]);
  });

  it('follows when the operator never saw the source go down (status.source is still the old one)', () => {
    const nodes = [node('a', master()), node('b', master(['c'])), node('c', replicaOf('b'))];
    expect(plan(input(nodes, withSentinels(all(watching('b', 1))))).topology).toEqual({ kind: 'record-failover', from: 'a', to: 'b' });
  });

  it('does not take a requested switchover for a failover (the Sentinels still name the last source)', () => {
    const p = plan(input(healthy(), { source: 'b', lastSource: 'a', ...withSentinels(all(watching('a'))) }));
    expect(p.topology).toMatchObject({ kind: 'switchover', step: 'issue' });
  });

  it('does not record anything on the very first pass: the spec wins', () => {
    const nodes = [node('a', replicaOf('b')), node('b', master(['a', 'c'])), node('c', replicaOf('b'))];
    const p = plan({ source: 'a', nodes, now: 1, ...withSentinels(all(watching('b'))) });
    expect(p.topology).toMatchObject({ kind: 'switchover', from: 'b', to: 'a' });
  });

  it('leaves everything alone while a Sentinel fails over', () => {
    const states = [sentinel('s1', watching('a', 1, { flags: ['master', 'o_down', 'failover_in_progress'] })), sentinel('s2', watching('a')), sentinel('s3', watching('a'))];
    const p = plan(input([node('a', undefined), node('b', master()), node('c', replicaOf('a', false))], withSentinels(states)));
    expect(p).toEqual({ topology: expect.objectContaining({ kind: 'wait', phase: 'FailingOver' }), wiring: [], sentinel: [] });
  });

  it('follows as soon as a majority names the new master, while the leader still re-points replicas', () => {
    const leader = sentinel('s1', watching('a', 1, { flags: ['master', 's_down', 'o_down', 'failover_in_progress'] }));
    const nodes = [node('a', undefined), node('b', master()), node('c', replicaOf('a', false))];
    const states = [leader, sentinel('s2', watching('b', 2)), sentinel('s3', watching('b', 2))];
    expect(plan(input(nodes, withSentinels(states))).topology).toEqual({ kind: 'record-failover', from: 'a', to: 'b' });
    // Recorded: c is wired to b as the leader would, and the leader is left alone until it is done.
    const after = plan(input(nodes, { source: 'b', lastSource: '', ...withSentinels(states) }));
    expect(after.wiring).toEqual([{ node: 'c', do: 'replicaof' }]);
    expect(after.sentinel).toEqual([]);
  });

  it('waits while a newer configuration spreads from the Sentinel that led a failover', () => {
    const states = [sentinel('s1', watching('b', 2)), sentinel('s2', watching('a', 1)), sentinel('s3', watching('a', 1))];
    const nodes = [node('a', master(['c'])), node('b', master()), node('c', replicaOf('a'))];
    const p = plan(input(nodes, withSentinels(states)));
    expect(p.topology).toMatchObject({ kind: 'wait', reason: 'SentinelFailingOver' });
    expect(p.wiring).toEqual([]); // b is not pulled back under a
  });

  it('re-registers a Sentinel left behind with an older configuration', () => {
    const states = [sentinel('s1', watching('b', 0)), sentinel('s2', watching('a', 1)), sentinel('s3', watching('a', 1))];
    const p = plan(input(healthy(), withSentinels(states)));
    expect(p.sentinel).toEqual([{ sentinel: 's1', do: 'remonitor' }]);
  });

  it('changes no role without a majority of the Sentinels answering', () => {
    const states = [sentinel('s1', watching('a')), sentinel('s2', undefined, false), sentinel('s3', undefined, false)];
    const p = plan(input([node('a', master(['c'])), node('b', master()), node('c', replicaOf('a'))], withSentinels(states)));
    expect(p).toEqual({ topology: expect.objectContaining({ kind: 'wait', reason: 'SentinelsUnreachable' }), wiring: [], sentinel: [] });
  });

  it('waits for the Sentinels to elect when the source is down', () => {
    const p = plan(input([node('a', undefined), node('b', replicaOf('a', false)), node('c', replicaOf('a', false))], withSentinels(all(watching('a')))));
    expect(p.topology).toMatchObject({ kind: 'source-down', message: expect.stringContaining('waiting for the Sentinels to elect') });
  });

  it('makes a Sentinel forget an isolated server it still lists as a replica', () => {
    const nodes = [node('a', master(['c'])), node('b', master(), { isolated: true }), node('c', replicaOf('a'))];
    const states = all(watching('a', 0, { replicas: [`${ip('b')}:6379`, `${ip('c')}:6379`] }));
    expect(plan(input(nodes, withSentinels(states))).sentinel).toEqual(['s1', 's2', 's3'].map((s) => ({ sentinel: s, do: 'reset' })));
  });
});

describe('sentinelView and settingsDiff', () => {
  it('groups Sentinels by server, whether they name it by address or DNS name', () => {
    const nodes = healthy();
    const v = sentinelView(nodes, [sentinel('s1', watching('a')), sentinel('s2', { ...watching('a'), host: 'a.rs-headless.ns.svc.cluster.local' }), sentinel('s3')]);
    expect(v.agreed).toMatchObject({ count: 2, node: { name: 'a' } });
    expect(v.busy).toBeUndefined();
  });

  it('lists what to SENTINEL SET', () => {
    expect(settingsDiff(watching('a', 0, { quorum: 1, parallelSyncs: 2 }), settings)).toEqual([['quorum', '2'], ['parallel-syncs', '1']]);
  });
});
