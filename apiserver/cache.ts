// The read path of one public resource: an informer on its storage CRD (lib/informer.ts) kept in public form, each
// object serialised once, an event history to resume watches from (410 Expired before it), and consistent list
// snapshots for limit/continue. resourceVersions are the storage's etcd revisions: decimal integers, compared as
// numbers. JavaScript runs one event at a time, so "take a snapshot, then subscribe" has no gap.
import type { Logger } from 'pino';
import { Informer } from '../lib/informer.ts';
import type { KubeClient } from '../lib/kube/client.ts';
import type { ResourceType } from '../lib/kube/resources.ts';
import { objectKey, type KubeObject } from '../lib/kube/types.ts';
import { silentLogger } from '../lib/log.ts';
import { STORAGE_GROUP, storageNames, VERSION, type PublicObject, type ResourceDefinition } from './resources/types.ts';
import { toPublic } from './translate.ts';

export interface Entry {
  key: string;
  obj: PublicObject;
  /** The public object as JSON, computed once and shared by every list and watch that sends it. */
  json: string;
  rv: number;
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface CacheEvent { type: EventType; entry: Entry; prev?: Entry; rv: number; /** when it was recorded (ms) */ at: number }

export interface Subscriber {
  event(e: CacheEvent): void;
  /** The cache's resourceVersion moved (an event or a bookmark from storage). */
  progress(rv: number): void;
  /** The cache was relisted (events may be missing): the subscriber must end its stream. */
  end(): void;
}

export interface ChangeListener {
  reset(entries: Iterable<Entry>): void;
  change(prev: Entry | undefined, next: Entry | undefined): void;
}

export interface CacheOptions {
  /** Watches can resume from events at most this old (default 5 minutes, as etcd's history). */
  historyWindowMs?: number;
  historyMax?: number;
  /** How long list snapshots stay available for continue tokens. */
  snapshotTtlMs?: number;
  logger?: Logger;
}

/** The storage CRD of a public resource. */
export function storageResource(def: ResourceDefinition): ResourceType {
  const { plural, kind } = storageNames(def);
  return { group: STORAGE_GROUP, version: VERSION, plural, kind, namespaced: def.namespaced };
}

/**
 * A resource nobody writes through the API (OperationLogs) can grow to many objects: its entries keep no
 * managedFields (used by writes only) and no serialised copy (made when a list or watch sends the object), so each
 * object is held once.
 */
export const compactCache = (def: ResourceDefinition): boolean => !def.verbs.some((v) => v === 'create' || v === 'update' || v === 'patch');

function entryOf(storageObj: KubeObject, def: ResourceDefinition, compact: boolean): Entry {
  const obj = toPublic(storageObj, def);
  const base = { key: objectKey(obj), obj, rv: Number(obj.metadata.resourceVersion ?? 0) };
  if (!compact) return { ...base, json: JSON.stringify(obj) };
  return Object.defineProperty(base, 'json', { get: () => JSON.stringify(obj), enumerable: true }) as Entry;
}

export interface Snapshot { rv: number; entries: Entry[]; at: number }

export class ResourceCache {
  readonly def: ResourceDefinition;
  readonly informer: Informer<KubeObject>;
  private readonly entries = new Map<string, Entry>();
  private readonly subscribers = new Set<Subscriber>();
  private readonly listeners: ChangeListener[] = [];
  private history: CacheEvent[] = [];
  private historyHead = 0;
  /** Watches may resume from any resourceVersion >= this. */
  private historyStart = 0;
  private current = 0;
  private sorted: Entry[] | undefined;
  private readonly snapshots = new Map<number, Snapshot>();
  private rvWaiters: { rv: number; resolve: () => void }[] = [];
  private readonly opts: Required<Omit<CacheOptions, 'logger'>>;
  private readonly log: Logger;
  private readonly compact: boolean;

  constructor(client: KubeClient, def: ResourceDefinition, opts: CacheOptions = {}) {
    this.def = def;
    this.opts = { historyWindowMs: opts.historyWindowMs ?? 5 * 60_000, historyMax: opts.historyMax ?? 100_000, snapshotTtlMs: opts.snapshotTtlMs ?? 60_000 };
    this.log = (opts.logger ?? silentLogger).child({ cache: def.plural });
    this.compact = compactCache(def);
    this.informer = new Informer<KubeObject>(client, storageResource(def), { keepManagedFields: !this.compact, pageSize: 1000, logger: opts.logger });
    this.informer.addHandler({
      onRelist: (rv) => this.relisted(rv),
      onWatchEvent: (e) => {
        if (e.type === 'BOOKMARK') this.advance(Number(e.resourceVersion));
        else this.apply(e.type, e.object, Number(e.resourceVersion));
      },
    });
  }

  run(signal: AbortSignal): Promise<void> { return this.informer.run(signal); }
  waitForSync(signal?: AbortSignal): Promise<void> { return this.informer.waitForSync(signal); }
  get synced(): boolean { return this.informer.hasSynced; }
  get resourceVersion(): number { return this.current; }
  get size(): number { return this.entries.size; }
  get watchers(): number { return this.subscribers.size; }

  get(key: string): Entry | undefined { return this.entries.get(key); }

  addListener(l: ChangeListener): void {
    this.listeners.push(l);
    l.reset(this.entries.values());
  }

  /** Every object, sorted by key, at the current resourceVersion; kept for continue tokens. */
  snapshot(): Snapshot {
    if (!this.sorted) this.sorted = [...this.entries.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const now = Date.now();
    let snap = this.snapshots.get(this.current);
    if (!snap || snap.entries !== this.sorted) {
      snap = { rv: this.current, entries: this.sorted, at: now };
      this.snapshots.set(this.current, snap);
    }
    snap.at = now;
    for (const [rv, s] of this.snapshots) if (now - s.at > this.opts.snapshotTtlMs) this.snapshots.delete(rv);
    return snap;
  }

  snapshotAt(rv: number): Snapshot | undefined {
    const s = this.snapshots.get(rv);
    if (s) s.at = Date.now();
    return s;
  }

  /** Resolves true once the cache has seen resourceVersion rv (or newer), false after timeoutMs. */
  waitFor(rv: number, timeoutMs: number): Promise<boolean> {
    if (this.current >= rv) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = { rv, resolve: () => { clearTimeout(timer); resolve(true); } };
      const timer = setTimeout(() => {
        this.rvWaiters = this.rvWaiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.rvWaiters.push(waiter);
    });
  }

  /**
   * The events after rv, for a watch that resumes there, or 'expired' when rv is older than the history kept
   * (410). Subscribing in the same tick continues exactly where these end.
   */
  eventsSince(rv: number): CacheEvent[] | 'expired' {
    if (rv < this.historyStart) return 'expired';
    const out: CacheEvent[] = [];
    for (let i = this.history.length - 1; i >= this.historyHead; i--) {
      const e = this.history[i] as CacheEvent;
      if (e.rv <= rv) break;
      out.push(e);
    }
    return out.reverse();
  }

  get oldestResumable(): number { return this.historyStart; }

  subscribe(s: Subscriber): () => void {
    this.subscribers.add(s);
    return () => { this.subscribers.delete(s); };
  }

  private apply(type: EventType, storageObj: KubeObject, rv: number): void {
    const entry = entryOf(storageObj, this.def, this.compact);
    const prev = this.entries.get(entry.key);
    if (type === 'DELETED') this.entries.delete(entry.key);
    else this.entries.set(entry.key, entry);
    this.sorted = undefined;
    const event: CacheEvent = { type, entry, prev, rv, at: Date.now() };
    this.record(event);
    for (const l of this.listeners) l.change(prev, type === 'DELETED' ? undefined : entry);
    for (const s of this.subscribers) s.event(event);
    this.advance(rv);
  }

  private record(event: CacheEvent): void {
    this.history.push(event);
    const cutoff = event.at - this.opts.historyWindowMs;
    const tooOld = () => this.historyHead < this.history.length - 1 && (this.history[this.historyHead] as CacheEvent).at < cutoff;
    while (this.history.length - this.historyHead > this.opts.historyMax || tooOld()) {
      // A watch from the dropped event's resourceVersion still gets everything after it.
      this.historyStart = (this.history[this.historyHead] as CacheEvent).rv;
      this.historyHead++;
    }
    if (this.historyHead > 1024 && this.historyHead * 2 > this.history.length) {
      this.history = this.history.slice(this.historyHead);
      this.historyHead = 0;
    }
  }

  private advance(rv: number): void {
    if (rv <= this.current) return;
    this.current = rv;
    this.wakeWaiters(rv);
    for (const s of this.subscribers) s.progress(rv);
  }

  private wakeWaiters(rv: number): void {
    if (this.rvWaiters.length) {
      const ready = this.rvWaiters.filter((w) => w.rv <= rv);
      this.rvWaiters = this.rvWaiters.filter((w) => w.rv > rv);
      for (const w of ready) w.resolve();
    }
  }

  private relisted(rv: string): void {
    this.entries.clear();
    for (const obj of this.informer.list()) {
      const e = entryOf(obj, this.def, this.compact);
      this.entries.set(e.key, e);
    }
    this.sorted = undefined;
    this.history = [];
    this.historyHead = 0;
    this.current = Math.max(this.current, Number(rv));
    this.historyStart = Number(rv);
    this.log.info({ resourceVersion: rv, objects: this.entries.size }, 'cache relisted');
    for (const l of this.listeners) l.reset(this.entries.values());
    // Watchers may have missed events: end their streams, they resume (and relist on 410) as after a restart.
    for (const s of [...this.subscribers]) s.end();
    this.subscribers.clear();
    this.wakeWaiters(this.current);
  }
}
