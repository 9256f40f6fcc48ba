// ZookeeperEnsemble on real ZooKeeper 3.8 (Debian's jars, 128 MiB heap cap): time from the ensemble's creation to a
// healthy ensemble of 3 (status Ready, and srvr on the servers showing one leader and two followers), each server's
// RSS, the rolling restart of the 3 (spec.restartedAt: followers first, the leader last after a hand-over) with a
// prober writing and reading through every server meanwhile, and the scale 3 -> 5 -> 3 by reconfiguration.
import { readFile } from 'node:fs/promises';
import { tcpExchange } from '../agent/engines/util.ts';
import { ZookeeperEnsembleResource, type ZookeeperEnsemble } from '../lib/api/compose.upm.io.generated.ts';
import { UnitResource, type Unit } from '../lib/api/unit.upm.io.generated.ts';
import { waitFor } from '../lib/wait.ts';
import { EnsembleProber } from '../test/zookeeper-prober.ts';
import { startComposeBenchSystem } from './lib/compose-system.ts';

const s = await startComposeBenchSystem('zookeeper');
const { client: c, ns } = s;
const NAME = 'zk';
const zke = () => c.get<ZookeeperEnsemble>(ZookeeperEnsembleResource, NAME, ns);
const units = async () => (await c.list<Unit>(UnitResource, { namespace: ns, labelSelector: `unit.upm.io/unitset=${NAME}` })).items
  .filter((u) => !u.metadata.deletionTimestamp).sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '', 'en', { numeric: true }));
const modes = async () => Promise.all((await units()).map(async (u) => /^Mode: (\S+)/m.exec(await tcpExchange(u.status?.podIP ?? '', 2181, 'srvr', 1000).catch(() => ''))?.[1] ?? 'none'));
const healthy = (n: number, timeoutMs = 300_000) => waitFor(`ensemble of ${n}`, async () => {
  const z = await zke();
  if (!z.status?.ready || z.status.replicas !== n || z.status.observedGeneration !== z.metadata.generation) return undefined;
  const m = await modes();
  return m.length === n && m.filter((x) => x === 'leader').length === 1 && m.filter((x) => x === 'follower').length === n - 1 ? z : undefined;
}, { timeoutMs, intervalMs: 50 });
const rssMiB = async (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8').catch(() => ''))?.[1] ?? NaN) / 1024;

try {
  const t0 = performance.now();
  await c.create<ZookeeperEnsemble>(ZookeeperEnsembleResource, {
    apiVersion: 'compose.upm.io/v1alpha1', kind: 'ZookeeperEnsemble', metadata: { name: NAME, namespace: ns },
    spec: { replicas: 3, resources: { limits: { cpu: '500m', memory: '256Mi' } } },
  });
  await healthy(3);
  console.log(`time to a healthy ensemble of 3: ${((performance.now() - t0) / 1000).toFixed(1)} s (creation of the ZookeeperEnsemble to Ready with one leader and two followers by srvr)`);
  for (const u of await units()) console.log(`  ${u.metadata.name}: RSS ${(await rssMiB(u.status?.engine?.pid ?? 0)).toFixed(0)} MiB (heap capped at 128 MiB)`);

  const servers = (await units()).map((u) => `${u.status?.podIP}:2181`);
  const p = new EnsembleProber({ servers, root: '/bench' });
  p.setVoters(servers);
  await p.start();
  const t1 = Date.now();
  await c.patch(ZookeeperEnsembleResource, NAME, { spec: { restartedAt: new Date().toISOString() } }, 'merge', { namespace: ns });
  const z = await waitFor('rolling restart', async () => {
    const x = await zke();
    return x.status?.lastRollout && Date.parse(x.status.lastRollout.finishedAt ?? '') > t1 && x.status.ready ? x : undefined;
  }, { timeoutMs: 600_000, intervalMs: 100 });
  const r = await p.stop();
  console.log(`rolling restart of 3: ${z.status?.lastRollout?.seconds} s by status (${((Date.now() - t1) / 1000).toFixed(1)} s from the request to Ready), order ${z.status?.lastRollout?.units?.join(', ')}; leader ${z.status?.lastLeaderChange?.from} -> ${z.status?.lastLeaderChange?.to} (${z.status?.lastLeaderChange?.reason})`);
  console.log(`  prober meanwhile: ${r.writes} writes and ${r.reads} reads through the 3 servers, ${r.failures.length} failed, longest stretch without a successful write ${r.longestWriteGapMs} ms; srvr every 100 ms: at least ${r.minUp} of 3 servers up at every sample, ${r.samplesWithoutLeader} of ${r.samples} samples without a serving leader, ${r.staleReads} stale reads`);

  for (const n of [5, 3]) {
    const t = Date.now();
    await c.patch(ZookeeperEnsembleResource, NAME, { spec: { replicas: n } }, 'merge', { namespace: ns });
    const x = await healthy(n, 600_000);
    console.log(`scale to ${n}: ${((Date.now() - t) / 1000).toFixed(1)} s to a healthy ensemble of ${n} (status: ${x.status?.lastScale?.seconds} s)`);
  }
} finally {
  await s.stop();
}
