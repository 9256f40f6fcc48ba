// Public objects (upm.io/v1alpha1, e.g. MysqlService) and their storage objects (internal.upm.io/v1alpha1, e.g.
// MysqlServiceRecord: resources/types.ts storageNames) differ only in apiVersion and kind, also inside
// managedFields, so the kube-apiserver's persistence semantics (resourceVersion, conflicts, generateName,
// finalizers, dry run, server-side apply) carry over unchanged. Pure.
import type { KubeObject } from '../lib/kube/types.ts';
import type { Status } from './status.ts';
import { GROUP, STORAGE_GROUP, storageNames, VERSION, type PublicObject } from './resources/types.ts';

export const PUBLIC_API_VERSION = `${GROUP}/${VERSION}`;
export const STORAGE_API_VERSION = `${STORAGE_GROUP}/${VERSION}`;

/** What the translation needs of a resource: its public names. */
export interface Names { kind: string; plural: string; singular: string }

interface ManagedFieldsEntry { apiVersion?: string }

function swapManagedFields(meta: Record<string, unknown>, from: string, to: string): Record<string, unknown> {
  const mf = meta.managedFields as ManagedFieldsEntry[] | undefined;
  if (!Array.isArray(mf) || !mf.some((e) => e?.apiVersion === from)) return meta;
  return { ...meta, managedFields: mf.map((e) => (e?.apiVersion === from ? { ...e, apiVersion: to } : e)) };
}

export function toPublic(obj: KubeObject, def: Names): PublicObject {
  const meta = swapManagedFields(obj.metadata as Record<string, unknown>, STORAGE_API_VERSION, PUBLIC_API_VERSION);
  return { ...obj, apiVersion: PUBLIC_API_VERSION, kind: def.kind, metadata: meta } as PublicObject;
}

/** The storage form of a public object or patch: only the type meta it carries is changed. */
export function toStorage<T extends Record<string, unknown>>(obj: T, def: Names): T {
  const out: Record<string, unknown> = { ...obj };
  if (out.apiVersion === PUBLIC_API_VERSION) out.apiVersion = STORAGE_API_VERSION;
  if (out.kind === def.kind) out.kind = storageNames(def).kind;
  if (out.metadata && typeof out.metadata === 'object' && !Array.isArray(out.metadata)) {
    out.metadata = swapManagedFields(out.metadata as Record<string, unknown>, PUBLIC_API_VERSION, STORAGE_API_VERSION);
  }
  return out as T;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Rewords text from the storage server for the public API: `mysqlservicerecords.internal.upm.io` ->
 * `mysqlservices.upm.io`, `MysqlServiceRecord` -> `MysqlService` (object names are lower case, so a kind never
 * matches one), and the group anywhere else.
 */
export function publicText(text: string, def: Names): string {
  const s = storageNames(def);
  return text
    .replace(new RegExp(`\\b${escape(s.plural)}\\.${escape(STORAGE_GROUP)}\\b`, 'g'), `${def.plural}.${GROUP}`)
    .replace(new RegExp(`\\b${escape(s.singular)}\\.${escape(STORAGE_GROUP)}\\b`, 'g'), `${def.singular}.${GROUP}`)
    .replace(new RegExp(`resource "${escape(s.plural)}"`, 'g'), `resource "${def.plural}"`)
    .replace(new RegExp(escape(s.kind), 'g'), def.kind)
    .replaceAll(STORAGE_GROUP, GROUP);
}

/** Every string in a JSON value, mapped. */
function mapStrings(v: unknown, f: (s: string) => string): unknown {
  if (typeof v === 'string') return f(v);
  if (Array.isArray(v)) return v.map((x) => mapStrings(x, f));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mapStrings(x, f)]));
  return v;
}

/** A Status from the storage server, reworded for the public resource (its message, details and causes). */
export function publicStatus(status: Status, def: Names): Status {
  const out = mapStrings(status, (t) => publicText(t, def)) as Status;
  // details.kind is the storage plural for most errors (NotFound, AlreadyExists, Conflict), the kind for Invalid.
  if (out.details?.kind === storageNames(def).plural) out.details = { ...out.details, kind: def.plural };
  return out;
}
