// How long a failing key waits before its next try. Shapes follow client-go: a per-key exponential backoff with
// a cap, combined (max) with a global token bucket so a mass failure cannot hammer the API server.

export interface RateLimiter {
  /** Delay in ms before the key may run again; counts as one more failure. */
  when(key: string): number;
  forget(key: string): void;
  retries(key: string): number;
}

export class ExponentialRateLimiter implements RateLimiter {
  private readonly failures = new Map<string, number>();
  private readonly baseMs: number;
  private readonly maxMs: number;

  constructor(baseMs = 5, maxMs = 300_000) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
  }

  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    // 2^n grows past any cap quickly; clamp the exponent so the arithmetic stays finite.
    return Math.min(this.baseMs * 2 ** Math.min(n, 62), this.maxMs);
  }

  forget(key: string): void { this.failures.delete(key); }
  retries(key: string): number { return this.failures.get(key) ?? 0; }
}

/** Allows `qps` retries per second on average with bursts up to `burst`; returns the wait for the next token. */
export class TokenBucketRateLimiter implements RateLimiter {
  private tokens: number;
  private last: number;
  private readonly qps: number;
  private readonly burst: number;
  private readonly nowMs: () => number;

  /** `nowMs` is the time source: tests pass their own, so a stalled machine cannot change the delays they see. */
  constructor(qps = 10, burst = 100, nowMs: () => number = Date.now) {
    this.qps = qps;
    this.burst = burst;
    this.tokens = burst;
    this.nowMs = nowMs;
    this.last = nowMs();
  }

  when(): number {
    const now = this.nowMs();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    this.tokens -= 1; // reserve a token now, possibly going into debt
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.qps) * 1000);
  }

  forget(): void {}
  retries(): number { return 0; }
}

export class MaxOfRateLimiter implements RateLimiter {
  private readonly limiters: RateLimiter[];
  constructor(...limiters: RateLimiter[]) { this.limiters = limiters; }
  when(key: string): number { return Math.max(...this.limiters.map((l) => l.when(key))); }
  forget(key: string): void { for (const l of this.limiters) l.forget(key); }
  retries(key: string): number { return Math.max(...this.limiters.map((l) => l.retries(key))); }
}

/** The default for controllers: 5 ms doubling per failure up to 5 minutes, and at most 10 retries/s overall. */
export function defaultControllerRateLimiter(): RateLimiter {
  return new MaxOfRateLimiter(new ExponentialRateLimiter(5, 300_000), new TokenBucketRateLimiter(10, 100));
}
