// Operations run by the hub on the other kinds, end to end with kubectl as a project editor and real engines on
// member1: a Redis service with Sentinel switched over to a named replica (the keys written before it read from the new
// master, the hub reporting it, every Sentinel watching it) and scaled 2 -> 3 servers; a Redis Cluster resized
// 3 -> 4 -> 3 shards with 1,000 keys all read back after each (the Operation done only once the slots are settled);
// a ZooKeeper ensemble whose one follower is restarted alone (its engine process replaced, the others' kept, a znode
// written before read from every server after), then scaled 3 -> 5 servers, a znode written before it read from every
// server after. Each Operation reaches Succeeded with its steps; the dry-run plans of the switchover, of the shard
// growth and of the restart are held to what ran.
import { afterAll, expect, it } from '@jest/globals';
import { Cluster, Redis } from 'ioredis';
import { parse } from 'yaml';
import type { KubeObject } from '../../lib/kube/types.ts';
import { Resources } from '../../lib/kube/resources.ts';
import { RedisClusterResource, RedisReplicationResource, ZookeeperEnsembleResource, type RedisCluster, type RedisReplication } from '../../lib/api/compose.upm.io.generated.ts';
import { UnitResource, UnitSetResource, type Unit, type UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import type { OperationStatus } from '../../lib/operations/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { parseClusterNodes } from '../../operators/compose/rediscluster/plan.ts';
import { ZkSession } from '../../operators/compose/zookeeper/client.ts';
import { connectionOf } from '../connection.ts';
import { pidOf, running, watchEngineRestarts } from '../engine-restarts.ts';
import { describeHub, kubectlAs } from '../hub.ts';
import { MEMBER, useHubProject } from '../hub-member.ts';

interface Op { metadata: { name: string; uid?: string }; spec: Record<string, unknown>; status?: OperationStatus }
type Secret = KubeObject & { data?: Record<string, string> };
const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');
const small = { resources: { cpu: '250m', memory: '256Mi' }, storage: { size: '1Gi' } };

describeHub('Operations run by the hub on Redis with Sentinel, Redis Cluster and ZooKeeper', () => {
  const p = useHubProject('hubopk');
  const project = p.project;
  const as = (args: string[], input?: string) => p.as(args, input);
  const service = (kind: string, name: string, spec: Record<string, unknown>) =>
    JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind, metadata: { name, namespace: project }, spec: { placement: { cluster: MEMBER }, ...small, ...spec } });
  const operation = (name: string, kind: string, target: string, spec: Record<string, unknown>) =>
    JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'Operation', metadata: { name, namespace: project }, spec: { target: { kind, name: target }, ...spec } });
  const getOp = async (name: string): Promise<Op> => JSON.parse(await as(['get', 'operation', name, '-n', project, '-o', 'json'])) as Op;
  const steps = (o: Op) => (o.status?.steps ?? []).map((s) => `${s.name}:${s.phase}`);
  const seconds = (o: Op) => ((Date.parse(o.status?.completionTime ?? '') - Date.parse(o.status?.startTime ?? '')) / 1000);
  /** Creates the Operation and waits for its Succeeded condition with `kubectl wait`; on a timeout the error carries its status. */
  const run = async (name: string, kind: string, target: string, spec: Record<string, unknown>, timeoutSeconds: number): Promise<Op> => {
    const t0 = Date.now();
    await as(['create', '-f', '-'], operation(name, kind, target, spec));
    const r = await kubectlAs(p.kc, ['wait', '--for=condition=Succeeded', `operation/${name}`, '-n', project, `--timeout=${timeoutSeconds}s`], undefined, (timeoutSeconds + 30) * 1000);
    const o = await getOp(name);
    if (r.code !== 0) throw new Error(`operation ${name} did not succeed: ${r.stderr}; status ${JSON.stringify(o.status)}`);
    process.stdout.write(`Operation ${name} (${String(spec.type)} of ${kind} ${target}): Succeeded ${Date.now() - t0} ms after its creation, ${seconds(o)} s from its first step to its last\n`);
    return o;
  };
  const preview = async (name: string, kind: string, target: string, spec: Record<string, unknown>): Promise<Op> =>
    parse(await as(['create', '--dry-run=server', '-o', 'yaml', '-f', '-'], operation(name, kind, target, spec))) as Op;
  const clients: { disconnect: () => void }[] = [];
  afterAll(() => { for (const c of clients) c.disconnect(); });

  it('has a Redis service with Sentinel (2 servers), a Redis Cluster of 3 shards and a ZooKeeper ensemble of 3, all Ready', async () => {
    await as(['create', '-f', '-'], service('RedisService', 'cache', { version: '7.2', topology: { mode: 'replication', replicas: 2 }, options: { sentinel: { enabled: true } } }));
    await as(['create', '-f', '-'], service('RedisClusterService', 'rc', { version: '7.2', topology: { shards: 3, replicasPerShard: 1 } }));
    await as(['create', '-f', '-'], service('ZookeeperService', 'zk', { version: '3.8', topology: { replicas: 3 } }));
    const [cache, rc, zk] = await Promise.all([
      p.hubReaches('redisservice', 'cache', 'the RedisService Ready', (s) => s.phase === 'Ready', 300_000),
      p.hubReaches('redisclusterservice', 'rc', 'the RedisClusterService Ready', (s) => s.phase === 'Ready', 300_000),
      p.hubReaches('zookeeperservice', 'zk', 'the ZookeeperService Ready', (s) => s.phase === 'Ready', 300_000),
    ]);
    expect(cache).toMatchObject({ ready: '2/2', master: 'cache-0' });
    expect(rc).toMatchObject({ ready: '6/6', slotsAssigned: 16384, shards: 3, reshard: '', leavingNodes: 0 });
    expect(zk).toMatchObject({ ready: '3/3' });
  }, 360_000);

  // ---- Redis with Sentinel ----------------------------------------------------------------------------------------

  const redisStatus = async () => (await p.hubObject('redisservice', 'cache')).status ?? {};
  const connect = async (host: string, port: number) => {
    const r = new Redis({ host, port, lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => undefined);
    await r.connect();
    return r;
  };
  const onRedis = async <T>(host: string, port: number, fn: (r: Redis) => Promise<T>): Promise<T> => {
    const r = await connect(host, port);
    try { return await fn(r); } finally { r.disconnect(); }
  };
  const unitIp = async (unit: string) => (await p.member.get<Unit>(UnitResource, unit, project)).status?.podIP ?? '';

  it('switches the Redis master over to the named replica: the plan held to the run, writes kept, the hub and every Sentinel name the new master', async () => {
    const st = await redisStatus();
    const rw = st.endpoints?.find((e) => e.role === 'readwrite');
    expect(rw?.addresses).toHaveLength(1);
    await onRedis(rw?.addresses[0] ?? '', rw?.port ?? 0, async (r) => {
      for (let i = 0; i < 200; i++) await r.set(`before:${i}`, `v${i}`);
      // Acknowledged by the replica before the handover.
      expect(await r.call('WAIT', '1', '5000')).toBe(1);
    });
    const spec = { type: 'Switchover', switchover: { candidate: 'cache-1' } };
    const plan = await preview('switch', 'RedisService', 'cache', spec);
    expect(plan.status?.candidate).toBe('cache-1');
    expect(plan.status?.steps?.map((s) => s.name)).toEqual(['check', 'switch-source', 'wait-source']);
    expect(plan.status?.steps?.[0]?.message).toBe(`ready: service cache: found; cluster ${MEMBER}: Ready; service cache: Ready (2/2); candidate cache-1 in sync: yes`);
    expect(plan.status?.steps?.[1]?.message).toMatch(/^would change: name the candidate as the source of the member's RedisReplication/);

    const o = await run('switch', 'RedisService', 'cache', spec, 300);
    expect(o.status?.steps?.map((s) => s.name)).toEqual(plan.status?.steps?.map((s) => s.name));
    expect(steps(o)).toEqual(['check:Succeeded', 'switch-source:Succeeded', 'wait-source:Succeeded']);
    expect(o.status?.steps?.find((s) => s.name === 'switch-source')?.attempts).toBe(1);
    expect(o.status?.candidate).toBe('cache-1');
    const after = await redisStatus();
    expect(after.master).toBe('cache-1');
    expect(after.units?.filter((u) => u.role === 'source').map((u) => u.name)).toEqual(['cache-1']);
    // The new master takes writes and has every key written before.
    const ip1 = await unitIp('cache-1');
    await onRedis(ip1, 6379, async (r) => {
      expect(String(await r.call('ROLE')).split(',')[0]).toBe('master');
      const values = await Promise.all(Array.from({ length: 200 }, (_, i) => r.get(`before:${i}`)));
      expect(values.filter((v, i) => v !== `v${i}`)).toEqual([]);
      expect(await r.set('after', 'switch')).toBe('OK');
    });
    // Every Sentinel watches the new master.
    const sentinels = (after.units ?? []).filter((u) => u.role === 'sentinel').map((u) => u.name);
    expect(sentinels).toHaveLength(3);
    const masters = await Promise.all(sentinels.map(async (s) => onRedis(await unitIp(s), 26379, async (r) => (await r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'cache')) as string[])));
    expect(masters.map((m) => m[0])).toEqual([ip1, ip1, ip1]);
    // The hub's mirror took the member's spec.source as its own: nothing was put back.
    const rr = await p.member.get<RedisReplication>(RedisReplicationResource, 'cache', project);
    expect(rr.spec.source.unit).toBe('cache-1');
  }, 360_000);

  it('scales the Redis service 2 -> 3 servers: the new one replicates the master, the Sentinels are not counted', async () => {
    const o = await run('grow-cache', 'RedisService', 'cache', { type: 'Scale', scale: { replicas: 3 } }, 300);
    expect(steps(o)).toEqual(['check:Succeeded', 'set-replicas:Succeeded', 'wait-ready:Succeeded']);
    const st = await redisStatus();
    expect(st.ready).toBe('3/3');
    expect(st.master).toBe('cache-1');
    expect(st.units?.filter((u) => u.role === 'replica').map((u) => u.name).sort()).toEqual(['cache-0', 'cache-2']);
    await onRedis(await unitIp('cache-2'), 6379, async (r) => {
      await waitFor('the key on cache-2', async () => (await r.get('after')) === 'switch', { timeoutMs: 20_000, intervalMs: 200 });
      expect(await r.get('before:199')).toBe('v199');
    });
  }, 360_000);

  it('fails a Redis switchover to a server that is no replica at its precondition, naming the field, before anything changes', async () => {
    await as(['create', '-f', '-'], operation('to-sentinel', 'RedisService', 'cache', { type: 'Switchover', switchover: { candidate: 'cache-sentinel-0' } }));
    const o = await waitFor('to-sentinel Failed', async () => { const x = await getOp('to-sentinel'); return x.status?.phase === 'Failed' ? x : undefined; }, { timeoutMs: 30_000, intervalMs: 250 });
    expect(o.status?.message).toBe('step check failed: precondition: spec.switchover.candidate: cache-sentinel-0 is not a Redis server of service cache; nothing was changed');
    expect(steps(o)).toEqual(['check:Failed', 'switch-source:Cancelled', 'wait-source:Cancelled']);
    expect((await redisStatus()).master).toBe('cache-1');
  });

  // ---- Redis Cluster ----------------------------------------------------------------------------------------------

  const keys = Array.from({ length: 1000 }, (_, i) => `key:${i}`);
  const clusterClient = async () => {
    const st = (await p.hubObject('redisclusterservice', 'rc')).status ?? {};
    const rw = st.endpoints?.find((e) => e.role === 'readwrite');
    const secret = await p.member.get<Secret>(Resources.secrets, 'rc-credentials', project);
    const cl = new Cluster((rw?.addresses ?? []).map((host) => ({ host, port: rw?.port ?? 0 })), {
      redisOptions: { username: b64(secret.data?.['admin-username']), password: b64(secret.data?.['admin-password']) }, maxRedirections: 64,
    });
    cl.on('error', () => undefined);
    clients.push(cl);
    return cl;
  };
  /** Every key read back through a fresh cluster client, and the masters that hold slots (the cluster's own view). */
  const readBack = async () => {
    const cl = await clusterClient();
    try {
      const values = await Promise.all(keys.map((k) => cl.get(k)));
      const nodes = parseClusterNodes(String(await cl.nodes('master')[0]?.call('CLUSTER', 'NODES')));
      const masters = nodes.filter((n) => n.role === 'master' && n.slots.length > 0);
      const counts = await Promise.all(cl.nodes('master').map((n) => n.dbsize()));
      return { lost: keys.filter((k, i) => values[i] !== `value:${k}`), masters: masters.length, nodes: nodes.length, keysOnMasters: counts.reduce((a, b) => a + b, 0) };
    } finally { cl.disconnect(); }
  };

  it('grows the Redis Cluster 3 -> 4 shards with 1,000 keys: done once the slots are settled, every key read back', async () => {
    const cl = await clusterClient();
    try { await Promise.all(keys.map((k) => cl.set(k, `value:${k}`))); } finally { cl.disconnect(); }
    expect((await readBack()).lost).toEqual([]);
    const spec = { type: 'Scale', scale: { shards: 4 } };
    const plan = await preview('grow-rc', 'RedisClusterService', 'rc', spec);
    expect(plan.status?.steps?.map((s) => s.name)).toEqual(['check', 'set-shards', 'wait-ready']);
    expect(plan.status?.steps?.[0]?.message).toBe(`ready: service rc: found; cluster ${MEMBER}: Ready; service rc: Ready (6/6); spec.scale.shards: 4 shards (3 to 128)`);
    expect(plan.status?.steps?.[2]?.description).toBe('wait until every server is ready and the slots are settled: all assigned, none moving, no node leaving');
    const o = await run('grow-rc', 'RedisClusterService', 'rc', spec, 480);
    expect(o.status?.steps?.map((s) => s.name)).toEqual(plan.status?.steps?.map((s) => s.name));
    expect(steps(o)).toEqual(['check:Succeeded', 'set-shards:Succeeded', 'wait-ready:Succeeded']);
    expect(o.status?.steps?.[2]?.message).toBe('service rc: Ready (8/8)');
    // When the Operation said so, the slots were settled: nothing moving, 4 masters holding them.
    const st = (await p.hubObject('redisclusterservice', 'rc')).status ?? {};
    expect(st).toMatchObject({ ready: '8/8', shards: 4, slotsAssigned: 16384, reshard: '', leavingNodes: 0 });
    expect(await readBack()).toEqual({ lost: [], masters: 4, nodes: 8, keysOnMasters: 1000 });
  }, 600_000);

  it('shrinks the Redis Cluster 4 -> 3 shards: the leaving shard is drained before its servers go, every key read back', async () => {
    // The member watched meanwhile: the UnitSet's size and whether the RedisCluster still moves slots or has nodes leaving.
    const seen: { units: number; busy: boolean }[] = [];
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const [us, rcm] = await Promise.all([p.member.get<UnitSet>(UnitSetResource, 'rc', project), p.member.get<RedisCluster>(RedisClusterResource, 'rc', project)]);
        seen.push({ units: us.spec.units ?? 0, busy: !!rcm.status?.migration || (rcm.status?.leaving ?? []).length > 0 || rcm.status?.observedGeneration !== rcm.metadata.generation });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    let o: Op;
    try {
      o = await run('shrink-rc', 'RedisClusterService', 'rc', { type: 'Scale', scale: { shards: 3 } }, 300);
    } finally { watching = false; await watch; }
    // No server was removed while its slots could still be on it.
    expect(seen.filter((x) => x.units < 8 && x.busy)).toEqual([]);
    expect(seen.at(-1)?.units).toBe(6);
    // The leaving shard's slots moved with their keys (the RedisCluster says so in an Event).
    const moved = (await p.member.list<KubeObject & { reason?: string; message?: string; involvedObject?: { kind?: string; name?: string } }>(Resources.events, { namespace: project })).items
      .filter((e) => e.involvedObject?.kind === 'RedisCluster' && e.reason === 'Resharding').map((e) => e.message ?? '');
    expect(moved).toContainEqual(expect.stringContaining('draining nodes that left the spec'));
    expect(steps(o)).toEqual(['check:Succeeded', 'set-shards:Succeeded', 'wait-ready:Succeeded']);
    const st = (await p.hubObject('redisclusterservice', 'rc')).status ?? {};
    expect(st).toMatchObject({ ready: '6/6', shards: 3, slotsAssigned: 16384, reshard: '', leavingNodes: 0 });
    expect(await readBack()).toEqual({ lost: [], masters: 3, nodes: 6, keysOnMasters: 1000 });
  }, 600_000);

  // ---- ZooKeeper ----------------------------------------------------------------------------------------------------

  it('refuses a ZooKeeper scale below 3 servers or to an even count, and a Redis Cluster below 3 shards, at the API, naming the field', async () => {
    const refused = async (name: string, replicas: number) => {
      const r = await kubectlAs(p.kc, ['create', '-f', '-'], operation(name, 'ZookeeperService', 'zk', { type: 'Scale', scale: { replicas } }));
      expect(r.code).not.toBe(0);
      return r.stderr;
    };
    expect(await refused('zk-one', 1)).toContain('spec.scale.replicas: Invalid value: 1: a ZookeeperService has 3 to 7 servers');
    expect(await refused('zk-four', 4)).toContain('spec.scale.replicas: Invalid value: 4: must be odd');
    const shards = await kubectlAs(p.kc, ['create', '-f', '-'], operation('rc-two', 'RedisClusterService', 'rc', { type: 'Scale', scale: { shards: 2 } }));
    expect(shards.stderr).toContain('spec.scale.shards: Invalid value: 2: must be >= 3');
  });

  it('restarts one ZooKeeper follower only when the Restart names it: its engine restarts once, the leader and the other follower run on, the data stays', async () => {
    const svc0 = await p.hubObject('zookeeperservice', 'zk');
    const follower = svc0.status?.units?.find((u) => u.role === 'follower')?.name ?? '';
    const others = ['zk-0', 'zk-1', 'zk-2'].filter((u) => u !== follower);
    expect(follower).toMatch(/^zk-\d$/);
    const conn = await connectionOf(p, 'zookeeperservice', 'zk');
    const rw = svc0.status?.endpoints?.find((e) => e.role === 'readwrite');
    const w = await waitFor('a ZooKeeper session', () => ZkSession.open(rw?.addresses?.[0] ?? '', rw?.port ?? 0, { timeoutMs: 5000 }).catch(() => undefined), { timeoutMs: 30_000, intervalMs: 250 });
    try {
      await w.addDigestAuth(`${conn.user ?? ''}:${conn.password ?? ''}`);
      expect(await w.create('/before-restart', 'kept')).toBe('/before-restart');
    } finally { await w.close(); }

    const spec = { type: 'Restart', restart: { servers: [follower] } };
    const plan = await preview('zk-restart-one', 'ZookeeperService', 'zk', spec);
    expect(plan.status?.steps?.[0]?.message).toContain(`servers: 1 of 3 (${others.join(', ')} left alone)`);
    expect(plan.status?.steps?.[1]?.description).toBe(`ask the member to restart only ${follower} once in the engine's order among them (${follower}: the leader last if among them; the others are left alone)`);
    const watch = await watchEngineRestarts(p.member, project, 'zk');
    const o = await run('zk-restart-one', 'ZookeeperService', 'zk', spec, 300);
    const engines = await watch.stop();
    expect(steps(o)).toEqual(['check:Succeeded', 'request-restart:Succeeded', 'wait-restarted:Succeeded']);
    const id = o.metadata.uid ?? '';
    const svc = await p.hubObject('zookeeperservice', 'zk');
    expect(svc.spec.restart).toEqual({ id, servers: [follower] });
    expect(svc.status?.restart).toMatchObject({ id, phase: 'Complete', done: [follower] });
    // The ensemble passed it to its UnitSet as spec.restart (no new revision: the others keep theirs) and reports it.
    const zke = await p.member.get<KubeObject & { status?: { unitRestart?: Record<string, unknown> } }>(ZookeeperEnsembleResource, 'zk', project);
    expect(zke.status?.unitRestart).toMatchObject({ id, phase: 'Complete', order: [follower], done: [follower] });
    const us = await p.member.get<UnitSet>(UnitSetResource, 'zk', project);
    expect(us.spec.restart).toEqual({ id, order: [follower], units: [follower] });
    // The engines: the follower's process was replaced (its first one is gone), the others kept theirs throughout.
    process.stdout.write(`zookeeper engines while restarting ${follower}: ${JSON.stringify(Object.fromEntries(engines))}\n`);
    expect(engines.get(follower)?.length).toBeGreaterThanOrEqual(2);
    expect(running(pidOf(engines.get(follower)?.[0]))).toBe(false);
    for (const u of others) {
      expect(`${u}: ${engines.get(u)?.length}`).toBe(`${u}: 1`);
      expect(running(pidOf(engines.get(u)?.[0]))).toBe(true);
    }
    const units = await p.member.list<Unit>(UnitResource, { namespace: project, labelSelector: 'unit.upm.io/unitset=zk' });
    for (const u of units.items) expect(`${u.metadata.name}: ${u.status?.lastRestartId === id}`).toBe(`${u.metadata.name}: ${u.metadata.name === follower}`);
    // The data: the znode written before is read from every server, the restarted one included.
    for (const ip of rw?.addresses ?? []) {
      const r = await waitFor(`a session on ${ip}`, () => ZkSession.open(ip, rw?.port ?? 0, { timeoutMs: 5000 }).catch(() => undefined), { timeoutMs: 30_000, intervalMs: 250 });
      try {
        await r.sync('/before-restart');
        expect(`${ip}=${(await r.getData('/before-restart')).data.toString()}`).toBe(`${ip}=kept`);
      } finally { await r.close(); }
    }
  }, 420_000);

  it('scales the ZooKeeper ensemble 3 -> 5: a znode written before it read from every server after', async () => {
    const zkClient = async () => (await p.hubObject('zookeeperservice', 'zk')).status?.endpoints?.find((e) => e.role === 'readwrite');
    const open = (ip: string, port: number) => waitFor(`a session on ${ip}`, () => ZkSession.open(ip, port, { timeoutMs: 5000 }).catch(() => undefined), { timeoutMs: 30_000, intervalMs: 250 });
    const before = await zkClient();
    // Written with the application account of the connection Secret, as the editor reads it (anonymous clients may not).
    const conn = await connectionOf(p, 'zookeeperservice', 'zk');
    const w = await open(before?.addresses?.[0] ?? '', before?.port ?? 0);
    try {
      await w.addDigestAuth(`${conn.user ?? ''}:${conn.password ?? ''}`);
      expect(await w.create('/before-scale', 'kept')).toBe('/before-scale');
    } finally { await w.close(); }

    const o = await run('grow-zk', 'ZookeeperService', 'zk', { type: 'Scale', scale: { replicas: 5 } }, 480);
    expect(steps(o)).toEqual(['check:Succeeded', 'set-replicas:Succeeded', 'wait-ready:Succeeded']);
    const st = (await p.hubObject('zookeeperservice', 'zk')).status ?? {};
    expect(st.ready).toBe('5/5');
    expect(st.units?.filter((u) => u.role === 'leader')).toHaveLength(1);
    const after = await zkClient();
    expect(after?.addresses).toHaveLength(5);
    for (const ip of after?.addresses ?? []) {
      const r = await open(ip, after?.port ?? 0);
      try {
        await r.sync('/before-scale');
        expect(`${ip}=${(await r.getData('/before-scale')).data.toString()}`).toBe(`${ip}=kept`);
      } finally { await r.close(); }
    }
  }, 600_000);
});
