import { describe, expect, it } from '@jest/globals';
import { parseClusterNodes, type NodeView } from './plan.ts';
import { describeCluster, type ResolvedMember } from './status.ts';

const A = 'a'.repeat(40);
const A1 = 'b'.repeat(40);
const B = 'c'.repeat(40);
const B1 = 'd'.repeat(40);
const X = 'e'.repeat(40);

const members: ResolvedMember[] = [
  { name: 'a-0', shard: 'a', field: 'spec.shards[0].members[0]', unit: 'rc-0', host: '10.0.0.1', port: 6379 },
  { name: 'a-1', shard: 'a', field: 'spec.shards[0].members[1]', unit: 'rc-1', host: '10.0.0.2', port: 6379 },
  { name: 'b-0', shard: 'b', field: 'spec.shards[1].members[0]', unit: 'rc-2', host: '10.0.0.3', port: 6379 },
  { name: 'b-1', shard: 'b', field: 'spec.shards[1].members[1]', unit: 'rc-3', host: '10.0.0.4', port: 6379 },
];

/** CLUSTER NODES as node `me` prints it; `extra` flags per id. */
function nodesText(me: string, extra: Record<string, string> = {}, more = ''): string {
  const lines = [
    [A, '10.0.0.1', 'master', '-', '0-8191'],
    [A1, '10.0.0.2', 'slave', A, ''],
    [B, '10.0.0.3', 'master', '-', '8192-16383'],
    [B1, '10.0.0.4', 'slave', B, ''],
  ].map(([id, host, role, master, slots]) => {
    const flags = [...(id === me ? ['myself'] : []), role, ...(extra[id!] ? [extra[id!]] : [])].join(',');
    return `${id} ${host}:6379@16379 ${flags} ${master} 0 0 1 connected ${slots}`.trim();
  });
  return `${lines.join('\n')}\n${more}`;
}

function views(extra: Record<string, string> = {}, more = ''): NodeView[] {
  return [[A, '10.0.0.1'], [A1, '10.0.0.2'], [B, '10.0.0.3'], [B1, '10.0.0.4']].map(([id, host]) => ({
    host: host!, port: 6379, state: 'ok', nodes: parseClusterNodes(nodesText(id!, extra, more)),
    ...([A1, B1].includes(id!) ? { replication: { linkUp: true, syncing: false } } : {}),
  }));
}

describe('describeCluster', () => {
  it('reports each member as the cluster sees it, and no problem when all is well', () => {
    const d = describeCluster(members, { views: views() });
    expect(d.problems).toEqual([]);
    expect(d.masters).toEqual({ a: 'a-0', b: 'b-0' });
    expect(d.shards).toBe(2);
    expect(d.slotsAssigned).toBe(16384);
    expect(d.leaving).toEqual([]);
    expect(d.topology['a-0']).toEqual({ unit: 'rc-0', host: '10.0.0.1', port: 6379, shard: 'a', id: A, role: 'Master', slots: ['0-8191'], slotCount: 8192, status: 'Healthy', ready: true });
    expect(d.topology['b-1']).toEqual({ unit: 'rc-3', host: '10.0.0.4', port: 6379, shard: 'b', id: B1, role: 'Replica', masterRef: 'b-0', slots: [], slotCount: 0, status: 'Healthy', ready: true, linkUp: true });
  });

  it('names the field of every member that is not ready, and why', () => {
    const v = views({ [A]: 'fail?' }).filter((x) => x.host !== '10.0.0.1');
    v.push({ host: '10.0.0.1', port: 6379, error: 'connect ECONNREFUSED' });
    v.find((x) => x.host === '10.0.0.4')!.replication = { linkUp: false, syncing: false };
    const d = describeCluster([...members, { name: 'c-0', shard: 'c', field: 'spec.shards[2].members[0]', unit: 'rc-9', host: '', port: 6379, problem: 'unit rc-9 not found' }], { views: v });
    expect(d.topology['a-0']).toMatchObject({ id: A, role: 'None', status: 'Unreachable', ready: false, lastError: 'connect ECONNREFUSED' });
    expect(d.topology['c-0']).toMatchObject({ status: 'Unreachable', lastError: 'unit rc-9 not found' });
    expect(d.masters).toEqual({ b: 'b-0' });
    expect(d.problems).toEqual([
      'spec.shards[0].members[0] (a-0): connect ECONNREFUSED',
      'spec.shards[0].members[1] (a-1): replicates a-0, not the master of shard a',
      'spec.shards[1].members[1] (b-1): link to its master is down',
      'spec.shards[2].members[0] (c-0): unit rc-9 not found',
    ]);
  });

  it('marks a node failing when another member flags it, lists nodes that are not members', () => {
    const d = describeCluster(members, { views: views({ [B1]: 'fail' }, `${X} 10.0.0.9:6379@16379 master - 0 0 1 connected\n`) });
    expect(d.topology['b-1']).toMatchObject({ status: 'Failing', ready: false, lastError: 'marked failing by other nodes' });
    expect(d.leaving).toEqual([`${X} (10.0.0.9:6379)`]);
    expect(d.problems).toEqual(['spec.shards[1].members[1] (b-1): marked failing by other nodes']);
  });

  it('counts unassigned slots as a problem', () => {
    const v = views().map((x) => ({ ...x, nodes: x.nodes!.map((n) => (n.id === B ? { ...n, slots: [[8192, 16000] as [number, number]] } : n)) }));
    expect(describeCluster(members, { views: v }).problems).toContain('383 of 16384 slots are not assigned');
  });
});
