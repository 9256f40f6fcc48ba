// RedisCluster on real Redis in cluster mode: formation of 6 nodes (3 shards x 1 replica), from the RedisCluster's
// creation to every node reporting cluster_state ok with all 16384 slots assigned and every replica linked to its
// master (polled on the nodes every 20 ms); then 100,000 keys, and the slot migration rate when resharding them from
// 3 to 4 shards (and back). Goal: formation in 10 s or less.
import { Redis } from 'ioredis';
import { RedisClusterResource, type RedisCluster } from '../lib/api/compose.upm.io.generated.ts';
import { UnitResource, UnitSetResource, type Unit, type UnitSet } from '../lib/api/unit.upm.io.generated.ts';
import { Resources } from '../lib/kube/resources.ts';
import type { KubeObject } from '../lib/kube/types.ts';
import { waitFor } from '../lib/wait.ts';
import { keySlot } from '../operators/compose/rediscluster/plan.ts';
import { startComposeBenchSystem } from './lib/compose-system.ts';

const KEYS = Number(process.env.BENCH_KEYS ?? 100_000);
const NODE_TIMEOUT = process.env.BENCH_NODE_TIMEOUT ?? '15000';
type Secret = KubeObject & { data?: Record<string, string> };
type Shard = { name: string; members: { name: string; unit: string }[] };
const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');
const shard = (name: string, a: number, b: number): Shard => ({ name, members: [{ name: `${name}-0`, unit: `rc-${a}` }, { name: `${name}-1`, unit: `rc-${b}` }] });
const three = [shard('a', 0, 3), shard('b', 1, 4), shard('c', 2, 5)];
const four = [...three, shard('d', 6, 7)];

const s = await startComposeBenchSystem('rediscluster');
const { client: c, ns } = s;
try {
  const unitSet = (units: number) => c.patch<UnitSet>(UnitSetResource, 'rc', { spec: { units } }, 'merge', { namespace: ns });
  const unitsReady = (n: number) => waitFor(`${n} units`, async () => (await c.get<UnitSet>(UnitSetResource, 'rc', ns)).status?.readyUnits === n, { timeoutMs: 300_000, intervalMs: 250 });
  await c.create<UnitSet>(UnitSetResource, {
    apiVersion: 'unit.upm.io/v1alpha1', kind: 'UnitSet', metadata: { name: 'rc', namespace: ns },
    spec: {
      engine: 'redis', version: '7.2', units: 6, resources: { limits: { cpu: '500m', memory: '256Mi' } },
      storage: [{ name: 'data', size: '1Gi', mountPath: '/data' }], parameters: { 'cluster-enabled': 'yes', 'cluster-node-timeout': NODE_TIMEOUT },
    },
  });
  await unitsReady(6);
  const secret = await c.get<Secret>(Resources.secrets, 'rc-credentials', ns);
  const auth = { username: b64(secret.data?.['admin-username']), password: b64(secret.data?.['admin-password']) };
  const ipOf = async (u: string) => (await c.get<Unit>(UnitResource, u, ns)).status?.podIP ?? '';
  const conns = new Map<string, Redis>();
  const conn = async (u: string): Promise<Redis> => {
    let r = conns.get(u);
    if (!r) {
      r = new Redis({ host: await ipOf(u), port: 6379, ...auth, maxRetriesPerRequest: 1 });
      r.on('error', () => undefined);
      conns.set(u, r);
    }
    return r;
  };
  const info = async (u: string, what: string[]) => String(await (await conn(u)).call(...(what as [string, ...string[]])));
  const rcc = () => c.get<RedisCluster>(RedisClusterResource, 'rc', ns);
  const settled = (shards: number) => waitFor('RedisCluster Ready', async () => {
    const r = await rcc();
    return r.status?.ready === true && r.status.observedGeneration === r.metadata.generation && r.status.shards === shards ? r : undefined;
  }, { timeoutMs: 180_000, intervalMs: 50 }).catch(async (err: unknown) => {
    // Say where it stopped: the conditions and the last events.
    const r = await rcc();
    console.log(JSON.stringify({ phase: r.status?.phase, conditions: r.status?.conditions, migration: r.status?.migration }, null, 2));
    const events = await c.list<KubeObject & { reason?: string; message?: string }>(Resources.events, { namespace: ns });
    for (const e of events.items.slice(-15)) console.log(`  ${e.reason}: ${e.message}`);
    throw err;
  });
  for (const u of three.flatMap((x) => x.members.map((m) => m.unit))) await conn(u);

  // Formation, seen from the nodes themselves.
  const t0 = performance.now();
  await c.create<RedisCluster>(RedisClusterResource, { apiVersion: 'compose.upm.io/v1alpha1', kind: 'RedisCluster', metadata: { name: 'rc', namespace: ns }, spec: { secretName: 'rc-credentials', shards: three } });
  await waitFor('cluster formed', async () => {
    const all = await Promise.all(three.flatMap((x) => x.members).map(async (m, i) => {
      const ci = await info(m.unit, ['CLUSTER', 'INFO']);
      const ok = ci.includes('cluster_state:ok') && ci.includes('cluster_slots_assigned:16384');
      return ok && (i % 2 === 0 || (await info(m.unit, ['INFO', 'replication'])).includes('master_link_status:up'));
    }));
    return all.every(Boolean);
  }, { timeoutMs: 120_000, intervalMs: 20 });
  const formed = (performance.now() - t0) / 1000;
  await settled(3);
  const ready = (performance.now() - t0) / 1000;

  // 100,000 keys, one pipeline per master.
  const owner: string[] = [];
  for (const [a, b, [host]] of await (await conn('rc-0')).call('CLUSTER', 'SLOTS') as [number, number, [string]][]) for (let i = a; i <= b; i++) owner[i] = host;
  const byHost = new Map<string, string[]>();
  for (let i = 0; i < KEYS; i++) { const h = owner[keySlot(`key:${i}`)]!; (byHost.get(h) ?? byHost.set(h, []).get(h)!).push(`key:${i}`); }
  const t1 = performance.now();
  await Promise.all([...byHost].map(async ([host, keys]) => {
    const r = new Redis({ host, port: 6379, ...auth });
    const p = r.pipeline();
    for (const k of keys) p.set(k, `value-of-${k}`);
    await p.exec();
    r.disconnect();
  }));
  const loaded = (performance.now() - t1) / 1000;

  // Reshard 3 -> 4 shards (the new shard's units already serving), then back.
  await unitSet(8);
  await unitsReady(8);
  const reshard = async (shards: Shard[]) => {
    const t = performance.now();
    await c.patch(RedisClusterResource, 'rc', { spec: { shards } }, 'merge', { namespace: ns });
    const r = await settled(shards.length);
    return { wall: (performance.now() - t) / 1000, last: r.status?.lastReshard ?? {} };
  };
  const out = await reshard(four);
  const back = await reshard(three);
  let total = 0;
  for (const u of three.map((x) => x.members[0]!.unit)) total += Number(await (await conn(u)).dbsize());

  console.log(`redis cluster on real redis-server processes (cluster-node-timeout ${NODE_TIMEOUT} ms), one member cluster, 2 cores`);
  console.log(`  formation of 6 nodes (3 x 1)   ${formed.toFixed(2)} s to cluster_state ok, 16384 slots, replicas linked   (goal 10 s)`);
  console.log(`                                  ${ready.toFixed(2)} s to status Ready`);
  console.log(`  ${KEYS} keys loaded            ${loaded.toFixed(2)} s`);
  console.log(`  reshard 3 -> 4 shards           ${out.last.keys} keys in ${out.last.slots} slots in ${out.last.seconds} s = ${out.last.keysPerSecond} keys/s; ${out.wall.toFixed(1)} s from spec change to Ready`);
  console.log(`  reshard 4 -> 3 shards           ${back.last.keys} keys in ${back.last.slots} slots in ${back.last.seconds} s = ${back.last.keysPerSecond} keys/s; ${back.wall.toFixed(1)} s from spec change to Ready (nodes forgotten and reset)`);
  console.log(`  keys on the 3 masters after     ${total} of ${KEYS}`);
  for (const r of conns.values()) r.disconnect();
} finally {
  await s.stop();
}
