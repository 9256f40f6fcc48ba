import { describe, expect, it } from '@jest/globals';
import type { UnitSet } from '../../../lib/api/unit.upm.io.generated.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import { SERVICE_KIND_LABEL, SERVICE_NAME_LABEL } from '../contract.ts';
import { CLUSTER, find, names, objectsOf, service } from './fixtures.testing.ts';
import { desiredRedis } from './redis.ts';

const svc = (spec: Record<string, unknown> = {}) => service('RedisService', 'rs', { version: '7.2', topology: { mode: 'replication', replicas: 3 }, resources: { cpu: '500m', memory: '256Mi' }, options: { sentinel: { enabled: true } }, ...spec });
const objects = (spec: Record<string, unknown> = {}, live: KubeObject[] = []) => objectsOf(desiredRedis(svc(spec), CLUSTER, live));
type Rr = { spec: { secretName: string; source: { unit: string }; replicas: { unit: string }[]; sentinel?: { secretName: string; nodes: { name: string; unit: string }[]; quorum?: number } } };

describe('desired member objects of a RedisService', () => {
  it('are the Redis and Sentinel UnitSets and the RedisReplication of the compose tests, with the labels', () => {
    const objs = objects();
    expect(names(objs)).toEqual(['Namespace/shop', 'UnitSet/rs', 'UnitSet/rs-sentinel', 'RedisReplication/rs']);
    expect(find<UnitSet>(objs, 'UnitSet', 'rs').spec).toMatchObject({ engine: 'redis', version: '7.2', units: 3, resources: { limits: { cpu: '500m', memory: '256Mi' } }, storage: [{ name: 'data', size: '10Gi', mountPath: '/data' }] });
    expect(find<UnitSet>(objs, 'UnitSet', 'rs-sentinel').spec).toMatchObject({ engine: 'redis-sentinel', version: '7.2', units: 3, storage: [{ name: 'data', size: '1Gi', mountPath: '/data' }] });
    expect(find<Rr>(objs, 'RedisReplication', 'rs').spec).toEqual({
      secretName: 'rs-credentials', source: { name: 'rs-0', unit: 'rs-0' }, replicas: [{ name: 'rs-1', unit: 'rs-1' }, { name: 'rs-2', unit: 'rs-2' }],
      sentinel: { secretName: 'rs-sentinel-credentials', nodes: ['rs-sentinel-0', 'rs-sentinel-1', 'rs-sentinel-2'].map((u) => ({ name: u, unit: u })) },
    });
    for (const o of objs.slice(1)) expect(o.metadata.labels).toMatchObject({ [SERVICE_KIND_LABEL]: 'redisservice', [SERVICE_NAME_LABEL]: 'rs' });
  });

  it('follows edits: servers, sentinels and quorum, parameters, storage; keeps the master Sentinel failed over to', () => {
    const objs = objects({ topology: { mode: 'replication', replicas: 5 }, options: { sentinel: { enabled: true, replicas: 5, quorum: 3 }, parameters: { maxmemory: '100mb' } }, storage: { size: '20Gi' } });
    expect(find<UnitSet>(objs, 'UnitSet', 'rs').spec).toMatchObject({ units: 5, parameters: { maxmemory: '100mb' }, storage: [{ size: '20Gi' }] });
    expect(find<UnitSet>(objs, 'UnitSet', 'rs-sentinel').spec.units).toBe(5);
    expect(find<Rr>(objs, 'RedisReplication', 'rs').spec.sentinel).toMatchObject({ quorum: 3 });
    const live = { apiVersion: 'compose.upm.io/v1alpha1', kind: 'RedisReplication', metadata: { name: 'rs' }, spec: { source: { name: 'rs-1', unit: 'rs-1' } } } as KubeObject;
    expect(find<Rr>(objects({}, [live]), 'RedisReplication', 'rs').spec).toMatchObject({ source: { unit: 'rs-1' }, replicas: [{ unit: 'rs-0' }, { unit: 'rs-2' }] });
  });

  it('has no Sentinel unless asked, and one server standalone', () => {
    expect(names(objects({ options: {} }))).toEqual(['Namespace/shop', 'UnitSet/rs', 'RedisReplication/rs']);
    expect(find<Rr>(objects({ options: {} }), 'RedisReplication', 'rs').spec.sentinel).toBeUndefined();
    const solo = objects({ topology: { mode: 'standalone' }, options: {} });
    expect(find<UnitSet>(solo, 'UnitSet', 'rs').spec.units).toBe(1);
    const d = desiredRedis(svc({ topology: { mode: 'standalone' } }), CLUSTER, []);
    expect('refused' in d && d.refused.field).toBe('spec.options.sentinel.enabled');
  });
});
