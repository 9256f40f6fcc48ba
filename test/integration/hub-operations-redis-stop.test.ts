// Stop and Start of a real Redis service with Sentinel, run by the hub: a project editor asks with kubectl against the
// hub. Stop stops every Redis server and every Sentinel in place; the RedisReplication holds still (Stopped, not
// Degraded, its source and last failover unchanged) and the service shows Stopped. Start brings them back: Ready,
// the same master, the key written before there.
import { expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { RedisReplicationResource, type RedisReplication } from '../../lib/api/compose.upm.io.generated.ts';
import { UnitResource, UnitSetResource, type Unit, type UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { waitFor } from '../../lib/wait.ts';
import { describeHub } from '../hub.ts';
import { MEMBER, useHubProject } from '../hub-member.ts';
import { stopStartOf } from '../stop-start.ts';

describeHub('Stop and Start of a Redis service with Sentinel run by the hub', () => {
  const p = useHubProject('hubrstop');
  const { stop, start } = stopStartOf(p, { kind: 'RedisService', name: 'cache' });
  const conn = (host: string, port: number) => new Redis({ host, port, lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  const withMaster = async <T>(f: (r: Redis) => Promise<T>): Promise<T> => {
    const st = (await p.hubObject('redisservice', 'cache')).status;
    const rw = st?.endpoints?.find((e) => e.role === 'readwrite');
    const r = conn(rw?.addresses[0] ?? '', rw?.port ?? 6379);
    try { await r.connect(); return await f(r); } finally { r.disconnect(); }
  };
  let master = '';
  let lastFailover: unknown;

  it('has a RedisService of 3 servers and 3 Sentinels Ready on member1, with a key written', async () => {
    await p.as(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'upm.io/v1alpha1', kind: 'RedisService', metadata: { name: 'cache', namespace: p.project },
      spec: { version: '7.2', topology: { mode: 'replication', replicas: 3 }, options: { sentinel: { enabled: true } }, placement: { cluster: MEMBER }, resources: { cpu: '500m', memory: '256Mi' }, storage: { size: '1Gi' } },
    }));
    const st = await p.hubReaches('redisservice', 'cache', 'the service Ready', (s) => s.phase === 'Ready' && s.ready === '3/3', 240_000);
    master = String(st.master ?? '');
    expect(master).toMatch(/^cache-\d$/);
    expect(await withMaster((r) => r.set('kept', 'before the stop'))).toBe('OK');
    lastFailover = (await p.member.get<RedisReplication>(RedisReplicationResource, 'cache', p.project)).status?.lastFailover;
  }, 300_000);

  it('stops every server and Sentinel in place: the RedisReplication holds still, the service shows Stopped', async () => {
    await stop(300);
    for (const name of ['cache', 'cache-sentinel']) expect((await p.member.get<UnitSet>(UnitSetResource, name, p.project)).status?.phase).toBe('Stopped');
    for (const u of (await p.member.list<Unit>(UnitResource, { namespace: p.project, labelSelector: 'upm.io/service=cache' })).items) expect(`${u.metadata.name}: ${u.status?.phase}`).toBe(`${u.metadata.name}: Stopped`);
    await waitFor('the RedisReplication Stopped', async () => (await p.member.get<RedisReplication>(RedisReplicationResource, 'cache', p.project)).status?.phase === 'Stopped', { timeoutMs: 30_000, intervalMs: 250 });
    // Longer than the Sentinels' down-after: nothing fails over while stopped.
    await new Promise((r) => setTimeout(r, 8000));
    const rr = await p.member.get<RedisReplication>(RedisReplicationResource, 'cache', p.project);
    expect(rr.status?.phase).toBe('Stopped');
    expect(rr.status?.conditions?.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'False', reason: 'Stopped' });
    expect(rr.spec.source).toMatchObject({ unit: master });
    expect(rr.status?.lastFailover).toEqual(lastFailover);
  }, 360_000);

  it('starts them again: Ready, the same master, the key there', async () => {
    await start(300);
    const st = (await p.hubObject('redisservice', 'cache')).status;
    expect(st).toMatchObject({ phase: 'Ready', ready: '3/3', master });
    expect(await withMaster((r) => r.get('kept'))).toBe('before the stop');
  }, 360_000);
});
