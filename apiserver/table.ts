// meta.k8s.io Tables: the server chooses the columns (each resource declares them as data), kubectl prints them.
// Rows carry the object as PartialObjectMetadata by default, since kubectl reads namespace and labels from it.
import { badRequest } from './status.ts';
import type { Column, PublicObject, ResourceDefinition } from './resources/types.ts';

export type IncludeObject = 'Metadata' | 'Object' | 'None';

export function includeObjectParam(query: URLSearchParams): IncludeObject {
  const v = query.get('includeObject') ?? '';
  if (v === '' || v === 'Metadata') return 'Metadata';
  if (v === 'Object' || v === 'None') return v;
  throw badRequest(`includeObject: unsupported value "${v.slice(0, 40)}": supported values: "Metadata", "Object", "None"`);
}

export function columnDefinitions(columns: Column[]): Record<string, unknown>[] {
  return columns.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.description, priority: c.priority ?? 0 }));
}

export function partialObjectMetadata(obj: PublicObject, version: 'v1' | 'v1beta1'): Record<string, unknown> {
  return { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${version}`, metadata: obj.metadata };
}

export function tableRow(def: ResourceDefinition, obj: PublicObject, include: IncludeObject, version: 'v1' | 'v1beta1', now: number): Record<string, unknown> {
  return withObject({ cells: def.columns.map((c) => c.cell(obj, now)) }, obj, include, version);
}

/**
 * The row of a watch bookmark, whose object carries only metadata: nothing to show in the cells (the name empty, the
 * rest null, as the kube-apiserver fills them for a custom resource), the object as includeObject asks, except that
 * the initial-events-end bookmark always keeps its metadata (its annotation is what the client waits for).
 */
export function bookmarkRow(def: ResourceDefinition, obj: PublicObject, include: IncludeObject, version: 'v1' | 'v1beta1', initialEnd: boolean): Record<string, unknown> {
  const cells = def.columns.map((c) => (c.format === 'name' ? '' : null));
  return withObject({ cells }, obj, initialEnd ? 'Metadata' : include, version);
}

function withObject(row: Record<string, unknown>, obj: PublicObject, include: IncludeObject, version: 'v1' | 'v1beta1'): Record<string, unknown> {
  if (include === 'Metadata') row.object = partialObjectMetadata(obj, version);
  else if (include === 'Object') row.object = obj;
  return row;
}

export interface TableOptions {
  include: IncludeObject;
  version: 'v1' | 'v1beta1';
  /** Watch events after the first leave the column definitions out. */
  withColumns: boolean;
  listMeta?: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
}

export function table(def: ResourceDefinition, objs: PublicObject[], opts: TableOptions): Record<string, unknown> {
  const now = Date.now();
  const out: Record<string, unknown> = { kind: 'Table', apiVersion: `meta.k8s.io/${opts.version}`, metadata: opts.listMeta ?? {} };
  if (opts.withColumns) out.columnDefinitions = columnDefinitions(def.columns);
  out.rows = objs.map((o) => tableRow(def, o, opts.include, opts.version, now));
  return out;
}
