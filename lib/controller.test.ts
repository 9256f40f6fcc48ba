import { describe, expect, it } from '@jest/globals';
import { Controller, TerminalError, type ReconcileResult } from './controller.ts';
import { ExponentialRateLimiter } from './ratelimiter.ts';
import { waitFor } from './wait.ts';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function running(c: Controller, body: () => Promise<void>): Promise<void> {
  const stop = new AbortController();
  const done = c.run(stop.signal);
  try {
    await body();
  } finally {
    stop.abort();
    await done;
  }
}

describe('Controller', () => {
  it('never reconciles one key twice at once, even with many workers and a flood of events', async () => {
    const inFlight = new Set<string>();
    let overlaps = 0;
    let runs = 0;
    const c = new Controller({
      name: 'overlap',
      concurrency: 8,
      reconcile: async (key) => {
        if (inFlight.has(key)) overlaps++;
        inFlight.add(key);
        runs++;
        await tick(2);
        inFlight.delete(key);
      },
    });
    await running(c, async () => {
      for (let round = 0; round < 50; round++) {
        for (let k = 0; k < 4; k++) c.enqueue(`ns/k${k}`);
        await tick(1);
      }
      await waitFor('queue drained', () => c.queue.length === 0 && c.queue.processingCount === 0);
    });
    expect(overlaps).toBe(0);
    expect(runs).toBeGreaterThan(4);
    expect(runs).toBeLessThan(200); // 200 events collapsed
  });

  it('collapses a burst of duplicate events for one key into few reconciles', async () => {
    let runs = 0;
    // The first run holds until the second burst has arrived, however slowly a busy machine starts it.
    let release = () => {};
    const held = new Promise<void>((r) => { release = r; });
    const c = new Controller({ name: 'burst', reconcile: async () => { runs++; if (runs === 1) await held; } });
    await running(c, async () => {
      for (let i = 0; i < 10_000; i++) c.enqueue('ns/hot');
      await waitFor('the first run in progress', () => runs === 1, { intervalMs: 1 });
      for (let i = 0; i < 10_000; i++) c.enqueue('ns/hot'); // arrives while the first run is in progress
      release();
      await waitFor('idle', () => c.queue.length === 0 && c.queue.processingCount === 0 && runs > 1);
      await tick(50);
    });
    expect(runs).toBe(2);
  });

  it('retries failures with growing, capped backoff and resets after success', async () => {
    const times: number[] = [];
    // The delays the controller asked its rate limiter for: the backoff itself, whatever the timers then did.
    const asked: number[] = [];
    const limiter = new ExponentialRateLimiter(10, 80);
    const when = limiter.when.bind(limiter);
    limiter.when = (key: string) => { const d = when(key); asked.push(d); return d; };
    const c = new Controller({
      name: 'backoff',
      rateLimiter: limiter,
      reconcile: async () => {
        times.push(Date.now());
        if (times.length < 7) throw new Error('not yet');
      },
    });
    await running(c, async () => {
      c.enqueue('ns/x');
      await waitFor('7 attempts', () => times.length >= 7, { timeoutMs: 5_000 });
    });
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    // 10, 20, 40, 80, then capped at 80 (without the cap: 160, 320).
    expect(asked).toEqual([10, 20, 40, 80, 80, 80]);
    // ...and each retry waited at least that long (timers fire no earlier than asked; a loaded machine fires later).
    gaps.forEach((g, i) => expect(g).toBeGreaterThanOrEqual((asked[i] as number) - 1));
    expect(c.queue.retries('ns/x')).toBe(0); // success forgot the failures
  });

  it('requeues after the asked delay without counting a failure', async () => {
    const times: number[] = [];
    const c = new Controller({
      name: 'requeue-after',
      reconcile: async (): Promise<ReconcileResult> => {
        times.push(Date.now());
        return times.length < 3 ? { requeueAfterMs: 50 } : undefined;
      },
    });
    await running(c, async () => {
      c.enqueue('ns/y');
      await waitFor('3 runs', () => times.length >= 3, { timeoutMs: 5_000 });
      await tick(120);
    });
    expect(times).toHaveLength(3);
    expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(45);
    expect(c.queue.retries('ns/y')).toBe(0);
  });

  it('does not retry a terminal error', async () => {
    let runs = 0;
    const c = new Controller({ name: 'terminal', reconcile: async () => { runs++; throw new TerminalError('bad spec'); } });
    await running(c, async () => {
      c.enqueue('ns/z');
      await waitFor('ran', () => runs === 1);
      await tick(100);
    });
    expect(runs).toBe(1);
  });

  it('finishes in-flight work before run() resolves on shutdown', async () => {
    let started = false;
    let finished = false;
    const c = new Controller({ name: 'drain', reconcile: async () => { started = true; await tick(100); finished = true; } });
    const stop = new AbortController();
    const done = c.run(stop.signal);
    c.enqueue('ns/slow');
    await waitFor('in flight', () => started, { intervalMs: 1 });
    stop.abort();
    await done;
    expect(finished).toBe(true);
  });
});
