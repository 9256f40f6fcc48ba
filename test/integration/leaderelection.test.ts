// Two instances of a controller with leader election, as separate processes: kill -9 the leader mid-work; the
// other takes over once the lease has expired (never while it was still held) and finishes the work, and no key
// is ever reconciled by both at once. A graceful stop releases the lease. How fast the takeover is on an idle
// machine is printed, not asserted: on a loaded machine only the properties hold.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import type { Lease } from '../../lib/leaderelection.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { client, kubeconfig, uniqueName } from '../env.ts';

// The fixture's lease settings (test/fixtures/elected-worker.ts).
const LEASE_MS = 4000;
const RENEW_DEADLINE_MS = 3000;
const RETRY_MS = 500;
// The standby must take over eventually: the lease expires after LEASE_MS and the standby looks every RETRY_MS;
// ten lease durations leave room for a loaded machine's slow API calls, and a hang still fails.
const TAKEOVER_BOUND_MS = 10 * LEASE_MS;
const KEYS = 150;
const fixture = join(import.meta.dirname, '..', 'fixtures', 'elected-worker.ts');

interface Entry { id: string; ev: 'start' | 'end'; key: string; t: number }

describe('leader election', () => {
  const children: ChildProcess[] = [];
  let dir = '';
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('fails over to the standby after kill -9 of the leader, without overlapping reconciles', async () => {
    dir = await mkdtemp(join(tmpdir(), 'upm-le-'));
    const logFile = join(dir, 'reconciles.jsonl');
    const c = await client('mgmt');
    const ns = uniqueName('le');
    await c.create(Resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await Promise.all(Array.from({ length: KEYS }, (_, i) => c.create(Resources.configMaps, {
      apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `work-${i}`, namespace: ns }, data: { i: String(i) },
    } as KubeObject)));
    const holder = async () => (await c.get<Lease>(Resources.leases, 'elected-worker', ns).catch(() => undefined))?.spec?.holderIdentity;
    const start = (id: string) => {
      const p = spawn(process.execPath, [fixture, kubeconfig('mgmt'), ns, id, logFile], { stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(p);
      return p;
    };
    const entries = async (): Promise<Entry[]> =>
      (await readFile(logFile, 'utf8').catch(() => '')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Entry);

    const a = start('a');
    await waitFor('a leads', async () => (await holder()) === 'a', { timeoutMs: 30_000 });
    const b = start('b');
    await waitFor('a is mid-work', async () => (await entries()).filter((e) => e.id === 'a' && e.ev === 'end').length >= 30, { timeoutMs: 30_000 });

    a.kill('SIGKILL');
    const killedAt = Date.now();
    await waitFor('b leads', async () => (await holder()) === 'b', { timeoutMs: TAKEOVER_BOUND_MS, intervalMs: 50 });
    const takeoverMs = Date.now() - killedAt;
    process.stdout.write(`leader takeover after kill -9: ${takeoverMs} ms (lease ${LEASE_MS} ms, retry ${RETRY_MS} ms)\n`);
    // Never while a's lease could still be valid: a renewed it at most a renew deadline before the kill (or it had
    // stepped down), so b cannot see it expire before LEASE_MS - RENEW_DEADLINE_MS after the kill.
    expect(takeoverMs).toBeGreaterThanOrEqual(LEASE_MS - RENEW_DEADLINE_MS);

    // b finishes the work: every ConfigMap ends up processed.
    await waitFor('all processed', async () => {
      const list = await c.list(Resources.configMaps, { namespace: ns });
      return list.items.filter((o) => o.metadata.name?.startsWith('work-') && o.metadata.annotations?.['test.upm.io/processed-by']).length === KEYS;
    }, { timeoutMs: 60_000, intervalMs: 250 });

    // No key was reconciled by two processes (or two workers) at once. a's unfinished runs end when it was killed.
    const log = await entries();
    const intervals = new Map<string, { id: string; from: number; to: number }[]>();
    const open = new Map<string, number>();
    for (const e of log) {
      const k = `${e.id} ${e.key}`;
      if (e.ev === 'start') {
        expect(open.has(k)).toBe(false); // one process never runs a key twice at once either
        open.set(k, e.t);
      } else {
        const from = open.get(k) as number;
        open.delete(k);
        intervals.set(e.key, [...(intervals.get(e.key) ?? []), { id: e.id, from, to: e.t }]);
      }
    }
    for (const [k, from] of open) {
      const [id, key] = k.split(' ') as [string, string];
      expect(id).toBe('a'); // only the killed process has unfinished runs
      intervals.set(key, [...(intervals.get(key) ?? []), { id, from, to: killedAt }]);
    }
    let overlaps = 0;
    for (const list of intervals.values()) {
      for (const x of list) for (const y of list) if (x.id !== y.id && x.from < y.to && y.from < x.to) overlaps++;
    }
    expect(overlaps).toBe(0);
    expect(log.some((e) => e.id === 'b' && e.t < killedAt)).toBe(false); // the standby did nothing while a led
    expect(log.filter((e) => e.id === 'b' && e.ev === 'end').length).toBeGreaterThan(0);

    // A graceful stop releases the lease (empty holder) and exits 0.
    const exited = new Promise<number | null>((resolve) => b.once('exit', resolve));
    b.kill('SIGTERM');
    await expect(exited).resolves.toBe(0);
    expect(await holder()).toBe('');
    await c.close();
  }, 30_000 + 30_000 + TAKEOVER_BOUND_MS + 60_000 + 30_000); // its waits: a leads, a mid-work, takeover, all processed; cleanup
});
