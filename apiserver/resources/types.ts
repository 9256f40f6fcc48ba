// The contract of one public resource, after the generic API server registry (a strategy plus storage per
// resource): names and scope for discovery, the storage CRD, table columns as data, and the hooks the generic
// registry calls at fixed points (defaults, cross-object validation, per-user visibility, per-object authorization,
// the project a change belongs to). Adding a resource is writing one module that exports a ResourceDefinition.
import type { KubeObject } from '../../lib/kube/types.ts';
import type { StatusCause } from '../status.ts';
import type { EngineTemplateInfo } from '../templates.ts';

export const GROUP = 'upm.io';
export const VERSION = 'v1alpha1';
export const STORAGE_GROUP = 'internal.upm.io';

export interface StorageNames { kind: string; listKind: string; plural: string; singular: string }

/**
 * The names of a public kind's storage CRD: the kind with `Record` appended, its plural and singular in lower case,
 * no short names and no categories. Clients that do not follow APIService priorities (k9s, client-go's RESTMapper
 * without them) resolve a plural or kind to any group that serves it; with names of their own, the storage
 * resources can never be taken for the public ones.
 */
export function storageNames(def: { kind: string }): StorageNames {
  const kind = `${def.kind}Record`;
  const singular = kind.toLowerCase();
  return { kind, listKind: `${kind}List`, plural: `${singular}s`, singular };
}

export type Subresource = 'status' | 'proxy';
/** The verbs of a subresource in discovery: status reads and writes, proxy the connect verbs (as pods/proxy). */
export const SUBRESOURCE_VERBS: Record<Subresource, readonly string[]> = { status: ['get', 'patch', 'update'], proxy: ['create', 'delete', 'get', 'patch', 'update'] };

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';
export const ALL_VERBS: readonly Verb[] = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
export const READ_VERBS: readonly Verb[] = ['get', 'list', 'watch'];

/** A public object as users see it (apiVersion upm.io/v1alpha1). */
export interface PublicObject extends KubeObject {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export type Cell = string | number | boolean | null;

export interface Column {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  format?: string;
  description: string;
  /** 0: always shown; 1 and more: only with `-o wide`. */
  priority?: number;
  cell(obj: PublicObject, now: number): Cell;
}

export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
  extra: Record<string, string[]>;
}

/** What the hooks may consult: the caller, the other resources' caches and the hub's catalogs. Read-only. */
export interface HookContext {
  user: UserInfo;
  /** Whether the caller may see every object of this resource (cluster admins): `listall` on it, by RBAC. */
  seesAll(): Promise<boolean>;
  /** An object of another resource from the cache (public form), by plural and key ("ns/name" or "name"). */
  lookup(plural: string, key: string): PublicObject | undefined;
  /** Every cached object of a resource (public form). */
  listCached(plural: string): PublicObject[];
  /** The projects a user belongs to, directly or through a group (names). */
  projectsOf(user: UserInfo): Set<string>;
  /** The role the user holds in a project, the strongest of their direct and group memberships. */
  roleIn(project: string, user: UserInfo): 'admin' | 'editor' | 'viewer' | undefined;
  /** Engine versions that have a template, e.g. "mysql-8.0". */
  engineTemplates: ReadonlyMap<string, EngineTemplateInfo>;
  /** Reads an object of the management cluster that is not ours (e.g. a Namespace) from the storage server. */
  getCore(path: string): Promise<KubeObject | undefined>;
}

export interface Visibility {
  /**
   * The names (keys) the caller may see, for an index-backed list, or undefined to filter every object with
   * `visible`. Only consulted for callers that do not see all.
   */
  keys?(ctx: HookContext): Iterable<string> | undefined;
  /** Whether the caller may see the object; invisible objects are 404 to them, as if they did not exist. */
  visible(obj: PublicObject, ctx: HookContext): boolean;
}

export interface ResourceDefinition {
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: readonly Verb[];
  /**
   * Subresources served beside the main resource: status (the storage CRD has it too) and proxy, a connect
   * subresource served by apiserver/proxy.ts (clusters only).
   */
  subresources: readonly Subresource[];
  /** Human description (discovery has none; the OpenAPI kind schema has the CRD's). */
  columns: Column[];
  /** Field selector labels beyond metadata.name and metadata.namespace, with how to read each. */
  fieldLabels?: Record<string, (obj: PublicObject) => string>;
  /** Sets what the schema's defaults cannot (e.g. the creator as a project admin). Mutates obj. */
  defaults?(obj: PublicObject, ctx: HookContext): void;
  /** Checks that need the world (other objects, catalogs); returns one cause per bad field. */
  validate?(obj: PublicObject, old: PublicObject | undefined, ctx: HookContext): Promise<StatusCause[]> | StatusCause[];
  /** Per-user visibility on top of RBAC (projects a user belongs to); undefined: RBAC alone decides. */
  visibility?: Visibility;
  /**
   * A per-object decision after RBAC allowed the verb (e.g. only a project's admins change it); returns the reason
   * to refuse, or undefined to allow. `obj` is the stored object (undefined on create).
   */
  authorizeObject?(verb: Verb, obj: PublicObject | undefined, ctx: HookContext): Promise<string | undefined> | string | undefined;
  /** The status a dry-run create returns (a plan preview), computed now; nothing is stored. */
  preview?(obj: PublicObject, ctx: HookContext): Record<string, unknown>;
  /** The project a request on this resource belongs to, for its OperationLog. */
  projectOf?(namespace: string, name: string, ctx: HookContext): string | undefined;
}

/** Columns every resource ends with. */
export const ageColumn: Column = {
  name: 'Age', type: 'date', description: 'Time since the object was created.',
  cell: (obj, now) => humanAge(obj.metadata.creationTimestamp, now),
};

export const nameColumn: Column = {
  name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.',
  cell: (obj) => obj.metadata.name ?? '',
};

/** Age as kubectl prints it for built-in resources: 45s, 5m10s, 3h, 2d4h, 400d. */
export function humanAge(timestamp: string | undefined, now: number): string {
  if (!timestamp) return '<unknown>';
  const then = Date.parse(timestamp);
  if (Number.isNaN(then)) return '<unknown>';
  const s = Math.max(0, Math.floor((now - then) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 730) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

export function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v);
}

/** A condition's status from status.conditions, or '' when absent. */
export function conditionStatus(obj: PublicObject, type: string): string {
  const conds = (obj.status?.conditions ?? []) as { type?: string; status?: string }[];
  return conds.find((c) => c.type === type)?.status ?? '';
}
