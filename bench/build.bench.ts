// Control-plane build: the wall time per part recorded by hack/build-binaries.sh when it built the cache (a cold
// build when the cache was first made), and the binaries' sizes. BENCH_COLD=1 rebuilds from nothing into a
// temporary cache (empty Go module and build caches too: about 7 minutes on 2 cores) and reports that instead.
// Also the size of Go's build and module caches: the temporary ones a cold build filled, or else the machine's.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function goEnv(name: string): string {
  try { return execFileSync('go', ['env', name], { encoding: 'utf8' }).trim(); } catch { return ''; }
}

/** Bytes on disk under a directory (du), 0 when it does not exist. */
function duBytes(dir: string): number {
  try { return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\t')[0]); } catch { return 0; }
}

let binDir = process.env.UPM_BIN_DIR ?? '';
let tmp: string | undefined;
let goCaches = { GOCACHE: goEnv('GOCACHE'), GOMODCACHE: goEnv('GOMODCACHE') };
if (process.env.BENCH_COLD) {
  tmp = mkdtempSync(join(tmpdir(), 'upm-cold-build-'));
  goCaches = { GOCACHE: join(tmp, 'gocache'), GOMODCACHE: join(tmp, 'gomod') };
  const env = { ...process.env, UPM_CACHE_DIR: join(tmp, 'cache'), ...goCaches };
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
console.log(`Go caches (${process.env.BENCH_COLD ? 'filled by this cold build' : "this machine's, shared with anything else built here"})`);
for (const [name, dir] of Object.entries(goCaches)) console.log(`  ${name.padEnd(12)} ${dir ? `${(duBytes(dir) / 1e9).toFixed(1)} GB` : 'unknown (no go on PATH)'}`);
if (tmp) rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
