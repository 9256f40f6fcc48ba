// The six data service resources (mysqlservices, redisservices, redisclusterservices, kafkaservices,
// zookeeperservices, elasticsearchservices), one module each in shape, built from their description in
// service-kinds.ts: the columns every service shows around its own, and the checks that need the world: the
// Cluster exists, takes new services, has the zones, node group and storage class asked for (as read from the
// member), lets the storage grow, and the hub has an engine template for the version (and for what the options add,
// e.g. Sentinel's), whose parameter metadata the options' parameters must fit.
import type { ClusterRecordSpec, ClusterRecordStatus } from '../../lib/api/internal.upm.io.generated.ts';
import { offer } from '../../lib/inventory.ts';
import { validateParameters } from '../../lib/paramcheck.ts';
import { parseQuantity } from '../quantity.ts';
import type { StatusCause } from '../status.ts';
import { SERVICE_KINDS, type ServiceKind } from './service-kinds.ts';
import { ageColumn, ALL_VERBS, nameColumn, str, type Column, type HookContext, type PublicObject, type ResourceDefinition } from './types.ts';

const placementOf = (o: PublicObject | undefined) => (o?.spec?.placement ?? {}) as { cluster?: string; zones?: string[]; nodeGroup?: string };
const storageOf = (o: PublicObject | undefined) => (o?.spec?.storage ?? {}) as { size?: unknown; storageClassName?: string };
const quoted = (xs: string[]) => xs.map((x) => `"${x}"`).join(', ');

/**
 * Placement checks against the Cluster: it exists, takes new services, and has what the service asks for, as the
 * hub read it from the member within the Cluster's spec (lib/inventory.ts offer()). What is not known yet (a member
 * never read, without restrictions in its spec) is not checked here; the services controller refuses it later.
 */
export function placementCauses(obj: PublicObject, old: PublicObject | undefined, ctx: HookContext): StatusCause[] {
  const causes: StatusCause[] = [];
  const p = placementOf(obj);
  if (!p.cluster) return causes;
  const cluster = ctx.lookup('clusters', p.cluster);
  if (!cluster) return [{ reason: 'FieldValueNotFound', field: 'spec.placement.cluster', message: `Not found: "${p.cluster}": no Cluster of that name` }];
  if (cluster.spec?.unschedulable === true && p.cluster !== placementOf(old).cluster) {
    causes.push({ reason: 'FieldValueInvalid', field: 'spec.placement.cluster', message: `Invalid value: "${p.cluster}": the cluster takes no new services (unschedulable)` });
  }
  const has = offer(cluster.spec as ClusterRecordSpec | undefined, cluster.status as ClusterRecordStatus | undefined);
  const supported = (what: string, values: string[]) => (values.length ? `supported values: ${quoted(values)}` : `the Cluster "${p.cluster}" has no ${what}`);
  const { zones } = has;
  for (const [i, z] of (p.zones ?? []).entries()) {
    if (zones && !zones.includes(z)) causes.push({ reason: 'FieldValueNotSupported', field: `spec.placement.zones[${i}]`, message: `Unsupported value: "${z}": ${supported('zones', zones)}` });
  }
  const groups = has.nodeGroups?.map((g) => g.name);
  if (p.nodeGroup && groups && !groups.includes(p.nodeGroup)) {
    causes.push({ reason: 'FieldValueNotSupported', field: 'spec.placement.nodeGroup', message: `Unsupported value: "${p.nodeGroup}": ${supported('node groups', groups)}` });
  }
  const storage = storageOf(obj);
  const sc = str(storage.storageClassName);
  const classes = has.storageClasses;
  if (sc && classes && !classes.some((c) => c.name === sc)) {
    causes.push({ reason: 'FieldValueNotSupported', field: 'spec.storage.storageClassName', message: `Unsupported value: "${sc}": ${supported('storage classes', classes.map((c) => c.name))}` });
  }
  // Growing a service's storage grows its claims on the member: their class must allow it.
  const before = old ? parseQuantity(storageOf(old).size) : undefined;
  const after = parseQuantity(storage.size);
  const cannot = storageCannotGrow(obj, ctx);
  if (before !== undefined && after !== undefined && after > before && cannot) causes.push({ reason: 'FieldValueForbidden', field: 'spec.storage.size', message: `Forbidden: ${cannot}` });
  return causes;
}

/** Why the service's claims cannot grow on its Cluster: their storage class, as read from the member, does not allow it. */
export function storageCannotGrow(svc: PublicObject, ctx: HookContext): string | undefined {
  const name = placementOf(svc).cluster;
  const cluster = name ? ctx.lookup('clusters', name) : undefined;
  if (!cluster) return undefined;
  const sc = str(storageOf(svc).storageClassName);
  const classes = offer(cluster.spec as ClusterRecordSpec | undefined, cluster.status as ClusterRecordStatus | undefined).storageClasses;
  const cls = classes?.find((c) => (sc ? c.name === sc : c.default));
  return cls?.allowVolumeExpansion === false ? `the storage class "${cls.name}" of Cluster "${name}" does not allow volume expansion` : undefined;
}

/** The engine template checks: `<family>-<version>`, and the templates the options add. */
export function templateCauses(k: ServiceKind, obj: PublicObject, ctx: HookContext): StatusCause[] {
  const spec = obj.spec ?? {};
  const version = str(spec.version);
  if (!version) return [];
  const causes: StatusCause[] = [];
  const family = k.family(spec);
  if (!ctx.engineTemplates.has(`${family}-${version}`)) {
    const known = [...ctx.engineTemplates.keys()].filter((t) => t.startsWith(`${family}-`) && /^\d/.test(t.slice(family.length + 1))).map((t) => t.slice(family.length + 1)).sort();
    causes.push({ reason: 'FieldValueNotSupported', field: 'spec.version', message: `Unsupported value: "${version}": no engine template ${family}-${version}; supported values: ${quoted(known)}` });
    // The version is one of another family of this kind (MariaDB's 10.11 asked of mysql): say which field chooses it.
    const other = k.familyField ? k.families.find((f) => f !== family && ctx.engineTemplates.has(`${f}-${version}`)) : undefined;
    if (other) causes.push({ reason: 'FieldValueInvalid', field: `spec.${k.familyField}`, message: `Invalid value: "${family}": version "${version}" is a version of ${other}: set spec.${k.familyField} to ${other}` });
    return causes;
  }
  // The parameters, checked as the member's Unit Operator and agent check them (one shared check).
  const tpl = ctx.engineTemplates.get(`${family}-${version}`);
  const parameters = (spec.options as { parameters?: Record<string, string> } | undefined)?.parameters;
  for (const e of validateParameters(tpl?.engine ?? family, tpl?.parameters, parameters, 'spec.options.parameters')) {
    causes.push({ reason: e.message.startsWith('unknown parameter') ? 'FieldValueNotSupported' : 'FieldValueInvalid', field: e.field, message: `Invalid value: ${e.message}` });
  }
  for (const extra of k.extraTemplates?.(spec) ?? []) {
    if (!ctx.engineTemplates.has(extra.template)) causes.push({ reason: 'FieldValueInvalid', field: extra.field, message: `Invalid value: true: no engine template ${extra.template} for version "${version}"` });
  }
  return causes;
}

const commonColumns: Column[] = [
  { name: 'Cluster', type: 'string', description: 'The member cluster it runs on.', cell: (o) => str(placementOf(o).cluster) },
  { name: 'Ready', type: 'string', description: 'Ready servers / servers.', cell: (o) => str(o.status?.ready) },
  { name: 'Phase', type: 'string', description: 'Lifecycle phase.', cell: (o) => str(o.status?.phase) },
];

export function serviceResource(k: ServiceKind): ResourceDefinition {
  return {
    plural: k.plural,
    singular: k.singular,
    kind: k.kind,
    listKind: `${k.kind}List`,
    namespaced: true,
    shortNames: k.shortNames,
    categories: ['upm'],
    verbs: ALL_VERBS,
    subresources: ['status'],
    columns: [nameColumn, ...k.columns, ...commonColumns, ...(k.wideColumns ?? []).map((c) => ({ ...c, priority: 1 })), ageColumn],
    fieldLabels: {
      'spec.placement.cluster': (o) => str(placementOf(o).cluster),
      'spec.version': (o) => str(o.spec?.version),
      'status.phase': (o) => str(o.status?.phase),
    },
    validate: (obj, old, ctx) => [...placementCauses(obj, old, ctx), ...templateCauses(k, obj, ctx)],
  };
}

export const SERVICES: readonly ResourceDefinition[] = SERVICE_KINDS.map(serviceResource);
