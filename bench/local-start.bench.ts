// Start of the local system (management + two member clusters, 3 fake nodes each) to all nodes Ready, with
// binaries cached: once in a fresh directory (certificates generated) and once restarting on that state.
// Prints wall time and the memory (RSS) of every process once settled. Goal: 20 s or less to all-Ready.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalSystem } from '../hack/local/system.ts';

function rssMiB(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
    return line ? Number(line.split(/\s+/)[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

const dir = await mkdtemp(join(tmpdir(), 'upm-bench-start-'));
try {
  const timings: string[] = [];
  let sys: LocalSystem | undefined;
  for (const label of ['fresh directory', 'restart on existing state']) {
    const t0 = performance.now();
    sys = await LocalSystem.start(dir);
    timings.push(`  ${label.padEnd(28)} ${((performance.now() - t0) / 1000).toFixed(1)} s to all nodes Ready`);
    if (label === 'fresh directory') await sys.stop();
  }
  await new Promise((r) => setTimeout(r, 10_000)); // let caches fill and start-up garbage go
  const byComponent = new Map<string, number>();
  let total = 0;
  for (const p of sys!.processes) {
    const mib = rssMiB(p.pid);
    total += mib;
    const component = p.name.split('/').pop() as string;
    byComponent.set(component, (byComponent.get(component) ?? 0) + mib);
  }
  await sys!.stop();
  console.log('local system start (etcd + management + 2 member clusters, binaries cached)');
  for (const t of timings) console.log(t);
  console.log('  goal: 20 s or less');
  console.log(`memory (RSS after 10 s settled): ${total.toFixed(0)} MiB in all`);
  for (const [c, mib] of byComponent) console.log(`  ${c.padEnd(26)} ${mib.toFixed(0)} MiB`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
