// operations.upm.io: a workflow on one data service of the namespace (DESIGN.md section 2). Besides the schema (the
// parameters of each type in the field of the same name, CEL rules for which goes with which), an Operation must
// name a service that exists, a type that service's kind supports, and parameters that make sense for it: a size
// in range and not what it already is, storage that only grows (on a class that lets it), an upgrade to a newer
// version the hub has a template for, a switchover with somewhere to go, a restore from a Backup that succeeded.
// Once created, its spec stays as it is but for spec.cancel. Progress is `N/M`: steps done of the steps planned.
import type { ClusterRecordSpec, ClusterRecordStatus } from '../../lib/api/internal.upm.io.generated.ts';
import { storageClassesOffered } from '../../lib/inventory.ts';
import { previewStatus } from '../../lib/operations/status.ts';
import type { Operation, ServiceView } from '../../lib/operations/types.ts';
import { parseQuantity } from '../quantity.ts';
import type { StatusCause } from '../status.ts';
import { storageCannotGrow } from './services.ts';
import { serviceKindOf, type OperationType, type ScaleField, type ServiceKind } from './service-kinds.ts';
import { ageColumn, ALL_VERBS, nameColumn, str, type HookContext, type PublicObject, type ResourceDefinition } from './types.ts';

interface Step { name?: string; phase?: string; message?: string }
interface OperationSpec {
  type?: OperationType;
  target?: { kind?: string; name?: string };
  cancel?: boolean;
  scale?: { replicas?: number; shards?: number; resources?: Record<string, unknown>; storage?: { size?: unknown } };
  upgrade?: { version?: string };
  restore?: { backup?: string };
}

const specOf = (o: PublicObject) => (o.spec ?? {}) as OperationSpec;
const stepsOf = (o: PublicObject) => (Array.isArray(o.status?.steps) ? (o.status.steps as Step[]) : []);
const DONE = new Set(['Succeeded', 'Skipped']);

/** `N/M`: steps succeeded (or skipped) of the steps planned; empty before any are planned. */
export function progress(o: PublicObject): string {
  const steps = stepsOf(o);
  return steps.length ? `${steps.filter((s) => DONE.has(s.phase ?? '')).length}/${steps.length}` : '';
}

const valueAt = (spec: Record<string, unknown>, path: string[]): unknown => path.reduce<unknown>((v, p) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined), spec);
const versionKey = (v: string) => v.split('.').map(Number);
const older = (a: string, b: string) => { const [x, y] = [versionKey(a), versionKey(b)]; return (x[0] ?? 0) < (y[0] ?? 0) || ((x[0] ?? 0) === (y[0] ?? 0) && (x[1] ?? 0) < (y[1] ?? 0)); };

function scaleField(field: string, want: number, f: ScaleField, svcSpec: Record<string, unknown>, k: ServiceKind): { causes: StatusCause[]; same: boolean } {
  const fixed = f.fixed?.(svcSpec);
  if (fixed) return { causes: [{ reason: 'FieldValueForbidden', field, message: `Forbidden: ${fixed}` }], same: false };
  if (want < f.min || want > f.max) return { causes: [{ reason: 'FieldValueInvalid', field, message: `Invalid value: ${want}: a ${k.kind} has ${f.min} to ${f.max} ${f.noun}` }], same: false };
  if (f.odd && want % 2 === 0) return { causes: [{ reason: 'FieldValueInvalid', field, message: `Invalid value: ${want}: must be odd: a ${k.kind} needs a majority of its ${f.noun}` }], same: false };
  return { causes: [], same: want === f.default(svcSpec) };
}

function checkScale(spec: OperationSpec, svc: PublicObject, k: ServiceKind, ctx: HookContext): StatusCause[] {
  const s = spec.scale ?? {};
  const svcSpec = svc.spec ?? {};
  const causes: StatusCause[] = [];
  const same: boolean[] = [];
  if (s.replicas !== undefined) {
    const r = scaleField('spec.scale.replicas', s.replicas, k.scale.replicas, svcSpec, k);
    causes.push(...r.causes);
    same.push(r.same);
  }
  if (s.shards !== undefined) {
    if (!k.scale.shards) causes.push({ reason: 'FieldValueForbidden', field: 'spec.scale.shards', message: `Forbidden: a ${k.kind} has no shards` });
    else { const r = scaleField('spec.scale.shards', s.shards, k.scale.shards, svcSpec, k); causes.push(...r.causes); same.push(r.same); }
  }
  if (s.storage?.size !== undefined) {
    const have = valueAt(svcSpec, ['storage', 'size']) ?? '10Gi';
    const want = parseQuantity(s.storage.size);
    const now = parseQuantity(have);
    if (want !== undefined && now !== undefined && want < now) {
      causes.push({ reason: 'FieldValueInvalid', field: 'spec.scale.storage.size', message: `Invalid value: ${JSON.stringify(s.storage.size)}: storage may only grow (the ${k.kind} has ${str(have)})` });
    }
    const cannot = want !== undefined && now !== undefined && want > now ? storageCannotGrow(svc, ctx) : undefined;
    if (cannot) causes.push({ reason: 'FieldValueForbidden', field: 'spec.scale.storage.size', message: `Forbidden: ${cannot}` });
    same.push(want === now);
  }
  if (s.resources !== undefined) same.push(JSON.stringify(s.resources) === JSON.stringify(valueAt(svcSpec, ['resources']) ?? {}));
  if (causes.length === 0 && same.length && same.every(Boolean)) {
    causes.push({ reason: 'FieldValueInvalid', field: 'spec.scale', message: `Invalid value: nothing to change: the ${k.kind} "${svc.metadata.name}" already has that size` });
  }
  return causes;
}

function checkParameters(spec: OperationSpec, svc: PublicObject, k: ServiceKind, ns: string, ctx: HookContext): StatusCause[] {
  const svcSpec = svc.spec ?? {};
  switch (spec.type) {
    case 'Scale': return checkScale(spec, svc, k, ctx);
    case 'Upgrade': {
      const to = str(spec.upgrade?.version);
      const from = str(svcSpec.version);
      const family = k.family(svcSpec);
      if (!to) return [];
      if (to === from) return [{ reason: 'FieldValueInvalid', field: 'spec.upgrade.version', message: `Invalid value: "${to}": the ${k.kind} already runs ${to}` }];
      if (from && older(to, from)) return [{ reason: 'FieldValueInvalid', field: 'spec.upgrade.version', message: `Invalid value: "${to}": a downgrade from ${from} is not supported` }];
      if (!ctx.engineTemplates.has(`${family}-${to}`)) return [{ reason: 'FieldValueNotSupported', field: 'spec.upgrade.version', message: `Unsupported value: "${to}": no engine template ${family}-${to}` }];
      return [];
    }
    case 'Switchover':
    case 'Failover': {
      // Somewhere to go: a replica of the server that takes writes (for Redis Cluster, of each shard's master).
      const replicas = k.scale.replicas.default(svcSpec);
      const has = k.scale.shards ? replicas > 0 : replicas > 1;
      return has ? [] : [{ reason: 'FieldValueInvalid', field: 'spec.type', message: `Invalid value: "${spec.type}": the ${k.kind} "${svc.metadata.name}" has no replica to hand over to` }];
    }
    case 'Restore': {
      const name = str(spec.restore?.backup);
      if (!name) return [];
      const backup = ctx.lookup('operations', `${ns}/${name}`);
      const field = 'spec.restore.backup';
      if (!backup) return [{ reason: 'FieldValueNotFound', field, message: `Not found: "${name}": no Operation of that name in namespace ${ns}` }];
      const b = specOf(backup);
      if (b.type !== 'Backup') return [{ reason: 'FieldValueInvalid', field, message: `Invalid value: "${name}": Operation "${name}" is a ${b.type ?? 'n unknown'}, not a Backup` }];
      if (b.target?.kind !== k.kind) return [{ reason: 'FieldValueInvalid', field, message: `Invalid value: "${name}": the backup is of a ${b.target?.kind ?? 'service'}, not a ${k.kind}` }];
      const phase = str(backup.status?.phase) || 'Pending';
      if (phase !== 'Succeeded') return [{ reason: 'FieldValueInvalid', field, message: `Invalid value: "${name}": the backup has not succeeded (phase ${phase})` }];
      return [];
    }
    case 'Create': {
      const other = ctx.listCached('operations').find((o) => o.metadata.namespace === ns && o.metadata.name !== undefined
        && specOf(o).type === 'Create' && specOf(o).target?.kind === k.kind && specOf(o).target?.name === svc.metadata.name
        && !['Failed', 'Cancelled'].includes(str(o.status?.phase)));
      return other ? [{ reason: 'FieldValueDuplicate', field: 'spec.type', message: `Duplicate value: "Create": Operation "${other.metadata.name}" already creates ${k.kind} "${svc.metadata.name}"` }] : [];
    }
    default: return [];
  }
}

/** Everything but spec.cancel, to compare an update with what was created. */
const fixedPart = (spec: Record<string, unknown> | undefined) => JSON.stringify(Object.entries(spec ?? {}).filter(([k]) => k !== 'cancel').sort(([a], [b]) => a.localeCompare(b)));

export function validateOperation(obj: PublicObject, old: PublicObject | undefined, ctx: HookContext): StatusCause[] {
  if (old) {
    return fixedPart(obj.spec) === fixedPart(old.spec) ? [] : [{ reason: 'FieldValueForbidden', field: 'spec', message: "Forbidden: an Operation's spec cannot change once created; only spec.cancel may be set" }];
  }
  const spec = specOf(obj);
  const ns = obj.metadata.namespace ?? '';
  const k = serviceKindOf(str(spec.target?.kind));
  if (!k || !spec.type) return []; // the schema named it
  const name = str(spec.target?.name);
  const svc = ctx.lookup(k.plural, `${ns}/${name}`);
  if (!svc) return [{ reason: 'FieldValueNotFound', field: 'spec.target.name', message: `Not found: "${name}": no ${k.kind} of that name in namespace ${ns}` }];
  if (!k.operations.includes(spec.type)) {
    return [{ reason: 'FieldValueNotSupported', field: 'spec.type', message: `Unsupported value: "${spec.type}": a ${k.kind} supports ${k.operations.map((t) => `"${t}"`).join(', ')}` }];
  }
  return checkParameters(spec, svc, k, ns, ctx);
}

/** The plan of an Operation as it would run now: its steps, each precondition evaluated against the caches. */
export function previewOperation(obj: PublicObject, ctx: HookContext): Record<string, unknown> {
  const spec = specOf(obj);
  const ns = obj.metadata.namespace ?? '';
  const k = serviceKindOf(str(spec.target?.kind));
  const service = k ? ctx.lookup(k.plural, `${ns}/${str(spec.target?.name)}`) as ServiceView | undefined : undefined;
  const clusterName = str((service?.spec.placement as { cluster?: unknown } | undefined)?.cluster);
  const cluster = clusterName ? ctx.lookup('clusters', clusterName) : undefined;
  const ready = (cluster?.status?.conditions as { type?: string; status?: string; message?: string }[] | undefined)?.find((c) => c.type === 'Ready');
  const others = ctx.listCached('operations').filter((o) => o.metadata.namespace === ns && specOf(o).target?.kind === spec.target?.kind && specOf(o).target?.name === spec.target?.name) as unknown as Operation[];
  // The schema and validateOperation have passed: spec.type and spec.target are there.
  return { ...previewStatus(obj as unknown as Operation, {
    service, templates: ctx.engineTemplates, others, now: new Date(),
    cluster: cluster ? { name: clusterName, ready: ready?.status === 'True', ...(ready?.message ? { message: ready.message } : {}), ...storageClassesOffered(cluster.spec as ClusterRecordSpec | undefined, cluster.status as ClusterRecordStatus | undefined) } : undefined,
  }) };
}

export const operations: ResourceDefinition = {
  plural: 'operations',
  singular: 'operation',
  kind: 'Operation',
  listKind: 'OperationList',
  namespaced: true,
  shortNames: ['op'],
  categories: ['upm'],
  verbs: ALL_VERBS,
  subresources: ['status'],
  columns: [
    nameColumn,
    { name: 'Type', type: 'string', description: 'The workflow.', cell: (o) => str(specOf(o).type) },
    { name: 'Target', type: 'string', description: 'The service it works on (kind/name).', cell: (o) => `${str(specOf(o).target?.kind).toLowerCase()}/${str(specOf(o).target?.name)}` },
    { name: 'Phase', type: 'string', description: 'Pending, Running, Succeeded, Failed or Cancelled.', cell: (o) => str(o.status?.phase) || (specOf(o).cancel ? 'Cancelling' : 'Pending') },
    { name: 'Progress', type: 'string', description: 'Steps done of the steps planned.', cell: progress },
    { name: 'Step', type: 'string', priority: 1, description: 'The step running (or the last one).', cell: (o) => { const s = stepsOf(o); return str((s.find((x) => x.phase === 'Running') ?? s.findLast((x) => x.phase !== 'Pending'))?.name); } },
    { name: 'Message', type: 'string', priority: 1, description: 'What it is doing, or why it ended.', cell: (o) => str(o.status?.message) },
    ageColumn,
  ],
  fieldLabels: {
    'spec.type': (o) => str(specOf(o).type),
    'spec.target.kind': (o) => str(specOf(o).target?.kind),
    'spec.target.name': (o) => str(specOf(o).target?.name),
    'status.phase': (o) => str(o.status?.phase),
  },
  validate: validateOperation,
  preview: previewOperation,
};
