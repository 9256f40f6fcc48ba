// A list+watch cache for one resource type (client-go's reflector + indexer, reduced to what we use).
//
// The loop is a small state machine: LIST (paged, consistent) replaces the store and emits the difference as
// add/update/delete events; WATCH resumes from the last resourceVersion seen (bookmarks included). A watch that
// the server ends normally is simply resumed. A 410 Gone (our resourceVersion was compacted away, e.g. after a
// long disconnect or an apiserver restart) goes back to LIST. Any other failure (connection refused while the
// apiserver restarts, a dropped stream) backs off and resumes the watch from the same resourceVersion.
//
// Indexes (client-go's Indexers) map each cached object to a few values (a label, an owner's uid, the name of a Secret
// it refers to), so an event mapper or a reconciler finds the objects with a value without scanning the cache. They
// are kept current before any handler hears of a change, so a handler that asks an index sees the new state.
import type { Logger } from 'pino';
import { exponentialBackoff, sleep } from './backoff.ts';
import type { KubeClient } from './kube/client.ts';
import { isGone } from './kube/errors.ts';
import type { ResourceType } from './kube/resources.ts';
import { objectKey, type KubeObject } from './kube/types.ts';
import { silentLogger } from './log.ts';

export interface EventHandler<T extends KubeObject> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T): void;
  /**
   * Every event of the watch stream as it arrives, bookmarks included, with the object it replaces. A cache that
   * serves watches of its own (the hub's API server) keeps its event history from these; a relist is not a stream
   * of events and is reported by onRelist instead.
   */
  onWatchEvent?(event: { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK'; object: T; previous?: T; resourceVersion: string }): void;
  /** A LIST replaced the whole cache (first sync, or after a 410): events may have been missed in between. */
  onRelist?(resourceVersion: string): void;
  /** A LIST or WATCH failed (refused, unanswered, dropped; not a 410): the informer retries with backoff. */
  onFailure?(err: unknown): void;
}

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size of LIST requests. */
  pageSize?: number;
  /** Server-side watch timeout; randomised between this and twice this, as client-go does, to spread reconnects. */
  watchTimeoutSeconds?: number;
  /** Keep metadata.managedFields (dropped by default: controllers never read them and they are often large). */
  keepManagedFields?: boolean;
  /** Objects as PartialObjectMetadata (metadata only): for a cache that reads labels, not a Node's large status. */
  metadataOnly?: boolean;
  logger?: Logger;
}

export interface InformerStats { lists: number; watches: number; gone: number; failures: number }

/** The values an object is found under in one index; none leaves it out of the index. */
export type IndexFn<T extends KubeObject> = (obj: T) => string[];

/** Read-only view of an informer's cache. */
export interface Store<T extends KubeObject> {
  get(key: string): T | undefined;
  list(): T[];
  keys(): string[];
  readonly size: number;
}

/** A cache view that also answers index queries (see Informer.addIndex). */
export interface IndexedStore<T extends KubeObject> extends Store<T> {
  byIndex(name: string, value: string): T[];
}

export class Informer<T extends KubeObject> implements IndexedStore<T> {
  readonly resource: ResourceType;
  readonly stats: InformerStats = { lists: 0, watches: 0, gone: 0, failures: 0 };
  private readonly client: KubeClient;
  private readonly opts: InformerOptions;
  private readonly log: Logger;
  private readonly items = new Map<string, T>();
  private readonly handlers: EventHandler<T>[] = [];
  private readonly indexes = new Map<string, Index<T>>();
  private resourceVersion = '';
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  /** Aborted by reconnect(): ends the request or backoff under way, not the informer. */
  private interrupt = new AbortController();

  constructor(client: KubeClient, resource: ResourceType, opts: InformerOptions = {}) {
    this.client = client;
    this.resource = resource;
    this.opts = opts;
    this.log = (opts.logger ?? silentLogger).child({ informer: resource.plural, namespace: opts.namespace });
  }

  addHandler(handler: EventHandler<T>): void {
    this.handlers.push(handler);
    // A handler added after sync still learns about everything already cached, as with client-go.
    if (this.synced) for (const obj of this.items.values()) handler.onAdd?.(obj);
  }

  /**
   * Adds an index: from now on byIndex(name, value) returns the cached objects for which fn returned value. An index
   * added after sync starts with everything already cached. A name is taken once (two meanings of one name would
   * silently answer one of them wrongly); hasIndex lets shared callers add it only if it is missing.
   */
  addIndex(name: string, fn: IndexFn<T>): void {
    if (this.indexes.has(name)) throw new Error(`informer ${this.resource.plural}: index ${name} already exists`);
    const index = new Index(fn, (err) => this.log.error({ index: name, err: String(err) }, 'index function threw'));
    for (const [key, obj] of this.items) index.put(key, obj);
    this.indexes.set(name, index);
  }

  hasIndex(name: string): boolean { return this.indexes.has(name); }

  /** The cached objects indexed under value (in no particular order). */
  byIndex(name: string, value: string): T[] {
    const out: T[] = [];
    for (const key of this.indexKeys(name, value)) {
      const obj = this.items.get(key);
      if (obj) out.push(obj);
    }
    return out;
  }

  /** The cache keys of the objects indexed under value. */
  indexKeys(name: string, value: string): string[] {
    const index = this.indexes.get(name);
    if (!index) throw new Error(`informer ${this.resource.plural}: no index ${name}`);
    return index.keys(value);
  }

  removeHandler(handler: EventHandler<T>): void {
    const i = this.handlers.indexOf(handler);
    if (i >= 0) this.handlers.splice(i, 1);
  }

  get(key: string): T | undefined { return this.items.get(key); }
  list(): T[] { return [...this.items.values()]; }
  keys(): string[] { return [...this.items.keys()]; }
  get size(): number { return this.items.size; }
  get hasSynced(): boolean { return this.synced; }
  get lastResourceVersion(): string { return this.resourceVersion; }

  /** Resolves once the first LIST has filled the cache (or when the signal aborts). */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      this.syncWaiters.push(resolve);
      signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  /**
   * Ends the watch (or the list, or the wait before a retry) under way, and starts a new one at once from the same
   * resourceVersion. For a watcher that has heard nothing for longer than it should: a connection that died without
   * a word (a network that dropped it, a frozen server) never ends a watch by itself.
   */
  reconnect(): void {
    this.interrupt.abort();
  }

  /** Runs until the signal aborts. Never throws: failures are retried with backoff. */
  async run(signal: AbortSignal): Promise<void> {
    const backoff = exponentialBackoff({ initialMs: 200, maxMs: 30_000 });
    let needList = true;
    while (!signal.aborted) {
      const attempt = AbortSignal.any([signal, this.interrupt.signal]);
      try {
        if (needList) {
          await this.listAndReplace(attempt);
          if (attempt.aborted) continue; // cut short: list again
          needList = false;
        }
        await this.watchOnce(attempt);
        backoff.reset();
      } catch (err) {
        if (signal.aborted) break;
        if (this.interrupt.signal.aborted) continue; // reconnect(): at once, not a failure
        if (isGone(err)) {
          this.stats.gone++;
          this.log.info({ resourceVersion: this.resourceVersion }, 'resourceVersion expired (410 Gone): relisting');
          needList = true;
          continue;
        }
        this.stats.failures++;
        this.notify((h) => h.onFailure?.(err));
        const delay = backoff.next();
        this.log.warn({ err: String(err), delayMs: delay }, 'list/watch failed; retrying');
        await sleep(delay, attempt);
      } finally {
        if (this.interrupt.signal.aborted) this.interrupt = new AbortController();
      }
    }
  }

  private async listAndReplace(signal: AbortSignal): Promise<void> {
    const fresh = new Map<string, T>();
    let cont: string | undefined;
    let rv = '';
    do {
      if (signal.aborted) return;
      const page = await this.client.list<T>(this.resource, {
        namespace: this.opts.namespace,
        labelSelector: this.opts.labelSelector,
        fieldSelector: this.opts.fieldSelector,
        limit: this.opts.pageSize ?? 500,
        continue: cont,
        signal,
        ...(this.opts.metadataOnly ? { accept: METADATA_LIST } : {}),
      });
      // An empty PartialObjectMetadataList says items: null.
      for (const item of page.items ?? []) {
        // List items carry no kind; restore it so handlers and owners see complete objects.
        const obj = { apiVersion: page.apiVersion, kind: this.resource.kind, ...item };
        fresh.set(objectKey(item), this.opts.keepManagedFields ? obj : stripManagedFields(obj));
      }
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion ?? rv;
    } while (cont);
    this.stats.lists++;
    this.replace(fresh, rv);
  }

  /** Swaps in a complete list at once and emits only the difference against the previous cache. */
  private replace(fresh: Map<string, T>, rv: string): void {
    const old = new Map(this.items);
    this.items.clear();
    for (const [k, v] of fresh) this.items.set(k, v);
    for (const index of this.indexes.values()) {
      index.clear();
      for (const [k, v] of fresh) index.put(k, v);
    }
    this.resourceVersion = rv;
    for (const [k, obj] of fresh) {
      const prev = old.get(k);
      if (!prev) this.emit('add', obj);
      else if (prev.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emit('update', obj, prev);
    }
    for (const [k, prev] of old) if (!fresh.has(k)) this.emit('delete', prev);
    this.notify((h) => h.onRelist?.(rv));
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private async watchOnce(signal: AbortSignal): Promise<void> {
    const base = this.opts.watchTimeoutSeconds ?? 300;
    const stream = this.client.watch<T>(this.resource, {
      namespace: this.opts.namespace,
      labelSelector: this.opts.labelSelector,
      fieldSelector: this.opts.fieldSelector,
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: Math.round(base * (1 + Math.random())),
      signal,
      ...(this.opts.metadataOnly ? { accept: METADATA_OBJECT } : {}),
    });
    this.stats.watches++;
    for await (const event of stream) {
      const obj = event.object;
      const rv = obj.metadata?.resourceVersion;
      if (event.type === 'BOOKMARK') {
        if (rv) {
          this.resourceVersion = rv;
          this.notify((h) => h.onWatchEvent?.({ type: 'BOOKMARK', object: obj, resourceVersion: rv }));
        }
        continue;
      }
      if (event.type === 'ERROR') continue; // the client turns ERROR into a thrown error; never reached
      if (!this.opts.keepManagedFields) stripManagedFields(obj);
      const key = objectKey(obj);
      const prev = this.items.get(key);
      if (event.type === 'DELETED') {
        this.items.delete(key);
        for (const index of this.indexes.values()) index.remove(key);
        this.emit('delete', prev ?? obj);
      } else {
        this.items.set(key, obj);
        for (const index of this.indexes.values()) index.put(key, obj);
        if (prev) this.emit('update', obj, prev);
        else this.emit('add', obj);
      }
      if (rv) this.resourceVersion = rv;
      this.notify((h) => h.onWatchEvent?.({ type: event.type as 'ADDED' | 'MODIFIED' | 'DELETED', object: obj, previous: prev, resourceVersion: rv ?? this.resourceVersion }));
    }
  }

  // Both walk a copy: a handler may remove itself (or another) while an event is delivered.
  private notify(call: (h: EventHandler<T>) => void): void {
    for (const h of [...this.handlers]) {
      try {
        call(h);
      } catch (err) {
        this.log.error({ err: String(err) }, 'event handler threw');
      }
    }
  }

  private emit(kind: 'add' | 'update' | 'delete', obj: T, prev?: T): void {
    for (const h of [...this.handlers]) {
      try {
        if (kind === 'add') h.onAdd?.(obj);
        else if (kind === 'update') h.onUpdate?.(prev as T, obj);
        else h.onDelete?.(obj);
      } catch (err) {
        // A faulty handler must not stop the cache from following the server.
        this.log.error({ err: String(err) }, 'event handler threw');
      }
    }
  }
}

// Metadata only, as client-go's metadata informers ask (JSON here): a list of PartialObjectMetadata, and each watch
// event's object one; a server too old for it answers the full objects (the second media type).
const METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
const METADATA_OBJECT = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';

/** managedFields are the API server's bookkeeping and often the largest part of an object: caches drop them. */
function stripManagedFields<T extends KubeObject>(obj: T): T {
  delete (obj.metadata as { managedFields?: unknown }).managedFields;
  return obj;
}

/**
 * One index: value -> keys, and key -> the values it was filed under. The second map lets an update or delete take
 * an object out of exactly the entries it was put in, even if someone mutated the cached object since.
 */
class Index<T extends KubeObject> {
  private readonly fn: IndexFn<T>;
  private readonly onError: (err: unknown) => void;
  private readonly byValue = new Map<string, Set<string>>();
  private readonly byKey = new Map<string, string[]>();

  constructor(fn: IndexFn<T>, onError: (err: unknown) => void) {
    this.fn = fn;
    this.onError = onError;
  }

  put(key: string, obj: T): void {
    this.remove(key);
    let values: string[];
    try {
      values = [...new Set(this.fn(obj))];
    } catch (err) {
      // Like a faulty handler, a faulty index function must not stop the cache; the object is just not indexed.
      this.onError(err);
      return;
    }
    if (values.length === 0) return;
    this.byKey.set(key, values);
    for (const v of values) {
      let keys = this.byValue.get(v);
      if (!keys) this.byValue.set(v, (keys = new Set()));
      keys.add(key);
    }
  }

  remove(key: string): void {
    const values = this.byKey.get(key);
    if (!values) return;
    this.byKey.delete(key);
    for (const v of values) {
      const keys = this.byValue.get(v);
      keys?.delete(key);
      if (keys?.size === 0) this.byValue.delete(v);
    }
  }

  clear(): void {
    this.byValue.clear();
    this.byKey.clear();
  }

  keys(value: string): string[] { return [...(this.byValue.get(value) ?? [])]; }
}
