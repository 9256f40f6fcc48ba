import { describe, expect, it } from '@jest/globals';
import type { UnitSet } from '../../../lib/api/unit.upm.io.generated.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import { CLUSTER, find, names, objectsOf, service } from './fixtures.testing.ts';
import type { RedisCluster } from '../../../lib/api/compose.upm.io.generated.ts';
import { desiredRedisCluster, shardLayout, unitsKept } from './rediscluster.ts';

const svc = (topology: Record<string, unknown>, spec: Record<string, unknown> = {}) => service('RedisClusterService', 'rc', { version: '7.2', topology, ...spec });
const units = (layout: { members: { unit: string }[] }[]) => layout.map((s) => s.members.map((m) => m.unit).join(' '));
const live = (shards: unknown) => [{ apiVersion: 'compose.upm.io/v1alpha1', kind: 'RedisCluster', metadata: { name: 'rc' }, spec: { shards } } as KubeObject];

describe('desired member objects of a RedisClusterService', () => {
  it('are a cluster-enabled UnitSet and the RedisCluster of the compose tests: shards of a master and its replicas', () => {
    const objs = objectsOf(desiredRedisCluster(svc({ shards: 3, replicasPerShard: 1 }, { options: { parameters: { 'cluster-node-timeout': '2000' } } }), CLUSTER, []));
    expect(names(objs)).toEqual(['Namespace/shop', 'UnitSet/rc', 'RedisCluster/rc']);
    expect(find<UnitSet>(objs, 'UnitSet', 'rc').spec).toMatchObject({ engine: 'redis', units: 6, parameters: { 'cluster-enabled': 'yes', 'cluster-node-timeout': '2000' }, storage: [{ mountPath: '/data' }] });
    const rc = find<{ spec: { secretName: string; shards: { name: string; members: { name: string; unit: string }[] }[] } }>(objs, 'RedisCluster', 'rc');
    expect(rc.spec.secretName).toBe('rc-credentials');
    expect(rc.spec.shards[0]).toEqual({ name: 'shard-0', members: [{ name: 'rc-0', unit: 'rc-0' }, { name: 'rc-1', unit: 'rc-1' }] });
    expect(units(rc.spec.shards)).toEqual(['rc-0 rc-1', 'rc-2 rc-3', 'rc-4 rc-5']);
  });

  it('grows and shrinks shards and replicas without moving a unit the member has to another shard', () => {
    const base = shardLayout('rc', 3, 1, undefined);
    const wider = shardLayout('rc', 3, 2, base);
    expect(units(wider)).toEqual(['rc-0 rc-1 rc-6', 'rc-2 rc-3 rc-7', 'rc-4 rc-5 rc-8']);
    const more = shardLayout('rc', 4, 2, wider);
    expect(units(more)).toEqual(['rc-0 rc-1 rc-6', 'rc-2 rc-3 rc-7', 'rc-4 rc-5 rc-8', 'rc-9 rc-10 rc-11']);
    expect(units(shardLayout('rc', 3, 2, more))).toEqual(units(wider));
    expect(units(shardLayout('rc', 3, 1, wider))).toEqual(units(base));
    // The cluster's grown UnitSet and spec, from the service: 4 shards of 3.
    const objs = objectsOf(desiredRedisCluster(svc({ shards: 4, replicasPerShard: 2 }), CLUSTER, live(wider)));
    expect(find<UnitSet>(objs, 'UnitSet', 'rc').spec.units).toBe(12);
  });

  it('refuses a cluster without cluster mode, naming the parameter', () => {
    const d = desiredRedisCluster(svc({}, { options: { parameters: { 'cluster-enabled': 'no' } } }), CLUSTER, []);
    expect('refused' in d && d.refused.field).toBe('spec.options.parameters[cluster-enabled]');
  });
});

describe('a shrink of a RedisClusterService', () => {
  const four = shardLayout('rc', 4, 1, undefined);
  const three = shardLayout('rc', 3, 1, four);
  const rc = (shards: unknown, generation: number, status: RedisCluster['status']) => ({ apiVersion: 'compose.upm.io/v1alpha1', kind: 'RedisCluster', metadata: { name: 'rc', generation }, spec: { shards }, status }) as RedisCluster;
  const unitSet = (n: number) => ({ apiVersion: 'unit.upm.io/v1alpha1', kind: 'UnitSet', metadata: { name: 'rc' }, spec: { units: n } }) as KubeObject;
  const usUnits = (l: KubeObject[]) => find<UnitSet>(objectsOf(desiredRedisCluster(svc({ shards: 3, replicasPerShard: 1 }), CLUSTER, l)), 'UnitSet', 'rc').spec.units;

  it('removes no unit until the RedisCluster dropped it, drained its slots and forgot it', () => {
    // The member still has 4 shards in its spec: the units stay, the new spec goes out.
    expect(usUnits([rc(four, 3, { observedGeneration: 3, ready: true }), unitSet(8)])).toBe(8);
    // It took the new spec but has not acted on it, or is still moving slots off the leaving shard.
    expect(usUnits([rc(three, 4, { observedGeneration: 3, ready: true }), unitSet(8)])).toBe(8);
    expect(usUnits([rc(three, 4, { observedGeneration: 4, ready: false, leaving: ['a (10.0.0.7:6379)'] }), unitSet(8)])).toBe(8);
    expect(usUnits([rc(three, 4, { observedGeneration: 4, ready: true, leaving: ['a (10.0.0.7:6379)'] }), unitSet(8)])).toBe(8);
    // Settled on the smaller spec, nothing leaving: now the UnitSet shrinks.
    expect(usUnits([rc(three, 4, { observedGeneration: 4, ready: true, leaving: [] }), unitSet(8)])).toBe(6);
    // Growing, or without a live UnitSet, the count is the spec's.
    expect(unitsKept('rc', 8, rc(three, 4, { observedGeneration: 3 }), 6)).toBe(8);
    expect(unitsKept('rc', 6, undefined, undefined)).toBe(6);
  });
});
