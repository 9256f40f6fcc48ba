import { describe, expect, it } from '@jest/globals';
import { ExponentialRateLimiter, MaxOfRateLimiter, TokenBucketRateLimiter } from './ratelimiter.ts';
import { WorkQueue } from './workqueue.ts';

describe('WorkQueue', () => {
  it('holds a waiting key once however often it is added', () => {
    const q = new WorkQueue();
    for (let i = 0; i < 100; i++) q.add('a');
    q.add('b');
    expect(q.length).toBe(2);
    expect([q.tryGet(), q.tryGet(), q.tryGet()]).toEqual(['a', 'b', undefined]);
  });

  it('never hands out a key that is being processed; re-adds run once after done()', () => {
    const q = new WorkQueue();
    q.add('a');
    expect(q.tryGet()).toBe('a');
    for (let i = 0; i < 1000; i++) q.add('a'); // a burst of events while the key is processed
    expect(q.tryGet()).toBeUndefined();
    expect(q.length).toBe(0);
    q.done('a');
    expect(q.tryGet()).toBe('a'); // exactly one more run for the whole burst
    q.done('a');
    expect(q.tryGet()).toBeUndefined();
  });

  it('wakes a waiting get() and keeps FIFO order', async () => {
    const q = new WorkQueue();
    const next = q.get();
    q.add('x');
    q.add('y');
    await expect(next).resolves.toBe('x');
    expect(q.tryGet()).toBe('y');
  });

  it('keeps one timer per key and the earliest time wins', async () => {
    const q = new WorkQueue();
    q.addAfter('k', 60_000);
    q.addAfter('k', 20);
    q.addAfter('k', 30_000);
    const t0 = Date.now();
    await expect(q.get()).resolves.toBe('k');
    // Before the later, longer timer could have fired: the 20 ms one was kept (however late a busy machine ran it).
    expect(Date.now() - t0).toBeLessThan(30_000);
    q.done('k');
    q.shutdown();
  });

  it('resolves waiting get() calls with undefined on shutdown and ignores later adds', async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.shutdown();
    await expect(waiting).resolves.toBeUndefined();
    q.add('late');
    expect(q.length).toBe(0);
  });
});

describe('rate limiters', () => {
  it('backs off exponentially per key, capped, and forgets', () => {
    const r = new ExponentialRateLimiter(5, 1000);
    const delays = Array.from({ length: 12 }, () => r.when('k'));
    expect(delays.slice(0, 5)).toEqual([5, 10, 20, 40, 80]);
    expect(Math.max(...delays)).toBe(1000);
    expect(delays.at(-1)).toBe(1000);
    expect(r.when('other')).toBe(5); // per key
    expect(r.retries('k')).toBe(12);
    r.forget('k');
    expect(r.when('k')).toBe(5);
  });

  it('stays finite for keys that fail very often', () => {
    const r = new ExponentialRateLimiter(5, 300_000);
    for (let i = 0; i < 5000; i++) r.when('k');
    expect(r.when('k')).toBe(300_000);
  });

  it('token bucket allows a burst, then spaces retries at the rate', () => {
    let now = 1_000;
    const r = new TokenBucketRateLimiter(10, 3, () => now);
    expect([r.when(), r.when(), r.when()]).toEqual([0, 0, 0]);
    expect([r.when(), r.when()]).toEqual([100, 200]); // in debt: one token per 100 ms
    now += 250; // 2.5 tokens back repay the 2 owed; this call then owes half a token
    expect(r.when()).toBe(50);
    now += 10_000; // refilled, never beyond the burst
    expect([r.when(), r.when(), r.when(), r.when()]).toEqual([0, 0, 0, 100]);
  });

  it('max-of takes the larger delay', () => {
    const r = new MaxOfRateLimiter(new ExponentialRateLimiter(5, 1000), new TokenBucketRateLimiter(1, 1, () => 0));
    expect(r.when('a')).toBe(5);
    expect(r.when('b')).toBe(1000); // bucket empty
  });

  it('tells how long each key waited from its first add until a worker took it', async () => {
    const waits: number[] = [];
    const q = new WorkQueue(undefined, { onWait: (s) => waits.push(s) });
    q.add('a');
    await new Promise((r) => setTimeout(r, 30));
    q.add('a'); // a second add while queued keeps the first add's time
    expect(q.tryGet()).toBe('a');
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThanOrEqual(0.025);
    const next = q.get();
    q.add('b'); // handed straight to a waiting worker
    await expect(next).resolves.toBe('b');
    expect(waits).toHaveLength(2);
    expect(waits[1]).toBeLessThan(0.025);
  });

  it('hands out low keys after the others; one added again that is no longer low moves ahead', () => {
    const low = new Set(['q1', 'q2', 'q3']);
    const q = new WorkQueue(undefined, {}, { low: (k) => low.has(k) });
    for (const k of ['q1', 'a', 'q2', 'b', 'q3']) q.add(k);
    expect(q.length).toBe(5);
    expect(q.tryGet()).toBe('a');
    low.delete('q2'); // its turn came (the one ahead ended): the add that says so moves it ahead
    q.add('q2');
    expect(q.length).toBe(4);
    expect([q.tryGet(), q.tryGet(), q.tryGet(), q.tryGet(), q.tryGet()]).toEqual(['b', 'q2', 'q1', 'q3', undefined]);
    expect(q.length).toBe(0);
  });

  it('hands out low keys that waited longer than lowMaxWaitMs every other time before the others', async () => {
    const q = new WorkQueue(undefined, {}, { low: (k) => k.startsWith('q'), lowMaxWaitMs: 20 });
    for (const k of ['q1', 'q2', 'q3', 'a']) q.add(k);
    await new Promise((r) => setTimeout(r, 40));
    q.add('b');
    q.add('c');
    expect([q.tryGet(), q.tryGet(), q.tryGet(), q.tryGet(), q.tryGet(), q.tryGet(), q.tryGet()]).toEqual(['q1', 'a', 'q2', 'b', 'q3', 'c', undefined]);
  });
});
