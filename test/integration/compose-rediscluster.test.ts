// RedisCluster on real redis-server processes in cluster mode (one per simulated pod, run by the engine runtime):
// formation of 3 shards x 1 replica checked by the real `redis-cli --cluster check`, 100,000 keys, a scale-out to 4
// shards and back to 3 with live slot migration (every key readable, the check passing after each step), the
// Compose Operator killed mid-reshard, a half-migrated slot left behind finished forward, a master's engine killed
// (Redis promotes the replica, status says so, the shard goes back to its first member), a node replaced by an empty
// one, and bad specs.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { Cluster, Redis } from 'ioredis';
import { AGENT_PORT } from '../../agent/api.ts';
import { AgentClient } from '../../agent/client.ts';
import { readUnitAgentToken } from '../../agent/tokens.ts';
import type { RedisCluster } from '../../lib/api/compose.upm.io.generated.ts';
import { RedisClusterResource } from '../../lib/api/compose.upm.io.generated.ts';
import type { Unit, UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { describeSlots } from '../../operators/compose/rediscluster/admin.ts';
import { keySlot, parseClusterNodes, type ClusterNode } from '../../operators/compose/rediscluster/plan.ts';
import { kubectl, kubectlOk } from '../kubectl.ts';
import { useUnitOperator } from '../unit-operator.ts';
import { killEngine } from '../signals.ts';

const CLUSTER = 'member1';
const REDIS_CLI = '/usr/bin/redis-cli';
const KEYS = 100_000;
type Secret = KubeObject & { data?: Record<string, string> };
type Pod = KubeObject & { spec?: { nodeName?: string } };
type Shard = { name: string; members: { name: string; unit: string }[] };
const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');
const run = promisify(execFile);

describe('RedisCluster on real Redis in cluster mode', () => {
  const f = useUnitOperator(CLUSTER, 'crcluster', { engines: true, compose: true });
  let c: KubeClient;
  let ns: string;
  let admin: { user: string; password: string };
  let shards: Shard[] = [];
  beforeAll(() => { c = f.client; ns = f.ns; });

  const rcc = () => c.get<RedisCluster>(RedisClusterResource, 'rc', ns);
  const ipOf = async (unit: string) => (await c.get<Unit>(UnitResource, unit, ns)).status?.podIP ?? '';
  const node = async (unit: string): Promise<Redis> => {
    const r = new Redis({ host: await ipOf(unit), port: 6379, username: admin.user, password: admin.password, lazyConnect: true, maxRetriesPerRequest: 1 });
    r.on('error', () => undefined);
    return r;
  };
  const onNode = async <T,>(unit: string, fn: (r: Redis) => Promise<T>): Promise<T> => {
    const r = await node(unit);
    try { return await fn(r); } finally { r.disconnect(); }
  };
  const clusterNodes = (unit: string): Promise<ClusterNode[]> => onNode(unit, async (r) => parseClusterNodes(String(await r.call('CLUSTER', 'NODES'))));
  const unitsOf = (s: Shard[]) => s.flatMap((x) => x.members.map((m) => m.unit));
  const specOf = (s: Shard[]) => ({ spec: { shards: s } });
  const patchShards = (s: Shard[]) => kubectlOk(CLUSTER, ['-n', ns, 'patch', 'rcc', 'rc', '--type', 'merge', '-p', JSON.stringify(specOf(s))]);
  /** Ready for the current spec: observed, settled, every shard holding slots. */
  const waitReady = (what: string, extra: (r: RedisCluster) => boolean = () => true, timeoutMs = 120_000) => waitFor(what, async () => {
    const r = await rcc();
    const st = r.status;
    return st && st.observedGeneration === r.metadata.generation && st.ready === true && st.phase === 'Ready' && st.shards === r.spec.shards.length && extra(r) ? r : undefined;
  }, { timeoutMs, intervalMs: 250 });
  const waitUnits = (n: number) => waitFor(`${n} units Ready`, async () => {
    const us = await c.get<UnitSet>(UnitSetResource, 'rc', ns);
    return us.status?.readyUnits === n && us.status.phase === 'Ready';
  }, { timeoutMs: 120_000, intervalMs: 250 });

  /** The real redis-cli's check, which must pass: every node agrees, no open slot, all 16384 slots covered. */
  async function check(unit: string): Promise<string> {
    const r = await run(REDIS_CLI, ['--user', admin.user, '--cluster', 'check', `${await ipOf(unit)}:6379`], { env: { ...process.env, REDISCLI_AUTH: admin.password } })
      .catch((err: { stdout?: string; stderr?: string; message: string }) => { throw new Error(`redis-cli --cluster check failed:\n${err.stdout ?? ''}${err.stderr ?? err.message}`); });
    expect(r.stdout).toContain('[OK] All nodes agree about slots configuration.');
    expect(r.stdout).toContain('[OK] All 16384 slots covered.');
    expect(r.stdout).not.toMatch(/\[WARNING\]|\[ERR\]/);
    return r.stdout;
  }

  const seedNodes = async () => Promise.all(unitsOf(shards).slice(0, 3).map(async (u) => ({ host: await ipOf(u), port: 6379 })));
  const clusterClient = async (autoPipelining: boolean) => {
    const cl = new Cluster(await seedNodes(), { redisOptions: { username: admin.user, password: admin.password }, enableAutoPipelining: autoPipelining, maxRedirections: 64 });
    cl.on('error', () => undefined);
    return cl;
  };

  /** Every key, through a fresh cluster client (it follows MOVED from wherever the slots are now), one MGET per slot. */
  async function readAll(): Promise<number> {
    const bySlot = new Map<number, string[]>();
    for (let i = 0; i < KEYS; i++) {
      const k = `key:${i}`;
      const s = keySlot(k);
      (bySlot.get(s) ?? bySlot.set(s, []).get(s)!).push(k);
    }
    const cl = await clusterClient(true);
    try {
      let ok = 0;
      const bad: string[] = [];
      await Promise.all([...bySlot.values()].map(async (keys) => {
        // A multi-key read of a slot being migrated gets TRYAGAIN: key by key then, as a client would.
        const values = await cl.mget(...keys).catch(() => Promise.all(keys.map((k) => cl.get(k))));
        values.forEach((v, i) => { if (v === `value:${keys[i]!.slice(4)}`) ok++; else bad.push(keys[i]!); });
      }));
      if (bad.length) throw new Error(`${bad.length} keys not readable, e.g. ${bad.slice(0, 5).join(', ')}`);
      return ok;
    } finally { cl.disconnect(); }
  }

  it('forms 3 shards x 1 replica over 6 units: the check passes, replicas sit on other units and nodes than their masters', async () => {
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], `
apiVersion: unit.upm.io/v1alpha1
kind: UnitSet
metadata: { name: rc, namespace: ${ns} }
spec:
  engine: redis
  version: "7.2"
  units: 6
  resources: { limits: { cpu: 500m, memory: 256Mi } }
  storage: [{ name: data, size: 1Gi, mountPath: /data }]
  parameters: { cluster-enabled: "yes", cluster-node-timeout: "2000" }
`);
    await waitUnits(6);
    const secret = await c.get<Secret>(Resources.secrets, 'rc-credentials', ns);
    admin = { user: b64(secret.data?.['admin-username']), password: b64(secret.data?.['admin-password']) };
    expect(admin.password).not.toBe('');
    // Masters and replicas paired across Kubernetes nodes, as a user would write them.
    const nodeOf = new Map<string, string>();
    for (let i = 0; i < 6; i++) nodeOf.set(`rc-${i}`, (await c.get<Pod>(Resources.pods, `rc-${i}`, ns)).spec?.nodeName ?? '');
    // Sorted by node, unit i pairs with unit i+3: apart whenever no node holds more than half of them (a greedy
    // choice can leave the last two on one node).
    const byNode = [...nodeOf.keys()].sort((a, b) => (nodeOf.get(a) ?? '').localeCompare(nodeOf.get(b) ?? '') || a.localeCompare(b));
    shards = ['a', 'b', 'c'].map((name, i) => ({ name, members: [{ name: `${name}-0`, unit: byNode[i]! }, { name: `${name}-1`, unit: byNode[i + 3]! }] }));
    const created = Date.now();
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], `
apiVersion: compose.upm.io/v1alpha1
kind: RedisCluster
metadata: { name: rc, namespace: ${ns} }
spec:
  secretName: rc-credentials
  shards: ${JSON.stringify(shards)}
`);
    const r = await waitReady('cluster formed');
    process.stdout.write(`formation of 6 nodes: ${((Date.now() - created) / 1000).toFixed(1)} s to Ready\n`);
    expect(r.status?.slots).toBe('16384/16384');
    expect(r.status?.masters).toEqual({ a: 'a-0', b: 'b-0', c: 'c-0' });
    const out = await check(shards[0]!.members[0]!.unit);
    expect(out).toMatch(/\[OK\] 0 keys in 3 masters/);
    // The cluster's own view: each replica follows its shard's master, from another address and another node.
    const nodes = await clusterNodes('rc-0');
    expect(nodes).toHaveLength(6);
    for (const s of shards) {
      const [m, rep] = await Promise.all(s.members.map((x) => ipOf(x.unit)));
      const master = nodes.find((n) => n.host === m)!;
      const replica = nodes.find((n) => n.host === rep)!;
      expect(master.role).toBe('master');
      expect(master.slots.reduce((n, [a, b]) => n + b - a + 1, 0)).toBeGreaterThanOrEqual(5461);
      expect(replica).toMatchObject({ role: 'replica', masterId: master.id });
      expect(replica.host).not.toBe(master.host);
      expect(nodeOf.get(s.members[1]!.unit)).not.toBe(nodeOf.get(s.members[0]!.unit));
      expect(r.status?.topology?.[s.members[1]!.name]).toMatchObject({ role: 'Replica', masterRef: s.members[0]!.name, ready: true, linkUp: true, status: 'Healthy' });
      expect(r.status?.topology?.[s.members[0]!.name]).toMatchObject({ role: 'Master', ready: true, id: master.id });
    }
    // Pods carry their role; the readwrite Service selects the masters.
    const pods = await Promise.all(shards.map((s) => c.get<KubeObject>(Resources.pods, s.members[0]!.unit, ns)));
    expect(pods.map((p) => p.metadata.labels?.['compose.upm.io/role'])).toEqual(['source', 'source', 'source']);
    const svc = await c.get<KubeObject & { spec?: { selector?: Record<string, string> } }>(Resources.services, 'rc-readwrite', ns);
    expect(svc.spec?.selector).toEqual({ 'compose.upm.io/rediscluster': 'rc', 'compose.upm.io/role': 'source' });
    expect(await kubectlOk(CLUSTER, ['-n', ns, 'get', 'rcc'])).toMatch(/rc\s+3\s+true\s+Ready\s+16384\/16384/);
    const events = await kubectlOk(CLUSTER, ['-n', ns, 'get', 'events', '--field-selector', 'involvedObject.kind=RedisCluster', '-o', 'jsonpath={.items[*].reason}']);
    for (const reason of ['Configured', 'MeetingNodes', 'Replicating', 'AssignedSlots']) expect(events).toContain(reason);
  }, 300_000);

  it('holds 100,000 keys written through the cluster', async () => {
    // One pipeline per master, each key sent where CLUSTER SLOTS places its slot.
    const slots = await onNode('rc-0', (r) => r.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
    const owner: string[] = [];
    for (const [a, b, [host]] of slots) for (let s = a; s <= b; s++) owner[s] = host;
    const byHost = new Map<string, string[]>();
    for (let i = 0; i < KEYS; i++) {
      const host = owner[keySlot(`key:${i}`)]!;
      (byHost.get(host) ?? byHost.set(host, []).get(host)!).push(`key:${i}`);
    }
    await Promise.all([...byHost].map(async ([host, keys]) => {
      const r = new Redis({ host, port: 6379, username: admin.user, password: admin.password });
      try {
        const p = r.pipeline();
        for (const k of keys) p.set(k, `value:${k.slice(4)}`);
        const res = (await p.exec()) ?? [];
        expect(res.filter(([err]) => err)).toEqual([]);
      } finally { r.disconnect(); }
    }));
    expect(await readAll()).toBe(KEYS);
    const out = await check('rc-1');
    expect(out).toMatch(/\[OK\] 100000 keys in 3 masters/);
  }, 180_000);

  it('scales out to 4 shards with live slot migration: traffic keeps working, every key readable, the check passes', async () => {
    await kubectlOk(CLUSTER, ['-n', ns, 'scale', 'us', 'rc', '--replicas=8']);
    await waitUnits(8);
    const bigger = [...shards, { name: 'd', members: [{ name: 'd-0', unit: 'rc-6' }, { name: 'd-1', unit: 'rc-7' }] }];
    // With skip-reconcile the new shard is observed, not joined.
    await kubectlOk(CLUSTER, ['-n', ns, 'annotate', 'rcc', 'rc', 'compose.upm.io/skip-reconcile=true']);
    await patchShards(bigger);
    await waitFor('skip reported', async () => {
      const r = await rcc();
      return r.status?.observedGeneration === r.metadata.generation && r.status?.conditions?.some((x) => x.type === 'Progressing' && x.reason === 'ReconcileSkipped');
    }, { timeoutMs: 20_000 });
    // The controller has decided on this generation (observedGeneration and the skip condition): nothing joined.
    expect((await clusterNodes('rc-0')).length).toBe(6);
    expect((await rcc()).status?.topology?.['d-0']).toMatchObject({ role: 'Master', slotCount: 0, ready: false });

    // Live traffic through a cluster client while slots move: new keys written, old keys read.
    const cl = await clusterClient(false);
    const acked: string[] = [];
    const failures: string[] = [];
    let reads = 0;
    let running = true;
    const traffic = (async () => {
      for (let n = 0; running; n++) {
        try {
          await cl.set(`live:${n}`, `v${n}`);
          acked.push(`live:${n}`);
          const i = (n * 7919) % KEYS;
          if ((await cl.get(`key:${i}`)) !== `value:${i}`) failures.push(`key:${i} wrong`);
          reads++;
        } catch (err) { failures.push(String(err)); }
      }
    })();
    const started = Date.now();
    await kubectlOk(CLUSTER, ['-n', ns, 'annotate', 'rcc', 'rc', 'compose.upm.io/skip-reconcile-']);
    await waitFor('resharding seen', async () => (await rcc()).status?.migration !== undefined || (await rcc()).status?.lastReshard !== undefined, { timeoutMs: 60_000, intervalMs: 100 });
    const r = await waitReady('4 shards', (x) => x.status?.topology?.['d-0']?.slotCount === 4096);
    running = false;
    await traffic;
    shards = bigger;
    process.stdout.write(`scale-out: ${((Date.now() - started) / 1000).toFixed(1)} s; ${r.status?.lastReshard?.keys} keys in ${r.status?.lastReshard?.slots} slots moved at ${r.status?.lastReshard?.keysPerSecond} keys/s; ${acked.length} writes and ${reads} reads meanwhile\n`);
    expect(failures).toEqual([]);
    expect(acked.length).toBeGreaterThan(100);
    const values = await Promise.all(acked.map((k) => cl.get(k)));
    expect(values.filter((v, i) => v !== `v${acked[i]!.slice(5)}`)).toEqual([]);
    await Promise.all(acked.map((k) => cl.del(k)));
    cl.disconnect();
    expect(r.status?.slots).toBe('16384/16384');
    expect(Object.values(r.status?.topology ?? {}).filter((t) => t.role === 'Master').map((t) => t.slotCount)).toEqual([4096, 4096, 4096, 4096]);
    expect(r.status?.lastReshard?.slots).toBe(4096);
    expect(r.status?.lastReshard?.keys).toBeGreaterThan(KEYS / 5);
    expect(await readAll()).toBe(KEYS);
    await check('rc-6');
    const events = await kubectlOk(CLUSTER, ['-n', ns, 'get', 'events', '--field-selector', 'involvedObject.kind=RedisCluster', '-o', 'jsonpath={.items[*].reason}']);
    for (const reason of ['Resharding', 'MigratedSlots', 'Resharded']) expect(events).toContain(reason);
  }, 420_000);

  it('scales back in to 3 shards with the Compose Operator killed mid-reshard: the open migration is finished forward, each key moved once', async () => {
    const smaller = shards.filter((s) => s.name !== 'd');
    const d0 = shards.find((s) => s.name === 'd')!.members[0]!.unit;
    const held = await onNode(d0, (x) => x.dbsize());
    expect(held).toBeGreaterThan(0);
    // This operator dies in its first batch, right after a MIGRATE: three keys per MIGRATE (a slot holds about six
    // here) leaves the batch's slots open with their keys split between the two sides.
    const died = await f.crashComposeAt('rediscluster-keys-moved');
    await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'rcc', 'rc', '--type', 'merge', '-p', JSON.stringify({ spec: { shards: smaller, migration: { batchKeys: 3 } } })]);
    await died(60_000);

    // At the kill: the cluster itself holds an open migration, [slot->-target] on d-0 and [slot-<-d-0] on the target.
    const me = (nodes: ClusterNode[]) => nodes.find((n) => n.flags.includes('myself'))!;
    const source = me(await clusterNodes(d0));
    expect(source.migrating.length).toBeGreaterThan(0);
    const open = source.migrating.map((m) => m.slot).sort((a, b) => a - b);
    const targetId = source.migrating[0]!.to;
    expect(source.migrating.every((m) => m.to === targetId)).toBe(true);
    const targetUnit = (await Promise.all(unitsOf(smaller).map(async (u) => [u, me(await clusterNodes(u)).id] as const))).find(([, id]) => id === targetId)![0];
    const target = me(await clusterNodes(targetUnit));
    expect(target.importing.map((i) => i.slot).sort((a, b) => a - b)).toEqual(open);
    expect(target.importing.every((i) => i.from === source.id)).toBe(true);
    const countIn = (u: string, slot: number) => onNode(u, async (x) => Number(await x.call('CLUSTER', 'COUNTKEYSINSLOT', slot)));
    const split = await Promise.all(open.map(async (slot) => [await countIn(d0, slot), await countIn(targetUnit, slot)] as const));
    expect(split.filter(([left, moved]) => left > 0 && moved > 0).length).toBeGreaterThan(0);
    const movedBeforeKill = split.reduce((n, [, moved]) => n + moved, 0);
    const leftAtKill = split.reduce((n, [left]) => n + left, 0);
    expect(movedBeforeKill).toBeGreaterThan(0);
    // The killed operator wrote nothing about it: only the cluster remembers.
    expect((await rcc()).status?.migration).toBeUndefined();
    process.stdout.write(`killed mid-reshard: ${open.length} slots open from ${d0} to ${targetUnit}, ${movedBeforeKill} keys moved, ${leftAtKill} left\n`);

    await f.restartCompose();
    const r = await waitReady('3 shards again', (x) => (x.status?.leaving ?? []).length === 0);
    shards = smaller;
    // Finished forward from where it stopped: the open slots' remaining keys moved, the batch not started over, and
    // over the whole reshard every key of d-0 moved exactly once (the ones moved before the kill not again).
    const resumed = await kubectlOk(CLUSTER, ['-n', ns, 'get', 'events', '--field-selector', 'involvedObject.kind=RedisCluster,reason=ResumedMigration', '-o', 'jsonpath={.items[*].message}']);
    expect(resumed).toMatch(new RegExp(`finished the interrupted migration of ${describeSlots(open)} from \\S+ to \\S+ \\(${leftAtKill} keys\\)`));
    expect(r.status?.lastReshard).toMatchObject({ slots: 4096, keys: held - movedBeforeKill });
    expect(r.status?.slots).toBe('16384/16384');
    expect(r.status?.topology?.['d-0']).toBeUndefined();
    expect(await readAll()).toBe(KEYS);
    await check('rc-0');
    // Forgotten by every member, and reset: rc-6 and rc-7 are empty, stand-alone nodes now.
    for (const u of unitsOf(shards)) expect((await clusterNodes(u)).length).toBe(6);
    for (const u of ['rc-6', 'rc-7']) {
      const own = await clusterNodes(u);
      expect(own).toHaveLength(1);
      expect(await onNode(u, (x) => x.dbsize())).toBe(0);
    }
    const events = await kubectlOk(CLUSTER, ['-n', ns, 'get', 'events', '--field-selector', 'involvedObject.kind=RedisCluster,reason=ForgotNode', '-o', 'jsonpath={.items[*].message}']);
    expect(events).toMatch(/forgot node \w+ .* and reset it/);
    await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'rcc', 'rc', '--type', 'merge', '-p', '{"spec":{"migration":null}}']);
    await kubectlOk(CLUSTER, ['-n', ns, 'scale', 'us', 'rc', '--replicas=6']);
    await waitUnits(6);
    await waitReady('settled with the default batches');
    await check('rc-0');
  }, 300_000);

  it('finishes forward a slot left half-migrated (IMPORTING/MIGRATING) by a killed operator, reading the marks back from the cluster', async () => {
    await kubectlOk(CLUSTER, ['-n', ns, 'annotate', 'rcc', 'rc', 'compose.upm.io/skip-reconcile=true']);
    await waitFor('skip seen', async () => (await rcc()).status?.conditions?.some((x) => x.type === 'Progressing' && x.reason === 'ReconcileSkipped'), { timeoutMs: 20_000 });
    // The slot of a-0 with the most keys, half of them moved to b-0 as a reshard cut mid-slot would leave it.
    const a0 = shards[0]!.members[0]!.unit;
    const b0 = shards[1]!.members[0]!.unit;
    const [aNode, bNode] = await Promise.all([a0, b0].map(async (u) => (await clusterNodes(u)).find((n) => n.flags.includes('myself'))!));
    const counts = new Map<number, string[]>();
    for (let i = 0; i < KEYS; i++) {
      const s = keySlot(`key:${i}`);
      if (aNode!.slots.some(([x, y]) => s >= x && s <= y)) (counts.get(s) ?? counts.set(s, []).get(s)!).push(`key:${i}`);
    }
    const [slot, keys] = [...counts].sort((x, y) => y[1].length - x[1].length)[0]!;
    expect(keys.length).toBeGreaterThanOrEqual(4);
    const half = keys.slice(0, Math.floor(keys.length / 2));
    await onNode(b0, (r) => r.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', aNode!.id));
    await onNode(a0, async (r) => {
      await r.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', bNode!.id);
      await r.call('MIGRATE', await ipOf(b0), 6379, '', 0, 5000, 'AUTH2', admin.user, admin.password, 'KEYS', ...half);
    });
    expect(await onNode(b0, (r) => r.call('CLUSTER', 'COUNTKEYSINSLOT', slot))).toBe(half.length);
    expect((await clusterNodes(a0)).find((n) => n.flags.includes('myself'))?.migrating).toEqual([{ slot, to: bNode!.id }]);
    // A fresh operator (kill -9 of the old one) knows nothing of it but what the cluster says; still skipped, it
    // reports what it would do next.
    await f.restartCompose();
    await waitFor('the open slot reported', async () => {
      const r = await rcc();
      return r.status?.ready === false && r.status.conditions?.some((x) => x.type === 'Progressing' && x.reason === 'ReconcileSkipped'
        && (x.message ?? '').includes(`next step: finish the interrupted migration of slot ${slot} from a-0 to b-0`));
    }, { timeoutMs: 30_000, intervalMs: 200 });
    await kubectlOk(CLUSTER, ['-n', ns, 'annotate', 'rcc', 'rc', 'compose.upm.io/skip-reconcile-']);
    const resumedEvent = () => kubectlOk(CLUSTER, ['-n', ns, 'get', 'events', '--field-selector', 'involvedObject.kind=RedisCluster,reason=ResumedMigration', '-o', 'jsonpath={.items[*].message}']);
    await waitFor('the open slot finished', async () => (await resumedEvent()).includes(`finished the interrupted migration of ${slot} from a-0 to b-0 (${keys.length - half.length} keys)`), { timeoutMs: 30_000 });
    await waitReady('shards even again', (x) => Object.values(x.status?.topology ?? {}).filter((t) => t.role === 'Master').every((t) => t.slotCount === 5461 || t.slotCount === 5462));
    for (const u of unitsOf(shards)) {
      const me = (await clusterNodes(u)).find((n) => n.flags.includes('myself'))!;
      expect([me.migrating, me.importing]).toEqual([[], []]);
    }
    expect(await readAll()).toBe(KEYS);
    await check(b0);
  });

  it('a master engine killed: Redis promotes its replica and status says so; back, it takes its shard back; no key lost', async () => {
    const shard = shards[1]!;
    const [m, rep] = shard.members as [Shard['members'][0], Shard['members'][0]];
    await kubectlOk(CLUSTER, ['-n', ns, 'annotate', 'un', m.unit, 'unit.upm.io/maintenance=true']);
    const agent = new AgentClient(await ipOf(m.unit), AGENT_PORT, await readUnitAgentToken(c, ns, m.unit));
    killEngine((await agent.status()).pid);
    await agent.stop();
    const killed = Date.now();
    const r = await waitFor('replica promoted and recorded', async () => {
      const x = await rcc();
      return x.status?.masters?.[shard.name] === rep.name && x.status.lastFailover?.to === rep.name ? x : undefined;
    }, { timeoutMs: 60_000, intervalMs: 100 });
    process.stdout.write(`failover: ${rep.name} master ${((Date.now() - killed) / 1000).toFixed(1)} s after the kill\n`);
    expect(r.status?.lastFailover).toMatchObject({ shard: shard.name, from: m.name, to: rep.name });
    expect(r.status?.topology?.[m.name]).toMatchObject({ status: 'Unreachable', ready: false });
    expect(r.status?.topology?.[rep.name]).toMatchObject({ role: 'Master', status: 'Healthy' });
    expect(r.status?.topology?.[rep.name]?.slotCount).toBeGreaterThanOrEqual(5461);
    const degraded = r.status?.conditions?.find((x) => x.type === 'Degraded');
    expect(degraded?.status).toBe('True');
    expect(degraded?.message).toContain(`spec.shards[1].members[0] (${m.name})`);
    expect(r.status?.ready).toBe(false);
    const warned = await kubectlOk(CLUSTER, ['-n', ns, 'get', 'events', '--field-selector', 'involvedObject.kind=RedisCluster,reason=MasterChanged', '-o', 'jsonpath={.items[*].message}']);
    expect(warned).toContain(`shard ${shard.name}: Redis Cluster promoted ${rep.name}`);
    // Every key, once the masters that are left say the cluster serves again.
    await waitFor('cluster serving', async () => {
      const states = await Promise.all(shards.map((s) => s.members.find((x) => x.unit !== m.unit)!.unit).map((u) => onNode(u, (x) => x.call('CLUSTER', 'INFO'))));
      return states.every((st) => String(st).includes('cluster_state:ok'));
    }, { timeoutMs: 30_000 });
    expect(await readAll()).toBe(KEYS);

    await agent.start();
    await kubectlOk(CLUSTER, ['-n', ns, 'annotate', 'un', m.unit, 'unit.upm.io/maintenance-']);
    const back = await waitReady('shard handed back to its first member', (x) => x.status?.masters?.[shard.name] === m.name, 90_000);
    expect(back.status?.topology?.[rep.name]).toMatchObject({ role: 'Replica', masterRef: m.name, ready: true });
    const events = await kubectlOk(CLUSTER, ['-n', ns, 'get', 'events', '--field-selector', 'involvedObject.kind=RedisCluster', '-o', 'jsonpath={.items[*].reason}']);
    for (const reason of ['FailingBack', 'FailedBack']) expect(events).toContain(reason);
    expect(await readAll()).toBe(KEYS);
    await check(m.unit);
  }, 300_000);

  it('a node replaced with an empty one at the same address (its volume lost) is joined, its old identity forgotten', async () => {
    const shard = shards[2]!;
    const [m, rep] = shard.members as [Shard['members'][0], Shard['members'][0]];
    const before = (await rcc()).status?.topology?.[rep.name]?.id;
    expect(before).toMatch(/^[0-9a-f]{40}$/);
    // The unit's pod and claim go away; once the unit is handed back, the Unit Operator recreates both, empty.
    await kubectlOk(CLUSTER, ['-n', ns, 'annotate', 'un', rep.unit, 'unit.upm.io/maintenance=true']);
    await kubectlOk(CLUSTER, ['-n', ns, 'delete', 'pod', rep.unit]);
    await kubectlOk(CLUSTER, ['-n', ns, 'delete', 'pvc', `${rep.unit}-data`]);
    await kubectlOk(CLUSTER, ['-n', ns, 'annotate', 'un', rep.unit, 'unit.upm.io/maintenance-']);
    const r = await waitReady('the new node joined', (x) => {
      const t = x.status?.topology?.[rep.name];
      return !!t?.id && t.id !== before && t.ready === true && (x.status?.leaving ?? []).length === 0;
    }, 120_000);
    expect(r.status?.topology?.[rep.name]).toMatchObject({ role: 'Replica', masterRef: m.name, linkUp: true });
    for (const u of unitsOf(shards)) expect((await clusterNodes(u)).map((n) => n.id)).not.toContain(before);
    const forgot = await kubectlOk(CLUSTER, ['-n', ns, 'get', 'events', '--field-selector', 'involvedObject.kind=RedisCluster,reason=ForgotNode', '-o', 'jsonpath={.items[*].message}']);
    expect(forgot).toContain(`forgot node ${before}`);
    await waitFor('the new replica holds the shard\'s keys', async () => (await onNode(rep.unit, (x) => x.dbsize())) === (await onNode(m.unit, (x) => x.dbsize())), { timeoutMs: 30_000 });
    expect(await readAll()).toBe(KEYS);
    await check(rep.unit);
  }, 240_000);

  it('refuses bad specs at the API, and reports what needs the world as a condition naming the field', async () => {
    const apply = (name: string, shardsYaml: string, secret = 'rc-credentials') => kubectl(CLUSTER, ['apply', '-f', '-'], `
apiVersion: compose.upm.io/v1alpha1
kind: RedisCluster
metadata: { name: ${name}, namespace: ${ns} }
spec:
  secretName: ${secret}
  shards: ${shardsYaml}
`);
    // (Member names that YAML would read as booleans, such as y, are avoided.)
    const cases: [string, string][] = [
      ['[]', 'spec.shards: Invalid value'],
      ['[{ name: a, members: [] }]', 'spec.shards[0].members: Invalid value'],
      ['[{ name: a, members: [{ name: p, unit: rc-0 }] }, { name: b, members: [{ name: p, unit: rc-1 }] }]', 'spec.shards: a member name may appear in one shard only'],
      ['[{ name: a, members: [{ name: p, unit: rc-0 }] }, { name: b, members: [{ name: q, unit: rc-0 }] }]', 'spec.shards: a unit may be listed in one shard only'],
      ['[{ name: a, members: [{ name: p, unit: rc-0 }, { name: q, unit: rc-0 }] }]', 'spec.shards[0]: Invalid value: a unit may be listed once only'],
      ['[{ name: a, members: [{ name: p, host: 10.0.0.1 }, { name: q, host: 10.0.0.1, port: 6379 }] }]', 'spec.shards[0]: Invalid value: a host and port may be listed once only'],
      ['[{ name: a, members: [{ name: p, host: 10.0.0.1 }] }, { name: b, members: [{ name: q, host: 10.0.0.1 }] }]', 'spec.shards: a host and port may be listed in one shard only'],
      ['[{ name: a, members: [{ name: p, unit: rc-0, host: 10.0.0.1 }] }]', 'spec.shards[0].members[0]: Invalid value: give either unit or host'],
      ['[{ name: a, members: [{ name: p, unit: rc-0 }] }, { name: a, members: [{ name: q, unit: rc-1 }] }]', 'spec.shards[1]: Duplicate value'],
      ['[{ name: a, members: [{ name: p, host: h, port: 60000 }] }]', 'spec.shards[0].members[0].port: Invalid value'],
    ];
    for (const [i, [yaml, message]] of cases.entries()) {
      const res = await apply(`bad${i}`, yaml);
      expect({ yaml, code: res.code, stderr: res.stderr }).toMatchObject({ yaml, code: 1, stderr: expect.stringContaining(message) });
    }
    expect((await kubectl(CLUSTER, ['-n', ns, 'get', 'rcc', '-o', 'name'])).stdout.trim()).toBe('rediscluster.compose.upm.io/rc');

    await apply('nosecret', '[{ name: a, members: [{ name: p, unit: rc-0 }] }]', 'nope').then((x) => expect(x.code).toBe(0));
    await apply('nounit', '[{ name: a, members: [{ name: p, unit: rc-0 }] }, { name: b, members: [{ name: q, unit: rc-99 }] }]').then((x) => expect(x.code).toBe(0));
    const reported = (name: string, reason: string, prefix: string) => waitFor(`${name}: ${reason}`, async () => {
      const o = await c.get<RedisCluster>(RedisClusterResource, name, ns);
      const cond = o.status?.conditions?.find((x) => x.type === 'TopologyReady');
      return cond?.status === 'False' && cond.reason === reason && (cond.message ?? '').startsWith(prefix) ? o : undefined;
    }, { timeoutMs: 20_000 });
    expect((await reported('nosecret', 'SecretNotFound', 'spec.secretName: Secret "nope" not found')).status?.phase).toBe('Failed');
    expect((await reported('nounit', 'NodesNotResolved', 'spec.shards[1].members[0].unit: unit rc-99 not found')).status?.ready).toBe(false);
    // Neither touched the cluster the first member belongs to.
    await kubectlOk(CLUSTER, ['-n', ns, 'delete', 'rcc', 'nosecret', 'nounit']);
    await check('rc-0');
    expect((await rcc()).status?.ready).toBe(true);
  }, 180_000);

  it('settled, it writes nothing while nothing changes, and its polling puts back a setting changed behind its back', async () => {
    const before = await rcc();
    const events = async () => (await c.list<KubeObject & { involvedObject?: { name?: string } }>(Resources.events, { namespace: ns })).items.filter((e) => e.involvedObject?.name === 'rc').length;
    const eventsBefore = await events();
    // Not a sleep: the engine counts the operator's polls. Each reconcile reads cluster-allow-replica-migration once on
    // every node (CONFIG GET, which nothing else here sends until below), and one object is reconciled one pass at a
    // time: two more on a node mean a whole pass began after `before` and ended, having found nothing to do.
    const polls = () => onNode('rc-0', async (r) => Number(/^cmdstat_config\|get:calls=(\d+)/m.exec(await r.info('commandstats'))?.[1] ?? 0));
    const pollsBefore = await polls();
    await waitFor('two health polls of the operator', async () => (await polls()) >= pollsBefore + 2, { timeoutMs: 60_000, intervalMs: 500 });
    const after = await rcc();
    expect(after.status?.ready).toBe(true);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(await events()).toBe(eventsBefore);
    // Nothing in Kubernetes changes, so only polling can notice this.
    const unit = shards[0]!.members[1]!.unit;
    const setting = () => onNode(unit, async (r) => (await r.call('CONFIG', 'GET', 'cluster-allow-replica-migration')) as string[]);
    await onNode(unit, (r) => r.call('CONFIG', 'SET', 'cluster-allow-replica-migration', 'yes'));
    await waitFor('setting put back', async () => (await setting())[1] === 'no', { timeoutMs: 20_000, intervalMs: 200 });
    const last = await waitFor('recorded', async () => { const r = await rcc(); return r.status?.lastChange?.time !== before.status?.lastChange?.time ? r.status?.lastChange : undefined; }, { timeoutMs: 10_000 });
    expect(last.step).toBe('set cluster-allow-replica-migration no on 1 nodes');
  }, 180_000);
});
