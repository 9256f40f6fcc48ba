// The controller work queue (client-go's workqueue semantics):
// - a key waiting in the queue is held once, however often it is added (dirty set);
// - a key being processed is never handed out again until done(); adds during processing are remembered and
//   the key is queued once more on done(), so a burst of events collapses into at most one extra run;
// - addAfter() keeps one timer per key and the earliest time wins;
// - addRateLimited() delays by the rate limiter (exponential per key, capped); forget() resets it.
// - keys a controller marks as able to wait (`low`, asked at each add) are handed out after every other key, unless
//   the oldest of them has waited longer than `lowMaxWaitMs` (then every other key handed out is one of those): a
//   burst of bookkeeping (a queue's places recorded) does not hold back the work someone waits for. A waiting low key that is added again and is no longer low
//   moves ahead.
// The observer is told how long each key waited from its add until a worker took it (the queue's share of latency).
import { defaultControllerRateLimiter, type RateLimiter } from './ratelimiter.ts';

export interface QueueObserver {
  onAdd?(): void;
  onDepth?(depth: number): void;
  onRetry?(): void;
  /** Seconds a key waited between its first add and a worker taking it. */
  onWait?(seconds: number): void;
}

export interface QueueOptions {
  /** Whether a key can wait behind the others (asked each time it is added). */
  low?: (key: string) => boolean;
  /** The longest a low key waits while other keys go first (default 1 s). */
  lowMaxWaitMs?: number;
}

/** A FIFO of keys with the time each came (performance.now()). */
class Lane {
  private items: { key: string; at: number }[] = [];
  private head = 0;
  get size(): number { return this.items.length - this.head; }
  push(key: string): void { this.items.push({ key, at: performance.now() }); }
  peek(): { key: string; at: number } | undefined { return this.items[this.head]; }
  shift(): string | undefined {
    const e = this.items[this.head];
    if (!e) return undefined;
    this.head++;
    // Compact occasionally so the array does not grow without bound under steady load.
    if (this.head > 1024 && this.head * 2 > this.items.length) { this.items = this.items.slice(this.head); this.head = 0; }
    return e.key;
  }
}

export class WorkQueue {
  private readonly high = new Lane();
  private readonly low = new Lane();
  /** The lane each waiting key is in (a key moved ahead leaves a stale entry behind in the low lane). */
  private readonly laneOf = new Map<string, Lane>();
  private readonly isLow: (key: string) => boolean;
  private readonly lowMaxWaitMs: number;
  /** The last key handed out was a low one taken for its age. */
  private agedLast = false;
  private readonly dirty = new Set<string>();
  /** When each dirty key was first added (performance.now()), for onWait. */
  private readonly since = new Map<string, number>();
  private readonly processing = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;
  private readonly limiter: RateLimiter;
  private readonly observer: QueueObserver;

  constructor(limiter: RateLimiter = defaultControllerRateLimiter(), observer: QueueObserver = {}, opts: QueueOptions = {}) {
    this.limiter = limiter;
    this.observer = observer;
    this.isLow = opts.low ?? (() => false);
    this.lowMaxWaitMs = opts.lowMaxWaitMs ?? 1000;
  }

  get length(): number { return this.laneOf.size; }
  get processingCount(): number { return this.processing.size; }
  get isShuttingDown(): boolean { return this.shuttingDown; }

  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.dirty.has(key)) {
      if (this.laneOf.get(key) === this.low && !this.isLow(key)) { this.laneOf.set(key, this.high); this.high.push(key); }
      return;
    }
    this.observer.onAdd?.();
    this.dirty.add(key);
    if (this.observer.onWait) this.since.set(key, performance.now());
    if (this.processing.has(key)) return; // requeued by done()
    this.enqueue(key);
  }

  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const at = Date.now() + delayMs;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref?.();
    this.timers.set(key, { at, timer });
  }

  addRateLimited(key: string): void {
    this.observer.onRetry?.();
    this.addAfter(key, this.limiter.when(key));
  }

  forget(key: string): void { this.limiter.forget(key); }
  retries(key: string): number { return this.limiter.retries(key); }

  /** The next key to process, or undefined once the queue shuts down. Call done(key) when finished. */
  get(): Promise<string | undefined> {
    const key = this.take();
    if (key !== undefined || this.shuttingDown) return Promise.resolve(key);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Synchronous variant of get() for tight loops: undefined when nothing is ready. */
  tryGet(): string | undefined { return this.take(); }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) this.enqueue(key);
  }

  /** Stops handing out keys; waiting get() calls resolve with undefined. Pending timers are dropped. */
  shutdown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.since.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  private enqueue(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      this.handOut(key);
      waiter(key);
    } else {
      const lane = this.isLow(key) ? this.low : this.high;
      lane.push(key);
      this.laneOf.set(key, lane);
    }
    this.observer.onDepth?.(this.length);
  }

  private take(): string | undefined {
    for (;;) {
      // Entries left behind by keys moved ahead go first, so the low lane's head is a key that waits there.
      for (let e = this.low.peek(); e && this.laneOf.get(e.key) !== this.low; e = this.low.peek()) this.low.shift();
      // A low key waiting too long goes first, but only every other time: the others are not held back by a backlog.
      const oldLow = this.low.peek();
      const aged = !!oldLow && performance.now() - oldLow.at > this.lowMaxWaitMs && !this.agedLast;
      const lane = aged || !this.high.size ? this.low : this.high;
      this.agedLast = aged;
      const key = lane.shift();
      if (key === undefined) return undefined;
      if (this.laneOf.get(key) !== lane) continue;
      this.laneOf.delete(key);
      this.handOut(key);
      this.observer.onDepth?.(this.length);
      return key;
    }
  }

  private handOut(key: string): void {
    this.dirty.delete(key);
    this.processing.add(key);
    const t = this.since.get(key);
    if (t === undefined) return;
    this.since.delete(key);
    this.observer.onWait?.((performance.now() - t) / 1000);
  }
}
