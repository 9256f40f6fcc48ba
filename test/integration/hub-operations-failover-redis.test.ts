// Failover of a Redis service without Sentinel, run by the hub: a project editor asks with kubectl against the hub for
// a real RedisService of 3 servers on member1. Without Sentinel nothing fails the master over by itself. While the
// master is up a Failover is refused before anything changes (use a Switchover); once the master's engine is lost
// (killed, and nothing restarts it) the dry run shows the steps with the master down and the named replica reachable,
// and the Failover names cache-2 as the member RedisReplication's source: the Compose Operator promotes it, the other
// replica follows it, and a key written through the readwrite endpoint is read on that replica.
import { expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { parse } from 'yaml';
import { RedisReplicationResource, type RedisReplication } from '../../lib/api/compose.upm.io.generated.ts';
import { waitFor } from '../../lib/wait.ts';
import { describeHub } from '../hub.ts';
import { MEMBER, useHubProject } from '../hub-member.ts';
import { mysqlSuite } from '../mysql.ts';
import { operationsOf, type Op } from '../operations.ts';

describeHub('Failover of a Redis service without Sentinel run by the hub', () => {
  const p = useHubProject('hubrfail');
  const { operation, getOp, steps, waitSucceeded } = operationsOf(p, { kind: 'RedisService', name: 'cache' });
  // The unit-level helpers (a unit's address, losing its engine) are the same for every engine.
  const units = mysqlSuite(p.fixture, MEMBER, 'cache');
  const rr = () => p.member.get<RedisReplication>(RedisReplicationResource, 'cache', p.project);
  const conn = (host: string, port = 6379) => new Redis({ host, port, lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  const on = async <T>(host: string, f: (r: Redis) => Promise<T>): Promise<T> => {
    const r = conn(host);
    try { await r.connect(); return await f(r); } finally { r.disconnect(); }
  };
  const readwrite = async () => (await p.hubObject('redisservice', 'cache')).status?.endpoints?.find((e) => e.role === 'readwrite')?.addresses ?? [];
  const preview = async (name: string, spec: Record<string, unknown>) => parse(await p.as(['create', '--dry-run=server', '-o', 'yaml', '-f', '-'], JSON.stringify(operation(name, spec)))) as Op;
  const upMessage = 'spec.type: the source cache-0 is up and takes writes: a Failover is only for a source that is down; use a Switchover';

  it('has a RedisService of 3 servers without Sentinel Ready on member1, a key written; a Failover while the master is up is refused', async () => {
    await p.as(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'upm.io/v1alpha1', kind: 'RedisService', metadata: { name: 'cache', namespace: p.project },
      spec: { version: '7.2', topology: { mode: 'replication', replicas: 3 }, placement: { cluster: MEMBER }, resources: { cpu: '500m', memory: '256Mi' }, storage: { size: '1Gi' } },
    }));
    await p.hubReaches('redisservice', 'cache', 'the service Ready with cache-0 the master', (s) => s.phase === 'Ready' && s.ready === '3/3' && s.master === 'cache-0', 240_000);
    const [rw] = await readwrite();
    expect(await on(rw ?? '', (r) => r.set('before', '1'))).toBe('OK');

    expect((await preview('too-soon', { type: 'Failover' })).status?.steps?.[0]?.message).toBe(`would fail: ${upMessage}`);
    const before = await rr();
    await p.as(['create', '-f', '-'], JSON.stringify(operation('too-soon', { type: 'Failover' })));
    const o = await waitFor('the Failover failed', async () => { const x = await getOp('too-soon'); return x.status?.phase === 'Failed' ? x : undefined; }, { timeoutMs: 60_000 });
    expect(steps(o)).toEqual(['check:Failed', 'set-source:Cancelled', 'wait-promoted:Cancelled']);
    expect(o.status?.message).toBe(`step check failed: precondition: ${upMessage}; nothing was changed`);
    expect((await rr()).spec).toEqual(before.spec);
  }, 300_000);

  it('with the master lost, promotes the named replica through the RedisReplication source; writes go to it and reach the other replica', async () => {
    await units.loseEngine('cache-0');
    await p.hubReaches('redisservice', 'cache', 'no master on the hub', (s) => !s.master && s.units?.find((u) => u.name === 'cache-0')?.role === 'none', 60_000);
    const plan = await preview('promote', { type: 'Failover', failover: { candidate: 'cache-2' } });
    expect(plan.status?.message).toBe('plan: check, set-source, wait-promoted');
    expect(plan.status?.steps?.[0]?.message).toBe(`ready: service cache: found; cluster ${MEMBER}: Ready; source cache-0: down; candidate cache-2: a reachable replica`);

    await p.as(['create', '-f', '-'], JSON.stringify(operation('promote', { type: 'Failover', failover: { candidate: 'cache-2' } })));
    const o = await waitSucceeded('promote', 240);
    expect(steps(o)).toEqual(['check:Succeeded', 'set-source:Succeeded', 'wait-promoted:Succeeded']);
    expect(o.status?.candidate).toBe('cache-2');
    expect(o.status?.steps?.find((s) => s.name === 'set-source')?.attempts).toBe(1);
    expect(o.status?.steps?.[2]?.message).toBe('cache-2 takes the writes (promoted from cache-0 by the Operator)');
    const x = await rr();
    expect(x.spec.source).toMatchObject({ name: 'cache-2', unit: 'cache-2' });
    expect(x.status?.source).toBe('cache-2');
    expect(x.status?.lastFailover).toMatchObject({ from: 'cache-0', to: 'cache-2', by: 'Operator' });

    const cache2 = await units.ipOf('cache-2');
    await p.hubReaches('redisservice', 'cache', 'the readwrite endpoint on cache-2', (s) => s.master === 'cache-2' && JSON.stringify(s.endpoints?.find((e) => e.role === 'readwrite')?.addresses) === JSON.stringify([cache2]), 60_000);
    expect(await on(cache2, (r) => r.get('before'))).toBe('1');
    expect(await on(cache2, (r) => r.set('after', '2'))).toBe('OK');
    const cache1 = await units.ipOf('cache-1');
    await waitFor('the key on cache-1', async () => (await on(cache1, (r) => r.get('after'))) === '2', { timeoutMs: 30_000 });
  }, 360_000);
});
