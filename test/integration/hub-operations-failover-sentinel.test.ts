// Failover of a Redis service with Sentinel, run by the hub: a project editor asks with kubectl against the hub for a
// real RedisService of 3 servers and 3 Sentinels on member1. While the master is up a Failover is refused at its check
// before anything changes. Once the master's engine is lost (killed, and nothing restarts it) the Sentinels elect a
// new master by themselves: a Failover without a candidate waits for that election and reports it, changing nothing,
// and the server it names is the one every Sentinel and the member's RedisReplication name; the keys written before
// are read from it and it takes writes.
import { expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { RedisReplicationResource, type RedisReplication } from '../../lib/api/compose.upm.io.generated.ts';
import { waitFor } from '../../lib/wait.ts';
import { describeHub } from '../hub.ts';
import { MEMBER, useHubProject } from '../hub-member.ts';
import { mysqlSuite } from '../mysql.ts';
import { operationsOf } from '../operations.ts';

const KEYS = 100;

describeHub('Failover of a Redis service with Sentinel run by the hub', () => {
  const p = useHubProject('hubsfail');
  const { operation, getOp, steps, waitSucceeded } = operationsOf(p, { kind: 'RedisService', name: 'cache' });
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

  it('with the master lost, a Failover without a candidate waits for the Sentinels\' election and reports the server they elected', async () => {
    await units.loseEngine('cache-0');
    // The Operation is asked for once the member sees the master down (before that its check would find it up).
    await waitFor('the member sees cache-0 down', async () => (await rr()).status?.topology?.['cache-0']?.status !== 'Healthy', { timeoutMs: 60_000, intervalMs: 250 });
    const asked = Date.now();
    await p.as(['create', '-f', '-'], JSON.stringify(operation('elected', { type: 'Failover' })));
    const o = await waitSucceeded('elected', 180).catch(async (e: unknown) => { throw new Error(`${String(e)}; Sentinels: ${await shown()}`); });
    expect(steps(o)).toEqual(['check:Succeeded', 'set-source:Succeeded', 'wait-promoted:Succeeded']);
    const elected = o.status?.candidate ?? '';
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
});
