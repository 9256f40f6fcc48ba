import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../../lib/kube/types.ts';
import { CLUSTER, find, names, objectsOf, service } from './fixtures.testing.ts';
import { desiredKafka } from './kafka.ts';

const svc = (spec: Record<string, unknown> = {}) => service('KafkaService', 'ev', { version: '3.9', topology: { brokers: 3 }, resources: { cpu: '500m', memory: '512Mi' }, ...spec });
const kc = (spec: Record<string, unknown> = {}, live: KubeObject[] = []) => find(objectsOf(desiredKafka(svc(spec), CLUSTER, live)), 'KafkaCluster', 'ev').spec;
const refused = (spec: Record<string, unknown>, live: KubeObject[] = []) => { const d = desiredKafka(svc(spec), CLUSTER, live); return 'refused' in d ? d.refused : undefined; };
const live = (spec: Record<string, unknown>) => [{ apiVersion: 'compose.upm.io/v1alpha1', kind: 'KafkaCluster', metadata: { name: 'ev' }, spec } as KubeObject];

describe('desired member objects of a KafkaService', () => {
  it('are the KafkaCluster of the compose tests: three combined broker-controllers', () => {
    expect(names(objectsOf(desiredKafka(svc(), CLUSTER, [])))).toEqual(['Namespace/shop', 'KafkaCluster/ev']);
    expect(kc()).toEqual({
      version: '3.9', brokers: 3, controllers: 3, roles: 'Combined', resources: { limits: { cpu: '500m', memory: '512Mi' } }, storage: { size: '10Gi', storageClassName: 'kwok-volume' },
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' }],
    });
    expect(kc({ placement: { cluster: 'member1', zones: ['zone-b'], nodeGroup: 'zone-b' } })).toMatchObject({ nodeSelector: { 'topology.kubernetes.io/zone': 'zone-b' }, nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: {} } });
    expect(kc({ topology: { brokers: 1 } })).toMatchObject({ brokers: 1, controllers: 1, roles: 'Combined' });
    expect(kc({ topology: { brokers: 4, dedicatedControllers: 3 } })).toMatchObject({ brokers: 4, controllers: 3, roles: 'Dedicated' });
  });

  it('follows edits (brokers 3 -> 5, parameters, replication factor) and keeps the quorum it was made with', () => {
    expect(kc({ topology: { brokers: 5 }, options: { defaultReplicationFactor: 3, parameters: { 'num.partitions': '6' } } })).toMatchObject({ brokers: 5, controllers: 3, parameters: { 'num.partitions': '6', 'default.replication.factor': '3' } });
    // Made with one broker (a quorum of one), grown to 3: the quorum stays one.
    expect(kc({ topology: { brokers: 3 } }, live({ brokers: 1, controllers: 1, roles: 'Combined' }))).toMatchObject({ brokers: 3, controllers: 1 });
  });

  it('refuses what the KafkaCluster cannot change, naming the field', () => {
    expect(refused({ topology: { brokers: 2 } }, live({ brokers: 3, controllers: 3, roles: 'Combined' }))).toEqual({ field: 'spec.topology.brokers', message: 'Invalid value: 2: the first 3 brokers are the KRaft controllers (fixed when the cluster was made), so there must be at least 3' });
    expect(refused({ topology: { brokers: 3, dedicatedControllers: 3 } }, live({ brokers: 3, controllers: 3, roles: 'Combined' }))?.field).toBe('spec.topology.dedicatedControllers');
    expect(refused({ placement: { cluster: 'member1', nodeGroup: 'gpu' } })?.field).toBe('spec.placement.nodeGroup');
    expect(refused({ deletionPolicy: 'Retain' })).toEqual({ field: 'spec.deletionPolicy', message: 'Unsupported value: "Retain": a KafkaCluster deletes the volumes of its servers with it; only Delete is supported for this kind' });
  });
});
