import { describe, expect, it } from '@jest/globals';
import { leavingNodes, nextStep, restartOrder, type ClusterView, type NodeSetState, type PlanInput } from './plan.ts';

const ALL = ['cluster_manager', 'data', 'ingest'];

function set(over: Partial<NodeSetState> & { name: string }): NodeSetState {
  return { unitSet: `logs-${over.name}`, wanted: 3, inSpec: true, manager: true, data: true, current: 3, outdated: [], updating: [], updateNext: [], observed: true, ...over };
}

function view(nodes: { name: string; roles?: string[] }[], over: Partial<ClusterView> = {}): ClusterView {
  return {
    via: nodes[0]?.name ?? '', clusterName: 'logs', clusterUUID: 'uuid',
    health: { status: 'green', nodes: nodes.length, dataNodes: nodes.length, activePrimary: 3, active: 6, relocating: 0, initializing: 0, unassigned: 0, activePercent: 100 },
    nodes: nodes.map((n, i) => ({ id: `id-${n.name}`, name: n.name, ip: `127.0.0.${i + 1}`, roles: n.roles ?? ALL })),
    managerId: `id-${nodes[0]?.name}`,
    votingExclusions: [], allocation: { excludeNames: [] }, shardsByNode: {}, indices: 1, maxReplicas: 1,
    ...over,
  };
}

const names = (unitSet: string, n: number) => Array.from({ length: n }, (_, o) => `${unitSet}-${o}`);
const units = (unitSet: string, nodeSet: string, n: number, ready = true) => names(unitSet, n).map((name, ordinal) => ({ name, nodeSet, ordinal, ready }));

function input(sets: NodeSetState[], v: ClusterView | undefined, over: Partial<PlanInput> = {}): PlanInput {
  return {
    cluster: 'logs', sets,
    units: sets.flatMap((s) => units(s.unitSet, s.name, Math.max(s.current ?? 0, 0))),
    ...(v ? { view: v } : {}), formed: true, restarting: false, ...over,
  };
}

describe('formation and scale out', () => {
  it('waits for the nodes to form the cluster, then reports the first nodes missing', () => {
    expect(nextStep(input([set({ name: 'all' })], undefined, { formed: false, viewError: 'logs-all-0 has no elected cluster manager' })))
      .toEqual({ kind: 'wait', phase: 'Forming', reason: 'waiting for the nodes to form the cluster (logs-all-0 has no elected cluster manager)' });
    expect(nextStep(input([set({ name: 'all' })], undefined, { formed: true }))).toMatchObject({ kind: 'wait', phase: 'Degraded' });
    expect(nextStep(input([set({ name: 'all' })], view([{ name: 'logs-all-0' }, { name: 'logs-all-1' }]))))
      .toEqual({ kind: 'wait', phase: 'Scaling', reason: 'waiting for logs-all-2 to join the cluster' });
  });

  it('is done when every wanted node is in a green cluster, and degraded when it is not green', () => {
    const v = view(names('logs-all', 3).map((name) => ({ name })));
    expect(nextStep(input([set({ name: 'all' })], v))).toEqual({ kind: 'done' });
    const yellow = view(names('logs-all', 3).map((name) => ({ name })), { health: { ...v.health, status: 'yellow', unassigned: 2 } });
    expect(nextStep(input([set({ name: 'all' })], yellow))).toEqual({ kind: 'wait', phase: 'Degraded', reason: 'cluster health is yellow (2 unassigned shards)' });
  });

  it('grows a UnitSet at once: new nodes find the cluster by its seed hosts', () => {
    const v = view(names('logs-all', 3).map((name) => ({ name })));
    expect(nextStep(input([set({ name: 'all', wanted: 4 })], v))).toEqual({ kind: 'resize', unitSet: 'logs-all', from: 3, units: 4, nodes: ['logs-all-3'] });
  });
});

describe('scale in', () => {
  const four = names('logs-all', 4).map((name) => ({ name }));
  const sets = [set({ name: 'all', wanted: 3, current: 4 })];

  it('excludes the leaving node from allocation first, keeping exclusions that are not the operator\'s', () => {
    const v = view(four, { allocation: { excludeNames: ['other-node'] }, shardsByNode: { 'logs-all-3': 2 } });
    expect(leavingNodes(input(sets, v)).map((l) => l.name)).toEqual(['logs-all-3']);
    expect(nextStep(input(sets, v))).toEqual({ kind: 'exclude', names: ['logs-all-3', 'other-node'], adding: ['logs-all-3'], removing: [] });
  });

  it('waits while the node holds shards, then takes it out of the voting configuration, then shrinks the UnitSet', () => {
    const excluded = { excludeNames: ['logs-all-3'] };
    expect(nextStep(input(sets, view(four, { allocation: excluded, shardsByNode: { 'logs-all-3': 2, 'logs-all-0': 3 } }))))
      .toEqual({ kind: 'wait', phase: 'Draining', reason: 'moving 2 shard copies off logs-all-3 (logs-all-3: 2)' });
    expect(nextStep(input(sets, view(four, { allocation: excluded })))).toEqual({ kind: 'votingExclude', names: ['logs-all-3'] });
    const voted = view(four, { allocation: excluded, votingExclusions: [{ id: 'id-logs-all-3', name: 'logs-all-3' }] });
    expect(nextStep(input(sets, voted))).toEqual({ kind: 'resize', unitSet: 'logs-all', from: 4, units: 3, nodes: ['logs-all-3'] });
  });

  it('does not vote-exclude a node that is not cluster-manager-eligible', () => {
    const data = [set({ name: 'managers', manager: true, data: false }), set({ name: 'data', wanted: 2, current: 3, manager: false })];
    const nodes = [...names('logs-managers', 3).map((name) => ({ name, roles: ['cluster_manager'] })), ...names('logs-data', 3).map((name) => ({ name, roles: ['data'] }))];
    expect(nextStep(input(data, view(nodes, { allocation: { excludeNames: ['logs-data-2'] } }))))
      .toEqual({ kind: 'resize', unitSet: 'logs-data', from: 3, units: 2, nodes: ['logs-data-2'] });
  });

  it('waits for the node and its unit to go, then lifts the exclusions it set', () => {
    const shrunk = [set({ name: 'all', wanted: 3, current: 3 })];
    const allocation = { excludeNames: ['logs-all-3'] };
    const votingExclusions = [{ id: 'id-logs-all-3', name: 'logs-all-3' }];
    // The unit is still being deleted and the node still in the cluster.
    const stillThere = input(shrunk, view(four, { allocation, votingExclusions }), { units: units('logs-all', 'all', 4) });
    expect(nextStep(stillThere)).toEqual({ kind: 'wait', phase: 'Removing', reason: 'waiting for logs-all-3 to leave the cluster and their units to go' });
    const three = names('logs-all', 3).map((name) => ({ name }));
    expect(nextStep(input(shrunk, view(three, { allocation, votingExclusions })))).toEqual({ kind: 'exclude', names: [], adding: [], removing: ['logs-all-3'] });
    expect(nextStep(input(shrunk, view(three, { votingExclusions })))).toEqual({ kind: 'clearVotingExclusions', names: ['logs-all-3'] });
    expect(nextStep(input(shrunk, view(three)))).toEqual({ kind: 'done' });
  });

  it('lifts the exclusion of a node the spec wants again (scaled back before it left)', () => {
    const back = [set({ name: 'all', wanted: 4, current: 4 })];
    expect(nextStep(input(back, view(four, { allocation: { excludeNames: ['logs-all-3'] } })))).toEqual({ kind: 'exclude', names: [], adding: [], removing: ['logs-all-3'] });
  });

  it('refuses to leave fewer data nodes than the replicas need, changing nothing', () => {
    const v = view(names('logs-all', 3).map((name) => ({ name })), { maxReplicas: 2 });
    expect(nextStep(input([set({ name: 'all', wanted: 2, current: 3 })], v))).toEqual({
      kind: 'blocked', field: 'spec.nodeSets[0].units',
      reason: 'removing logs-all-2 would leave 2 data nodes, and an index with 2 replicas needs 3: lower its number_of_replicas first',
    });
    // Once started (the node is excluded), a removal is carried on.
    const started = view(names('logs-all', 3).map((name) => ({ name })), { maxReplicas: 2, allocation: { excludeNames: ['logs-all-2'] } });
    expect(nextStep(input([set({ name: 'all', wanted: 2, current: 3 })], started)).kind).toBe('votingExclude');
  });

  it('refuses to take the last cluster-manager-eligible node in the cluster out of the voting configuration', () => {
    // The new cluster-manager set's node has not joined: the only eligible node in the cluster is the leaving one.
    const sets2 = [set({ name: 'old', wanted: 0, current: 1, inSpec: false }), set({ name: 'new', wanted: 1, current: 1, data: false })];
    const v = view([{ name: 'logs-old-0' }], { allocation: { excludeNames: ['logs-old-0'] } });
    expect(nextStep(input(sets2, v))).toEqual({ kind: 'blocked', field: 'spec.nodeSets', reason: 'removing logs-old-0 would leave no cluster-manager-eligible node in the cluster' });
  });

  it('does not start a removal while the cluster is red', () => {
    const v = view(four, { health: { ...view(four).health, status: 'red', unassigned: 3 } });
    expect(nextStep(input(sets, v))).toMatchObject({ kind: 'wait', phase: 'Draining' });
  });

  it('empties a node set gone from the spec, then deletes its UnitSet', () => {
    const gone = set({ name: 'old', wanted: 0, current: 2, inSpec: false, manager: false });
    const keep = set({ name: 'all' });
    const nodes = [...names('logs-all', 3), ...names('logs-old', 2)].map((name) => ({ name }));
    expect(nextStep(input([keep, gone], view(nodes)))).toMatchObject({ kind: 'exclude', adding: ['logs-old-0', 'logs-old-1'] });
    const emptied = { ...gone, current: 0 };
    expect(nextStep(input([keep, emptied], view(names('logs-all', 3).map((name) => ({ name }))), { units: units('logs-all', 'all', 3) })))
      .toEqual({ kind: 'deleteUnitSet', unitSet: 'logs-old' });
  });
});

describe('rolling restart', () => {
  const nodes = [...names('logs-m', 3).map((name) => ({ name, roles: ['cluster_manager'] })), ...names('logs-d', 2).map((name) => ({ name, roles: ['data', 'ingest'] }))];
  const outdated = (over: Partial<NodeSetState> = {}) => [
    set({ name: 'm', outdated: ['logs-m-0', 'logs-m-1', 'logs-m-2'], data: false, ...over }),
    set({ name: 'd', wanted: 2, current: 2, manager: false, outdated: ['logs-d-0', 'logs-d-1'] }),
  ];

  it('orders data nodes first, cluster-manager-eligible ones next, the elected manager last', () => {
    const v = view(nodes, { managerId: 'id-logs-m-1' });
    expect(restartOrder(['logs-m-0', 'logs-m-1', 'logs-m-2', 'logs-d-1', 'logs-d-0'].map((u) => ({ u })), v).map((x) => x.u))
      .toEqual(['logs-d-0', 'logs-d-1', 'logs-m-0', 'logs-m-2', 'logs-m-1']);
  });

  it('pauses replica allocation, then names the first node', () => {
    expect(nextStep(input(outdated(), view(nodes)))).toEqual({ kind: 'pauseAllocation', next: 'logs-d-0' });
    expect(nextStep(input(outdated(), view(nodes, { allocation: { enable: 'primaries', excludeNames: [] } })))).toEqual({ kind: 'restart', unitSet: 'logs-d', unit: 'logs-d-0' });
  });

  it('follows the named node until it is back, resumes allocation, and ends at green', () => {
    const paused = { enable: 'primaries', excludeNames: [] };
    const d = (over: Partial<NodeSetState>) => [set({ name: 'm', data: false }), set({ name: 'd', wanted: 2, current: 2, manager: false, updateNext: ['logs-d-0'], ...over })];
    expect(nextStep(input(d({ outdated: ['logs-d-0', 'logs-d-1'] }), view(nodes, { allocation: paused })))).toMatchObject({ kind: 'wait', reason: 'logs-d-0: waiting for the Unit Operator to restart it' });
    expect(nextStep(input(d({ outdated: ['logs-d-1'], updating: ['logs-d-0'] }), view(nodes, { allocation: paused })))).toMatchObject({ kind: 'wait', reason: 'logs-d-0 is restarting' });
    const without = nodes.filter((n) => n.name !== 'logs-d-0');
    expect(nextStep(input(d({ outdated: ['logs-d-1'] }), view(without, { allocation: paused })))).toMatchObject({ kind: 'wait', reason: 'logs-d-0 restarted; waiting for it to rejoin the cluster' });
    expect(nextStep(input(d({ outdated: ['logs-d-1'] }), view(nodes, { allocation: paused })))).toEqual({ kind: 'resumeAllocation', after: ['logs-d-0'] });
    const yellow = view(nodes, { health: { ...view(nodes).health, status: 'yellow', unassigned: 1 } });
    expect(nextStep(input(d({ outdated: ['logs-d-1'] }), yellow))).toMatchObject({ kind: 'wait', phase: 'Restarting', reason: 'logs-d-0 rejoined; waiting for green (yellow (1 unassigned shards))' });
    expect(nextStep(input(d({ outdated: ['logs-d-1'] }), view(nodes)))).toEqual({ kind: 'finishRestart', unitSets: ['logs-d'], units: ['logs-d-0'] });
  });

  it('starts no restart from an outdated list the Unit Operator has not brought up to the UnitSet\'s spec', () => {
    const stale = [set({ name: 'm', data: false, outdated: ['logs-m-0'], observed: false }), set({ name: 'd', wanted: 2, current: 2, manager: false })];
    expect(nextStep(input(stale, view(nodes)))).toEqual({ kind: 'wait', phase: 'Restarting', reason: 'waiting for the Unit Operator to take in the new spec of logs-m' });
  });

  it('starts no restart while the cluster is not green or a node is missing', () => {
    const yellow = view(nodes, { health: { ...view(nodes).health, status: 'yellow', unassigned: 1 } });
    expect(nextStep(input(outdated(), yellow))).toMatchObject({ kind: 'wait', phase: 'Restarting', reason: '5 nodes wait for a restart; waiting for green (yellow (1 unassigned shards))' });
    expect(nextStep(input(outdated(), view(nodes.slice(1))))).toMatchObject({ kind: 'wait', reason: '5 nodes wait for a restart; waiting for logs-m-0 to join the cluster first' });
  });

  it('resumes allocation it paused once nothing waits for a restart any more', () => {
    const v = view(nodes, { allocation: { enable: 'primaries', excludeNames: [] } });
    const idle = [set({ name: 'm', data: false }), set({ name: 'd', wanted: 2, current: 2, manager: false })];
    expect(nextStep(input(idle, v, { restarting: true }))).toEqual({ kind: 'resumeAllocation', after: [] });
    // A pause the operator did not make is left alone.
    expect(nextStep(input(idle, v, { restarting: false }))).toEqual({ kind: 'done' });
  });

  it('after a full-cluster stop, resumes the allocation it paused only once every wanted node is back', () => {
    const idle = [set({ name: 'm', data: false }), set({ name: 'd', wanted: 2, current: 2, manager: false })];
    const paused = { allocation: { enable: 'primaries' as const, excludeNames: [] } };
    expect(nextStep(input(idle, view(nodes.slice(0, 4), paused), { stopPaused: true })))
      .toEqual({ kind: 'wait', phase: 'Starting', reason: 'started after the stop: waiting for logs-d-1 to rejoin before replica allocation resumes' });
    expect(nextStep(input(idle, view(nodes, paused), { stopPaused: true }))).toEqual({ kind: 'resumeAllocation', after: nodes.map((n) => n.name) });
    // Nothing to resume once allocation is on again; a pause of someone else's is left alone.
    expect(nextStep(input(idle, view(nodes), { stopPaused: true }))).toEqual({ kind: 'done' });
    expect(nextStep(input(idle, view(nodes, paused), { stopPaused: false }))).toEqual({ kind: 'done' });
  });

  it('removes nodes before restarting the others', () => {
    const sets = [set({ name: 'all', wanted: 2, current: 3, outdated: ['logs-all-0', 'logs-all-1', 'logs-all-2'] })];
    const v = view(names('logs-all', 3).map((name) => ({ name })), { maxReplicas: 1 });
    expect(nextStep(input(sets, v))).toMatchObject({ kind: 'exclude', adding: ['logs-all-2'] });
  });
});
