import { describe, expect, it } from '@jest/globals';
import { ApiError } from './status.ts';
import { TokenReviewer, type ReviewResult } from './tokenreview.ts';

const user = { name: 'alice', groups: [], extra: {} };

describe('the bearer token reviewer', () => {
  it('keeps at most cacheSize answers, evicting the least recently used', async () => {
    const reviewed: string[] = [];
    const r = new TokenReviewer(async (t) => { reviewed.push(t); return t.startsWith('good') ? user : undefined; }, { qps: 1000, burst: 1000, cacheSize: 3 });
    for (const t of ['good-a', 'good-b', 'good-c']) await r.authenticate(t, 0);
    await r.authenticate('good-a', 1); // a is now the most recently used
    await r.authenticate('good-d', 2); // evicts b
    expect(r.cacheSize).toBe(3);
    await r.authenticate('good-a', 3);
    await r.authenticate('good-b', 4);
    expect(reviewed).toEqual(['good-a', 'good-b', 'good-c', 'good-d', 'good-b']);
  });

  it('caches a refusal briefly and an answer longer', async () => {
    let n = 0;
    const r = new TokenReviewer(async (t) => { n++; return t === 'good' ? user : undefined; }, { qps: 1000, burst: 1000, ttlMs: 10_000, negativeTtlMs: 1_000 });
    const now = Date.now();
    expect(await r.authenticate('bad', now)).toBeUndefined();
    expect(await r.authenticate('bad', now + 500)).toBeUndefined();
    expect(n).toBe(1);
    await r.authenticate('bad', now + 5_000);
    expect(n).toBe(2);
    expect(await r.authenticate('good', now + 6_000)).toEqual(user);
    expect(await r.authenticate('good', now + 11_000)).toEqual(user);
    expect(n).toBe(3);
  });

  it('answers 429 beyond the rate and the in-flight cap, without a review', async () => {
    const results: ReviewResult[] = [];
    let release = (): void => {};
    const held = new Promise<void>((r) => { release = r; });
    let n = 0;
    const r = new TokenReviewer(async () => { n++; await held; return undefined; }, { qps: 1, burst: 2, maxInflight: 1 }, (res) => results.push(res));
    const first = r.authenticate('t1', 0);
    await expect(r.authenticate('t2', 0)).rejects.toBeInstanceOf(ApiError); // one in flight already
    release();
    await first;
    expect(await r.authenticate('t3', 0)).toBeUndefined();
    const refused = await r.authenticate('t4', 0).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).status).toMatchObject({ code: 429, reason: 'TooManyRequests' });
    expect((refused as ApiError).headers['retry-after']).toBe('1');
    expect(n).toBe(2);
    expect(results.filter((x) => x === 'throttled')).toHaveLength(2);
  });
});
