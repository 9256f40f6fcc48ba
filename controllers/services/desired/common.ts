// What every kind's desired function shares: the labels, the project's namespace on the member, the placement of
// spec.placement over the member's nodes, storage and compute, and a UnitSet built from them. Pure.
import type { ClusterRecord } from '../../../lib/api/internal.upm.io.generated.ts';
import type { UnitSet, UnitSetSpec } from '../../../lib/api/unit.upm.io.generated.ts';
import { offer, ZONE_LABEL } from '../../../lib/inventory.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import {
  MANAGED_LABEL, MANAGED_VALUE, PROJECT_LABEL, SERVICE_KIND_LABEL, SERVICE_NAME_LABEL, type Desired, type HubService,
} from '../contract.ts';

/** The longest Service name Kubernetes takes (a DNS label). */
const DNS_LABEL_MAX = 63;

export type Refusal = { refused: { field: string; message: string } };
export const refuse = (field: string, message: string): Refusal => ({ refused: { field, message } });
/** A value as Kubernetes' field errors print it: a string quoted, a number or a boolean bare. */
const shown = (value: string | number | boolean): string => (typeof value === 'string' ? `"${value}"` : String(value));
/** Refused as Kubernetes' field.Invalid says it: "Invalid value: <value>: <why>". */
export const invalid = (field: string, value: string | number | boolean, why: string): Refusal => refuse(field, `Invalid value: ${shown(value)}: ${why}`);
/** Refused as field.NotSupported says it: "Unsupported value: "<value>": <why>". */
export const unsupported = (field: string, value: string, why: string): Refusal => refuse(field, `Unsupported value: ${shown(value)}: ${why}`);
export const isRefusal = (x: unknown): x is Refusal => !!x && typeof x === 'object' && 'refused' in x;

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
export const specOf = (svc: HubService, ...path: string[]): unknown => path.reduce<unknown>((v, p) => obj(v)[p], svc.spec);
export const numAt = (svc: HubService, path: string[], dflt: number): number => { const v = specOf(svc, ...path); return typeof v === 'number' ? v : dflt; };
export const strAt = (svc: HubService, path: string[], dflt: string): string => { const v = specOf(svc, ...path); return typeof v === 'string' && v ? v : dflt; };

/** The labels of every object one service has on the member. */
export function serviceLabels(svc: HubService, kind: string): Record<string, string> {
  return {
    [MANAGED_LABEL]: MANAGED_VALUE,
    [SERVICE_KIND_LABEL]: kind.toLowerCase(),
    [SERVICE_NAME_LABEL]: svc.metadata.name ?? '',
    [PROJECT_LABEL]: svc.metadata.namespace ?? '',
  };
}

/** The project's namespace on the member: shared by the project's services, so it names none of them. */
export function projectNamespace(svc: HubService): KubeObject {
  const ns = svc.metadata.namespace ?? '';
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { [MANAGED_LABEL]: MANAGED_VALUE, [PROJECT_LABEL]: ns } } };
}

/** An object of this service on the member: in the project's namespace, with the service's labels. */
export function memberObject(svc: HubService, kind: string, apiVersion: string, objKind: string, name: string, spec: Json): KubeObject {
  return { apiVersion, kind: objKind, metadata: { name, namespace: svc.metadata.namespace, labels: serviceLabels(svc, kind) }, spec } as KubeObject;
}

/** The member object of that kind and name, as the member holds it now. */
export function liveObject<T extends KubeObject>(live: KubeObject[], kind: string, name: string): T | undefined {
  return live.find((o) => o.kind === kind && o.metadata.name === name) as T | undefined;
}

/** Names derived from the service's name must fit a DNS label: `longest` is the longest suffix any derived name has. */
export function checkName(svc: HubService, longest: string, max = DNS_LABEL_MAX): Refusal | undefined {
  const name = svc.metadata.name ?? '';
  if (name.length + longest.length <= max) return undefined;
  return invalid('metadata.name', name, `at most ${max - longest.length} characters: the member's objects are named after it (e.g. "${name}${longest}", which must fit ${max})`);
}

/** The service is placed on this cluster (the controller passes the Cluster of spec.placement.cluster). */
export function checkCluster(svc: HubService, cluster: ClusterRecord): Refusal | undefined {
  const want = svc.spec.placement?.cluster;
  return want === cluster.metadata.name ? undefined : invalid('spec.placement.cluster', want ?? '', `the desired objects were asked for Cluster "${cluster.metadata.name ?? ''}"`);
}

export interface Placement {
  nodeSelector?: Record<string, string>;
  nodeAffinity?: Json;
  topologySpreadConstraints?: Json[];
}

/**
 * spec.placement over the member's nodes, within what the Cluster offers (lib/inventory.ts offer(): what the hub read
 * from the member, within the Cluster's spec): a node group is its node selector; zones are a node affinity (only
 * those zones) and, with more than one, a hard spread over them; with no zones asked for, a soft spread over every
 * zone the cluster has. What the Cluster does not offer is refused, naming the field; what is not known yet (a
 * member never read) is refused for node groups, which need the selector, and passed through for zones.
 */
export function placementOf(svc: HubService, cluster: ClusterRecord): Placement | Refusal {
  const p = svc.spec.placement ?? { cluster: '' };
  const zones = p.zones ?? [];
  const has = offer(cluster.spec, cluster.status);
  const clusterName = cluster.metadata.name ?? '';
  for (const [i, z] of zones.entries()) {
    if (has.zones && !has.zones.includes(z)) return unsupported(`spec.placement.zones[${i}]`, z, `the Cluster "${clusterName}" has ${has.zones.length ? `the zones ${has.zones.map((x) => `"${x}"`).join(', ')}` : 'no zones'}`);
  }
  const out: Placement = {};
  if (p.nodeGroup) {
    const group = has.nodeGroups?.find((g) => g.name === p.nodeGroup);
    if (!group) return unsupported('spec.placement.nodeGroup', p.nodeGroup, `the Cluster "${clusterName}" has no such node group${has.read ? '' : ' (its nodes have not been read yet)'}`);
    if (zones.length && group.zones.length && !group.zones.some((z) => zones.includes(z))) return invalid('spec.placement.nodeGroup', p.nodeGroup, `its nodes are in ${group.zones.map((z) => `"${z}"`).join(', ')}, none of spec.placement.zones`);
    const selector = Object.keys(group.nodeSelector).length ? group.nodeSelector : group.zones.length === 1 ? { [ZONE_LABEL]: group.zones[0] as string } : undefined;
    if (!selector) return invalid('spec.placement.nodeGroup', p.nodeGroup, `the Cluster's node group selects no nodes (neither nodeSelector nor one zone)`);
    out.nodeSelector = { ...selector };
  }
  if (zones.length) {
    out.nodeAffinity = { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: ZONE_LABEL, operator: 'In', values: [...zones].sort() }] }] } };
  }
  if (zones.length > 1) out.topologySpreadConstraints = [{ maxSkew: 1, topologyKey: ZONE_LABEL, whenUnsatisfiable: 'DoNotSchedule' }];
  else if (!zones.length && !p.nodeGroup && (has.zones?.length ?? 0) > 1) out.topologySpreadConstraints = [{ maxSkew: 1, topologyKey: ZONE_LABEL, whenUnsatisfiable: 'ScheduleAnyway' }];
  return out;
}

/** The size and storage class of each server's data volume: the service's class, else the Cluster's default. */
export function storageOf(svc: HubService, cluster: ClusterRecord): { size: string; storageClassName?: string } | Refusal {
  const size = String(specOf(svc, 'storage', 'size') ?? '10Gi');
  const asked = specOf(svc, 'storage', 'storageClassName');
  const classes = offer(cluster.spec, cluster.status).storageClasses;
  if (typeof asked === 'string' && asked) {
    if (classes && !classes.some((c) => c.name === asked)) return unsupported('spec.storage.storageClassName', asked, `the Cluster "${cluster.metadata.name ?? ''}" offers ${classes.length ? classes.map((c) => `"${c.name}"`).join(', ') : 'no storage class'}`);
    return { size, storageClassName: asked };
  }
  const dflt = classes?.find((c) => c.default)?.name;
  return { size, ...(dflt ? { storageClassName: dflt } : {}) };
}

/** spec.resources as core/v1 ResourceRequirements: the limits (requests default to them: guaranteed). */
export function resourcesOf(svc: HubService): UnitSetSpec['resources'] | undefined {
  const r = obj(svc.spec.resources);
  const limits = Object.fromEntries(['cpu', 'memory'].filter((k) => r[k] !== undefined && r[k] !== null && r[k] !== '').map((k) => [k, String(r[k])]));
  return Object.keys(limits).length ? { limits } : undefined;
}

export const parametersOf = (svc: HubService): Record<string, string> => ({ ...(obj(specOf(svc, 'options', 'parameters')) as Record<string, string>) });

export interface UnitSetInput {
  name: string;
  engine: string;
  version: string;
  units: number;
  placement: Placement;
  /** The data volume's mount path in the engine's template; none for engines without data (ProxySQL). */
  mountPath?: string;
  storage?: { size: string; storageClassName?: string };
  resources?: UnitSetSpec['resources'];
  parameters?: Record<string, string>;
  /** Whether spec.stopped and spec.restart reach this UnitSet (not ProxySQL's: it holds no data, and restarts none). */
  lifecycle?: boolean;
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** The service's spec.restart as asked: its id, the servers named in order, and the servers it takes (all when undefined). */
export function restartOf(svc: HubService): { id: string; order: string[]; servers?: string[] } | undefined {
  const r = obj(svc.spec.restart);
  if (typeof r.id !== 'string' || !r.id) return undefined;
  const servers = strings(r.servers);
  return { id: r.id, order: strings(r.order), ...(servers.length ? { servers } : {}) };
}

/** spec.stopped of a kind whose compose object makes its own UnitSets: it passes the stop on to them. */
export const composeStopped = (svc: HubService): { stopped?: true } => (svc.spec.stopped === true ? { stopped: true } : {});

/** spec.restart of a kind whose compose object restarts its servers in its own order: the id is its restartedAt. */
export const restartedAt = (svc: HubService): { restartedAt?: string } => { const r = restartOf(svc); return r ? { restartedAt: r.id } : {}; };

/**
 * spec.restart of a kind whose compose object restarts some servers too, in its own order among them (ZooKeeper,
 * Kafka): the id is its restartedAt, the servers asked its restartUnits.
 */
export const restartedSome = (svc: HubService): { restartedAt?: string; restartUnits?: string[] } => {
  const r = restartOf(svc);
  return r ? { restartedAt: r.id, ...(r.servers ? { restartUnits: r.servers } : {}) } : {};
};

/**
 * spec.stopped and spec.restart as one UnitSet of `units` takes them: the order and the servers asked keep only its
 * own units (a name that is not one of its units would make the UnitSet refuse the whole request). A restart of some
 * servers only reaches the UnitSets that hold one of them, as spec.restart.units; the others are not asked at all.
 */
export function lifecycleOf(svc: HubService, name: string, units: number): Pick<UnitSetSpec, 'stopped' | 'restart'> {
  const r = restartOf(svc);
  const mine = new Set(unitNames(name, units));
  const order = r?.order.filter((u) => mine.has(u)) ?? [];
  const some = r?.servers?.filter((u) => mine.has(u));
  return {
    ...(svc.spec.stopped === true ? { stopped: true } : {}),
    ...(r && (!some || some.length) ? { restart: { id: r.id, ...(order.length ? { order } : {}), ...(some ? { units: some } : {}) } } : {}),
  };
}

/** A UnitSet of this service; deletionPolicy decides whether its claims outlive it. */
export function unitSet(svc: HubService, kind: string, u: UnitSetInput): UnitSet {
  const retain = svc.spec.deletionPolicy === 'Retain';
  const spec: UnitSetSpec = {
    engine: u.engine,
    version: u.version,
    units: u.units,
    ...(u.resources ? { resources: u.resources } : {}),
    ...(u.mountPath && u.storage ? { storage: [{ name: 'data', size: u.storage.size, mountPath: u.mountPath, ...(u.storage.storageClassName ? { storageClassName: u.storage.storageClassName } : {}) }] } : {}),
    ...(u.parameters && Object.keys(u.parameters).length ? { parameters: u.parameters } : {}),
    pvcRetentionPolicy: { whenScaled: 'Retain', whenDeleted: retain ? 'Retain' : 'Delete' },
    ...placementFields(u.placement),
    ...(u.lifecycle === false ? {} : lifecycleOf(svc, u.name, u.units)),
  };
  return memberObject(svc, kind, 'unit.upm.io/v1alpha1', 'UnitSet', u.name, spec as unknown as Json) as UnitSet;
}

/** The unit names of a UnitSet of `units`. */
export const unitNames = (unitSetName: string, units: number): string[] => Array.from({ length: units }, (_, i) => `${unitSetName}-${i}`);
export const ordinalIn = (unitSetName: string, unit: string | undefined): number => {
  if (!unit?.startsWith(`${unitSetName}-`)) return -1;
  const o = unit.slice(unitSetName.length + 1);
  return /^\d+$/.test(o) ? Number(o) : -1;
};

/**
 * Source and replicas of a replication over the units of one UnitSet (MysqlReplication, RedisReplication), keeping
 * the source the member has now (after a failover the compose operator rewrote spec.source). When a scale-in would
 * remove the current source, the lowest unit becomes the source first and the UnitSet keeps every unit up to the
 * old one until the switchover is done (status.source says the new one): the old source is never removed serving.
 */
export function replicationMembers(name: string, wanted: number, live: { spec?: { source?: { unit?: string } }; status?: { source?: string } } | undefined): { units: number; source: string; replicas: string[] } {
  const liveSource = live?.spec?.source?.unit;
  const o = ordinalIn(name, liveSource);
  if (o >= 0 && o < wanted) return { units: wanted, source: liveSource as string, replicas: unitNames(name, wanted).filter((u) => u !== liveSource) };
  const source = `${name}-0`;
  if (o >= wanted && live?.status?.source !== source) {
    // Moving away from a source the scale-in removes: keep the units up to it, as replicas, until the move is done.
    const keep = o + 1;
    return { units: keep, source, replicas: unitNames(name, keep).filter((u) => u !== source) };
  }
  return { units: wanted, source, replicas: unitNames(name, wanted).filter((u) => u !== source) };
}

/** The claims and Secrets a deletion with deletionPolicy Retain leaves on the member (of the UnitSets desired). */
export function retainedOf(desired: Desired): { claims: string[]; secrets: string[] } {
  const claims: string[] = [];
  const secrets: string[] = [];
  if (!('objects' in desired)) return { claims, secrets };
  for (const us of desired.objects.filter((o): o is UnitSet => o.kind === 'UnitSet')) {
    const name = us.metadata.name ?? '';
    for (const unit of unitNames(name, us.spec.units ?? 1)) for (const v of us.spec.storage ?? []) claims.push(`${unit}-${v.name}`);
    secrets.push(`${name}-credentials`);
  }
  return { claims, secrets };
}

/**
 * What the compose kinds that make their own UnitSets (ZookeeperEnsemble, KafkaCluster, ElasticsearchCluster)
 * cannot be asked for: their UnitSets delete their volumes with them, so Retain would not keep the data.
 */
export function composeOwnedChecks(svc: HubService, composeKind: string): Refusal | undefined {
  if (svc.spec.deletionPolicy === 'Retain') return unsupported('spec.deletionPolicy', 'Retain', `a ${composeKind} deletes the volumes of its servers with it; only Delete is supported for this kind`);
  return undefined;
}

/** The placement fields a UnitSet (or a compose kind that passes them on to its UnitSets) takes. */
export const placementFields = (p: Placement): Json => ({
  ...(p.nodeSelector ? { nodeSelector: p.nodeSelector } : {}),
  ...(p.nodeAffinity ? { nodeAffinity: p.nodeAffinity } : {}),
  ...(p.topologySpreadConstraints ? { topologySpreadConstraints: p.topologySpreadConstraints } : {}),
});

/** The checks every kind starts with (the Cluster, the names, its own `more`), then placement and storage. */
export function basics(svc: HubService, cluster: ClusterRecord, longestSuffix: string, more?: Refusal): { placement: Placement; storage: { size: string; storageClassName?: string } } | Refusal {
  const problem = checkCluster(svc, cluster) ?? checkName(svc, longestSuffix) ?? more;
  if (problem) return problem;
  const placement = placementOf(svc, cluster);
  if (isRefusal(placement)) return placement;
  const storage = storageOf(svc, cluster);
  return isRefusal(storage) ? storage : { placement, storage };
}
