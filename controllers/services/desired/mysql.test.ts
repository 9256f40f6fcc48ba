import { describe, expect, it } from '@jest/globals';
import type { UnitSet } from '../../../lib/api/unit.upm.io.generated.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import { MANAGED_LABEL, MANAGED_VALUE, PROJECT_LABEL, SERVICE_KIND_LABEL, SERVICE_NAME_LABEL } from '../contract.ts';
import { retainedOf } from './common.ts';
import { CLUSTER, find, names, objectsOf, service } from './fixtures.testing.ts';
import { desiredMysql } from './mysql.ts';

const maria = (spec: Record<string, unknown> = {}) => service('MysqlService', 'db', { engine: 'mariadb', version: '10.11', topology: { mode: 'semisync', replicas: 3 }, resources: { cpu: 1, memory: '256Mi' }, ...spec });
const objects = (spec: Record<string, unknown> = {}, live: KubeObject[] = []) => objectsOf(desiredMysql(maria(spec), CLUSTER, live));
type Mr = { spec: { engine: string; mode: string; secretName: string; source: { name: string; unit: string }; replicas: { name: string; unit: string }[] } };

describe('desired member objects of a MysqlService', () => {
  it('are the namespace, the UnitSet and the MysqlReplication the compose tests apply, derived from the service', () => {
    const objs = objects();
    expect(names(objs)).toEqual(['Namespace/shop', 'UnitSet/db', 'MysqlReplication/db']);
    expect(objs[0]).toEqual({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { [MANAGED_LABEL]: MANAGED_VALUE, [PROJECT_LABEL]: 'shop' } } });
    const us = find<UnitSet>(objs, 'UnitSet', 'db');
    expect(us.metadata).toEqual({ name: 'db', namespace: 'shop', labels: { [MANAGED_LABEL]: 'upm-hub', [SERVICE_KIND_LABEL]: 'mysqlservice', [SERVICE_NAME_LABEL]: 'db', [PROJECT_LABEL]: 'shop' } });
    expect(us.spec).toEqual({
      engine: 'mariadb', version: '10.11', units: 3,
      resources: { limits: { cpu: '1', memory: '256Mi' } },
      storage: [{ name: 'data', size: '10Gi', mountPath: '/var/lib/mysql', storageClassName: 'kwok-volume' }],
      pvcRetentionPolicy: { whenScaled: 'Retain', whenDeleted: 'Delete' },
      // No zones asked for: a soft spread over the cluster's three.
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' }],
    });
    expect(find<Mr>(objs, 'MysqlReplication', 'db')).toMatchObject({
      apiVersion: 'compose.upm.io/v1alpha1', metadata: { namespace: 'shop', labels: { [SERVICE_NAME_LABEL]: 'db' } },
      spec: { engine: 'mariadb', mode: 'semisync', secretName: 'db-credentials', source: { name: 'db-0', unit: 'db-0' }, replicas: [{ name: 'db-1', unit: 'db-1' }, { name: 'db-2', unit: 'db-2' }] },
    });
    // Every object but the shared namespace names the service; none carries a password.
    for (const o of objs.slice(1)) expect(o.metadata.labels).toMatchObject({ [SERVICE_KIND_LABEL]: 'mysqlservice', [SERVICE_NAME_LABEL]: 'db', [PROJECT_LABEL]: 'shop', [MANAGED_LABEL]: 'upm-hub' });
    expect(objs.some((o) => o.kind === 'Secret')).toBe(false);
  });

  it('turns the member\'s automatic failover off only when spec.options.failover.automatic is false', () => {
    const failover = (options?: Record<string, unknown>) => (find<Mr>(objects(options ? { options } : {}), 'MysqlReplication', 'db').spec as Record<string, unknown>).failover;
    expect(failover()).toBeUndefined();
    expect(failover({ failover: { automatic: true } })).toBeUndefined();
    expect(failover({ failover: { automatic: false } })).toEqual({ enabled: false });
  });

  it('defaults to MySQL, async, two servers; a standalone server has no replicas', () => {
    const d = objectsOf(desiredMysql(service('MysqlService', 'm', { version: '8.4' }), CLUSTER, []));
    expect(find<UnitSet>(d, 'UnitSet', 'm').spec).toMatchObject({ engine: 'mysql', version: '8.4', units: 2 });
    expect(find<Mr>(d, 'MysqlReplication', 'm').spec).toMatchObject({ engine: 'mysql', mode: 'async', replicas: [{ name: 'm-1', unit: 'm-1' }] });
    const solo = objectsOf(desiredMysql(service('MysqlService', 's', { version: '8.0', topology: { mode: 'standalone' } }), CLUSTER, []));
    expect(find<UnitSet>(solo, 'UnitSet', 's').spec.units).toBe(1);
    expect(find<Mr>(solo, 'MysqlReplication', 's').spec).toMatchObject({ mode: 'async', source: { unit: 's-0' }, replicas: [] });
  });

  it('follows edits of the service: servers, version, parameters, resources, storage, deletion policy', () => {
    const before = objects();
    const after = objects({ version: '10.11', topology: { mode: 'semisync', replicas: 5 }, options: { parameters: { max_connections: '500' } }, resources: { cpu: '2', memory: '1Gi' }, storage: { size: '20Gi', storageClassName: 'fast' }, deletionPolicy: 'Retain' });
    const [a, b] = [find<UnitSet>(before, 'UnitSet', 'db').spec, find<UnitSet>(after, 'UnitSet', 'db').spec];
    expect([a.units, b.units]).toEqual([3, 5]);
    expect(b.parameters).toEqual({ max_connections: '500' });
    expect(b.resources).toEqual({ limits: { cpu: '2', memory: '1Gi' } });
    expect(b.storage).toEqual([{ name: 'data', size: '20Gi', mountPath: '/var/lib/mysql', storageClassName: 'fast' }]);
    expect(b.pvcRetentionPolicy).toEqual({ whenScaled: 'Retain', whenDeleted: 'Retain' });
    expect(find<Mr>(after, 'MysqlReplication', 'db').spec.replicas.map((r) => r.unit)).toEqual(['db-1', 'db-2', 'db-3', 'db-4']);
    expect(find<UnitSet>(objects({ engine: 'mysql', version: '8.4' }), 'UnitSet', 'db').spec).toMatchObject({ engine: 'mysql', version: '8.4' });
    // With Retain, what a deletion leaves: every unit's claim and the credentials Secret.
    expect(retainedOf(desiredMysql(maria({ deletionPolicy: 'Retain' }), CLUSTER, []))).toEqual({ claims: ['db-0-data', 'db-1-data', 'db-2-data'], secrets: ['db-credentials'] });
  });

  it('keeps the source the member failed over to, and moves it off a unit a scale-in removes before removing it', () => {
    const failedOver = { apiVersion: 'compose.upm.io/v1alpha1', kind: 'MysqlReplication', metadata: { name: 'db', namespace: 'shop' }, spec: { source: { name: 'db-2', unit: 'db-2' }, replicas: [{ name: 'db-0', unit: 'db-0' }, { name: 'db-1', unit: 'db-1' }] }, status: { source: 'db-2' } } as KubeObject;
    const objs = objects({}, [failedOver]);
    expect(find<Mr>(objs, 'MysqlReplication', 'db').spec).toMatchObject({ source: { unit: 'db-2' }, replicas: [{ unit: 'db-0' }, { unit: 'db-1' }] });
    // 3 -> 2 while db-2 is the source: db-0 becomes the source and db-2 stays (a replica) until the switchover is done.
    const shrinking = objects({ topology: { mode: 'semisync', replicas: 2 } }, [failedOver]);
    expect(find<UnitSet>(shrinking, 'UnitSet', 'db').spec.units).toBe(3);
    expect(find<Mr>(shrinking, 'MysqlReplication', 'db').spec).toMatchObject({ source: { unit: 'db-0' }, replicas: [{ unit: 'db-1' }, { unit: 'db-2' }] });
    const switched = { ...failedOver, spec: { source: { name: 'db-0', unit: 'db-0' } }, status: { source: 'db-0' } } as KubeObject;
    const done = objects({ topology: { mode: 'semisync', replicas: 2 } }, [switched]);
    expect(find<UnitSet>(done, 'UnitSet', 'db').spec.units).toBe(2);
    expect(find<Mr>(done, 'MysqlReplication', 'db').spec.replicas.map((r) => r.unit)).toEqual(['db-1']);
  });

  it('adds ProxySQL units and their ProxysqlSync when asked, with the ProxySQL UnitSet credentials', () => {
    const objs = objects({ options: { proxysql: { enabled: true, replicas: 2 } } });
    expect(names(objs)).toEqual(['Namespace/shop', 'UnitSet/db', 'UnitSet/db-proxysql', 'MysqlReplication/db', 'ProxysqlSync/db']);
    expect(find<UnitSet>(objs, 'UnitSet', 'db-proxysql').spec).toMatchObject({ engine: 'proxysql', version: '2.7', units: 2 });
    expect(find<UnitSet>(objs, 'UnitSet', 'db-proxysql').spec.storage).toBeUndefined();
    expect(find(objs, 'ProxysqlSync', 'db').spec).toEqual({ mysqlReplication: 'db', secretName: 'db-proxysql-credentials', proxysql: [{ name: 'db-proxysql-0', unit: 'db-proxysql-0' }, { name: 'db-proxysql-1', unit: 'db-proxysql-1' }] });
    expect(names(objects({ options: { proxysql: { enabled: false } } }))).toEqual(['Namespace/shop', 'UnitSet/db', 'MysqlReplication/db']);
  });

  it('turns zones and a node group into node affinity, spread and selection over the member nodes', () => {
    const us = (placement: Record<string, unknown>) => find<UnitSet>(objects({ placement: { cluster: 'member1', ...placement } }), 'UnitSet', 'db').spec;
    expect(us({ zones: ['zone-b', 'zone-a'] })).toMatchObject({
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['zone-a', 'zone-b'] }] }] } },
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule' }],
    });
    const one = us({ zones: ['zone-c'] });
    expect(one.nodeAffinity).toBeDefined();
    expect(one.topologySpreadConstraints).toBeUndefined();
    const group = us({ nodeGroup: 'zone-b' });
    expect(group.nodeSelector).toEqual({ 'topology.kubernetes.io/zone': 'zone-b' });
    expect(group.nodeAffinity).toBeUndefined();
  });

  it("places on what the hub read from the member, within the Cluster's spec, and on the spec alone before the first read", () => {
    const restricted = { ...CLUSTER, spec: { zones: ['zone-a', 'zone-b'], storageClasses: [{ name: 'fast', default: true }] } };
    const d = desiredMysql(maria({ placement: { cluster: 'member1', zones: ['zone-c'] } }), restricted, []);
    expect('refused' in d && d.refused).toEqual({ field: 'spec.placement.zones[0]', message: 'Unsupported value: "zone-c": the Cluster "member1" has the zones "zone-a", "zone-b"' });
    // The spec's default class wins over the member's; the soft spread covers the zones offered.
    expect(find<UnitSet>(objectsOf(desiredMysql(maria(), restricted, [])), 'UnitSet', 'db').spec.storage?.[0]?.storageClassName).toBe('fast');
    const unread = { ...CLUSTER, status: {}, spec: { nodeGroups: [{ name: 'big', zone: 'zone-a', nodeSelector: { pool: 'big' } }] } };
    expect(find<UnitSet>(objectsOf(desiredMysql(maria({ placement: { cluster: 'member1', nodeGroup: 'big' } }), unread, [])), 'UnitSet', 'db').spec).toMatchObject({ nodeSelector: { pool: 'big' } });
    const nothing = find<UnitSet>(objectsOf(desiredMysql(maria({ placement: { cluster: 'member1', zones: ['zone-q'] } }), { ...CLUSTER, status: {} }, [])), 'UnitSet', 'db').spec;
    expect(nothing.storage?.[0]?.storageClassName).toBeUndefined();
    expect(JSON.stringify(nothing.nodeAffinity)).toContain('zone-q');
    const noGroup = desiredMysql(maria({ placement: { cluster: 'member1', nodeGroup: 'zone-a' } }), { ...CLUSTER, status: {} }, []);
    expect('refused' in noGroup && noGroup.refused.message).toBe('Unsupported value: "zone-a": the Cluster "member1" has no such node group (its nodes have not been read yet)');
  });

  it('refuses what the member cannot run, naming the field', () => {
    const refused = (spec: Record<string, unknown>, name = 'db') => { const d = desiredMysql(service('MysqlService', name, { version: '10.11', engine: 'mariadb', ...spec }), CLUSTER, []); return 'refused' in d ? d.refused : undefined; };
    expect(refused({ placement: { cluster: 'member1', zones: ['zone-x'] } })).toEqual({ field: 'spec.placement.zones[0]', message: 'Unsupported value: "zone-x": the Cluster "member1" has the zones "zone-a", "zone-b", "zone-c"' });
    expect(refused({ placement: { cluster: 'member1', nodeGroup: 'gpu' } })?.field).toBe('spec.placement.nodeGroup');
    expect(refused({ placement: { cluster: 'member1', zones: ['zone-a'], nodeGroup: 'zone-b' } })?.message).toBe('Invalid value: "zone-b": its nodes are in "zone-b", none of spec.placement.zones');
    expect(refused({ storage: { size: '1Gi', storageClassName: 'slow' } })?.field).toBe('spec.storage.storageClassName');
    expect(refused({ placement: { cluster: 'member2' } })?.field).toBe('spec.placement.cluster');
    expect(refused({ topology: { mode: 'semisync', replicas: 1 } })?.field).toBe('spec.topology.replicas');
    expect(refused({}, 'x'.repeat(46))?.field).toBe('metadata.name');
    expect(refused({}, 'x'.repeat(45))).toBeUndefined();
  });
});
