// The UnitSet each node set runs on, computed without side effects: the spec's engine, version, resources and
// storage, the node set's roles, and what makes the sets one cluster: the cluster's name and its seed hosts (the
// first cluster-manager-eligible units of every node set), plus the initial cluster-manager nodes for a set created
// while the cluster first forms. The operator owns the size (scaling waits for the cluster) and the update order
// (Managed): the UnitSet changes a unit only when the operator names it.
import type { ElasticsearchCluster } from '../../../lib/api/compose.upm.io.generated.ts';
import type { UnitSet } from '../../../lib/api/unit.upm.io.generated.ts';
import { inheritedLabels, ownerRef } from '../common/roles.ts';
import { dialectOf, engineRoles, isDataRole, isManagerRole } from './dialect.ts';

export const LABEL_CLUSTER = 'compose.upm.io/elasticsearchcluster';
export const LABEL_NODE_SET = 'compose.upm.io/node-set';
/** On a UnitSet (and so on its units and pods): spec.restartedAt; a new value is a new revision, rolled node by node. */
export const ANNOTATION_RESTARTED_AT = 'compose.upm.io/restarted-at';
export const ANNOTATION_UPDATE_NEXT = 'unit.upm.io/update-next';

export const PARAM_CLUSTER_NAME = 'cluster.name';
export const PARAM_ROLES = 'node.roles';
export const PARAM_SEEDS = 'upm.seed.hosts';
export const PARAM_INITIAL_MANAGERS = 'upm.initial.managers';

const TRANSPORT_PORT = 9300;
/**
 * Seeds per cluster-manager-eligible node set: its first three ordinals, whatever its size, so that no scaling ever
 * changes a node's config (a restart of every node for nothing). A seed without a node (a set of one) is only an
 * address that does not answer while a node looks for its cluster; a node in the cluster asks no seed.
 */
const SEEDS_PER_SET = 3;

export type NodeSetSpec = ElasticsearchCluster['spec']['nodeSets'][number];

export const unitSetName = (cluster: string, nodeSet: string): string => `${cluster}-${nodeSet}`;

export const isManagerSet = (s: NodeSetSpec): boolean => (s.roles ?? ['cluster_manager']).some(isManagerRole);
export const isDataSet = (s: NodeSetSpec): boolean => (s.roles ?? ['data']).some(isDataRole);

const fqdn = (unitSet: string, ordinal: number, ns: string) => `${unitSet}-${ordinal}.${unitSet}-headless.${ns}.svc.cluster.local`;

/** The transport addresses every node asks for its cluster: the first units of each cluster-manager-eligible set. */
export function seedHosts(esc: ElasticsearchCluster): string[] {
  const ns = esc.metadata.namespace ?? '';
  const name = esc.metadata.name ?? '';
  return esc.spec.nodeSets.filter(isManagerSet).flatMap((s) => {
    const us = unitSetName(name, s.name);
    return Array.from({ length: SEEDS_PER_SET }, (_, o) => `${fqdn(us, o, ns)}:${TRANSPORT_PORT}`);
  });
}

/** The nodes of the cluster's first election: every cluster-manager-eligible unit the spec asks for at creation. */
export function initialManagers(esc: ElasticsearchCluster): string[] {
  const name = esc.metadata.name ?? '';
  return esc.spec.nodeSets.filter(isManagerSet).flatMap((s) => Array.from({ length: s.units }, (_, o) => `${unitSetName(name, s.name)}-${o}`));
}

export interface UnitSetInputs {
  /** The UnitSet as it is, if it exists: its size and its initial managers are kept. */
  existing?: UnitSet;
  /** Size for a new UnitSet. */
  units: number;
  /** For a new UnitSet: the initial managers while the cluster has not formed, [] once it has. */
  initialManagers: string[];
  /** Every node stops (the cluster's stop, once prepared). */
  stopped?: boolean;
}

/** The UnitSet a node set should have (its size as given: the planner decides when a size changes). */
export function desiredUnitSet(esc: ElasticsearchCluster, set: NodeSetSpec, inputs: UnitSetInputs): UnitSet {
  const d = dialectOf(esc.spec.engine);
  const name = esc.metadata.name ?? '';
  const existingParams = inputs.existing?.spec.parameters ?? {};
  const parameters: Record<string, string> = {
    ...(esc.spec.parameters ?? {}),
    ...(set.parameters ?? {}),
    [PARAM_CLUSTER_NAME]: name,
    [PARAM_ROLES]: engineRoles(d, set.roles ?? []).join(', '),
    [PARAM_SEEDS]: seedHosts(esc).join(','),
    // Kept as the UnitSet was created with it: a changed value would restart every node for nothing.
    // Only cluster-manager-eligible nodes take part in the first election.
    [PARAM_INITIAL_MANAGERS]: inputs.existing ? existingParams[PARAM_INITIAL_MANAGERS] ?? '' : isManagerSet(set) ? inputs.initialManagers.join(',') : '',
  };
  const annotations: Record<string, string> = { ...(inputs.existing?.metadata.annotations ?? {}) };
  if (esc.spec.restartedAt) annotations[ANNOTATION_RESTARTED_AT] = esc.spec.restartedAt;
  else delete annotations[ANNOTATION_RESTARTED_AT];
  return {
    apiVersion: 'unit.upm.io/v1alpha1',
    kind: 'UnitSet',
    metadata: {
      name: unitSetName(name, set.name),
      namespace: esc.metadata.namespace,
      // Labels are set when the UnitSet is made (a later change would be a new revision: every node restarted).
      labels: { ...(inputs.existing?.metadata.labels ?? inheritedLabels(esc)), [LABEL_CLUSTER]: name, [LABEL_NODE_SET]: set.name },
      annotations,
      ownerReferences: [ownerRef(esc)],
    },
    spec: {
      engine: esc.spec.engine ?? 'opensearch',
      version: esc.spec.version,
      units: inputs.existing?.spec.units ?? inputs.units,
      ...(set.resources ? { resources: set.resources } : {}),
      parameters,
      storage: [{
        name: 'data', size: set.storage?.size ?? '1Gi', mountPath: d.dataPath,
        ...(set.storage?.storageClassName ? { storageClassName: set.storage.storageClassName } : {}),
      }],
      // A removed node held no shard when it went (the operator drained it): its data is not worth keeping.
      pvcRetentionPolicy: { whenScaled: 'Delete', whenDeleted: 'Delete' },
      updateStrategy: { type: 'Managed' },
      ...(esc.spec.nodeSelector ? { nodeSelector: esc.spec.nodeSelector } : {}),
      ...(esc.spec.nodeAffinity ? { nodeAffinity: esc.spec.nodeAffinity } : {}),
      ...(esc.spec.topologySpreadConstraints?.length ? { topologySpreadConstraints: esc.spec.topologySpreadConstraints } : {}),
      stopped: inputs.stopped === true,
    },
  };
}

/**
 * The merge patch that brings `cur` to `want` in what the operator owns (spec fields it sets, its labels and the
 * restart annotation), or undefined when nothing differs. The size is the planner's and is left out.
 */
export function unitSetPatch(cur: UnitSet, want: UnitSet): Record<string, unknown> | undefined {
  const patch: { metadata?: Record<string, unknown>; spec?: Record<string, unknown> } = {};
  const spec: Record<string, unknown> = {};
  // The API server writes objects back with their keys sorted: compare without regard to key order.
  const same = (a: unknown, b: unknown) => JSON.stringify(canonical(a ?? null)) === JSON.stringify(canonical(b ?? null));
  const { units: _units, ...owned } = want.spec;
  for (const [k, v] of Object.entries(owned)) {
    const c = (cur.spec as unknown as Record<string, unknown>)[k];
    if (k === 'parameters') {
      const cp = (c ?? {}) as Record<string, string>;
      const wp = v as Record<string, string>;
      if (same(sortKeys(cp), sortKeys(wp))) continue;
      // Keys gone from the spec are removed (null), the others set.
      spec.parameters = { ...Object.fromEntries(Object.keys(cp).filter((x) => !(x in wp)).map((x) => [x, null])), ...wp };
      continue;
    }
    if (!same(c, v)) spec[k] = v;
  }
  // Fields the cluster no longer asks for are removed.
  for (const k of ['resources', 'nodeSelector', 'nodeAffinity', 'topologySpreadConstraints'] as const) if (!want.spec[k] && cur.spec[k]) spec[k] = null;
  if (Object.keys(spec).length) patch.spec = spec;
  const labels = want.metadata.labels ?? {};
  const curAnn = cur.metadata.annotations ?? {};
  const wantAnn = want.metadata.annotations ?? {};
  const metadata: Record<string, unknown> = {};
  if (Object.entries(labels).some(([k, v]) => cur.metadata.labels?.[k] !== v)) metadata.labels = labels;
  if (curAnn[ANNOTATION_RESTARTED_AT] !== wantAnn[ANNOTATION_RESTARTED_AT]) metadata.annotations = { [ANNOTATION_RESTARTED_AT]: wantAnn[ANNOTATION_RESTARTED_AT] ?? null };
  if (Object.keys(metadata).length) patch.metadata = metadata;
  return patch.spec || patch.metadata ? patch : undefined;
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, canonical(x)]));
  return v;
}

const sortKeys = (o: Record<string, string>): [string, string][] => Object.entries(o).sort(([a], [b]) => a.localeCompare(b));
