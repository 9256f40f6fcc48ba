// The UnitSet a KafkaCluster owns, computed without side effects: everything but its size (spec.units), which the
// controller changes only when the cluster is ready for it. Its updates are Managed, so that units restart only
// when the controller names them; the parameters carry the quorum split (upm.quorum.*) and the KafkaCluster's
// settings; a restart request is an annotation, which gives the units a new revision (their pods are replaced one
// by one, each engine stopped gracefully: a controlled shutdown that moves its partition leaders away first).
import type { KafkaCluster } from '../../../lib/api/compose.upm.io.generated.ts';
import type { UnitSet, UnitSetSpec } from '../../../lib/api/unit.upm.io.generated.ts';
import { canonicalJson, mergePatch, type Json } from '../../../lib/mergepatch.ts';
import { inheritedLabels, ownerRef } from '../common/roles.ts';
import { fullRestartStamp } from '../common/unit-restart.ts';
import { unitsFor, type Roles } from './plan.ts';

export const ENGINE = 'kafka';
export const DEFAULT_VERSION = '3.9';
export const DATA_PATH = '/var/lib/kafka/data';
/**
 * Carries spec.restartedAt to the UnitSet, whose pods take its annotations: a new revision for every unit. A restart of
 * some units only (spec.restartUnits) leaves it as it is: those restart through the UnitSet's spec.restart.
 */
export const ANNOTATION_RESTARTED_AT = 'compose.upm.io/restarted-at';

/** Internal topics get this replication factor unless the parameters say otherwise (capped by the brokers there are). */
const INTERNAL_REPLICATION = 3;
/**
 * Replication settings whose template defaults need three brokers. With fewer brokers at creation the KafkaCluster
 * sets them to what the brokers can hold, once: they are static, and changing them later would restart every unit.
 */
const STICKY_DEFAULTS = ['offsets.topic.replication.factor', 'transaction.state.log.replication.factor', 'transaction.state.log.min.isr'] as const;

export interface Shape { roles: Roles; controllers: number; brokers: number; units: number }

export function shapeOf(kc: KafkaCluster): Shape {
  const roles: Roles = kc.spec.roles ?? 'Combined';
  const controllers = kc.spec.controllers ?? 3;
  const brokers = kc.spec.brokers;
  return { roles, controllers, brokers, units: unitsFor(brokers, roles, controllers) };
}

/** The parameters of the UnitSet: the KafkaCluster's, the quorum split, and the replication defaults it fixed. */
export function unitSetParameters(kc: KafkaCluster, existing: Record<string, string> | undefined): Record<string, string> {
  const { roles, controllers, brokers } = shapeOf(kc);
  const own = kc.spec.parameters ?? {};
  const rf = Math.min(INTERNAL_REPLICATION, brokers);
  const derived: Record<string, string> = {
    'offsets.topic.replication.factor': String(rf),
    'transaction.state.log.replication.factor': String(rf),
    'transaction.state.log.min.isr': String(Math.min(2, rf)),
  };
  const sticky: Record<string, string> = {};
  for (const k of STICKY_DEFAULTS) {
    if (own[k] !== undefined) continue;
    const v = existing ? existing[k] : rf < INTERNAL_REPLICATION ? derived[k] : undefined;
    if (v !== undefined) sticky[k] = v;
  }
  return { ...sticky, ...own, 'upm.quorum.units': String(controllers), 'upm.quorum.roles': roles === 'Combined' ? 'combined' : 'dedicated' };
}

/** The UnitSet's spec as the KafkaCluster wants it, `units` aside (given). */
export function desiredSpec(kc: KafkaCluster, existing: UnitSet | undefined, units: number): UnitSetSpec {
  const storage = kc.spec.storage ?? {};
  return {
    engine: ENGINE,
    version: kc.spec.version ?? DEFAULT_VERSION,
    units,
    ...(kc.spec.resources ? { resources: kc.spec.resources } : {}),
    storage: [{ name: 'data', size: storage.size ?? '1Gi', mountPath: DATA_PATH, ...(storage.storageClassName ? { storageClassName: storage.storageClassName } : {}) }],
    parameters: unitSetParameters(kc, existing?.spec.parameters),
    updateStrategy: { type: 'Managed' },
    // A drained broker's data is of no use again: its claim goes with it.
    pvcRetentionPolicy: { whenScaled: 'Delete', whenDeleted: 'Delete' },
    ...(kc.spec.nodeSelector ? { nodeSelector: kc.spec.nodeSelector } : {}),
    ...(kc.spec.nodeAffinity ? { nodeAffinity: kc.spec.nodeAffinity } : {}),
    ...(kc.spec.topologySpreadConstraints?.length ? { topologySpreadConstraints: kc.spec.topologySpreadConstraints } : {}),
    // Every unit stops at once, not broker by broker: a controlled shutdown moves partition leaders to brokers that
    // are about to stop too, and with the KRaft controllers going at the same moment there is no one to move them to.
    // Acknowledged messages are in every in-sync replica's log already; each broker recovers its own log on start.
    stopped: kc.spec.stopped === true,
  };
}

export function desiredUnitSet(kc: KafkaCluster, units: number): UnitSet {
  const stamp = fullRestartStamp(kc.spec, undefined);
  return {
    apiVersion: 'unit.upm.io/v1alpha1',
    kind: 'UnitSet',
    metadata: {
      name: kc.metadata.name,
      namespace: kc.metadata.namespace,
      labels: { ...inheritedLabels(kc), 'compose.upm.io/kafkacluster': kc.metadata.name ?? '' },
      ...(stamp ? { annotations: { [ANNOTATION_RESTARTED_AT]: stamp } } : {}),
      ownerReferences: [ownerRef(kc)],
    },
    spec: desiredSpec(kc, undefined, units),
  };
}

export const ownedBy = (us: UnitSet, kc: KafkaCluster): boolean => !!us.metadata.ownerReferences?.some((o) => o.uid === kc.metadata.uid);

const MANAGED: (keyof UnitSetSpec)[] = ['version', 'resources', 'storage', 'parameters', 'updateStrategy', 'pvcRetentionPolicy', 'nodeSelector', 'nodeAffinity', 'topologySpreadConstraints', 'stopped'];

/**
 * The merge patch that brings an existing UnitSet to what the KafkaCluster wants (its size aside), and the fields it
 * changes; undefined when nothing differs.
 */
export function unitSetPatch(kc: KafkaCluster, us: UnitSet): { patch: Record<string, Json>; fields: string[] } | undefined {
  const want = desiredSpec(kc, us, us.spec.units ?? 0);
  const spec: Record<string, Json> = {};
  const fields: string[] = [];
  for (const k of MANAGED) {
    const [a, b] = [us.spec[k], want[k]];
    if (canonicalJson(a ?? null) === canonicalJson(b ?? null)) continue;
    // parameters is a map: removed keys must be sent as null; the others are replaced whole.
    spec[k] = k === 'parameters' ? mergePatch(a ?? {}, b ?? {}) ?? {} : ((b ?? null) as Json);
    fields.push(`spec.${k}`);
  }
  const patch: Record<string, Json> = {};
  if (fields.length) patch.spec = spec;
  const restartedAt = us.metadata.annotations?.[ANNOTATION_RESTARTED_AT];
  const stamp = fullRestartStamp(kc.spec, restartedAt, kc.status?.unitRestart?.id);
  if ((stamp ?? undefined) !== restartedAt) {
    patch.metadata = { annotations: { [ANNOTATION_RESTARTED_AT]: stamp ?? null } };
    fields.push(`metadata.annotations[${ANNOTATION_RESTARTED_AT}]`);
  }
  return fields.length ? { patch, fields } : undefined;
}

/** The largest replication factor the UnitSet's parameters give new and internal topics. */
export function configuredReplication(parameters: Record<string, string> | undefined): number {
  const keys = ['default.replication.factor', 'offsets.topic.replication.factor', 'transaction.state.log.replication.factor'];
  // The template's defaults: 1 for new topics, 3 for the internal ones.
  const defaults: Record<string, number> = { 'default.replication.factor': 1, 'offsets.topic.replication.factor': INTERNAL_REPLICATION, 'transaction.state.log.replication.factor': INTERNAL_REPLICATION };
  return Math.max(...keys.map((k) => {
    const v = Number(parameters?.[k]);
    return Number.isInteger(v) && v > 0 ? v : defaults[k] ?? 1;
  }));
}
