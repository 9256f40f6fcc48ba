// A decoder of API responses and watch streams as strict as client-go's for the form it negotiated: every object
// must carry exactly the negotiated apiVersion and kind (a metadata informer's scheme knows only meta.k8s.io's
// types and Status, so anything else is "no kind ... is registered"), and, beyond client-go, no field outside that
// type (a PartialObjectMetadata with a spec is a full object in disguise). Each check returns its violations, so
// a test can name every one at once.

/** What the client asked for: a meta.k8s.io form, or the resource's own kind with the fields its schema has. */
export type Expect =
  | { as: 'PartialObjectMetadata'; version: 'v1' | 'v1beta1' }
  | { as: 'Table'; version: 'v1' | 'v1beta1' }
  | { as: 'Object'; apiVersion: string; kind: string; listKind: string; fields: ReadonlySet<string> };

export interface WatchEvent { type: string; object: Record<string, unknown> }

const OBJECT_META = new Set([
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp',
  'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields',
]);
const LIST_META = new Set(['selfLink', 'resourceVersion', 'continue', 'remainingItemCount']);
const STATUS = new Set(['kind', 'apiVersion', 'metadata', 'status', 'message', 'reason', 'details', 'code']);
const TABLE = new Set(['kind', 'apiVersion', 'metadata', 'columnDefinitions', 'rows']);
const COLUMN = new Set(['name', 'type', 'format', 'description', 'priority']);
const ROW = new Set(['cells', 'conditions', 'object']);
const EVENT_TYPES = new Set(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function extra(where: string, obj: Record<string, unknown>, allowed: ReadonlySet<string>): string[] {
  return Object.keys(obj).filter((k) => !allowed.has(k)).map((k) => `${where}: unknown field "${k}"`);
}

function typeMeta(where: string, obj: Record<string, unknown>, apiVersion: string, kind: string): string[] {
  if (obj.apiVersion === apiVersion && obj.kind === kind) return [];
  return [`${where}: no kind "${String(obj.kind)}" is registered for version "${String(obj.apiVersion)}" (expected ${apiVersion} ${kind})`];
}

function meta(where: string, m: unknown, allowed: ReadonlySet<string>): string[] {
  if (m === undefined) return [];
  if (!isObject(m)) return [`${where}.metadata: not an object`];
  return extra(`${where}.metadata`, m, allowed);
}

export function checkStatus(where: string, obj: Record<string, unknown>): string[] {
  return [...typeMeta(where, obj, 'v1', 'Status'), ...extra(where, obj, STATUS), ...meta(where, obj.metadata, LIST_META)];
}

function checkPartial(where: string, obj: unknown, version: string): string[] {
  if (!isObject(obj)) return [`${where}: not an object`];
  return [...typeMeta(where, obj, `meta.k8s.io/${version}`, 'PartialObjectMetadata'), ...extra(where, obj, new Set(['kind', 'apiVersion', 'metadata'])), ...meta(where, obj.metadata, OBJECT_META)];
}

function checkOwn(where: string, obj: unknown, e: Extract<Expect, { as: 'Object' }>): string[] {
  if (!isObject(obj)) return [`${where}: not an object`];
  return [...typeMeta(where, obj, e.apiVersion, e.kind), ...extra(where, obj, e.fields), ...meta(where, obj.metadata, OBJECT_META)];
}

/** A Table; `columns` carries the column count of a watch's first event to the events that leave them out. */
function checkTable(where: string, obj: Record<string, unknown>, version: string, columns: { n?: number }): string[] {
  const out = [...typeMeta(where, obj, `meta.k8s.io/${version}`, 'Table'), ...extra(where, obj, TABLE), ...meta(where, obj.metadata, LIST_META)];
  if (obj.columnDefinitions !== undefined) {
    if (!Array.isArray(obj.columnDefinitions)) return [...out, `${where}.columnDefinitions: not a list`];
    obj.columnDefinitions.forEach((c, i) => out.push(...(isObject(c) ? extra(`${where}.columnDefinitions[${i}]`, c, COLUMN) : [`${where}.columnDefinitions[${i}]: not an object`])));
    columns.n = obj.columnDefinitions.length;
  }
  if (columns.n === undefined) out.push(`${where}: no columnDefinitions in the first Table`);
  if (!Array.isArray(obj.rows)) return [...out, `${where}.rows: not a list`];
  obj.rows.forEach((r, i) => {
    const w = `${where}.rows[${i}]`;
    if (!isObject(r)) { out.push(`${w}: not an object`); return; }
    out.push(...extra(w, r, ROW));
    if (!Array.isArray(r.cells) || r.cells.length !== columns.n) out.push(`${w}.cells: ${Array.isArray(r.cells) ? r.cells.length : 'no'} cells for ${String(columns.n)} columns`);
    // includeObject defaults to Metadata: each row's object is the PartialObjectMetadata of the Table's version.
    out.push(...checkPartial(`${w}.object`, r.object, version));
  });
  return out;
}

/** One object of a get, a write, or a watch event. */
export function checkObject(where: string, obj: unknown, e: Expect, columns: { n?: number } = {}): string[] {
  if (!isObject(obj)) return [`${where}: not an object`];
  if (e.as === 'PartialObjectMetadata') return checkPartial(where, obj, e.version);
  if (e.as === 'Table') return checkTable(where, obj, e.version, columns);
  return checkOwn(where, obj, e);
}

/** The answer to a list. */
export function checkList(where: string, obj: unknown, e: Expect): string[] {
  if (!isObject(obj)) return [`${where}: not an object`];
  if (e.as === 'Table') return checkTable(where, obj, e.version, {});
  const [apiVersion, kind] = e.as === 'PartialObjectMetadata' ? [`meta.k8s.io/${e.version}`, 'PartialObjectMetadataList'] : [e.apiVersion, e.listKind];
  const out = [...typeMeta(where, obj, apiVersion, kind), ...extra(where, obj, new Set(['kind', 'apiVersion', 'metadata', 'items'])), ...meta(where, obj.metadata, LIST_META)];
  if (!Array.isArray(obj.items)) return [...out, `${where}.items: not a list`];
  obj.items.forEach((item, i) => out.push(...(e.as === 'PartialObjectMetadata' ? checkPartial(`${where}.items[${i}]`, item, e.version) : checkOwn(`${where}.items[${i}]`, item, e))));
  return out;
}

/** A whole watch stream (one JSON event per line): its events and every violation in them. */
export function decodeWatch(where: string, text: string, e: Expect): { events: WatchEvent[]; violations: string[] } {
  const events: WatchEvent[] = [];
  const violations: string[] = [];
  const columns: { n?: number } = {};
  text.split('\n').filter((l) => l.trim()).forEach((line, i) => {
    const w = `${where} event ${i}`;
    let ev: unknown;
    try { ev = JSON.parse(line); } catch { violations.push(`${w}: not JSON: ${line.slice(0, 200)}`); return; }
    if (!isObject(ev) || typeof ev.type !== 'string' || !EVENT_TYPES.has(ev.type) || !isObject(ev.object)) { violations.push(`${w}: not a watch event: ${line.slice(0, 200)}`); return; }
    violations.push(...extra(w, ev, new Set(['type', 'object'])));
    const object = ev.object;
    // An ERROR carries a Status in every form; client-go decodes it whatever it negotiated.
    const found = ev.type === 'ERROR' ? checkStatus(`${w} ${ev.type}`, object) : checkObject(`${w} ${ev.type}`, object, e, columns);
    if (found.length) violations.push(...found, `${w}: ${line.slice(0, 300)}`);
    events.push({ type: ev.type, object });
  });
  return { events, violations };
}

/** The resourceVersion and annotations a BOOKMARK carries, wherever the form puts them (a Table: its row's object). */
export function bookmarkMeta(ev: WatchEvent): { resourceVersion?: string; annotations?: Record<string, string> } {
  const m = (o: unknown) => (isObject(o) && isObject(o.metadata) ? o.metadata as { resourceVersion?: string; annotations?: Record<string, string> } : {});
  if (ev.object.kind === 'Table') {
    const row = Array.isArray(ev.object.rows) ? ev.object.rows[0] as Record<string, unknown> | undefined : undefined;
    return { ...m(ev.object), annotations: m(row?.object).annotations };
  }
  return m(ev.object);
}
