// clusters.upm.io: member Kubernetes clusters that data services are placed on. Cluster-scoped, read by every
// project (RBAC), changed by cluster admins; status (health, version) is written by the hub's cluster controller.
import { ageColumn, ALL_VERBS, conditionStatus, nameColumn, str, type ResourceDefinition } from './types.ts';

export const clusters: ResourceDefinition = {
  plural: 'clusters',
  singular: 'cluster',
  kind: 'Cluster',
  listKind: 'ClusterList',
  namespaced: false,
  shortNames: ['mc'],
  categories: ['upm'],
  verbs: ALL_VERBS,
  subresources: ['status'],
  columns: [
    nameColumn,
    { name: 'Region', type: 'string', description: 'Region of the cluster.', cell: (o) => str(o.spec?.region) },
    { name: 'Ready', type: 'string', description: 'The Ready condition.', cell: (o) => conditionStatus(o, 'Ready') || 'Unknown' },
    { name: 'Version', type: 'string', description: 'Kubernetes version.', cell: (o) => str(o.status?.kubernetesVersion) },
    { name: 'Nodes', type: 'integer', priority: 1, description: 'Number of nodes.', cell: (o) => (typeof o.status?.nodes === 'number' ? o.status.nodes : null) },
    { name: 'Zones', type: 'string', priority: 1, description: 'Zones of the cluster.', cell: (o) => (Array.isArray(o.spec?.zones) ? (o.spec.zones as string[]).join(',') : '') },
    ageColumn,
  ],
};
