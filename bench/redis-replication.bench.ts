// RedisReplication on real engines: 1 source + 2 replicas (redis-server) watched by 3 Sentinels (redis-sentinel),
// one member cluster of the local system, the Unit Operator, the engine runtime and the Compose Operator.
//   - switchover: spec.source names a replica. Measured at the servers: from the fence (the first write the old
//     source refuses: paused, then READONLY) to the first write the new source accepts (min-replicas-to-write 1, so
//     it has a replica), and from the spec change to that write;
//   - failover: kill -9 of the source engine (its unit handed off, so nothing restarts it). Measured to the first
//     write accepted at the address the Sentinels name, and through the readwrite Service (the pod labelled as the
//     source by the operator), with the Sentinel detection settings printed.
import { Redis } from 'ioredis';
import { AGENT_PORT } from '../agent/api.ts';
import { AgentClient } from '../agent/client.ts';
import { readUnitAgentToken } from '../agent/tokens.ts';
import { RedisReplicationResource, type RedisReplication } from '../lib/api/compose.upm.io.generated.ts';
import { UnitResource, UnitSetResource, type Unit, type UnitSet } from '../lib/api/unit.upm.io.generated.ts';
import { Resources } from '../lib/kube/resources.ts';
import type { KubeObject } from '../lib/kube/types.ts';
import { waitFor } from '../lib/wait.ts';
import { startComposeBenchSystem } from './lib/compose-system.ts';

const SWITCHOVERS = Number(process.env.BENCH_SWITCHOVERS ?? 5);
const FAILOVERS = Number(process.env.BENCH_FAILOVERS ?? 3);
const DOWN_AFTER_MS = Number(process.env.BENCH_DOWN_AFTER_MS ?? 1000);
const FAILOVER_TIMEOUT_MS = 10_000;
const UNITS = ['rs-0', 'rs-1', 'rs-2'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Pod = KubeObject & { status?: { podIP?: string } };

function connect(host: string, port = 6379): Redis {
  const r = new Redis({ host, port, lazyConnect: true, connectTimeout: 500, commandTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  r.on('error', () => undefined);
  return r;
}

/** Writes to `host` every `everyMs` until stopped; remembers when writes were refused and accepted. */
function prober(host: () => Promise<string | undefined>, everyMs = 1) {
  let running = true;
  const seen = { firstRefusedSentAt: 0, firstAcceptedAt: 0 };
  const done = (async () => {
    let conn: Redis | undefined;
    let at = '';
    while (running) {
      const sent = performance.now();
      try {
        const h = await host();
        if (!h) { await sleep(everyMs); continue; }
        if (!conn || at !== h) { conn?.disconnect(); conn = connect(h); at = h; await conn.connect(); }
        await conn.set('bench:probe', String(sent));
        if (!seen.firstAcceptedAt) seen.firstAcceptedAt = performance.now();
      } catch (err) {
        if (!seen.firstRefusedSentAt && /READONLY|NOREPLICAS/.test(String(err))) seen.firstRefusedSentAt = sent;
        if (!/READONLY|NOREPLICAS/.test(String(err))) { conn?.disconnect(); conn = undefined; }
      }
      await sleep(everyMs);
    }
    conn?.disconnect();
  })();
  return { seen, stop: async () => { running = false; await done; } };
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length ? (s[Math.floor((s.length - 1) / 2)] as number) : NaN; };
const fmt = (xs: number[]) => `${xs.map((x) => x.toFixed(0)).join(', ')} ms (median ${median(xs).toFixed(0)} ms)`;

const bench = await startComposeBenchSystem('redis-replication');
const c = bench.client;
const NS = bench.ns;
try {
  const unitSet = (name: string, engine: string, parameters: Record<string, string>) => c.create<UnitSet>(UnitSetResource, {
    apiVersion: 'unit.upm.io/v1alpha1', kind: 'UnitSet', metadata: { name, namespace: NS },
    spec: { engine, version: '7.2', units: 3, resources: { limits: { cpu: '500m', memory: '256Mi' } }, storage: [{ name: 'data', size: '1Gi', mountPath: '/data' }], parameters },
  });
  await unitSet('rs', 'redis', { 'min-replicas-to-write': '1' });
  await unitSet('rs-sentinel', 'redis-sentinel', {});
  await c.create<RedisReplication>(RedisReplicationResource, {
    apiVersion: 'compose.upm.io/v1alpha1', kind: 'RedisReplication', metadata: { name: 'rs', namespace: NS },
    spec: {
      secretName: 'rs-credentials',
      source: { name: 'rs-0', unit: 'rs-0' },
      replicas: [{ name: 'rs-1', unit: 'rs-1' }, { name: 'rs-2', unit: 'rs-2' }],
      sentinel: {
        secretName: 'rs-sentinel-credentials',
        nodes: [0, 1, 2].map((i) => ({ name: `s${i}`, unit: `rs-sentinel-${i}` })),
        downAfterMilliseconds: DOWN_AFTER_MS, failoverTimeoutMilliseconds: FAILOVER_TIMEOUT_MS,
      },
    },
  });
  const rr = () => c.get<RedisReplication>(RedisReplicationResource, 'rs', NS);
  const ready = (what: string, extra: (m: RedisReplication) => boolean = () => true) =>
    waitFor(what, async () => { const m = await rr(); return m.status?.ready === true && m.status.observedGeneration === m.metadata.generation && extra(m); }, { timeoutMs: 180_000, intervalMs: 100 });
  const t0 = performance.now();
  await ready('replication ready');
  const wiredS = (performance.now() - t0) / 1000;
  const ips = new Map<string, string>();
  for (const u of [...UNITS, 'rs-sentinel-0', 'rs-sentinel-1', 'rs-sentinel-2']) ips.set(u, (await c.get<Unit>(UnitResource, u, NS)).status?.podIP ?? '');
  const ip = (u: string) => ips.get(u) ?? '';
  const settings = (await rr()).spec.sentinel;

  // ---- switchovers ----
  const fenceToWritable: number[] = [];
  const specToWritable: number[] = [];
  for (let i = 0; i < SWITCHOVERS; i++) {
    const m = await rr();
    const from = m.spec.source.name;
    const to = UNITS[(UNITS.indexOf(from) + 1) % UNITS.length] as string;
    const old = prober(async () => ip(from));
    const next = prober(async () => ip(to));
    await sleep(200);
    const patched = performance.now();
    await c.patch(RedisReplicationResource, 'rs', { spec: { source: { name: to, unit: to }, replicas: UNITS.filter((u) => u !== to).map((u) => ({ name: u, unit: u })) } }, 'merge', { namespace: NS });
    await waitFor('new source writable', () => next.seen.firstAcceptedAt > patched, { timeoutMs: 60_000, intervalMs: 5 });
    await sleep(100);
    await old.stop();
    await next.stop();
    // The prober of the new source started before the patch; only acceptances after the patch count.
    fenceToWritable.push(next.seen.firstAcceptedAt - old.seen.firstRefusedSentAt);
    specToWritable.push(next.seen.firstAcceptedAt - patched);
    await ready(`switchover ${from} -> ${to} finished`, (x) => x.status?.source === to);
  }

  // ---- Sentinel failovers ----
  const viaSentinel: number[] = [];
  const viaService: number[] = [];
  for (let i = 0; i < FAILOVERS; i++) {
    const victim = (await rr()).spec.source.name;
    // A client of Sentinel: asks a Sentinel for the master, writes there.
    const sentinelClient = prober(async () => {
      const s = connect(ip('rs-sentinel-0'), 26379);
      try { await s.connect(); const a = (await s.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'rs')) as string[] | null; return a?.[0] && a[0] !== ip(victim) ? a[0] : undefined; } catch { return undefined; } finally { s.disconnect(); }
    }, 5);
    // A client of the readwrite Service: writes to the pod it selects.
    const serviceClient = prober(async () => {
      const pods = (await c.list<Pod>(Resources.pods, { namespace: NS, labelSelector: 'compose.upm.io/redisreplication=rs,compose.upm.io/role=source' })).items;
      const p = pods[0]?.metadata.name;
      return p && p !== victim ? ip(p) : undefined;
    }, 5);
    await c.patch(UnitResource, victim, { metadata: { annotations: { 'unit.upm.io/maintenance': 'true' } } }, 'merge', { namespace: NS });
    const agent = new AgentClient(ip(victim), AGENT_PORT, await readUnitAgentToken(c, NS, victim));
    const pid = (await agent.status()).pid ?? 0;
    const killed = performance.now();
    process.kill(pid, 'SIGKILL');
    await agent.stop();
    await waitFor('writes accepted after the kill', () => sentinelClient.seen.firstAcceptedAt > killed && serviceClient.seen.firstAcceptedAt > killed, { timeoutMs: 60_000, intervalMs: 5 });
    await sentinelClient.stop();
    await serviceClient.stop();
    viaSentinel.push(sentinelClient.seen.firstAcceptedAt - killed);
    viaService.push(serviceClient.seen.firstAcceptedAt - killed);
    // The old source comes back and rejoins as a replica.
    await agent.start();
    await c.patch(UnitResource, victim, { metadata: { annotations: { 'unit.upm.io/maintenance': null } } }, 'merge', { namespace: NS });
    await ready(`${victim} back as a replica`, (x) => x.spec.source.name !== victim && x.status?.topology?.[victim]?.role === 'Replica');
  }

  console.log('RedisReplication: 1 source + 2 replicas (redis-server 7.0), 3 Sentinels, one member cluster, 2 cores');
  console.log(`  wired, Sentinels watching        ${wiredS.toFixed(1)} s after the UnitSets and the RedisReplication were created`);
  console.log(`  switchover, fence -> new source writable:  ${fmt(fenceToWritable)}`);
  console.log(`  switchover, spec change -> new source writable: ${fmt(specToWritable)}`);
  console.log(`  Sentinel settings: down-after-milliseconds ${settings?.downAfterMilliseconds}, failover-timeout ${settings?.failoverTimeoutMilliseconds}, quorum 2 of 3, parallel-syncs ${settings?.parallelSyncs ?? 1}`);
  console.log(`  failover, kill -9 -> writes accepted at the Sentinels' master: ${fmt(viaSentinel)}`);
  console.log(`  failover, kill -9 -> writes accepted via the readwrite Service:  ${fmt(viaService)}`);
} finally {
  await bench.stop();
}
