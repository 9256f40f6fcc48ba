import { describe, expect, it } from '@jest/globals';
import type { MysqlReplication } from '../../../lib/api/compose.upm.io.generated.ts';
import { topologyOf } from './topology.ts';

type Node = NonNullable<NonNullable<MysqlReplication['status']>['topology']>[string];
const ip = (n: number) => `127.128.0.${10 + n}`;
const source = (n: number): Node => ({ host: ip(n), port: 3306, role: 'Source', status: 'Healthy', ready: true, readOnly: false });
const replica = (n: number, patch: Partial<Node> = {}): Node => ({
  host: ip(n), port: 3306, role: 'Replica', status: 'Healthy', ready: true, readOnly: true, ioThread: 'Yes', sqlThread: 'Yes', lagSeconds: 0, ...patch,
});

/** A MysqlReplication as its controller leaves it: spec.source wanted, status.source observed. */
function mr(specSource: string, statusSource: string, topology: Record<string, Node>, mode: 'async' | 'semisync' = 'async'): MysqlReplication {
  return {
    metadata: { name: 'db', namespace: 'ns' },
    spec: { secretName: 'db-credentials', mode, source: { name: specSource, unit: specSource } },
    status: { source: statusSource, topology },
  };
}

describe('topologyOf', () => {
  it('takes the observed source as writer and every ready replica as a ready reader', () => {
    const v = topologyOf(mr('db-0', 'db-0', { 'db-0': source(0), 'db-2': replica(2), 'db-1': replica(1, { lagSeconds: 4 }) }, 'semisync'));
    expect(v).toEqual({
      topology: {
        mode: 'semisync',
        source: { name: 'db-0', host: ip(0), port: 3306, ready: true },
        replicas: [
          { name: 'db-1', host: ip(1), port: 3306, ready: true, lagSeconds: 4 },
          { name: 'db-2', host: ip(2), port: 3306, ready: true, lagSeconds: 0 },
        ],
      },
      leftOut: [],
    });
  });

  it('follows status, not spec, while a switchover is under way, and the new source once it is done', () => {
    const pending = topologyOf(mr('db-1', 'db-0', { 'db-0': source(0), 'db-1': replica(1) }));
    expect(pending.topology?.source?.name).toBe('db-0');
    expect(pending.topology?.replicas.map((r) => r.name)).toEqual(['db-1']);
    const done = topologyOf(mr('db-1', 'db-1', { 'db-1': source(1), 'db-0': replica(0) }));
    expect(done.topology?.source).toEqual({ name: 'db-1', host: ip(1), port: 3306, ready: true });
    expect(done.topology?.replicas.map((r) => r.name)).toEqual(['db-0']);
  });

  it('keeps the wanted source as a writer that is not ready while no node takes writes', () => {
    const failed: Node = { host: ip(0), port: 3306, role: 'None', status: 'Failed', ready: false, readOnly: true, lastError: 'connect ECONNREFUSED' };
    const v = topologyOf(mr('db-0', '', { 'db-0': failed, 'db-1': replica(1) }));
    expect(v.topology?.source).toEqual({ name: 'db-0', host: ip(0), port: 3306, ready: false });
    expect(v.topology?.replicas).toEqual([{ name: 'db-1', host: ip(1), port: 3306, ready: true, lagSeconds: 0 }]);
  });

  it('marks a fenced source (read-only during a switchover) and broken replicas not ready', () => {
    const v = topologyOf(mr('db-0', '', {
      'db-0': { ...source(0), readOnly: true, ready: false },
      'db-1': replica(1, { sqlThread: 'No', ready: false, lastError: 'Duplicate entry' }),
      'db-2': replica(2, { status: 'Failed', ready: false }),
    }));
    expect(v.topology?.source?.ready).toBe(false);
    expect(v.topology?.replicas.map((r) => [r.name, r.ready])).toEqual([['db-1', false], ['db-2', false]]);
  });

  it('leaves out isolated nodes, nodes without an address and a writable node that is not the source', () => {
    const v = topologyOf(mr('db-0', 'db-0', {
      'db-0': source(0),
      'db-1': replica(1, { isolated: true, role: 'None' }),
      'db-2': { ...source(2) },
      'db-3': replica(3, { host: '' }),
      'db-4': replica(4),
    }));
    expect(v.topology?.replicas.map((r) => r.name)).toEqual(['db-4']);
    expect(v.leftOut).toEqual([
      { name: 'db-1', reason: 'isolated' },
      { name: 'db-2', reason: 'writable but not the source' },
      { name: 'db-3', reason: 'no address yet' },
    ]);
  });

  it('says so when the replication has not reported a topology yet', () => {
    const fresh: MysqlReplication = { metadata: { name: 'db' }, spec: { secretName: 's', source: { name: 'db-0', unit: 'db-0' } } };
    expect(topologyOf(fresh)).toEqual({ leftOut: [], problem: 'MysqlReplication "db" reports no topology yet' });
  });
});
