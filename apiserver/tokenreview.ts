// Bearer tokens, checked with a TokenReview at the kube-apiserver. Anyone who reaches the port can send tokens, so
// what they can cost is bounded: answers are cached by the token's hash in an LRU of a fixed size (O(1) per
// lookup and insert), refusals for a short time so a token retried at once costs nothing more, and the reviews
// actually sent are rate-limited (token bucket) and capped in number at once. A token that finds no budget is
// answered 429 with Retry-After: not reviewed, rather than declared invalid.
import { createHash } from 'node:crypto';
import { UserRateLimiter } from './ratelimit.ts';
import type { UserInfo } from './resources/types.ts';
import { tooManyRequests } from './status.ts';

export interface TokenReviewLimits {
  /** TokenReviews per second and burst (default 20/s, burst 100). */
  qps: number;
  burst: number;
  /** TokenReviews in flight at once (default 20). */
  maxInflight: number;
  /** Answers cached (default 10,000). */
  cacheSize: number;
  /** How long an authenticated answer is kept (default 10 s) and a refusal (default 5 s). */
  ttlMs?: number;
  negativeTtlMs?: number;
}

export const DEFAULT_TOKEN_REVIEW_LIMITS: TokenReviewLimits = { qps: 20, burst: 100, maxInflight: 20, cacheSize: 10_000 };

export type ReviewResult = 'authenticated' | 'rejected' | 'error' | 'throttled';

interface Cached { until: number; user: Promise<UserInfo | undefined> }

export class TokenReviewer {
  private readonly limits: Required<TokenReviewLimits>;
  private readonly cache = new Map<string, Cached>();
  private readonly bucket: UserRateLimiter;
  private inflight = 0;
  private readonly review: (token: string) => Promise<UserInfo | undefined>;
  private readonly observe: (result: ReviewResult, cacheSize: number) => void;

  /** `review` sends one TokenReview: the user, undefined when refused; it throws when the review itself failed. */
  constructor(review: (token: string) => Promise<UserInfo | undefined>, limits: Partial<TokenReviewLimits> = {}, observe: (result: ReviewResult, cacheSize: number) => void = () => {}) {
    this.limits = { ...DEFAULT_TOKEN_REVIEW_LIMITS, ttlMs: 10_000, negativeTtlMs: 5_000, ...limits } as Required<TokenReviewLimits>;
    if (!(this.limits.cacheSize >= 1) || !(this.limits.maxInflight >= 1)) throw new Error('token review: cache size and in-flight cap must be at least 1');
    this.bucket = new UserRateLimiter({ qps: this.limits.qps, burst: this.limits.burst });
    this.review = review;
    this.observe = observe;
  }

  get cacheSize(): number { return this.cache.size; }

  /** The token's user, undefined when it is not valid; throws a 429 when no review can be sent now. */
  authenticate(token: string, now = Date.now()): Promise<UserInfo | undefined> {
    const key = createHash('sha256').update(token).digest('base64');
    const hit = this.cache.get(key);
    if (hit && now < hit.until) {
      // Most recently used last: the Map's order is the eviction order.
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit.user;
    }
    if (hit) this.cache.delete(key);
    if (this.inflight >= this.limits.maxInflight) return this.throttled(1);
    const wait = this.bucket.take('', now);
    if (wait) return this.throttled(wait);
    this.inflight++;
    const entry: Cached = { until: now + this.limits.ttlMs, user: Promise.resolve(undefined) };
    entry.user = this.review(token).then((user) => {
      this.observe(user ? 'authenticated' : 'rejected', this.cache.size);
      if (!user) entry.until = Math.min(entry.until, Date.now() + this.limits.negativeTtlMs);
      return user;
    }, () => {
      // The review failed (not the token): ask again next time.
      if (this.cache.get(key) === entry) this.cache.delete(key);
      this.observe('error', this.cache.size);
      return undefined;
    }).finally(() => { this.inflight--; });
    this.cache.set(key, entry);
    while (this.cache.size > this.limits.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
    return entry.user;
  }

  private throttled(wait: number): Promise<never> {
    this.observe('throttled', this.cache.size);
    return Promise.reject(tooManyRequests(wait));
  }
}
