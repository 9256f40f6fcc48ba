// mysqlservices.upm.io: a MySQL service of a project, in the project's namespace. Besides the schema, a service
// must name a Cluster that exists (and takes new services) and a version the hub has an engine template for.
import type { StatusCause } from '../status.ts';
import { ageColumn, ALL_VERBS, nameColumn, str, type PublicObject, type ResourceDefinition } from './types.ts';

const topology = (o: PublicObject) => (o.spec?.topology ?? {}) as { mode?: string; replicas?: number };

export const mysqlservices: ResourceDefinition = {
  plural: 'mysqlservices',
  singular: 'mysqlservice',
  kind: 'MysqlService',
  listKind: 'MysqlServiceList',
  namespaced: true,
  shortNames: ['mysql'],
  categories: ['upm'],
  verbs: ALL_VERBS,
  subresources: ['status'],
  columns: [
    nameColumn,
    { name: 'Version', type: 'string', description: 'MySQL version.', cell: (o) => str(o.spec?.version) },
    { name: 'Mode', type: 'string', description: 'standalone, async or semisync.', cell: (o) => topology(o).mode ?? 'async' },
    { name: 'Replicas', type: 'integer', description: 'MySQL servers, the source included.', cell: (o) => topology(o).replicas ?? (topology(o).mode === 'standalone' ? 1 : 2) },
    { name: 'Cluster', type: 'string', description: 'The member cluster it runs on.', cell: (o) => str((o.spec?.placement as { cluster?: string } | undefined)?.cluster) },
    { name: 'Ready', type: 'string', description: 'Ready servers / servers.', cell: (o) => str(o.status?.ready) },
    { name: 'Phase', type: 'string', description: 'Lifecycle phase.', cell: (o) => str(o.status?.phase) },
    { name: 'Source', type: 'string', priority: 1, description: 'The server that takes writes.', cell: (o) => str(o.status?.source) },
    ageColumn,
  ],
  fieldLabels: { 'spec.placement.cluster': (o) => str((o.spec?.placement as { cluster?: string } | undefined)?.cluster) },

  validate(obj, old, ctx) {
    const causes: StatusCause[] = [];
    const spec = obj.spec ?? {};
    const placement = (spec.placement ?? {}) as { cluster?: string; zones?: string[] };
    const oldPlacement = (old?.spec?.placement ?? {}) as { cluster?: string };
    const cluster = placement.cluster ? ctx.lookup('clusters', placement.cluster) : undefined;
    if (placement.cluster && !cluster) {
      causes.push({ reason: 'FieldValueNotFound', field: 'spec.placement.cluster', message: `Not found: "${placement.cluster}": no Cluster of that name` });
    } else if (cluster && cluster.spec?.unschedulable === true && placement.cluster !== oldPlacement.cluster) {
      causes.push({ reason: 'FieldValueInvalid', field: 'spec.placement.cluster', message: `Invalid value: "${placement.cluster}": the cluster takes no new services (unschedulable)` });
    }
    const clusterZones = cluster && Array.isArray(cluster.spec?.zones) ? (cluster.spec.zones as string[]) : undefined;
    for (const [i, z] of (placement.zones ?? []).entries()) {
      if (clusterZones && !clusterZones.includes(z)) {
        causes.push({ reason: 'FieldValueNotSupported', field: `spec.placement.zones[${i}]`, message: `Unsupported value: "${z}": supported values: ${clusterZones.map((x) => `"${x}"`).join(', ')}` });
      }
    }
    const version = str(spec.version);
    if (version && !ctx.engineTemplates.has(`mysql-${version}`)) {
      const known = [...ctx.engineTemplates].filter((t) => t.startsWith('mysql-')).map((t) => `"${t.slice('mysql-'.length)}"`).sort();
      causes.push({ reason: 'FieldValueNotSupported', field: 'spec.version', message: `Unsupported value: "${version}": no engine template mysql-${version}; supported values: ${known.join(', ')}` });
    }
    return causes;
  },
};
