// Retry delays. Exponential with a cap and jitter for reconnect loops; the work queue has its own rate limiters.

export interface Backoff { next(): number; reset(): void }

export function exponentialBackoff(opts: { initialMs: number; maxMs: number; factor?: number; jitter?: number }): Backoff {
  const factor = opts.factor ?? 2;
  const jitter = opts.jitter ?? 0.2;
  let current = opts.initialMs;
  return {
    next() {
      const base = current;
      current = Math.min(current * factor, opts.maxMs);
      return Math.round(base * (1 + jitter * Math.random()));
    },
    reset() {
      current = opts.initialMs;
    },
  };
}

/** Resolves after ms, or early (without throwing) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
