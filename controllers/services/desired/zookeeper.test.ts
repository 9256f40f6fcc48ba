import { describe, expect, it } from '@jest/globals';
import { SERVICE_NAME_LABEL } from '../contract.ts';
import { CLUSTER, find, names, objectsOf, service } from './fixtures.testing.ts';
import { desiredZookeeper } from './zookeeper.ts';

const svc = (spec: Record<string, unknown> = {}) => service('ZookeeperService', 'zk', { version: '3.8', topology: { replicas: 3 }, resources: { cpu: '500m', memory: '256Mi' }, ...spec });
const refused = (spec: Record<string, unknown>) => { const d = desiredZookeeper(svc(spec), CLUSTER, []); return 'refused' in d ? d.refused : undefined; };

describe('desired member objects of a ZookeeperService', () => {
  it('are the ZookeeperEnsemble of the compose tests, which makes its own UnitSet', () => {
    const objs = objectsOf(desiredZookeeper(svc(), CLUSTER, []));
    expect(names(objs)).toEqual(['Namespace/shop', 'ZookeeperEnsemble/zk']);
    const zke = find(objs, 'ZookeeperEnsemble', 'zk');
    expect(zke.spec).toEqual({
      version: '3.8', replicas: 3, resources: { limits: { cpu: '500m', memory: '256Mi' } }, storage: { size: '10Gi', storageClassName: 'kwok-volume' },
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' }],
    });
    expect(zke.metadata.labels?.[SERVICE_NAME_LABEL]).toBe('zk');
  });

  it('follows edits: servers, parameters, a node group as the node selector, zones as affinity and spread', () => {
    const zke = find(objectsOf(desiredZookeeper(svc({ topology: { replicas: 5 }, options: { parameters: { tickTime: '1000' } }, placement: { cluster: 'member1', nodeGroup: 'zone-b' } }), CLUSTER, [])), 'ZookeeperEnsemble', 'zk');
    expect(zke.spec).toMatchObject({ replicas: 5, parameters: { tickTime: '1000' }, nodeSelector: { 'topology.kubernetes.io/zone': 'zone-b' } });
    const zoned = find(objectsOf(desiredZookeeper(svc({ placement: { cluster: 'member1', zones: ['zone-a', 'zone-c'] } }), CLUSTER, [])), 'ZookeeperEnsemble', 'zk');
    expect(zoned.spec).toMatchObject({
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['zone-a', 'zone-c'] }] }] } },
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule' }],
    });
  });

  it('refuses what the ensemble cannot do, naming the field', () => {
    expect(refused({ topology: { replicas: 1 } })).toEqual({ field: 'spec.topology.replicas', message: 'Invalid value: 1: a ZookeeperEnsemble has at least 3 servers' });
    expect(refused({ placement: { cluster: 'member1', zones: ['zone-x'] } })?.field).toBe('spec.placement.zones[0]');
    expect(refused({ deletionPolicy: 'Retain' })?.field).toBe('spec.deletionPolicy');
  });
});
