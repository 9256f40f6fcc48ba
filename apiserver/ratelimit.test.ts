import { describe, expect, it } from '@jest/globals';
import { UserRateLimiter } from './ratelimit.ts';
import { parseRetention } from './retention.ts';

describe('UserRateLimiter', () => {
  it('allows a burst, then one request per 1/qps seconds, per user', () => {
    const l = new UserRateLimiter({ qps: 2, burst: 3 });
    const t = 1_000_000;
    expect([l.take('a', t), l.take('a', t), l.take('a', t)]).toEqual([0, 0, 0]);
    expect(l.take('a', t)).toBe(1); // empty: retry after a second
    expect(l.take('b', t)).toBe(0); // another user has their own bucket
    expect(l.take('a', t + 500)).toBe(0); // half a second refills one token at 2/s
    expect(l.take('a', t + 500)).toBe(1);
  });

  it('forgets users whose bucket has refilled', () => {
    const l = new UserRateLimiter({ qps: 10, burst: 10 });
    for (let i = 0; i < 100; i++) l.take(`u${i}`, 0);
    expect(l.size).toBe(100);
    l.take('late', 20_000);
    expect(l.size).toBe(1);
  });

  it('refuses a limit that would never allow a request', () => {
    expect(() => new UserRateLimiter({ qps: 0, burst: 10 })).toThrow('qps must be > 0');
  });
});

describe('parseRetention', () => {
  it('reads <age>,<count>', () => {
    expect(parseRetention('720h,10000')).toEqual({ maxAgeMs: 720 * 3_600_000, maxCount: 10_000 });
    expect(parseRetention('1h30m,0')).toEqual({ maxAgeMs: 5_400_000, maxCount: 0 });
    expect(parseRetention('0,50')).toEqual({ maxAgeMs: 0, maxCount: 50 });
  });

  it('refuses anything else', () => {
    for (const bad of ['720h', '30d,10', 'h,1', '1h,-1', '']) expect(() => parseRetention(bad)).toThrow('is not <age>,<count>');
  });
});
