// The controller work queue (client-go's workqueue semantics):
// - a key waiting in the queue is held once, however often it is added (dirty set);
// - a key being processed is never handed out again until done(); adds during processing are remembered and
//   the key is queued once more on done(), so a burst of events collapses into at most one extra run;
// - addAfter() keeps one timer per key and the earliest time wins;
// - addRateLimited() delays by the rate limiter (exponential per key, capped); forget() resets it.
// The observer is told how long each key waited from its add until a worker took it (the queue's share of latency).
import { defaultControllerRateLimiter, type RateLimiter } from './ratelimiter.ts';

export interface QueueObserver {
  onAdd?(): void;
  onDepth?(depth: number): void;
  onRetry?(): void;
  /** Seconds a key waited between its first add and a worker taking it. */
  onWait?(seconds: number): void;
}

export class WorkQueue {
  private readonly fifo: string[] = [];
  private head = 0;
  private readonly dirty = new Set<string>();
  /** When each dirty key was first added (performance.now()), for onWait. */
  private readonly since = new Map<string, number>();
  private readonly processing = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;
  private readonly limiter: RateLimiter;
  private readonly observer: QueueObserver;

  constructor(limiter: RateLimiter = defaultControllerRateLimiter(), observer: QueueObserver = {}) {
    this.limiter = limiter;
    this.observer = observer;
  }

  get length(): number { return this.fifo.length - this.head; }
  get processingCount(): number { return this.processing.size; }
  get isShuttingDown(): boolean { return this.shuttingDown; }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
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
      this.fifo.push(key);
    }
    this.observer.onDepth?.(this.length);
  }

  private take(): string | undefined {
    if (this.head >= this.fifo.length) return undefined;
    const key = this.fifo[this.head++] as string;
    // Compact occasionally so the array does not grow without bound under steady load.
    if (this.head > 1024 && this.head * 2 > this.fifo.length) {
      this.fifo.splice(0, this.head);
      this.head = 0;
    }
    this.handOut(key);
    this.observer.onDepth?.(this.length);
    return key;
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
