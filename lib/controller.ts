// The controller loop. Sources (informers) turn events into keys; workers take keys from the queue and call the
// reconciler, which reads the world from the cache, acts and returns. Its outcome maps to one queue call:
//   done             -> forget (reset backoff)
//   { requeueAfterMs }-> forget, then add after the delay (periodic checks of external systems)
//   { requeue: true } -> rate-limited add (backoff, without counting as an error)
//   throws            -> rate-limited add and an error metric; TerminalError -> logged, not retried
// A worker never sleeps: waiting is always a delayed add.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { realClock, type Clock } from './clock.ts';
import type { EventHandler, Informer } from './informer.ts';
import { objectKey, type KubeObject } from './kube/types.ts';
import { silentLogger } from './log.ts';
import { ControllerMetrics } from './metrics.ts';
import { allowsCreate, allowsDelete, allowsUpdate, type Predicate } from './predicates.ts';
import type { RateLimiter } from './ratelimiter.ts';
import { WorkQueue } from './workqueue.ts';

export type ReconcileResult = void | { requeueAfterMs?: number; requeue?: boolean };

export interface ReconcileContext {
  key: string;
  log: Logger;
  /** Aborted when the controller stops (shutdown or lost leadership): long calls should honour it. */
  signal: AbortSignal;
  /** What "now" is for this reconcile (the manager's clock; a fake one in tests). */
  clock: Clock;
}

export type Reconciler = (key: string, ctx: ReconcileContext) => Promise<ReconcileResult>;

/** An error that retrying cannot fix (invalid spec, missing template): reported, not requeued. */
export class TerminalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

export interface ControllerOptions {
  name: string;
  reconcile: Reconciler;
  /** Parallel workers; one key is still never reconciled twice at once. */
  concurrency?: number;
  rateLimiter?: RateLimiter;
  /** Keys that can wait behind the others (see WorkQueue), asked each time one is added. */
  lowPriority?: (key: string) => boolean;
  logger?: Logger;
  metrics?: ControllerMetrics;
  clock?: Clock;
}

/** Maps an event's object to the keys to reconcile (itself by default, or e.g. its owner). */
export type KeyMapper<T extends KubeObject> = (obj: T) => string[];
/** Filters update events; return false to ignore (e.g. status-only changes). */
export type UpdatePredicate<T extends KubeObject> = (oldObj: T, newObj: T) => boolean;

export interface SourceOptions<T extends KubeObject> {
  /** The keys an event's object stands for (default: its own key). */
  toKeys?: KeyMapper<T>;
  /** Which events count (default: all). */
  predicate?: Predicate<T>;
  /**
   * Delays the enqueue so that a burst of changes to secondary objects (ten units turning Ready) lands as one
   * reconcile of their owner.
   */
  coalesceMs?: number;
  /**
   * run() starts workers only once this source has synced (default). A source that may never sync, such as the
   * cache of a member cluster that does not answer, sets false so it cannot hold back every other key.
   */
  waitForSync?: boolean;
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly reconcile: Reconciler;
  private readonly concurrency: number;
  private readonly log: Logger;
  private readonly metrics: ControllerMetrics;
  private readonly clock: Clock;
  private readonly sources = new Map<Informer<KubeObject>, { handlers: EventHandler<KubeObject>[]; waitForSync: boolean }>();

  constructor(opts: ControllerOptions) {
    this.name = opts.name;
    this.reconcile = opts.reconcile;
    this.concurrency = Math.max(1, opts.concurrency ?? 1);
    this.log = (opts.logger ?? silentLogger).child({ controller: opts.name });
    this.metrics = opts.metrics ?? new ControllerMetrics();
    this.clock = opts.clock ?? realClock;
    const m = this.metrics;
    this.queue = new WorkQueue(opts.rateLimiter, {
      onAdd: () => m.queueAdds.inc({ name: opts.name }),
      onDepth: (d) => m.queueDepth.set({ name: opts.name }, d),
      onRetry: () => m.queueRetries.inc({ name: opts.name }),
      onWait: (seconds) => m.queueWait.observe({ name: opts.name }, seconds),
    }, { low: opts.lowPriority });
  }

  /** Reconcile keys derived from this informer's events (the positional form of source()). */
  watch<T extends KubeObject>(
    informer: Informer<T>, toKeys: KeyMapper<T> = (o) => [objectKey(o)], onUpdate?: UpdatePredicate<T>, opts: { coalesceMs?: number } = {},
  ): this {
    return this.source(informer, { toKeys, predicate: onUpdate ? { update: onUpdate } : undefined, coalesceMs: opts.coalesceMs });
  }

  /**
   * Reconcile keys derived from this informer's events. run() waits for the sources added before it to sync; one
   * added later (a member cluster that joined) is the caller's to have synced.
   */
  source<T extends KubeObject>(informer: Informer<T>, opts: SourceOptions<T> = {}): this {
    const toKeys = opts.toKeys ?? ((o: T) => [objectKey(o)]);
    const delay = opts.coalesceMs ?? 0;
    const p = opts.predicate;
    const enqueue = (obj: T) => { for (const k of toKeys(obj)) this.queue.addAfter(k, delay); };
    const handler: EventHandler<T> = {
      onAdd: (obj) => { if (allowsCreate(p, obj)) enqueue(obj); },
      onUpdate: (oldObj, newObj) => { if (allowsUpdate(p, oldObj, newObj)) enqueue(newObj); },
      onDelete: (obj) => { if (allowsDelete(p, obj)) enqueue(obj); },
    };
    const inf = informer as unknown as Informer<KubeObject>;
    const entry = this.sources.get(inf) ?? { handlers: [], waitForSync: false };
    entry.handlers.push(handler as unknown as EventHandler<KubeObject>);
    entry.waitForSync ||= opts.waitForSync ?? true;
    this.sources.set(inf, entry);
    informer.addHandler(handler);
    return this;
  }

  /** Stops following an informer (a member cluster that left): its events no longer reach this controller. */
  unwatch<T extends KubeObject>(informer: Informer<T>): void {
    const inf = informer as unknown as Informer<KubeObject>;
    for (const h of this.sources.get(inf)?.handlers ?? []) inf.removeHandler(h);
    this.sources.delete(inf);
  }

  enqueue(key: string): void { this.queue.add(key); }

  /** Waits for every source to sync, then runs workers until the signal aborts; resolves once workers drained. */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([...this.sources].filter(([, s]) => s.waitForSync).map(([inf]) => inf.waitForSync(signal)));
    if (signal.aborted) return;
    this.log.info({ workers: this.concurrency }, 'starting workers');
    const stop = () => this.queue.shutdown();
    signal.addEventListener('abort', stop, { once: true });
    await Promise.all(Array.from({ length: this.concurrency }, () => this.worker(signal)));
    signal.removeEventListener('abort', stop);
    this.log.info('workers stopped');
  }

  private async worker(signal: AbortSignal): Promise<void> {
    for (;;) {
      const key = this.queue.tryGet() ?? (await this.queue.get());
      if (key === undefined) return;
      await this.processKey(key, signal);
    }
  }

  private async processKey(key: string, signal: AbortSignal): Promise<void> {
    const name = this.name;
    const m = this.metrics;
    const stopTimer = m.reconcileTime.startTimer({ controller: name });
    m.activeWorkers.inc({ controller: name });
    const log = this.log.child({ key, reconcileID: randomUUID() });
    log.debug('reconciling');
    try {
      const result = await this.reconcile(key, { key, log, signal, clock: this.clock });
      log.debug({ result }, 'reconciled');
      if (result && result.requeue) {
        m.reconcileTotal.inc({ controller: name, result: 'requeue' });
        this.queue.addRateLimited(key);
      } else if (result && result.requeueAfterMs !== undefined) {
        m.reconcileTotal.inc({ controller: name, result: 'requeue_after' });
        this.queue.forget(key);
        this.queue.addAfter(key, result.requeueAfterMs);
      } else {
        m.reconcileTotal.inc({ controller: name, result: 'success' });
        this.queue.forget(key);
      }
    } catch (err) {
      m.reconcileTotal.inc({ controller: name, result: 'error' });
      m.reconcileErrors.inc({ controller: name });
      if (err instanceof TerminalError) {
        log.error({ err: err.message }, 'reconcile failed permanently; not retrying');
        this.queue.forget(key);
      } else {
        log.warn({ err: err instanceof Error ? err.message : String(err), retries: this.queue.retries(key) }, 'reconcile failed; will retry');
        this.queue.addRateLimited(key);
      }
    } finally {
      stopTimer();
      m.activeWorkers.dec({ controller: name });
      this.queue.done(key);
    }
  }
}
