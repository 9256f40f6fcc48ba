// A token bucket per user for mutating requests: one user's flood is answered 429 (with Retry-After) before it
// costs an authorization check, a storage write or an OperationLog, so it cannot starve the record queue or other
// users. Buckets that have refilled are forgotten, so memory follows the users active in the last few seconds.
export interface RateLimit { qps: number; burst: number }

interface Bucket { tokens: number; at: number }

export class UserRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly limit: RateLimit;
  private lastSweep = 0;

  constructor(limit: RateLimit) {
    if (!(limit.qps > 0) || !(limit.burst >= 1)) throw new Error(`rate limit: qps must be > 0 and burst >= 1 (got ${limit.qps}, ${limit.burst})`);
    this.limit = limit;
  }

  /** Takes one token for the user: 0 when allowed, otherwise the seconds to wait before retrying. */
  take(user: string, now = Date.now()): number {
    const { qps, burst } = this.limit;
    this.sweep(now);
    const b = this.buckets.get(user) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * qps);
    b.at = now;
    this.buckets.set(user, b);
    if (b.tokens >= 1) { b.tokens -= 1; return 0; }
    return Math.max(1, Math.ceil((1 - b.tokens) / qps));
  }

  get size(): number { return this.buckets.size; }

  private sweep(now: number): void {
    if (now - this.lastSweep < 10_000) return;
    this.lastSweep = now;
    const full = (this.limit.burst / this.limit.qps) * 1000;
    for (const [k, b] of this.buckets) if (now - b.at >= full) this.buckets.delete(k);
  }
}
