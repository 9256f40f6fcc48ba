// Control-plane build: the wall time per part recorded by hack/build-binaries.sh when it built the cache (a cold
// build when the cache was first made), and the binaries' sizes. BENCH_COLD=1 rebuilds from nothing into a
// temporary cache (empty Go module and build caches too: about 7 minutes on 2 cores) and reports that instead.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let binDir = process.env.UPM_BIN_DIR ?? '';
let tmp: string | undefined;
if (process.env.BENCH_COLD) {
  tmp = mkdtempSync(join(tmpdir(), 'upm-cold-build-'));
  const env = { ...process.env, UPM_CACHE_DIR: join(tmp, 'cache'), GOMODCACHE: join(tmp, 'gomod'), GOCACHE: join(tmp, 'gocache') };
  binDir = execFileSync('bash', ['hack/build-binaries.sh'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}
if (!binDir) throw new Error('UPM_BIN_DIR is not set: run through `npm run bench`');

console.log(`control-plane build (${process.env.BENCH_COLD ? 'cold, measured now' : 'as recorded when the cache was built'})`);
for (const line of readFileSync(join(binDir, 'build-report.tsv'), 'utf8').trim().split('\n')) {
  const [part, secs] = line.split('\t');
  console.log(`  ${String(part).padEnd(12)} ${secs} s`);
}
console.log('binary sizes');
for (const f of readdirSync(binDir).sort()) {
  const st = statSync(join(binDir, f));
  if (st.isFile() && st.mode & 0o100) console.log(`  ${f.padEnd(26)} ${(st.size / 1e6).toFixed(1)} MB`);
}
if (tmp) rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
