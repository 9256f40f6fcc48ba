// clusters.upm.io: member Kubernetes clusters that data services are placed on. Cluster-scoped, read by every
// project (RBAC), changed by cluster admins; status (health, version, heartbeat, and the inventory read from the
// member: region, zones, node groups, storage classes) is written by the hub's clusters controller. The columns show
// what services may use: the inventory within the spec's restrictions (lib/inventory.ts). The proxy subresource
// (apiserver/proxy.ts) forwards requests to the member's API as the caller.
import type { ClusterRecordSpec, ClusterRecordStatus } from '../../lib/api/internal.upm.io.generated.ts';
import { offer } from '../../lib/inventory.ts';
import { ageColumn, ALL_VERBS, conditionStatus, humanAge, nameColumn, str, type PublicObject, type ResourceDefinition } from './types.ts';

const offered = (o: PublicObject) => offer(o.spec as ClusterRecordSpec | undefined, o.status as ClusterRecordStatus | undefined);
const names = (v: { name: string }[] | undefined) => (v ?? []).map((x) => x.name).join(',');

export const clusters: ResourceDefinition = {
  plural: 'clusters',
  singular: 'cluster',
  kind: 'Cluster',
  listKind: 'ClusterList',
  namespaced: false,
  shortNames: ['mc'],
  categories: ['upm'],
  verbs: ALL_VERBS,
  subresources: ['status', 'proxy'],
  columns: [
    nameColumn,
    { name: 'Region', type: 'string', description: 'Region of the cluster.', cell: (o) => str(o.spec?.region) || str(o.status?.region) },
    { name: 'Ready', type: 'string', description: 'The Ready condition: the member answers its /readyz.', cell: (o) => conditionStatus(o, 'Ready') || 'Unknown' },
    { name: 'Version', type: 'string', description: 'Kubernetes version.', cell: (o) => str(o.status?.kubernetesVersion) },
    { name: 'Nodes', type: 'integer', description: 'Number of nodes.', cell: (o) => (typeof o.status?.nodes === 'number' ? o.status.nodes : null) },
    { name: 'Heartbeat', type: 'string', priority: 1, description: 'Time since the hub last heard the member through its watch.', cell: (o, now) => (o.status?.lastHeartbeatTime ? humanAge(str(o.status.lastHeartbeatTime), now) : '') },
    { name: 'Zones', type: 'string', priority: 1, description: 'Zones services may be placed in.', cell: (o) => (offered(o).zones ?? []).join(',') },
    { name: 'Node Groups', type: 'string', priority: 1, description: 'Node groups services may ask for.', cell: (o) => names(offered(o).nodeGroups) },
    { name: 'Storage Classes', type: 'string', priority: 1, description: 'Storage classes services may use.', cell: (o) => names(offered(o).storageClasses) },
    ageColumn,
  ],
  fieldLabels: { 'spec.region': (o) => str(o.spec?.region) },
};
