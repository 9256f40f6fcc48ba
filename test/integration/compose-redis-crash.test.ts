// RedisReplication with Sentinel on real Redis servers and Sentinels, the Compose Operator killed right after it
// wrote a Sentinel failover into the spec (source and replicas swapped, a note in an annotation) and before status
// and the event followed. The next operator takes the record from the note: status.lastFailover is the note itself,
// the event is told once, the spec is not written again, and the Sentinels' epoch shows one failover only. Then a
// failover request to a named replica, the operator killed right after it asked a Sentinel: the next operator does
// not ask again, records the Sentinels' promotion of the candidate for that request and puts the priorities back.
import { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { RedisReplication } from '../../lib/api/compose.upm.io.generated.ts';
import { RedisReplicationResource } from '../../lib/api/compose.upm.io.generated.ts';
import type { Unit, UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { ANNOTATION_FAILOVER } from '../../operators/compose/redis/controller.ts';
import { redisWithSentinels } from '../fixtures.ts';
import { hearSentinels } from '../sentinel-events.ts';
import { kubectlOk } from '../kubectl.ts';
import { useUnitOperator } from '../unit-operator.ts';

const CLUSTER = 'member1';
const SENTINELS = ['rs-sentinel-0', 'rs-sentinel-1', 'rs-sentinel-2'];
type Event = KubeObject & { reason?: string; message?: string; count?: number; involvedObject?: { name?: string } };

async function once<T>(host: string, fn: (r: Redis) => Promise<T>, port = 6379): Promise<T> {
  const r = new Redis({ host, port, lazyConnect: true, connectTimeout: 1000, commandTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, enableReadyCheck: false });
  r.on('error', () => undefined);
  try { await r.connect(); return await fn(r); } finally { r.disconnect(); }
}

describe('RedisReplication failover with the Compose Operator killed after recording it in the spec', () => {
  const f = useUnitOperator(CLUSTER, 'crediscrash', { engines: true, compose: true });
  let c: KubeClient;
  let ns: string;
  beforeAll(() => { c = f.client; ns = f.ns; });

  const ipOf = async (unit: string) => (await c.get<Unit>(UnitResource, unit, ns)).status?.podIP ?? '';
  const rr = () => c.get<RedisReplication>(RedisReplicationResource, 'rs', ns);
  const events = async (reason: string) =>
    (await c.list<Event>(Resources.events, { namespace: ns })).items.filter((e) => e.involvedObject?.name === 'rs' && e.reason === reason).reduce((n, e) => n + (e.count ?? 1), 0);
  /** What each Sentinel says of the master: its address and the configuration epoch (one more per failover). */
  const sentinelView = async () => Promise.all(SENTINELS.map(async (s) => once(await ipOf(s), async (r) => {
    const flat = (await r.call('SENTINEL', 'MASTER', 'rs')) as string[];
    const m = new Map<string, string>();
    for (let i = 0; i + 1 < flat.length; i += 2) m.set(flat[i]!, flat[i + 1]!);
    return { addr: `${m.get('ip')}:${m.get('port')}`, epoch: Number(m.get('config-epoch')), replicas: Number(m.get('num-slaves')), sentinels: Number(m.get('num-other-sentinels')) };
  }, 26379)));
  const roleOf = async (unit: string) => once(await ipOf(unit), async (r) => /^role:(\w+)/m.exec(await r.info('replication'))?.[1]);

  it('finishes the record forward: status and the event follow from the note, nothing written or failed over twice', async () => {
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], redisWithSentinels(ns));
    for (const us of ['rs', 'rs-sentinel']) {
      await waitFor(`UnitSet ${us} ready`, async () => (await c.get<UnitSet>(UnitSetResource, us, ns)).status?.readyUnits === 3, { timeoutMs: 120_000 });
    }
    await waitFor('replication and Sentinels ready', async () => { const m = await rr(); return m.status?.ready === true && m.status.source === 'rs-0'; }, { timeoutMs: 90_000, intervalMs: 200 });
    await once(await ipOf('rs-0'), (r) => r.set('greeting', 'hello'));
    for (const u of ['rs-1', 'rs-2']) await waitFor(`greeting on ${u}`, async () => (await once(await ipOf(u), (x) => x.get('greeting'))) === 'hello', { timeoutMs: 10_000 });
    // Sentinels elect only a replica they know of, with a majority that knows each other: both learnt by gossip.
    await waitFor('every Sentinel knows both replicas and the other Sentinels', async () => (await sentinelView()).every((v) => v.replicas === 2 && v.sentinels === 2), { timeoutMs: 60_000, intervalMs: 500 });
    const before = await rr();
    const epochs = new Set((await sentinelView()).map((v) => v.epoch));
    expect(epochs.size).toBe(1);
    const epoch = [...epochs][0]!;

    // The operator that dies the moment it has written the failover into the spec.
    const died = await f.crashComposeAt('redis-failover-recorded');
    const agent = await f.loseEngine('rs-0');
    await died(60_000);

    // At the kill: the Sentinels promoted a replica (one failover: the epoch went up by one) and the spec names it,
    // with the note; status still says nothing of it and no event was told.
    const atKill = await rr();
    const promoted = atKill.spec.source.name;
    expect(['rs-1', 'rs-2']).toContain(promoted);
    const other = promoted === 'rs-1' ? 'rs-2' : 'rs-1';
    expect(atKill.metadata.generation).toBe((before.metadata.generation ?? 0) + 1);
    expect(atKill.spec.replicas?.map((r) => r.name).sort()).toEqual(['rs-0', other]);
    const note = JSON.parse(atKill.metadata.annotations?.[ANNOTATION_FAILOVER] ?? '{}') as Record<string, unknown>;
    expect(note).toMatchObject({ from: 'rs-0', to: promoted, by: 'Sentinel' });
    expect(atKill.status?.lastFailover).toBeUndefined();
    expect(atKill.status?.source).not.toBe(promoted);
    expect(await events('FailedOver')).toBe(0);
    expect(await roleOf(promoted)).toBe('master');
    // A majority of the Sentinels name it with the epoch of one failover (the leader names the old master until it
    // has re-pointed the replicas); none has seen a second failover.
    const views = await sentinelView();
    const promotedAddr = `${await ipOf(promoted)}:6379`;
    expect(views.filter((v) => v.addr === promotedAddr && v.epoch === epoch + 1).length).toBeGreaterThanOrEqual(2);
    expect(views.every((v) => v.epoch <= epoch + 1)).toBe(true);

    await f.restartCompose();
    const done = await waitFor('the failover in status', async () => {
      const m = await rr();
      return m.status?.lastFailover?.to === promoted && m.status.source === promoted && m.status.topology?.[other]?.ready === true ? m : undefined;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    // status.lastFailover is the note itself (same time: recorded from it, not a second failover), told once; the
    // spec was not written again.
    expect(done.status?.lastFailover).toEqual(note);
    expect(await events('FailedOver')).toBe(1);
    expect(done.metadata.generation).toBe(atKill.metadata.generation);
    expect(await once(await ipOf(promoted), (r) => r.get('greeting'))).toBe('hello');

    // The lost server comes back as a replica of the promoted one; still one failover in the Sentinels' books.
    await agent.start();
    await kubectlOk(CLUSTER, ['-n', ns, 'annotate', 'un', 'rs-0', 'unit.upm.io/maintenance-']);
    await waitFor('rs-0 back as a replica, everything ready', async () => {
      const m = await rr();
      return m.status?.ready === true && m.status.topology?.['rs-0']?.role === 'Replica' && m.status.topology['rs-0'].masterLinkStatus === 'up';
    }, { timeoutMs: 90_000, intervalMs: 200 });
    expect(await roleOf('rs-0')).toBe('slave');
    await waitFor('every Sentinel names the promoted server', async () => (await sentinelView()).every((v) => v.addr === promotedAddr), { timeoutMs: 30_000, intervalMs: 500 });
    for (const v of await sentinelView()) expect(v).toMatchObject({ addr: promotedAddr, epoch: epoch + 1 });
    expect(await events('FailedOver')).toBe(1);
    expect((await rr()).metadata.generation).toBe(atKill.metadata.generation);
  }, 300_000);

  it('asks the Sentinels once for a requested failover, though the operator is killed right after asking', async () => {
    const before = await rr();
    const master = before.status?.source ?? '';
    const replicas = ['rs-0', 'rs-1', 'rs-2'].filter((u) => u !== master);
    const candidate = replicas[1] ?? '';
    // The Sentinels judge a master down only after 10 minutes: the failover is the request's alone.
    await c.patch(RedisReplicationResource, 'rs', { spec: { sentinel: { downAfterMilliseconds: 600_000 } } }, 'merge', { namespace: ns });
    await waitFor('every Sentinel slow', async () => (await Promise.all(SENTINELS.map(async (s) => once(await ipOf(s), async (r) => {
      const flat = (await r.call('SENTINEL', 'MASTER', 'rs')) as string[];
      return flat[flat.indexOf('down-after-milliseconds') + 1];
    }, 26379)))).every((v) => v === '600000'), { timeoutMs: 30_000, intervalMs: 250 });
    const epoch = Math.max(...(await sentinelView()).map((v) => v.epoch));
    const ears = await hearSentinels(await Promise.all(SENTINELS.map(async (name) => ({ name, host: await ipOf(name) }))), ['+try-failover', '+switch-master']);
    const { heard } = ears;
    try {
      const died = await f.crashComposeAt('redis-failover-requested');
      await f.loseEngine(master);
      await waitFor(`the operator sees ${master} down`, async () => (await rr()).status?.topology?.[master]?.status === 'Failed', { timeoutMs: 60_000, intervalMs: 250 });
      await c.patch(RedisReplicationResource, 'rs', { spec: { failover: { request: { id: 'crash-1', candidate } } } }, 'merge', { namespace: ns });
      await died(60_000);
      // At the kill the Sentinel was asked (noted in status first), the request not answered yet.
      const atKill = await rr();
      expect(atKill.status?.requestedFailover).toMatchObject({ id: 'crash-1', candidate });
      expect(atKill.status?.requestedFailover?.firedAt).toBeDefined();
      expect(atKill.status?.failoverRequest?.id).not.toBe('crash-1');

      await f.restartCompose();
      const done = await waitFor('the request done, priorities back', async () => {
        const m = await rr();
        return m.status?.failoverRequest?.id === 'crash-1' && !m.status.requestedFailover && m.status.source === candidate ? m : undefined;
      }, { timeoutMs: 90_000, intervalMs: 250 });
      expect(done.status?.failoverRequest).toMatchObject({ outcome: 'Done' });
      expect(done.status?.lastFailover).toMatchObject({ from: master, to: candidate, by: 'Sentinel', request: 'crash-1' });
      expect(await roleOf(candidate)).toBe('master');
      for (const u of replicas) expect(await once(await ipOf(u), async (r) => ((await r.call('CONFIG', 'GET', 'replica-priority')) as string[])[1])).toBe('100');
      // One failover started, one epoch more, one master switch per Sentinel.
      expect(heard.filter((h) => h.includes('+try-failover'))).toHaveLength(1);
      await waitFor('every Sentinel switched once', async () => heard.filter((h) => h.includes('+switch-master')).length === SENTINELS.length, { timeoutMs: 30_000 });
      expect(Math.max(...(await sentinelView()).map((v) => v.epoch))).toBe(epoch + 1);
      const asked = (await c.list<Event>(Resources.events, { namespace: ns })).items.filter((e) => e.involvedObject?.name === 'rs' && (e.message ?? '').startsWith('failover request crash-1: Sentinel'));
      expect(asked.map((e) => e.count ?? 1)).toEqual([1]);
    } finally {
      ears.close();
    }
  }, 240_000);
});
