import { describe, expect, it } from '@jest/globals';
import type { KafkaCluster } from '../../../lib/api/compose.upm.io.generated.ts';
import type { UnitSet } from '../../../lib/api/unit.upm.io.generated.ts';
import { ANNOTATION_RESTARTED_AT, configuredReplication, desiredUnitSet, unitSetPatch } from './unitset.ts';

const kc = (spec: Partial<KafkaCluster['spec']> = {}): KafkaCluster => ({
  apiVersion: 'compose.upm.io/v1alpha1', kind: 'KafkaCluster',
  metadata: { name: 'ev', namespace: 'ns', uid: 'u-1' },
  spec: { brokers: 3, controllers: 3, roles: 'Combined', ...spec },
});

describe('the owned UnitSet', () => {
  it('carries the quorum split, Managed updates, and the KafkaCluster as its owner', () => {
    const us = desiredUnitSet(kc({ parameters: { 'num.partitions': '6' } }), 3);
    expect(us.spec).toMatchObject({
      engine: 'kafka', version: '3.9', units: 3, updateStrategy: { type: 'Managed' },
      parameters: { 'num.partitions': '6', 'upm.quorum.units': '3', 'upm.quorum.roles': 'combined' },
      storage: [{ name: 'data', size: '1Gi', mountPath: '/var/lib/kafka/data' }],
    });
    expect(us.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'KafkaCluster', name: 'ev', uid: 'u-1', controller: true });
    expect(desiredUnitSet(kc({ roles: 'Dedicated', controllers: 1, brokers: 2 }), 3).spec.parameters).toEqual({
      'upm.quorum.units': '1', 'upm.quorum.roles': 'dedicated',
      // Two brokers cannot hold the internal topics' default three replicas: fixed at creation.
      'offsets.topic.replication.factor': '2', 'transaction.state.log.replication.factor': '2', 'transaction.state.log.min.isr': '2',
    });
  });

  it("gives the UnitSet the cluster's upm.io labels (the hub service it belongs to), no other", () => {
    const labelled = { ...kc(), metadata: { ...kc().metadata, labels: { 'upm.io/service': 'ev', 'upm.io/project': 'shop', 'app.kubernetes.io/managed-by': 'upm-hub' } } };
    expect(desiredUnitSet(labelled, 3).metadata.labels).toEqual({ 'upm.io/service': 'ev', 'upm.io/project': 'shop', 'compose.upm.io/kafkacluster': 'ev' });
  });

  it('passes spec.stopped to the UnitSet, so every unit stops at once, and takes it back on start', () => {
    const us = desiredUnitSet(kc(), 3);
    expect(us.spec.stopped).toBe(false);
    expect(unitSetPatch(kc({ stopped: false }), us)).toBeUndefined();
    expect(unitSetPatch(kc({ stopped: true }), us)).toEqual({ patch: { spec: { stopped: true } }, fields: ['spec.stopped'] });
    expect(unitSetPatch(kc(), desiredUnitSet(kc({ stopped: true }), 3))).toEqual({ patch: { spec: { stopped: false } }, fields: ['spec.stopped'] });
  });

  it('carries where the brokers may run to the UnitSet, and takes it off when the cluster drops it', () => {
    const placed = kc({ nodeSelector: { pool: 'kafka' }, nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['a', 'b'] }] }] } }, topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule' }] });
    const us = desiredUnitSet(placed, 3);
    expect(us.spec).toMatchObject({ nodeSelector: { pool: 'kafka' }, nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['a', 'b'] }] }] } }, topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule' }] });
    expect(unitSetPatch(placed, us)).toBeUndefined();
    expect(unitSetPatch(kc(), us)).toMatchObject({ patch: { spec: { nodeSelector: null, nodeAffinity: null, topologySpreadConstraints: null } }, fields: ['spec.nodeSelector', 'spec.nodeAffinity', 'spec.topologySpreadConstraints'] });
  });

  it('patches only what differs: a removed parameter as null, a restart request as an annotation, never the size', () => {
    const us = desiredUnitSet(kc({ parameters: { 'num.partitions': '6', 'log.retention.hours': '24' } }), 4) as UnitSet;
    expect(unitSetPatch(kc({ parameters: { 'num.partitions': '6', 'log.retention.hours': '24' } }), us)).toBeUndefined();
    const changed = unitSetPatch(kc({ parameters: { 'num.partitions': '8' }, restartedAt: 'r1', version: '3.9' }), us);
    expect(changed?.patch).toEqual({
      spec: { parameters: { 'num.partitions': '8', 'log.retention.hours': null } },
      metadata: { annotations: { [ANNOTATION_RESTARTED_AT]: 'r1' } },
    });
    expect(changed?.fields).toEqual(['spec.parameters', `metadata.annotations[${ANNOTATION_RESTARTED_AT}]`]);
  });

  it('keeps the replication defaults it fixed at creation when brokers are added', () => {
    const us = desiredUnitSet(kc({ roles: 'Dedicated', controllers: 1, brokers: 1 }), 2) as UnitSet;
    expect(us.spec.parameters?.['offsets.topic.replication.factor']).toBe('1');
    expect(unitSetPatch(kc({ roles: 'Dedicated', controllers: 1, brokers: 3 }), us)).toBeUndefined();
  });

  it('knows the replication factor the parameters give new and internal topics', () => {
    expect(configuredReplication({})).toBe(3);
    expect(configuredReplication({ 'offsets.topic.replication.factor': '1', 'transaction.state.log.replication.factor': '1' })).toBe(1);
    expect(configuredReplication({ 'default.replication.factor': '4' })).toBe(4);
  });
});

describe('a restart of some units', () => {
  it('leaves the UnitSet\'s restart annotation as it is (no new revision); a restart of all changes it', () => {
    const before = desiredUnitSet(kc({ restartedAt: 'r1' }), 3);
    expect(before.metadata.annotations?.[ANNOTATION_RESTARTED_AT]).toBe('r1');
    expect(unitSetPatch(kc({ restartedAt: 'r2', restartUnits: ['ev-1'] }), before)).toBeUndefined();
    expect(desiredUnitSet(kc({ restartedAt: 'r2', restartUnits: ['ev-1'] }), 3).metadata.annotations).toBeUndefined();
    expect(unitSetPatch(kc({ restartedAt: 'r3' }), before)?.patch).toEqual({ metadata: { annotations: { [ANNOTATION_RESTARTED_AT]: 'r3' } } });
  });
});
