// The generic store: every verb of every public resource, with Kubernetes semantics, over one ResourceDefinition.
// Reads come from the resource's cache (lib/informer.ts underneath); writes are translated 1:1 to the storage CRD
// and the kube-apiserver applies its persistence semantics (resourceVersion, conflicts, generateName, finalizers,
// dry run, server-side apply, managedFields). Around that, at fixed points, the resource's hooks: defaults, schema
// and cross-object validation (422 naming each field, nothing stored), per-user visibility (404), per-object
// authorization (403).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KubeClient } from '../lib/kube/client.ts';
import { asStatus } from '../lib/kube/errors.ts';
import type { KubeObject } from '../lib/kube/types.ts';
import { decodeObject, decodePatch, readBody, type PatchType } from './body.ts';
import { storageResource, type Entry, type ResourceCache } from './cache.ts';
import { negotiate, type Output } from './negotiate.ts';
import { validateObjectMeta } from './objectmeta.ts';
import { GROUP, storageNames, type HookContext, type PublicObject, type ResourceDefinition, type UserInfo, type Verb } from './resources/types.ts';
import { matchFields, matchLabels, parseFieldSelector, parseLabelSelector, SelectorError, type FieldRequirement, type LabelRequirement } from './selectors.ts';
import {
  ApiError, badRequest, conflict, expired, forbidden, invalid, methodNotAllowed, nameNotAvailable, notFound, timeout, type Status,
} from './status.ts';
import { includeObjectParam, partialObjectMetadata, table } from './table.ts';
import { PUBLIC_API_VERSION, publicStatus, publicText, toPublic, toStorage, type Names } from './translate.ts';
import type { SchemaValidator } from './validation.ts';
import { serveWatch } from './watch.ts';
import { queryFlag } from './requestinfo.ts';
import { collectionPath } from '../lib/kube/resources.ts';

export interface Reply {
  code: number;
  /** A JSON string ready to send, or a value to encode for the negotiated output. */
  body: string | unknown;
  warnings?: string[];
  /** The object the request acted on (a created object's generated name), for its OperationLog. */
  name?: string;
}

export interface StoreDeps {
  storage: KubeClient;
  validator: SchemaValidator;
  /** Highest resourceVersion this server wrote to the resource: reads wait for the cache to reach it (read your writes). */
  lastWrite(): number;
  wrote(rv: number): void;
  watchOptions: { bookmarkIntervalMs: number; maxBufferedBytes: number; stallMs: number };
  metrics?: {
    watchOpened(plural: string): void; watchClosed(plural: string): void; watchEvent(plural: string): void; watchTerminated(plural: string): void;
    watchHolding(plural: string, unsent: () => number): (peakUnsentBytes: number) => void;
  };
  /** Calls `lost` once the user stops being a member of the project; returns the unsubscribe. */
  onMembershipLost?(project: string, user: UserInfo, lost: () => void): () => void;
}

const FRESH_WAIT_MS = 3000;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Where a list goes on: after `start` in our snapshot at rv, or (`s`) the storage's own continue token. */
interface ContinueToken { rv: number; start: string; s?: string }

/** Objects per storage request when a list the cache cannot answer has no limit: no single response is unbounded. */
const STORAGE_PAGE = 500;

function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function decodeContinue(s: string): ContinueToken {
  try {
    const t = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as ContinueToken;
    if (typeof t.rv === 'number' && typeof t.start === 'string' && (t.s === undefined || typeof t.s === 'string')) return t;
  } catch { /* fall through */ }
  throw badRequest('continue key is not valid: the token was not issued by this server');
}

function parseRv(s: string | null): number | undefined {
  if (s === null || s === '') return undefined;
  if (!/^\d{1,19}$/.test(s)) throw badRequest(`invalid resource version "${s.slice(0, 40)}"`);
  return Number(s);
}

function listOptionsInvalid(field: string, message: string): ApiError {
  const e = invalid('ListOptions', 'meta.k8s.io', '', [{ reason: 'FieldValueInvalid', field, message }]);
  return e;
}

function dryRun(query: URLSearchParams): boolean {
  const values = query.getAll('dryRun');
  for (const v of values) if (v !== 'All') throw invalid('CreateOptions', 'meta.k8s.io', '', [{ reason: 'FieldValueNotSupported', field: 'dryRun', message: `Unsupported value: "${v.slice(0, 40)}": supported values: "All"` }]);
  return values.length > 0;
}

type FieldValidation = 'Strict' | 'Warn' | 'Ignore';
function fieldValidation(query: URLSearchParams): FieldValidation {
  const v = query.get('fieldValidation') ?? '';
  if (v === '') return 'Warn';
  if (v === 'Strict' || v === 'Warn' || v === 'Ignore') return v;
  throw badRequest(`fieldValidation: invalid value "${v.slice(0, 40)}": must be one of "Strict", "Warn", "Ignore"`);
}

/** The field manager of a non-apply write: the parameter, or the User-Agent up to its first slash, as Go does. */
function fieldManager(query: URLSearchParams, req: IncomingMessage): string {
  const fm = query.get('fieldManager');
  if (fm) return fm;
  return (req.headers['user-agent'] ?? 'unknown').split('/')[0]?.slice(0, 128) || 'unknown';
}

export class Store {
  readonly def: ResourceDefinition;
  readonly cache: ResourceCache;
  private readonly deps: StoreDeps;
  private readonly q: { resource: string; group: string };

  constructor(def: ResourceDefinition, cache: ResourceCache, deps: StoreDeps) {
    this.def = def;
    this.cache = cache;
    this.deps = deps;
    this.q = { resource: def.plural, group: GROUP };
  }

  private allows(verb: Verb): void {
    if (!this.def.verbs.includes(verb)) throw methodNotAllowed(verb, this.q);
  }

  private key(ns: string, name: string): string { return this.def.namespaced ? `${ns}/${name}` : name; }

  private storagePath(ns: string, name?: string, subresource?: string): string {
    const base = collectionPath(storageResource(this.def), this.def.namespaced ? ns || undefined : undefined);
    if (!name) return base;
    return `${base}/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ''}`;
  }

  /** Waits until the cache is as fresh as the request needs; false when it did not get there in time. */
  private async fresh(rv: number | undefined, rvParam: string | null): Promise<boolean> {
    if (rvParam === '0') return true;
    const target = rv ?? this.deps.lastWrite();
    if (target <= this.cache.resourceVersion) return true;
    return this.cache.waitFor(target, FRESH_WAIT_MS);
  }

  private async seesAll(ctx: HookContext): Promise<boolean> {
    return !this.def.visibility || ctx.seesAll();
  }

  private visible(ctx: HookContext, obj: PublicObject, all: boolean): boolean {
    return all || !this.def.visibility || this.def.visibility.visible(obj, ctx);
  }

  /**
   * A stored object the caller may act on: 404 when missing or invisible to them. A cache miss is asked of the
   * storage: another replica may have written the object a moment ago, and "no object" must never let a write
   * through that the object's own authorization would refuse.
   */
  private async existing(ctx: HookContext, ns: string, name: string, fromStorage = false): Promise<{ obj: PublicObject } | undefined> {
    if (!fromStorage) await this.fresh(undefined, null);
    const cached = fromStorage ? undefined : this.cache.get(this.key(ns, name));
    const entry: { obj: PublicObject } | undefined = cached ?? await this.storageGet(ns, name).then((obj) => obj && { obj });
    if (entry && !this.visible(ctx, entry.obj, await this.seesAll(ctx))) throw notFound({ ...this.q, name });
    return entry;
  }

  private async checkObject(ctx: HookContext, verb: Verb, obj: PublicObject | undefined, name: string, ns: string, subresource = ''): Promise<void> {
    const reason = await this.def.authorizeObject?.(verb, obj, ctx);
    if (reason) throw forbidden({ ...this.q, name, namespace: ns || undefined, verb, user: ctx.user.name, subresource }, reason);
  }

  // ---- reads -------------------------------------------------------------------------------------------------

  async get(ctx: HookContext, ns: string, name: string, query: URLSearchParams, accept: string | undefined): Promise<Reply> {
    this.allows('get');
    const output = negotiate(accept);
    const rvParam = query.get('resourceVersion');
    const rv = parseRv(rvParam);
    let obj: PublicObject | undefined;
    let json: string | undefined;
    if (await this.fresh(rv, rvParam)) {
      const entry = this.cache.get(this.key(ns, name));
      if (entry) { obj = entry.obj; json = entry.json; }
    } else {
      obj = await this.storageGet(ns, name);
    }
    if (!obj || !this.visible(ctx, obj, await this.seesAll(ctx))) throw notFound({ ...this.q, name });
    return { code: 200, body: this.shape(obj, json, output, query) };
  }

  private async storageGet(ns: string, name: string): Promise<PublicObject | undefined> {
    const r = await this.deps.storage.raw('GET', this.storagePath(ns, name));
    if (r.statusCode === 404) return undefined;
    if (r.statusCode >= 300) throw this.storageError(r.statusCode, r.body);
    return toPublic(r.body as KubeObject, this.def);
  }

  private shape(obj: PublicObject, json: string | undefined, output: Output, query: URLSearchParams): unknown {
    if (output.kind === 'table') return table(this.def, [obj], { include: includeObjectParam(query), version: output.version, withColumns: true, listMeta: { resourceVersion: obj.metadata.resourceVersion } });
    if (output.kind === 'pom') return partialObjectMetadata(obj, output.version);
    return json ?? obj;
  }

  private selectors(query: URLSearchParams): { labels: LabelRequirement[]; fields: FieldRequirement[] } {
    try {
      const labels = parseLabelSelector(query.get('labelSelector') ?? '');
      const fields = parseFieldSelector(query.get('fieldSelector') ?? '');
      const known = ['metadata.name', 'metadata.namespace', ...Object.keys(this.def.fieldLabels ?? {})];
      for (const f of fields) {
        if (!known.includes(f.field)) throw badRequest(`"${f.field.slice(0, 100)}" is not a known field selector: only ${known.map((k) => `"${k}"`).join(', ')}`);
      }
      return { labels, fields };
    } catch (err) {
      if (err instanceof SelectorError) throw badRequest(`unable to parse selector: ${err.message}`);
      throw err;
    }
  }

  /** The filter of a list or watch: namespace, selectors and (for those who do not see all) visibility. */
  private matcher(ctx: HookContext, ns: string, query: URLSearchParams, all: boolean): (e: Entry) => boolean {
    const { labels, fields } = this.selectors(query);
    const prefix = this.def.namespaced && ns ? `${ns}/` : '';
    const labelsOf = this.def.fieldLabels ?? {};
    return (e) => {
      if (prefix && !e.key.startsWith(prefix)) return false;
      const m = e.obj.metadata;
      if (labels.length && !matchLabels(labels, m.labels)) return false;
      if (fields.length) {
        const values: Record<string, string> = { 'metadata.name': m.name ?? '', 'metadata.namespace': m.namespace ?? '' };
        for (const [k, f] of Object.entries(labelsOf)) values[k] = f(e.obj);
        if (!matchFields(fields, values)) return false;
      }
      return this.visible(ctx, e.obj, all);
    };
  }

  async list(ctx: HookContext, ns: string, query: URLSearchParams, accept: string | undefined): Promise<Reply> {
    this.allows('list');
    const output = negotiate(accept, 'list');
    const rvParam = query.get('resourceVersion');
    const rv = parseRv(rvParam);
    const match = query.get('resourceVersionMatch') ?? '';
    const cont = query.get('continue') ?? '';
    if (match && !['Exact', 'NotOlderThan'].includes(match)) throw listOptionsInvalid('resourceVersionMatch', `Unsupported value: "${match.slice(0, 40)}": supported values: "Exact", "NotOlderThan"`);
    if (match && rvParam === null) throw listOptionsInvalid('resourceVersionMatch', 'resourceVersionMatch is forbidden unless resourceVersion is provided');
    if (match && cont) throw listOptionsInvalid('resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided');
    if (match === 'Exact' && rvParam === '0') throw listOptionsInvalid('resourceVersionMatch', 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"');
    if (query.has('sendInitialEvents')) throw listOptionsInvalid('sendInitialEvents', 'sendInitialEvents is forbidden for list');
    const limitRaw = query.get('limit');
    const limit = limitRaw ? Number(limitRaw) : 0;
    if (!Number.isInteger(limit) || limit < 0) throw badRequest(`limit: invalid value "${String(limitRaw).slice(0, 20)}"`);
    const all = await this.seesAll(ctx);
    const filter = this.matcher(ctx, ns, query, all);

    let candidates: Entry[];
    let listRv: number;
    const token = cont ? decodeContinue(cont) : undefined;
    if (token?.s !== undefined || match === 'Exact' || !(await this.fresh(rv, rvParam))) {
      // The cache cannot answer for that resourceVersion: ask the storage (it keeps etcd's history), page by page
      // as the client asked, continuing with the storage's own token.
      const from: Record<string, string> = {};
      if (token?.s !== undefined) from.continue = token.s;
      else if (rvParam) Object.assign(from, { resourceVersion: rvParam }, match ? { resourceVersionMatch: match } : {});
      const page = await this.storageList(ns, from, limit, filter);
      const listMeta: Record<string, unknown> = { resourceVersion: String(page.listRv) };
      if (page.next) listMeta.continue = encodeContinue({ rv: page.listRv, start: '', s: page.next });
      return { code: 200, body: this.listBody(page.items, listMeta, output, query) };
    } else if (token) {
      const snap = this.cache.snapshotAt(token.rv);
      if (!snap) throw expired('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
      const from = lowerBound(snap.entries, token.start);
      candidates = snap.entries.slice(from);
      listRv = snap.rv;
    } else {
      const keys = !all ? this.def.visibility?.keys?.(ctx) : undefined;
      if (keys && !limit) {
        // A user who belongs to few projects: read those, not the whole cache.
        candidates = [...new Set(keys)].map((k) => this.cache.get(k)).filter((e): e is Entry => !!e).sort((a, b) => (a.key < b.key ? -1 : 1));
        listRv = this.cache.resourceVersion;
      } else {
        const snap = this.cache.snapshot();
        candidates = snap.entries;
        listRv = snap.rv;
      }
    }
    const items: Entry[] = [];
    let next: string | undefined;
    for (const e of candidates) {
      if (!filter(e)) continue;
      if (limit && items.length === limit) { next = encodeContinue({ rv: listRv, start: (items[items.length - 1] as Entry).key + '\u0000' }); break; }
      items.push(e);
    }
    const listMeta: Record<string, unknown> = { resourceVersion: String(listRv) };
    if (next) listMeta.continue = next;
    return { code: 200, body: this.listBody(items, listMeta, output, query) };
  }

  /** A list in the negotiated form: a Table, a PartialObjectMetadataList, or the resource's list kind. */
  private listBody(items: { obj: PublicObject; json?: string }[], listMeta: Record<string, unknown>, output: Output, query: URLSearchParams): unknown {
    if (output.kind === 'table') return table(this.def, items.map((e) => e.obj), { include: includeObjectParam(query), version: output.version, withColumns: true, listMeta });
    if (output.kind === 'pom') {
      return { kind: 'PartialObjectMetadataList', apiVersion: `meta.k8s.io/${output.version}`, metadata: listMeta, items: items.map((e) => partialObjectMetadata(e.obj, output.version)) };
    }
    // Items are serialised once when cached: the list body is their concatenation.
    return `{"apiVersion":"${PUBLIC_API_VERSION}","kind":"${this.def.listKind}","metadata":${JSON.stringify(listMeta)},"items":[${items.map((e) => e.json ?? JSON.stringify(e.obj)).join(',')}]}`;
  }

  /**
   * The matching objects of a list from the storage, read in pages (at most `limit` objects, or STORAGE_PAGE a
   * request when there is none) until `limit` match or the storage has no more: `next` is where the storage goes
   * on. Every page after the first continues the first's snapshot, in the storage's key order.
   */
  private async storageList(ns: string, query: Record<string, string>, limit: number, filter: (e: Entry) => boolean): Promise<{ items: Entry[]; listRv: number; next?: string }> {
    const items: Entry[] = [];
    let listRv: number | undefined;
    let next: string | undefined;
    let q = query;
    do {
      const r = await this.deps.storage.raw('GET', this.storagePath(ns), { query: { ...q, limit: String(limit ? limit - items.length : STORAGE_PAGE) } });
      if (r.statusCode >= 300) throw this.storageError(r.statusCode, r.body);
      const list = r.body as { metadata?: { resourceVersion?: string; continue?: string }; items?: KubeObject[] };
      listRv ??= Number(list.metadata?.resourceVersion ?? 0);
      for (const o of list.items ?? []) {
        const obj = toPublic(o, this.def);
        const e = { key: this.key(obj.metadata.namespace ?? '', obj.metadata.name ?? ''), obj, json: JSON.stringify(obj), rv: Number(obj.metadata.resourceVersion) };
        if (filter(e)) items.push(e);
      }
      next = list.metadata?.continue || undefined;
      q = { continue: next ?? '' };
    } while (next && (!limit || items.length < limit));
    return { items, listRv: listRv ?? 0, next };
  }

  async watch(ctx: HookContext, ns: string, query: URLSearchParams, req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.allows('watch');
    const output = negotiate(req.headers.accept, 'watch');
    const rvParam = query.get('resourceVersion');
    const rv = parseRv(rvParam);
    const sendInitialEvents = query.has('sendInitialEvents') ? queryFlag(query, 'sendInitialEvents') : false;
    const match = query.get('resourceVersionMatch') ?? '';
    if (query.has('sendInitialEvents') && match !== 'NotOlderThan') {
      throw listOptionsInvalid('sendInitialEvents', 'sendInitialEvents is forbidden for watch unless resourceVersionMatch is set to NotOlderThan');
    }
    if (match && !query.has('sendInitialEvents')) throw listOptionsInvalid('resourceVersionMatch', 'resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided');
    const timeoutRaw = query.get('timeoutSeconds');
    const timeoutSeconds = timeoutRaw ? Number(timeoutRaw) : 1800 + Math.floor(Math.random() * 1800);
    if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 0) throw badRequest(`timeoutSeconds: invalid value "${String(timeoutRaw).slice(0, 20)}"`);
    const all = await this.seesAll(ctx);
    const filter = this.matcher(ctx, ns, query, all);
    const include = includeObjectParam(query);
    if (sendInitialEvents && rv) await this.cache.waitFor(rv, FRESH_WAIT_MS);
    else if (rv === undefined) await this.fresh(undefined, null);
    const m = this.deps.metrics;
    // RBAC allowed this watch once, through the membership's RoleBinding: a member removed from the project has
    // their watch ended then, rather than receiving the project's changes until it times out.
    let forget = (): void => {};
    const end = serveWatch(req, res, this.cache, this.def, {
      resourceVersion: rv, sendInitialEvents, allowBookmarks: queryFlag(query, 'allowWatchBookmarks'),
      timeoutSeconds, output, include, filter,
    }, {
      ...this.deps.watchOptions,
      onOpen: () => m?.watchOpened(this.def.plural),
      onClose: () => { forget(); m?.watchClosed(this.def.plural); },
      onEvent: () => m?.watchEvent(this.def.plural),
      onTerminated: () => m?.watchTerminated(this.def.plural),
      onHolding: (unsent) => m?.watchHolding(this.def.plural, unsent) ?? (() => {}),
    });
    if (this.def.namespaced && ns && ctx.roleIn(ns, ctx.user) !== undefined && this.deps.onMembershipLost && !res.writableEnded) {
      forget = this.deps.onMembershipLost(ns, ctx.user, end);
    }
  }

  // ---- writes ------------------------------------------------------------------------------------------------

  /** Type meta and metadata checks every create and update makes, before any validation. */
  private checkBody(obj: Record<string, unknown>, ns: string): PublicObject {
    if (obj.apiVersion !== PUBLIC_API_VERSION) {
      throw badRequest(`the API version in the data (${String(obj.apiVersion ?? '').slice(0, 60)}) does not match the expected API version (${PUBLIC_API_VERSION})`);
    }
    if (obj.kind !== this.def.kind) throw badRequest(`the kind in the data (${String(obj.kind ?? '').slice(0, 60)}) does not match the expected kind (${this.def.kind})`);
    if (obj.metadata === undefined) obj.metadata = {};
    if (!isObject(obj.metadata)) throw badRequest('metadata: must be an object');
    const meta = obj.metadata;
    if (this.def.namespaced) {
      if (meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== ns) {
        throw badRequest(`the namespace of the object (${String(meta.namespace).slice(0, 63)}) does not match the namespace on the request (${ns})`);
      }
      meta.namespace = ns;
    } else {
      delete meta.namespace;
    }
    return obj as unknown as PublicObject;
  }

  /** Unknown fields as fieldValidation asks; returns the object to store and the warnings to send. */
  private unknownFields(obj: PublicObject, mode: FieldValidation): { obj: PublicObject; warnings: string[] } {
    const unknown = this.deps.validator.unknownFields(obj);
    if (unknown.length === 0) return { obj, warnings: [] };
    if (mode === 'Strict') throw badRequest(`strict decoding error: ${unknown.map((f) => `unknown field "${f.slice(0, 200)}"`).join(', ')}`);
    return { obj: this.deps.validator.prune(obj), warnings: mode === 'Warn' ? unknown.map((f) => `unknown field "${f.slice(0, 200)}"`) : [] };
  }

  private async validate(ctx: HookContext, obj: PublicObject, old: PublicObject | undefined, crossObject: boolean): Promise<void> {
    let causes = [...validateObjectMeta(obj.metadata as Record<string, unknown>), ...this.deps.validator.validate(obj)];
    if (causes.length === 0 && crossObject && this.def.validate) causes = await this.def.validate(obj, old, ctx);
    if (causes.length) {
      const name = obj.metadata?.name ?? obj.metadata?.generateName ?? '';
      throw invalid(this.def.kind, GROUP, name, causes);
    }
  }

  private storageError(code: number, body: unknown): ApiError {
    const status = asStatus(body);
    if (status) return new ApiError(publicStatus({ ...status, code: status.code || code }, this.def));
    return new ApiError({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason: code >= 500 ? 'InternalError' : '', message: publicText(String(body ?? ''), this.def).slice(0, 500) } as Status);
  }

  private warningsOf(headers: Record<string, string | string[] | undefined>): string[] {
    const w = headers.warning;
    const list = Array.isArray(w) ? w : w ? [w] : [];
    // `299 - "text"`: pass the text on (reworded for the public group).
    return list.map((s) => publicText(s.replace(/^\d{3} \S+ "(.*)"$/, '$1'), this.def));
  }

  /** Sends a write to the storage and turns its answer into ours. */
  private async storageWrite(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body: unknown, query: Record<string, string | undefined>, contentType?: string): Promise<{ code: number; obj?: PublicObject; raw: unknown; warnings: string[] }> {
    let r;
    try {
      r = await this.deps.storage.raw(method, path, { body, query, contentType, timeoutMs: 30_000 });
    } catch (err) {
      if ((err as Error)?.name === 'TimeoutError' || (err as Error)?.name === 'AbortError') throw timeout(`the ${method} to the storage of ${this.def.plural} did not complete in time; please try again`, 2);
      throw err;
    }
    if (r.statusCode >= 300) throw this.storageError(r.statusCode, r.body);
    const warnings = this.warningsOf(r.headers);
    const b = r.body as KubeObject & { kind?: string };
    if (isObject(b) && b.kind === storageNames(this.def).kind) {
      const obj = toPublic(b, this.def);
      if (!query.dryRun) this.deps.wrote(Number(obj.metadata.resourceVersion ?? 0));
      return { code: r.statusCode, obj, raw: b, warnings };
    }
    return { code: r.statusCode, raw: isObject(b) && b.kind === 'Status' ? publicStatus(b as unknown as Status, this.def) : b, warnings };
  }

  async create(ctx: HookContext, ns: string, req: IncomingMessage, query: URLSearchParams): Promise<Reply> {
    this.allows('create');
    const output = negotiate(req.headers.accept);
    const dry = dryRun(query);
    const mode = fieldValidation(query);
    const raw = await readBody(req);
    let obj = this.checkBody(decodeObject(raw, req.headers['content-type']), ns);
    const u = this.unknownFields(obj, mode);
    obj = u.obj;
    delete obj.status; // status is the controllers' to write
    this.def.defaults?.(obj, ctx);
    await this.validate(ctx, obj, undefined, true);
    const name = obj.metadata.name ?? '';
    await this.checkObject(ctx, 'create', undefined, name, ns);
    const r = await this.storageWrite('POST', this.storagePath(ns), toStorage(obj as unknown as Record<string, unknown>, this.def), {
      dryRun: dry ? 'All' : undefined, fieldManager: fieldManager(query, req), fieldValidation: mode,
    }).catch(async (err: unknown) => {
      // An object the caller cannot see holds the name (created after the validation looked): not a 409 that says so.
      if (err instanceof ApiError && err.status.reason === 'AlreadyExists' && this.def.visibility && name) {
        const existing = await this.storageGet(ns, name);
        if (existing && !this.visible(ctx, existing, await this.seesAll(ctx))) throw invalid(this.def.kind, GROUP, name, [nameNotAvailable(name)]);
      }
      throw err;
    });
    // A dry run of a resource with a preview (an Operation's plan) answers with what would happen.
    if (dry && r.obj && this.def.preview) r.obj.status = this.def.preview(r.obj, ctx);
    return { code: r.code, body: r.obj ? this.shape(r.obj, undefined, output, query) : r.raw, warnings: [...u.warnings, ...r.warnings], name: r.obj?.metadata.name ?? name };
  }

  async update(ctx: HookContext, ns: string, name: string, subresource: string, req: IncomingMessage, query: URLSearchParams): Promise<Reply> {
    this.allows('update');
    const output = negotiate(req.headers.accept);
    const dry = dryRun(query);
    const mode = fieldValidation(query);
    const raw = await readBody(req);
    let obj = this.checkBody(decodeObject(raw, req.headers['content-type']), ns);
    if (obj.metadata.name !== undefined && obj.metadata.name !== name) {
      throw badRequest(`the name of the object (${String(obj.metadata.name).slice(0, 253)}) does not match the name on the URL (${name})`);
    }
    obj.metadata.name = name;
    const u = this.unknownFields(obj, mode);
    obj = u.obj;
    const old = await this.existing(ctx, ns, name);
    await this.checkObject(ctx, 'update', old?.obj, name, ns, subresource);
    await this.validate(ctx, obj, old?.obj, subresource === '');
    const r = await this.storageWrite('PUT', this.storagePath(ns, name, subresource), toStorage(obj as unknown as Record<string, unknown>, this.def), {
      dryRun: dry ? 'All' : undefined, fieldManager: fieldManager(query, req), fieldValidation: mode,
    });
    return { code: r.code, body: r.obj ? this.shape(r.obj, undefined, output, query) : r.raw, warnings: [...u.warnings, ...r.warnings], name };
  }

  /**
   * Every patch type is applied by the storage server, first as a dry run whose result we validate, then for real
   * with the dry run's resourceVersion as a precondition, so what is stored is exactly what was validated. When
   * something else changed the object in between, the precondition fails and we start over.
   */
  async patch(ctx: HookContext, ns: string, name: string, subresource: string, req: IncomingMessage, query: URLSearchParams): Promise<Reply> {
    this.allows('patch');
    const output = negotiate(req.headers.accept);
    const dry = dryRun(query);
    const mode = fieldValidation(query);
    const force = query.get('force');
    const raw = await readBody(req);
    const patch = decodePatch(raw, req.headers['content-type']);
    if (patch.type === 'apply' && !query.get('fieldManager')) {
      throw invalid('PatchOptions', 'meta.k8s.io', '', [{ reason: 'FieldValueRequired', field: 'fieldManager', message: 'Required value: is required for apply patch' }]);
    }
    if (patch.type !== 'apply' && force !== null) {
      throw invalid('PatchOptions', 'meta.k8s.io', '', [{ reason: 'FieldValueForbidden', field: 'force', message: 'Forbidden: may not be specified for non-apply patch' }]);
    }
    const body = translatePatch(patch.type, patch.body, this.def);
    const userPrecondition = hasResourceVersion(patch.type, patch.body);
    const contentType = req.headers['content-type']?.split(';')[0];
    const baseQuery = { fieldManager: fieldManager(query, req), fieldValidation: mode, force: force ?? undefined };
    const path = this.storagePath(ns, name, subresource);
    for (let attempt = 1; ; attempt++) {
      const old = await this.existing(ctx, ns, name, attempt > 1);
      await this.checkObject(ctx, 'patch', old?.obj, name, ns, subresource);
      const trial = await this.storageWrite('PATCH', path, serialise(patch.type, body), { ...baseQuery, dryRun: 'All' }, contentType);
      if (!trial.obj) throw badRequest('the storage server did not return an object for the patch');
      // The storage patched a newer version than the one authorized (our cache lagged): authorize it, from the storage.
      if (old && trial.obj.metadata.resourceVersion !== old.obj.metadata.resourceVersion) {
        if (attempt >= 5) throw conflict({ ...this.q, name }, 'the object changed while the patch was authorized; please try again');
        continue;
      }
      await this.validate(ctx, trial.obj, old?.obj, subresource === '');
      if (dry) return { code: trial.code, body: this.shape(trial.obj, undefined, output, query), warnings: trial.warnings, name };
      const rv = trial.obj.metadata.resourceVersion;
      const guarded = old && rv && !userPrecondition ? withResourceVersion(patch.type, body, rv) : body;
      try {
        const r = await this.storageWrite('PATCH', path, serialise(patch.type, guarded), baseQuery, contentType);
        return { code: r.code, body: r.obj ? this.shape(r.obj, undefined, output, query) : r.raw, warnings: r.warnings, name };
      } catch (err) {
        const ours = err instanceof ApiError && err.code === 409 && !userPrecondition && !err.status.details?.causes?.some((c) => c.reason === 'FieldManagerConflict');
        if (!ours || attempt >= 5) throw err;
      }
    }
  }

  private deleteOptions(raw: Buffer, contentType: string | undefined, query: URLSearchParams): Record<string, unknown> {
    const opts: Record<string, unknown> = raw.length ? decodeObject(raw, contentType) : {};
    if (opts.kind !== undefined && opts.kind !== 'DeleteOptions') throw badRequest(`the body must be DeleteOptions, not ${String(opts.kind).slice(0, 40)}`);
    const grace = query.get('gracePeriodSeconds');
    if (grace !== null && opts.gracePeriodSeconds === undefined) opts.gracePeriodSeconds = Number(grace);
    const policy = query.get('propagationPolicy');
    if (policy !== null && opts.propagationPolicy === undefined) opts.propagationPolicy = policy;
    if (opts.propagationPolicy !== undefined && !['Orphan', 'Background', 'Foreground'].includes(String(opts.propagationPolicy))) {
      throw invalid('DeleteOptions', 'meta.k8s.io', '', [{ reason: 'FieldValueNotSupported', field: 'propagationPolicy', message: `Unsupported value: ${JSON.stringify(opts.propagationPolicy).slice(0, 40)}: supported values: "Foreground", "Background", "Orphan"` }]);
    }
    return { ...opts, kind: 'DeleteOptions', apiVersion: 'v1' };
  }

  async delete(ctx: HookContext, ns: string, name: string, req: IncomingMessage, query: URLSearchParams): Promise<Reply> {
    this.allows('delete');
    const output = negotiate(req.headers.accept);
    const dry = dryRun(query);
    const opts = this.deleteOptions(await readBody(req), req.headers['content-type'], query);
    const userPrecondition = isObject(opts.preconditions);
    for (let attempt = 1; ; attempt++) {
      const old = await this.existing(ctx, ns, name, attempt > 1);
      await this.checkObject(ctx, 'delete', old?.obj, name, ns);
      try {
        const r = await this.storageWrite('DELETE', this.storagePath(ns, name), userPrecondition ? opts : guardDelete(opts, old?.obj), { dryRun: dry ? 'All' : undefined });
        return { code: r.code, body: r.obj ? this.shape(r.obj, undefined, output, query) : r.raw, warnings: r.warnings, name };
      } catch (err) {
        // The object changed since we authorized it (our cache lagged): authorize again, from the storage.
        if (!(err instanceof ApiError && err.code === 409) || userPrecondition || !old || attempt >= 5) throw err;
      }
    }
  }

  /** Lists what the caller sees (selectors apply) and deletes each, as the Go registry does. */
  async deleteCollection(ctx: HookContext, ns: string, req: IncomingMessage, query: URLSearchParams): Promise<Reply> {
    this.allows('deletecollection');
    const output = negotiate(req.headers.accept, 'list');
    const dry = dryRun(query);
    const opts = this.deleteOptions(await readBody(req), req.headers['content-type'], query);
    await this.fresh(undefined, null);
    const filter = this.matcher(ctx, ns, query, await this.seesAll(ctx));
    const deleted: { obj: PublicObject }[] = [];
    for (const e of this.cache.snapshot().entries) {
      if (!filter(e)) continue;
      if (await this.def.authorizeObject?.('delete', e.obj, ctx)) continue;
      try {
        const guarded = isObject(opts.preconditions) ? opts : guardDelete(opts, e.obj);
        const r = await this.storageWrite('DELETE', this.storagePath(e.obj.metadata.namespace ?? '', e.obj.metadata.name), guarded, { dryRun: dry ? 'All' : undefined });
        // The storage answers with the object while finalizers hold it, with a Success Status once it is gone.
        deleted.push({ obj: r.obj ?? e.obj });
      } catch (err) {
        // Gone, or changed since the cache saw it (then not what was authorized): not deleted by this request.
        if (!(err instanceof ApiError && (err.code === 404 || err.code === 409))) throw err;
      }
    }
    return { code: 200, body: this.listBody(deleted, { resourceVersion: String(this.cache.resourceVersion) }, output, query) };
  }
}

/** DeleteOptions that delete only the version of the object that was authorized. */
function guardDelete(opts: Record<string, unknown>, obj: PublicObject | undefined): Record<string, unknown> {
  const { uid, resourceVersion } = obj?.metadata ?? {};
  return uid && resourceVersion ? { ...opts, preconditions: { uid, resourceVersion } } : opts;
}

function lowerBound(entries: Entry[], key: string): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((entries[mid] as Entry).key < key) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/** The patch as the storage server must see it: the public apiVersion and kind turned into the storage ones. */
export function translatePatch(type: PatchType, body: unknown, def: Names): unknown {
  const { kind } = def;
  const typeMeta: Record<string, unknown> = { apiVersion: PUBLIC_API_VERSION, kind };
  if (type === 'json') {
    return (body as Record<string, unknown>[]).map((op, i) => {
      const field = typeof op.path === 'string' ? op.path.slice(1) : '';
      if (field in typeMeta || (typeof op.from === 'string' && op.from.slice(1) in typeMeta)) {
        if (!((op.op === 'replace' || op.op === 'test') && op.value === typeMeta[field])) throw badRequest(`JSON patch operation ${i}: ${field || String(op.from).slice(1)} cannot be changed by a patch`);
        return { ...op, value: toStorage({ [field]: op.value }, def)[field] };
      }
      return op;
    });
  }
  const obj = body as Record<string, unknown>;
  if (type === 'merge') {
    for (const f of ['apiVersion', 'kind']) if (f in obj && obj[f] !== typeMeta[f]) throw badRequest(`${f} cannot be changed by a patch (${JSON.stringify(obj[f])?.slice(0, 60)})`);
  }
  if (type === 'apply') {
    if (obj.apiVersion !== PUBLIC_API_VERSION) throw badRequest(`Incorrect version specified in apply patch. Specified patch version: ${String(obj.apiVersion ?? '').slice(0, 60)}, expected: ${PUBLIC_API_VERSION}`);
    if (obj.kind !== kind) throw badRequest(`the kind in the apply patch (${String(obj.kind ?? '').slice(0, 60)}) does not match the expected kind (${kind})`);
    if (isObject(obj.metadata) && obj.metadata.managedFields !== undefined) throw badRequest('metadata.managedFields must be nil');
  }
  return toStorage(obj, def);
}

function hasResourceVersion(type: PatchType, body: unknown): boolean {
  if (type === 'json') return (body as Record<string, unknown>[]).some((op) => typeof op.path === 'string' && op.path.startsWith('/metadata/resourceVersion'));
  const meta = (body as Record<string, unknown>).metadata;
  return isObject(meta) && meta.resourceVersion !== undefined && meta.resourceVersion !== null;
}

function withResourceVersion(type: PatchType, body: unknown, rv: string): unknown {
  if (type === 'json') return [...(body as unknown[]), { op: 'add', path: '/metadata/resourceVersion', value: rv }];
  const obj = body as Record<string, unknown>;
  return { ...obj, metadata: { ...(isObject(obj.metadata) ? obj.metadata : {}), resourceVersion: rv } };
}

function serialise(_type: PatchType, body: unknown): string {
  // apply-patch+yaml accepts JSON, which is YAML.
  return JSON.stringify(body);
}
