// Work queue + controller loop throughput with a no-op reconciler, in one process. Goal: >= 20,000 keys/s.
// Prints keys/s for the bare queue and for the full controller loop (metrics and per-reconcile logger included).
import { Controller } from '../lib/controller.ts';
import { WorkQueue } from '../lib/workqueue.ts';

const N = Number(process.env.BENCH_KEYS ?? 200_000);
const keys = Array.from({ length: N }, (_, i) => `ns-${i % 100}/unit-${i}`);

function queueOnly(): number {
  const q = new WorkQueue();
  const t0 = performance.now();
  for (const k of keys) q.add(k);
  let k: string | undefined;
  while ((k = q.tryGet()) !== undefined) q.done(k);
  return N / ((performance.now() - t0) / 1000);
}

async function controllerLoop(concurrency: number): Promise<number> {
  let reconciled = 0;
  let finish: () => void = () => {};
  const allDone = new Promise<void>((r) => { finish = r; });
  const c = new Controller({
    name: `bench-${concurrency}`,
    concurrency,
    reconcile: async () => { if (++reconciled === N) finish(); },
  });
  const stop = new AbortController();
  const t0 = performance.now();
  const running = c.run(stop.signal);
  for (const k of keys) c.enqueue(k);
  await allDone;
  const rate = N / ((performance.now() - t0) / 1000);
  stop.abort();
  await running;
  return rate;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
queueOnly(); // warm up the JIT
await controllerLoop(1);
console.log(`work queue + controller throughput (${fmt(N)} distinct keys, no-op reconciler)`);
console.log(`  queue add/get/done only:          ${fmt(queueOnly())} keys/s`);
for (const c of [1, 4, 16]) console.log(`  controller loop, ${String(c).padStart(2)} workers:       ${fmt(await controllerLoop(c))} keys/s`);
console.log(`  goal: 20,000 keys/s`);
