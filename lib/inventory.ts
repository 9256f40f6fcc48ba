// A member cluster's inventory: what its nodes and StorageClasses offer data services (zones, node groups, storage
// classes with their expansion support), read by the hub's clusters controller into the Cluster's status, and what a
// service may use there once the Cluster's spec (optional restrictions set by an administrator) is applied. Pure,
// shared by the clusters controller (reading), the hub API (placement validation) and the services controller
// (node selectors and storage of the member objects).
import type { ClusterRecordSpec, ClusterRecordStatus } from './api/internal.upm.io.generated.ts';
import type { KubeObject } from './kube/types.ts';
import { canonicalJson } from './mergepatch.ts';

export const ZONE_LABEL = 'topology.kubernetes.io/zone';
export const REGION_LABEL = 'topology.kubernetes.io/region';
/**
 * Labels that name a node's group, the first a node carries wins: UPM's own, then the node pool labels of the
 * managed Kubernetes services and Karpenter, so a cloud cluster's pools are groups without relabelling.
 */
export const NODE_GROUP_LABELS = [
  'upm.io/node-group',
  'eks.amazonaws.com/nodegroup',
  'cloud.google.com/gke-nodepool',
  'kubernetes.azure.com/agentpool',
  'karpenter.sh/nodepool',
] as const;
export const DEFAULT_CLASS_ANNOTATION = 'storageclass.kubernetes.io/is-default-class';

export type NodeGroupRead = NonNullable<ClusterRecordStatus['nodeGroups']>[number];
export type StorageClassRead = NonNullable<ClusterRecordStatus['storageClasses']>[number];

/** The inventory fields of a Cluster's status. */
export interface Inventory {
  region?: string;
  zones: string[];
  nodeGroups: NodeGroupRead[];
  storageClasses: StorageClassRead[];
}

export interface StorageClassObject extends KubeObject {
  provisioner?: string;
  allowVolumeExpansion?: boolean;
  volumeBindingMode?: string;
}

const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();

/**
 * The inventory of a member from its nodes (their metadata is enough) and its StorageClasses. Node groups: one per
 * value of a node-group label when any node carries one (nodes without such a label are in no group); otherwise one
 * per zone, selected by the zone label. The region is the one most of the nodes name.
 */
export function readInventory(nodes: readonly KubeObject[], classes: readonly StorageClassObject[]): Inventory {
  const labels = nodes.map((n) => n.metadata.labels ?? {});
  const zones = sorted(labels.map((l) => l[ZONE_LABEL]).filter((z): z is string => !!z));
  const regions = new Map<string, number>();
  for (const l of labels) if (l[REGION_LABEL]) regions.set(l[REGION_LABEL], (regions.get(l[REGION_LABEL]) ?? 0) + 1);
  const region = [...regions].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0];

  const groups = new Map<string, { label: string; value: string; zones: Set<string>; nodes: number }>();
  const groupOf = (l: Record<string, string>) => NODE_GROUP_LABELS.map((k) => [k, l[k]] as const).find(([, v]) => !!v);
  const labelled = labels.some((l) => groupOf(l));
  for (const l of labels) {
    const [label, value] = labelled ? groupOf(l) ?? [] : l[ZONE_LABEL] ? [ZONE_LABEL, l[ZONE_LABEL]] : [];
    if (!label || !value) continue;
    // One value under two labels (a UPM group and a cloud pool of that name) stays two groups, named apart.
    const name = groups.has(value) && groups.get(value)?.label !== label ? `${value}-${NODE_GROUP_LABELS.indexOf(label as typeof NODE_GROUP_LABELS[number])}` : value;
    const g = groups.get(name) ?? { label, value, zones: new Set<string>(), nodes: 0 };
    g.nodes++;
    if (l[ZONE_LABEL]) g.zones.add(l[ZONE_LABEL]);
    groups.set(name, g);
  }
  const nodeGroups = [...groups].sort(([a], [b]) => a.localeCompare(b))
    .map(([name, g]) => ({ name, zones: sorted(g.zones), nodeSelector: { [g.label]: g.value }, nodes: g.nodes }));

  const storageClasses = classes.map((c): StorageClassRead => ({
    name: c.metadata.name ?? '',
    ...(c.provisioner ? { provisioner: c.provisioner } : {}),
    default: c.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true',
    allowVolumeExpansion: c.allowVolumeExpansion === true,
    ...(c.volumeBindingMode ? { volumeBindingMode: c.volumeBindingMode } : {}),
  })).filter((c) => c.name).sort((a, b) => a.name.localeCompare(b.name));
  return { ...(region ? { region } : {}), zones, nodeGroups, storageClasses };
}

/** The inventory a status holds, or undefined when the member has not been read yet. */
export function inventoryOf(status: ClusterRecordStatus | undefined): Inventory | undefined {
  if (!status?.zones || !status.nodeGroups || !status.storageClasses) return undefined;
  return { ...(status.region ? { region: status.region } : {}), zones: status.zones, nodeGroups: status.nodeGroups, storageClasses: status.storageClasses };
}

/** Whether two inventories say the same, whatever the order of their keys (the stored status has its own). */
export const sameInventory = (a: Inventory | undefined, b: Inventory | undefined): boolean => canonicalJson(a ?? null) === canonicalJson(b ?? null);

/** A node group a service may ask for: what was read, or what the spec defines. */
export interface OfferedNodeGroup { name: string; zones: string[]; nodeSelector: Record<string, string> }
export interface OfferedStorageClass { name: string; default: boolean; allowVolumeExpansion?: boolean }

/**
 * What a service may use on a Cluster: undefined where it is not known (nothing read and no restriction in the
 * spec), so nothing can be checked there. How the spec and what was read combine:
 * - zones: the member's zones, within spec.zones when set; before the first read, spec.zones.
 * - node groups: those read (whose zones are offered), plus spec.nodeGroups, a spec group replacing one of its name.
 * - storage classes: the member's, within spec.storageClasses when set; a class the spec marks default is the
 *   default, else the member's; expansion support is the member's. Before the first read, spec.storageClasses.
 */
export function offer(spec: ClusterRecordSpec | undefined, status: ClusterRecordStatus | undefined): {
  read: boolean;
  zones?: string[];
  nodeGroups?: OfferedNodeGroup[];
  storageClasses?: OfferedStorageClass[];
} {
  const inv = inventoryOf(status);
  const allowedZones = spec?.zones;
  const zones = inv ? (allowedZones ? inv.zones.filter((z) => allowedZones.includes(z)) : inv.zones) : allowedZones;

  const declared = (spec?.nodeGroups ?? []).map((g) => ({ name: g.name, zones: g.zone ? [g.zone] : [], nodeSelector: g.nodeSelector ?? {} }));
  const read = (inv?.nodeGroups ?? [])
    .filter((g) => !declared.some((d) => d.name === g.name))
    .filter((g) => !zones || !g.zones?.length || g.zones.some((z) => zones.includes(z)))
    .map((g) => ({ name: g.name, zones: g.zones ?? [], nodeSelector: g.nodeSelector ?? {} }));
  const nodeGroups = inv || spec?.nodeGroups ? [...read, ...declared].sort((a, b) => a.name.localeCompare(b.name)) : undefined;

  const restrict = spec?.storageClasses?.length ? spec.storageClasses : undefined;
  let storageClasses: OfferedStorageClass[] | undefined;
  if (inv) {
    const specDefault = restrict?.find((c) => c.default)?.name;
    storageClasses = inv.storageClasses.filter((c) => !restrict || restrict.some((r) => r.name === c.name)).map((c) => ({
      name: c.name,
      default: specDefault && inv.storageClasses.some((x) => x.name === specDefault) ? c.name === specDefault : c.default === true,
      allowVolumeExpansion: c.allowVolumeExpansion === true,
    }));
  } else if (restrict) {
    storageClasses = restrict.map((c) => ({ name: c.name, default: c.default === true }));
  }
  return { read: !!inv, zones, nodeGroups, storageClasses };
}

/** The storage classes a Cluster offers (with expansion support as read from the member), as a field to spread when known. */
export function storageClassesOffered(spec: ClusterRecordSpec | undefined, status: ClusterRecordStatus | undefined): { storageClasses?: OfferedStorageClass[] } {
  const classes = offer(spec, status).storageClasses;
  return classes ? { storageClasses: classes } : {};
}
