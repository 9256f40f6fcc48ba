// Failover of a Redis service with Sentinel, run by the hub: a project editor asks with kubectl against the hub for a
// real RedisService of 3 servers and 3 Sentinels on member1. While the master is up a Failover is refused at its check
// before anything changes. Once the master's engine is lost (killed, and nothing restarts it) the Sentinels elect a
// new master by themselves: a Failover without a candidate waits for that election and reports it, changing nothing,
// and the server it names is the one every Sentinel and the member's RedisReplication name; the keys written before
// are read from it and it takes writes. Then, the old master back as a replica, a Failover naming a replica: the
// Sentinels are made slow to judge a master down (so that they cannot elect by themselves first), the master is lost
// again, and the replica named is the one Sentinel would NOT pick by itself (by the priorities, offsets and run ids it
// reports); the Compose Operator holds the other at replica-priority 0 and asks one Sentinel to fail over, exactly
// once: the named replica is master, a write with the connection Secret's account through the readwrite endpoint
// reaches the other replica, and every priority is back.
import { expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { RedisReplicationResource, type RedisReplication } from '../../lib/api/compose.upm.io.generated.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { describeHub } from '../hub.ts';
import { MEMBER, useHubProject } from '../hub-member.ts';
import { b64, mysqlSuite } from '../mysql.ts';
import { operationsOf } from '../operations.ts';
import { hearSentinels } from '../sentinel-events.ts';

const KEYS = 100;

describeHub('Failover of a Redis service with Sentinel run by the hub', () => {
  const p = useHubProject('hubsfail');
  const { operation, getOp, preview, steps, waitSucceeded } = operationsOf(p, { kind: 'RedisService', name: 'cache' });
  // The unit-level helpers (a unit's address, losing its engine) are the same for every engine.
  const units = mysqlSuite(p.fixture, MEMBER, 'cache');
  const rr = () => p.member.get<RedisReplication>(RedisReplicationResource, 'cache', p.project);
  const on = async <T>(host: string, port: number, f: (r: Redis) => Promise<T>): Promise<T> => {
    const r = new Redis({ host, port, lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => undefined);
    try { await r.connect(); return await f(r); } finally { r.disconnect(); }
  };
  const sentinels = ['cache-sentinel-0', 'cache-sentinel-1', 'cache-sentinel-2'];
  /** The master address each Sentinel reports for the service. */
  const sentinelMasters = async () => Promise.all(sentinels.map(async (s) => on(await units.ipOf(s), 26379, async (r) => ((await r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'cache')) as string[])[0])));
  /** What each Sentinel thinks of the master and the replicas (a string when it cannot be asked). */
  interface SentinelView { name: string; master: string; flags: string; others: number; failover: string; replicas: { ip: string; flags: string; link: string }[] }
  const sentinelViews = async (): Promise<(SentinelView | string)[]> => Promise.all(sentinels.map(async (s) => on(await units.ipOf(s), 26379, async (r) => {
    const pairs = (xs: unknown): Record<string, string> => { const a = xs as string[]; return Object.fromEntries(a.flatMap((_, i) => (i % 2 ? [] : [[a[i], a[i + 1]]]))); };
    const m = pairs(await r.call('SENTINEL', 'MASTER', 'cache'));
    const replicas = ((await r.call('SENTINEL', 'REPLICAS', 'cache')) as unknown[]).map(pairs).map((x) => ({ ip: x.ip ?? '', flags: x.flags ?? '', link: x['master-link-status'] ?? '' }));
    return { name: s, master: m.ip ?? '', flags: m.flags ?? '', others: Number(m['num-other-sentinels']), failover: m['failover-state'] ?? '', replicas };
  }).catch((e: unknown) => `${s}: ${String(e)}`)));
  const shown = async () => JSON.stringify(await sentinelViews());

  it('has a RedisService of 3 servers with 3 Sentinels Ready on member1, keys written; a Failover while the master is up is refused', async () => {
    await p.as(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'upm.io/v1alpha1', kind: 'RedisService', metadata: { name: 'cache', namespace: p.project },
      spec: {
        version: '7.2', topology: { mode: 'replication', replicas: 3 }, options: { sentinel: { enabled: true } }, placement: { cluster: MEMBER },
        resources: { cpu: '250m', memory: '256Mi' }, storage: { size: '1Gi' },
      },
    }));
    const st = await p.hubReaches('redisservice', 'cache', 'the service Ready with cache-0 the master', (s) => s.phase === 'Ready' && s.ready === '3/3' && s.master === 'cache-0', 300_000);
    expect(st.units?.filter((u) => u.role === 'sentinel').map((u) => u.name).sort()).toEqual(sentinels);
    const rw = st.endpoints?.find((e) => e.role === 'readwrite');
    await on(rw?.addresses[0] ?? '', rw?.port ?? 6379, async (r) => {
      for (let i = 0; i < KEYS; i++) await r.set(`before:${i}`, `v${i}`);
      // Both replicas have every key before the master is lost, so whichever is elected holds them.
      expect(await r.call('WAIT', '2', '5000')).toBe(2);
    });
    // A Sentinel learns of the replicas from the master's INFO (every 10 s) and one that knows none when the master is
    // lost cannot elect: the service is Ready only once every Sentinel knows both replicas and the other Sentinels.
    const ip0 = await units.ipOf('cache-0');
    const known = (v: SentinelView | string) => typeof v !== 'string' && v.master === ip0 && v.others === 2 && v.replicas.filter((r) => r.link === 'ok').length === 2;
    const views = await sentinelViews();
    expect(views.filter((v) => !known(v))).toEqual([]);

    const up = 'spec.type: the source cache-0 is up and takes writes: a Failover is only for a source that is down; use a Switchover';
    const before = await rr();
    await p.as(['create', '-f', '-'], JSON.stringify(operation('too-soon', { type: 'Failover' })));
    const o = await waitFor('the Failover failed', async () => { const x = await getOp('too-soon'); return x.status?.phase === 'Failed' ? x : undefined; }, { timeoutMs: 60_000 });
    expect(steps(o)).toEqual(['check:Failed', 'set-source:Cancelled', 'wait-promoted:Cancelled']);
    expect(o.status?.message).toBe(`step check failed: precondition: ${up}; nothing was changed`);
    const after = await rr();
    expect(after.spec).toEqual(before.spec);
    expect(after.status?.source).toBe('cache-0');
    expect((await p.hubObject('redisservice', 'cache')).status?.master).toBe('cache-0');
  }, 360_000);

  let lost: { restore(): Promise<void> } | undefined;
  let elected = '';
  it('with the master lost, a Failover without a candidate waits for the Sentinels\' election and reports the server they elected', async () => {
    lost = await units.loseEngine('cache-0');
    // The Operation is asked for once the member sees the master down (before that its check would find it up).
    await waitFor('the member sees cache-0 down', async () => (await rr()).status?.topology?.['cache-0']?.status !== 'Healthy', { timeoutMs: 60_000, intervalMs: 250 });
    const asked = Date.now();
    await p.as(['create', '-f', '-'], JSON.stringify(operation('elected', { type: 'Failover' })));
    const o = await waitSucceeded('elected', 180).catch(async (e: unknown) => { throw new Error(`${String(e)}; Sentinels: ${await shown()}`); });
    expect(steps(o)).toEqual(['check:Succeeded', 'set-source:Succeeded', 'wait-promoted:Succeeded']);
    elected = o.status?.candidate ?? '';
    expect(['cache-1', 'cache-2']).toContain(elected);

    // The member's RedisReplication recorded the Sentinels' election of that server; the Operation changed nothing.
    const x = await rr();
    expect(x.status?.source).toBe(elected);
    expect(x.spec.source).toMatchObject({ name: elected, unit: elected });
    expect(x.status?.lastFailover).toMatchObject({ from: 'cache-0', to: elected, by: 'Sentinel' });
    const at = x.status?.lastFailover?.time ?? '';
    expect(o.status?.steps?.[0]?.message).toContain(`the engine already failed over from cache-0 to ${elected} at ${at} (cache-0 is still down): nothing left to do`);
    expect(o.status?.steps?.[1]?.message).toBe(`nothing asked: the engine already promoted ${elected}`);
    expect(o.status?.steps?.[1]?.attempts ?? 0).toBe(0);
    expect(o.status?.steps?.[2]?.message).toBe(`${elected} takes the writes (promoted from cache-0 by the Sentinel)`);
    process.stdout.write(`Failover "elected": the Sentinels elected ${elected} at ${at}, ${Date.parse(at) - asked} ms after the Operation was asked for; Succeeded at ${o.status?.completionTime ?? '?'}\n`);

    // Every Sentinel names that server's address as the master.
    const ip = await units.ipOf(elected);
    expect(await sentinelMasters()).toEqual([ip, ip, ip]);
    await p.hubReaches('redisservice', 'cache', `the hub naming ${elected} the master`, (s) => s.master === elected, 60_000);

    // The keys written before are on the new master, and it takes writes.
    await on(ip, 6379, async (r) => {
      expect(String(await r.call('ROLE')).split(',')[0]).toBe('master');
      const values = await Promise.all(Array.from({ length: KEYS }, (_, i) => r.get(`before:${i}`)));
      expect(values.filter((v, i) => v !== `v${i}`)).toEqual([]);
      expect(await r.set('after', 'failover')).toBe('OK');
    });
    const other = elected === 'cache-1' ? 'cache-2' : 'cache-1';
    await waitFor(`the write on ${other}`, async () => (await on(await units.ipOf(other), 6379, (r) => r.get('after'))) === 'failover', { timeoutMs: 30_000 });
  }, 300_000);

  it('with the master lost again, a Failover naming the replica the Sentinels would not pick promotes it through them, asking them once', async () => {
    expect(lost).toBeDefined();
    const servers = ['cache-0', 'cache-1', 'cache-2'];
    const master = elected;
    const replicas = servers.filter((u) => u !== master);
    // The old master is back: a replica of the elected one, and every Sentinel knows it as such.
    await lost?.restore();
    const ipOf = Object.fromEntries(await Promise.all(servers.map(async (u) => [u, await units.ipOf(u)] as const)));
    await waitFor('the member in sync again', async () => { const x = await rr(); return x.status?.ready && x.status.source === master ? x : undefined; }, { timeoutMs: 120_000 });
    // The Sentinels judge a master down only after 10 minutes (set on the member): they cannot elect by themselves
    // before the Failover asks them, so which replica is promoted is the request's doing.
    await p.member.patch(RedisReplicationResource, 'cache', { spec: { sentinel: { downAfterMilliseconds: 600_000 } } }, 'merge', { namespace: p.project });
    const sview = async (s: string) => on(await units.ipOf(s), 26379, async (r) => {
      const pairs = (xs: unknown): Record<string, string> => { const a = xs as string[]; return Object.fromEntries(a.flatMap((_, i) => (i % 2 ? [] : [[a[i], a[i + 1]]]))); };
      return { master: pairs(await r.call('SENTINEL', 'MASTER', 'cache')), replicas: ((await r.call('SENTINEL', 'REPLICAS', 'cache')) as unknown[]).map(pairs) };
    });
    await waitFor('every Sentinel slow, knowing both replicas in sync', async () => {
      const vs = await Promise.all(sentinels.map(sview));
      return vs.every((v) => v.master['down-after-milliseconds'] === '600000' && v.master.ip === ipOf[master]
        && replicas.every((u) => v.replicas.some((x) => x.ip === ipOf[u] && x['master-link-status'] === 'ok'))) ? vs : undefined;
    }, { timeoutMs: 90_000, intervalMs: 500 }).catch(async (e: unknown) => { throw new Error(`${String(e)}; Sentinels: ${await shown()}`); });
    const priority = async (u: string) => on(ipOf[u] ?? '', 6379, async (r) => Number(((await r.call('CONFIG', 'GET', 'replica-priority')) as string[])[1]));
    const before = Object.fromEntries(await Promise.all(replicas.map(async (u) => [u, await priority(u)] as const)));
    await on(ipOf[master] ?? '', 6379, async (r) => { await r.set('before-named', '1'); expect(await r.call('WAIT', '2', '5000')).toBe(2); });

    await units.loseEngine(master);
    await waitFor(`the member sees ${master} down`, async () => (await rr()).status?.topology?.[master]?.status !== 'Healthy', { timeoutMs: 60_000, intervalMs: 250 });
    // Whom Sentinel would promote by itself: the lowest non-zero priority, then the highest replication offset, then
    // the lowest run id, as the replicas report them (the master gone, they no longer move).
    const field = (text: string, k: string) => new RegExp(`^${k}:(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
    const order = (await Promise.all(replicas.map(async (u) => on(ipOf[u] ?? '', 6379, async (r) => {
      const info = String(await r.call('INFO', 'replication')) + String(await r.call('INFO', 'server'));
      return { unit: u, priority: await priority(u), offset: Number(field(info, 'slave_repl_offset')), runId: field(info, 'run_id') };
    })))).filter((x) => x.priority > 0)
      .sort((a, b) => a.priority - b.priority || b.offset - a.offset || a.runId.toLowerCase().localeCompare(b.runId.toLowerCase()));
    expect(order.map((x) => x.unit).sort()).toEqual([...replicas].sort());
    expect(order.every((x) => x.runId.length === 40)).toBe(true);
    // The Sentinels know both replicas by the same priorities.
    const known = (await sview('cache-sentinel-0')).replicas.filter((x) => replicas.some((u) => ipOf[u] === x.ip));
    expect(known).toHaveLength(2);
    expect(known.map((x) => Number(x['slave-priority']))).toEqual(known.map((x) => before[replicas.find((u) => ipOf[u] === x.ip) ?? '']));
    const sentinelPick = order[0]?.unit ?? '';
    const named = replicas.find((u) => u !== sentinelPick) ?? '';
    const other = sentinelPick;
    process.stdout.write(`Failover "named": master ${master} lost; Sentinel's own order ${JSON.stringify(order)}: it would pick ${sentinelPick}; the Failover names ${named}\n`);

    const plan = await preview('named', { type: 'Failover', failover: { candidate: named } });
    expect(plan.status?.message).toBe('plan: check, request-failover, wait-promoted');
    expect(plan.status?.steps?.[0]?.message).toContain(`source ${master}: down; candidate ${named}: a reachable replica`);
    expect(plan.status?.steps?.[0]?.message).toContain(`the Sentinels are asked to fail over to ${named}; the other replicas are held at priority 0 until it is done`);

    // Every Sentinel's announcements, to count the failovers they start and the master switches they make.
    const ears = await hearSentinels(await Promise.all(sentinels.map(async (name) => ({ name, host: await units.ipOf(name) }))), ['+try-failover', '+switch-master']);
    const { heard } = ears;
    try {
      await p.as(['create', '-f', '-'], JSON.stringify(operation('named', { type: 'Failover', failover: { candidate: named } })));
      const o = await waitSucceeded('named', 180).catch(async (e: unknown) => { throw new Error(`${String(e)}; Sentinels: ${await shown()}; member: ${JSON.stringify((await rr()).status)}`); });
      expect(steps(o)).toEqual(['check:Succeeded', 'request-failover:Succeeded', 'wait-promoted:Succeeded']);
      expect(o.status?.candidate).toBe(named);
      expect(o.status?.steps?.[1]?.attempts).toBe(1);
      expect(o.status?.steps?.[2]?.message).toBe(`${named} takes the writes (promoted from ${master} by the Sentinels, as requested)`);
      const x = await rr();
      const id = x.spec.failover?.request?.id ?? '';
      expect(x.spec.failover?.request).toEqual({ id, candidate: named });
      expect(x.spec.source).toMatchObject({ name: named, unit: named });
      expect(x.status?.lastFailover).toMatchObject({ from: master, to: named, by: 'Sentinel', request: id });
      expect(x.status?.failoverRequest).toMatchObject({ id, outcome: 'Done' });

      // The engines: the named replica is master, the other replicates from it.
      const role = async (u: string) => on(ipOf[u] ?? '', 6379, async (r) => String(await r.call('INFO', 'replication')));
      expect(await role(named)).toContain('role:master');
      await waitFor(`${other} replicating from ${named}`, async () => { const t = await role(other); return t.includes('role:slave') && t.includes(`master_host:${ipOf[named]}`) && t.includes('master_link_status:up'); }, { timeoutMs: 60_000 });
      expect(await sentinelMasters()).toEqual(sentinels.map(() => ipOf[named]));

      // A write with the connection Secret's account through the endpoint the hub reports reaches the other replica.
      const rw = await p.hubReaches('redisservice', 'cache', `the readwrite endpoint on ${named}`, (st) => st.master === named && st.endpoints?.find((e) => e.role === 'readwrite')?.addresses[0] === ipOf[named], 60_000);
      const sec = JSON.parse(await p.as(['get', 'secret', 'cache-connection', '-n', p.project, '-o', 'json'])) as KubeObject & { data: Record<string, string> };
      const endpoint = rw.endpoints?.find((e) => e.role === 'readwrite');
      const app = new Redis({ host: endpoint?.addresses[0] ?? '', port: Number(b64(sec.data.port)), username: b64(sec.data.user), password: b64(sec.data.password), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      app.on('error', () => undefined);
      try { await app.connect(); expect(await app.set('after-named', 'app')).toBe('OK'); } finally { app.disconnect(); }
      await waitFor(`the write on ${other}`, async () => (await on(ipOf[other] ?? '', 6379, (r) => r.get('after-named'))) === 'app', { timeoutMs: 30_000 });
      expect(await on(ipOf[named] ?? '', 6379, (r) => r.get('before-named'))).toBe('1');

      // Every replica's priority is back to what it was, and nothing is left held.
      await waitFor('the priorities put back', async () => {
        const now = Object.fromEntries(await Promise.all(replicas.map(async (u) => [u, await priority(u)] as const)));
        return JSON.stringify(now) === JSON.stringify(before) && !(await rr()).status?.requestedFailover ? now : undefined;
      }, { timeoutMs: 30_000 });
      // Asked once: one failover started (by the Sentinel asked), one switch of the master per Sentinel.
      await new Promise((res) => setTimeout(res, 2000));
      expect(heard.filter((h) => h.includes('+try-failover'))).toHaveLength(1);
      expect(heard.filter((h) => h.includes('+switch-master')).map((h) => h.split(' ')[0]).sort()).toEqual(sentinels);
      expect(heard.filter((h) => h.includes('+switch-master')).every((h) => h.includes(`${ipOf[master]} 6379 ${ipOf[named]} 6379`))).toBe(true);
      type Ev = KubeObject & { reason?: string; message?: string; count?: number };
      const asked = (await p.member.list<Ev>(Resources.events, { namespace: p.project, fieldSelector: 'involvedObject.kind=RedisReplication,involvedObject.name=cache,reason=FailingOver' })).items
        .filter((e) => e.message?.includes(`failover request ${id}: Sentinel`));
      expect(asked.map((e) => e.count ?? 1)).toEqual([1]);
      process.stdout.write(`Failover "named": ${named} promoted; heard ${JSON.stringify(heard)}\n`);
    } finally {
      ears.close();
    }
  }, 420_000);
});
