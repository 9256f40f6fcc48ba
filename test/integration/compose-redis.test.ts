// RedisReplication on real Redis servers and real Sentinels (one per simulated pod, run by the engine runtime):
// wiring, read-only replicas and role labels, switchovers under a steady write load with every acknowledged write
// kept, a kill -9 of the Compose Operator in the middle of one, a Sentinel failover the operator follows, the former
// source returning as a replica without ever taking a write, no failover without Sentinels, and bad specs refused or
// reported.
//
// "Acknowledged" means replicated: Redis replication is asynchronous, so the writer follows every RPUSH with
// WAIT 1 and counts the write only when at least one replica has confirmed it. Such a write must survive a
// switchover and a Sentinel failover (Sentinel promotes the replica with the highest offset).
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AGENT_PORT } from '../../agent/api.ts';
import { AgentClient } from '../../agent/client.ts';
import { readUnitAgentToken } from '../../agent/tokens.ts';
import type { RedisReplication } from '../../lib/api/compose.upm.io.generated.ts';
import { RedisReplicationResource } from '../../lib/api/compose.upm.io.generated.ts';
import type { Unit, UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { redisWithSentinels } from '../fixtures.ts';
import { kubectl, kubectlOk } from '../kubectl.ts';
import { useUnitOperator } from '../unit-operator.ts';
import { killEngine } from '../signals.ts';

const CLUSTER = 'member1';
type Service = KubeObject & { spec?: { selector?: Record<string, string> } };
type Pod = KubeObject & { status?: { podIP?: string } };
type Event = KubeObject & { reason?: string; message?: string; count?: number; lastTimestamp?: string; involvedObject?: { name?: string } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SENTINEL = { downAfterMilliseconds: 2000, failoverTimeoutMilliseconds: 10000 };

function connect(host: string, port = 6379): Redis {
  const r = new Redis({ host, port, lazyConnect: true, connectTimeout: 1000, commandTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, enableReadyCheck: false });
  r.on('error', () => undefined);
  return r;
}
async function once<T>(host: string, fn: (r: Redis) => Promise<T>, port = 6379): Promise<T> {
  const r = connect(host, port);
  try { await r.connect(); return await fn(r); } finally { r.disconnect(); }
}

describe('RedisReplication with Sentinel on real Redis', () => {
  const f = useUnitOperator(CLUSTER, 'credis', { engines: true, compose: true });
  let c: KubeClient;
  let ns: string;
  beforeAll(() => { c = f.client; ns = f.ns; });
  // Client loops still running when a test fails are stopped here, so the suite always ends.
  const stoppers: (() => Promise<unknown>)[] = [];
  afterAll(async () => { await Promise.all(stoppers.map((stop) => stop())); });

  const ipOf = async (unit: string) => (await c.get<Unit>(UnitResource, unit, ns)).status?.podIP ?? '';
  const rr = () => c.get<RedisReplication>(RedisReplicationResource, 'rs', ns);
  const waitReady = (what: string, extra: (m: RedisReplication) => boolean = () => true, timeoutMs = 60_000) =>
    waitFor(what, async () => { const m = await rr(); return m.status?.ready === true && m.status.observedGeneration === m.metadata.generation && extra(m); }, { timeoutMs, intervalMs: 200 });
  const roles = async () => Promise.all(['rs-0', 'rs-1', 'rs-2'].map(async (p) => (await c.get<KubeObject>(Resources.pods, p, ns)).metadata.labels?.['compose.upm.io/role']));
  /** The address the readwrite Service leads to: the pods its selector picks (no Endpoints on a local cluster). */
  const readwrite = async (): Promise<string[]> => {
    const svc = await c.get<Service>(Resources.services, 'rs-readwrite', ns);
    const selector = Object.entries(svc.spec?.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
    return (await c.list<Pod>(Resources.pods, { namespace: ns, labelSelector: selector })).items.map((p) => p.metadata.name ?? '');
  };
  const events = async (match: (e: Event) => boolean) =>
    (await c.list<Event>(Resources.events, { namespace: ns })).items.filter((e) => e.involvedObject?.name === 'rs' && match(e)).reduce((n, e) => n + (e.count ?? 1), 0);
  const sentinelMasters = async () => Promise.all(['rs-sentinel-0', 'rs-sentinel-1', 'rs-sentinel-2'].map(async (s) =>
    once(await ipOf(s), async (r) => (await r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'rs')) as string[] | null, 26379)));

  /** Appends ids through the readwrite Service's pod; an id is acknowledged once WAIT 1 says a replica has it. */
  function writer() {
    const acked: number[] = [];
    let n = 0;
    let running = true;
    let failures = 0;
    const done = (async () => {
      let conn: Redis | undefined;
      while (running) {
        try {
          if (!conn) {
            const [pod] = await readwrite();
            if (!pod) { await sleep(50); continue; }
            conn = connect(await ipOf(pod));
            await conn.connect();
          }
          const id = ++n;
          await conn.rpush('log', String(id));
          if (Number(await conn.call('WAIT', '1', '2000')) >= 1) acked.push(id);
        } catch {
          failures++;
          conn?.disconnect();
          conn = undefined;
          await sleep(50);
        }
      }
      conn?.disconnect();
    })();
    const stop = async () => { running = false; await done; return failures; };
    stoppers.push(stop);
    return { acked, stop };
  }
  const lostWrites = async (source: string, acked: number[]) => {
    const have = new Set(await once(await ipOf(source), (r) => r.lrange('log', 0, -1)));
    return acked.filter((id) => !have.has(String(id)));
  };
  const switchTo = (to: string, others: string[]) => kubectlOk(CLUSTER, ['-n', ns, 'patch', 'rr', 'rs', '--type', 'merge', '-p',
    JSON.stringify({ spec: { source: { name: to, unit: to }, replicas: others.map((o) => ({ name: o, unit: o })) } })]);

  it('wires 1 source + 2 replicas watched by 3 Sentinels: data flows, replicas refuse writes, pods and Services carry the roles', async () => {
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], redisWithSentinels(ns, SENTINEL));
    for (const us of ['rs', 'rs-sentinel']) {
      await waitFor(`UnitSet ${us} ready`, async () => (await c.get<UnitSet>(UnitSetResource, us, ns)).status?.readyUnits === 3, { timeoutMs: 120_000 });
    }
    await waitReady('replication and Sentinels ready', undefined, 90_000);
    const m = await rr();
    expect(m.status?.source).toBe('rs-0');
    expect(m.status?.replicasReady).toBe('2/2');
    expect(m.status?.sentinelsReady).toBe('3/3');
    expect(m.status?.topology?.['rs-1']).toMatchObject({ role: 'Replica', masterHost: `${await ipOf('rs-0')}:6379`, masterLinkStatus: 'up', ready: true, minReplicasToWrite: 1 });
    expect(m.status?.sentinels?.s0).toMatchObject({ reachable: true, monitoring: `${await ipOf('rs-0')}:6379`, agrees: true, knownSentinels: 2 });
    expect(m.status?.conditions?.find((x) => x.type === 'SentinelReady')?.status).toBe('True');
    // Every Sentinel names the source.
    for (const addr of await sentinelMasters()) expect(addr).toEqual([await ipOf('rs-0'), '6379']);

    await once(await ipOf('rs-0'), (r) => r.set('greeting', 'hello'));
    for (const r of ['rs-1', 'rs-2']) {
      await waitFor(`greeting on ${r}`, async () => (await once(await ipOf(r), (x) => x.get('greeting'))) === 'hello', { timeoutMs: 10_000 });
      await expect(once(await ipOf(r), (x) => x.set('greeting', 'nope'))).rejects.toThrow(/READONLY/);
    }
    expect(await roles()).toEqual(['source', 'replica', 'replica']);
    expect(await readwrite()).toEqual(['rs-0']);
    const ro = await c.get<Service>(Resources.services, 'rs-readonly', ns);
    expect(ro.spec?.selector).toEqual({ 'compose.upm.io/redisreplication': 'rs', 'compose.upm.io/role': 'replica' });
    expect(await kubectlOk(CLUSTER, ['-n', ns, 'get', 'rr'])).toMatch(/rs\s+rs-0\s+true\s+Ready\s+2\/2\s+3\/3/);
  }, 420_000);

  it('switches over under a steady write load without losing an acknowledged write', async () => {
    const w = writer();
    await waitFor('writes flowing', async () => w.acked.length > 50, { timeoutMs: 20_000 });
    await switchTo('rs-1', ['rs-0', 'rs-2']);
    await waitReady('rs-1 is the source', (m) => m.status?.source === 'rs-1');
    const before = w.acked.length;
    await waitFor('writes flowing to the new source', async () => w.acked.length > before + 50, { timeoutMs: 20_000 });
    await w.stop();
    expect(await lostWrites('rs-1', w.acked)).toEqual([]);
    const m = await rr();
    expect(m.status?.lastSwitchover).toMatchObject({ from: 'rs-0', to: 'rs-1' });
    expect(m.status?.topology?.['rs-0']).toMatchObject({ role: 'Replica', masterHost: `${await ipOf('rs-1')}:6379` });
    expect(m.status?.topology?.['rs-2']).toMatchObject({ role: 'Replica', masterHost: `${await ipOf('rs-1')}:6379` });
    await expect(once(await ipOf('rs-0'), (x) => x.set('k', 'v'))).rejects.toThrow(/READONLY/);
    expect(await roles()).toEqual(['replica', 'source', 'replica']);
    expect(await readwrite()).toEqual(['rs-1']);
    for (const addr of await sentinelMasters()) expect(addr).toEqual([await ipOf('rs-1'), '6379']);
  }, 180_000);

  it('finishes a switchover after a kill -9 of the Compose Operator in the middle, without repeating a step', async () => {
    // The operator dies at the worst moment: the Sentinels no longer watch, the old source is fenced and already a
    // replica of the new one, which is not promoted yet. Nobody takes writes until the next operator finishes it.
    await f.restartCompose({ UPM_CRASH_AT: 'redis-switchover-demoted' });
    await waitReady('operator back', (m) => m.status?.source === 'rs-1');
    const w = writer();
    await waitFor('writes flowing', async () => w.acked.length > 50, { timeoutMs: 20_000 });
    const crashed = f.compose;
    await switchTo('rs-2', ['rs-0', 'rs-1']);
    await waitFor('the operator died at the crash point', () => crashed?.signalCode === 'SIGKILL', { timeoutMs: 30_000 });
    await f.restartCompose();
    await waitReady('rs-2 is the source', (m) => m.status?.source === 'rs-2');
    const before = w.acked.length;
    await waitFor('writes flowing to the new source', async () => w.acked.length > before + 50, { timeoutMs: 20_000 });
    await w.stop();
    expect(await lostWrites('rs-2', w.acked)).toEqual([]);
    // Each side effect happened once: the Sentinels removed once, rs-1 fenced and demoted once, rs-2 promoted once
    // (by the second operator, which found the job half done).
    const step = (text: string) => events((e) => e.reason === 'SwitchingOver' && (e.message ?? '').startsWith(`switchover rs-1 -> rs-2: ${text}`));
    expect(await step('Sentinels s0, s1, s2 stopped watching')).toBe(1);
    expect(await step('rs-1 fenced')).toBe(1);
    expect(await step('rs-2 has rs-1\'s offset')).toBe(1);
    expect(await step('rs-2 promoted, it takes writes (completing an interrupted switchover)')).toBe(1);
    expect(await step('rs-2 promoted')).toBe(1);
    expect(await events((e) => e.reason === 'SwitchedOver' && (e.message ?? '').startsWith('rs-2 takes writes now'))).toBe(1);
    expect(await roles()).toEqual(['replica', 'replica', 'source']);
    for (const addr of await sentinelMasters()) expect(addr).toEqual([await ipOf('rs-2'), '6379']);
  });

  it('follows a Sentinel failover when the source engine dies; writes resume; the old source returns as a replica and never takes a write', async () => {
    const w = writer();
    await waitFor('writes flowing', async () => w.acked.length > 50, { timeoutMs: 20_000 });
    // The source's node is lost: its engine is killed and nothing restarts it (the unit is handed off, the agent
    // told to leave the engine down).
    await kubectlOk(CLUSTER, ['-n', ns, 'annotate', 'un', 'rs-2', 'unit.upm.io/maintenance=true']);
    const agent = new AgentClient(await ipOf('rs-2'), AGENT_PORT, await readUnitAgentToken(c, ns, 'rs-2'));
    const pid = (await agent.status()).pid;
    const killedAt = Date.now();
    killEngine(pid);
    await agent.stop();
    await waitFor('the operator follows the Sentinels', async () => {
      const m = await rr();
      return !!m.status?.source && m.status.source !== 'rs-2' && m.spec.source.name === m.status.source;
    }, { timeoutMs: 60_000, intervalMs: 100 });
    const m = await rr();
    const promoted = m.status?.source as string;
    expect(m.status?.lastFailover).toMatchObject({ from: 'rs-2', to: promoted, by: 'Sentinel' });
    expect(m.spec.replicas?.map((r) => r.name).sort()).toEqual(['rs-0', 'rs-1', 'rs-2'].filter((x) => x !== promoted));
    const before = w.acked.length;
    await waitFor('writes resume on the new source', async () => w.acked.length > before + 20, { timeoutMs: 30_000 });
    process.stdout.write(`sentinel failover (down-after ${SENTINEL.downAfterMilliseconds} ms): writes acknowledged again ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill\n`);
    expect(await readwrite()).toEqual([promoted]);
    expect(await events((e) => e.reason === 'FailedOver' && (e.message ?? '').startsWith(`${promoted} is the source now (was rs-2)`))).toBe(1);

    // The old source comes back with its own data and its old role in its config: it must not take a write.
    const probes = { ok: 0, noReplicas: 0, readOnly: 0, firstNoReplicas: 0, firstReadOnly: 0 };
    let probing = true;
    const probe = (async () => {
      const host = await ipOf('rs-2');
      while (probing) {
        const r = await once(host, (x) => x.set('split-brain', 'x')).then(() => 'ok', (e: unknown) => String(e));
        if (r === 'ok') probes.ok++;
        else if (/NOREPLICAS/.test(r)) { probes.noReplicas++; probes.firstNoReplicas ||= Date.now(); }
        else if (/READONLY/.test(r)) { probes.readOnly++; probes.firstReadOnly ||= Date.now(); }
        await sleep(5);
      }
    })();
    stoppers.push(async () => { probing = false; await probe; });
    // What the restarted engine writes to its log from here on (the runtime appends each start to the pod's file).
    const logFile = join(f.dir, 'runtime', 'pods', (await c.get<Pod>(Resources.pods, 'rs-2', ns)).metadata.uid ?? '', 'redis.log');
    const logFrom = (await stat(logFile)).size;
    const restartedAt = Date.now();
    await agent.start();
    await kubectlOk(CLUSTER, ['-n', ns, 'annotate', 'un', 'rs-2', 'unit.upm.io/maintenance-']);
    await waitReady('rs-2 back as a replica', (x) => x.status?.topology?.['rs-2']?.role === 'Replica' && x.status.topology['rs-2'].masterLinkStatus === 'up', 60_000);
    await sleep(500);
    probing = false;
    await probe;
    // It answered as a master of its own (NOREPLICAS: min-replicas-to-write) until the operator re-pointed it.
    const asMaster = probes.firstNoReplicas ? `answered as a master of its own for ${probes.firstReadOnly - probes.firstNoReplicas} ms, then ` : '';
    process.stdout.write(`former source back: ${asMaster}re-pointed ${probes.firstReadOnly - restartedAt} ms after its engine was started again; writes refused: ${probes.noReplicas} as a master without replicas, ${probes.readOnly} as a replica; ${probes.ok} accepted\n`);
    // The probe samples; the engine counts. Since its restart rs-2 executed no SET from anyone (commandstats counts
    // every command run, whoever sent it; each refusal is a rejected call), and its log shows no replica ever asked it
    // for synchronization: with min-replicas-to-write 1 and no replica it could not have taken any write in between.
    const setStats = await once(await ipOf('rs-2'), async (x) => /^cmdstat_set:(.*)$/m.exec(await x.info('commandstats'))?.[1] ?? '');
    const setCount = (k: string) => Number(new RegExp(`(?:^|,)${k}=(\\d+)`).exec(setStats)?.[1] ?? 0);
    expect({ executed: setCount('calls'), failed: setCount('failed_calls') }).toEqual({ executed: 0, failed: 0 });
    expect(setCount('rejected_calls')).toBeGreaterThanOrEqual(probes.noReplicas + probes.readOnly);
    const since = (await readFile(logFile)).subarray(logFrom).toString('utf8');
    expect(since).toMatch(/MASTER <-> REPLICA sync|Connecting to MASTER/);
    expect(since.split('\n').filter((l) => /asks for synchronization/.test(l))).toEqual([]);
    expect(probes.readOnly).toBeGreaterThan(0);
    expect(probes.ok).toBe(0);
    const pointed = `pointed rs-2 at ${promoted} (${await ipOf(promoted)}:6379)`;
    expect(await events((e) => e.reason === 'Synced' && e.message === pointed && Date.parse(e.lastTimestamp ?? '') >= Math.floor(restartedAt / 1000) * 1000)).toBeGreaterThan(0);
    const after = w.acked.length;
    await waitFor('writes still flowing', async () => w.acked.length > after + 20, { timeoutMs: 20_000 });
    await w.stop();
    expect(await lostWrites(promoted, w.acked)).toEqual([]);
    expect(await once(await ipOf(promoted), (x) => x.get('split-brain'))).toBeNull();
    const total = await once(await ipOf(promoted), (x) => x.llen('log'));
    await waitFor('rs-2 holds what the new source holds', async () => (await once(await ipOf('rs-2'), (x) => x.llen('log'))) === total, { timeoutMs: 10_000 });
    await expect(once(await ipOf('rs-2'), (x) => x.set('k', 'v'))).rejects.toThrow(/READONLY/);
    expect(await readwrite()).toEqual([promoted]);
  }, 300_000);

  it('answers a failover request naming no replica, or made while the source takes writes, once with Refused, and asks no Sentinel', async () => {
    const before = await rr();
    const source = before.spec.source.name;
    const masters = await sentinelMasters();
    const request = async (id: string, candidate: string) => {
      await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'rr', 'rs', '--type', 'merge', '-p', JSON.stringify({ spec: { failover: { request: { id, candidate } } } })]);
      return waitFor(`request ${id} answered`, async () => { const m = await rr(); return m.status?.failoverRequest?.id === id ? m : undefined; }, { timeoutMs: 30_000, intervalMs: 200 });
    };
    const nobody = await request('r-nobody', 'nobody');
    expect(nobody.status?.failoverRequest).toMatchObject({ outcome: 'Refused', message: 'spec.failover.request.candidate: nobody is not a replica of rs' });
    const replica = before.spec.replicas?.[0]?.name ?? '';
    const up = await request('r-up', replica);
    expect(up.status?.failoverRequest).toMatchObject({ outcome: 'Refused', message: expect.stringContaining(`the source ${source} is reachable and takes writes`) });
    // Answered once, nothing held or asked: the source, the Sentinels and every priority as they were.
    await sleep(2000);
    const after = await rr();
    expect(after.status?.failoverRequest).toEqual(up.status?.failoverRequest);
    expect(after.status?.requestedFailover).toBeUndefined();
    expect(after.spec.source.name).toBe(source);
    expect(await sentinelMasters()).toEqual(masters);
    for (const u of ['rs-0', 'rs-1', 'rs-2']) expect(await once(await ipOf(u), async (r) => ((await r.call('CONFIG', 'GET', 'replica-priority')) as string[])[1])).toBe('100');
    expect(await events((e) => e.reason === 'FailoverRefused' && (e.message ?? '').startsWith('failover request r-nobody:'))).toBe(1);
    expect(await events((e) => e.reason === 'FailoverRefused' && (e.message ?? '').startsWith('failover request r-up:'))).toBe(1);
  }, 120_000);

  it('without Sentinels never fails over by itself, says so, and promotes the replica a person names', async () => {
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], `
apiVersion: unit.upm.io/v1alpha1
kind: UnitSet
metadata: { name: solo, namespace: ${ns} }
spec:
  engine: redis
  version: "7.2"
  units: 2
  resources: { limits: { cpu: 500m, memory: 256Mi } }
  storage: [{ name: data, size: 1Gi, mountPath: /data }]
---
apiVersion: compose.upm.io/v1alpha1
kind: RedisReplication
metadata: { name: solo, namespace: ${ns} }
spec:
  secretName: solo-credentials
  source: { name: solo-0, unit: solo-0 }
  replicas: [{ name: solo-1, unit: solo-1 }]
`);
    const solo = () => c.get<RedisReplication>(RedisReplicationResource, 'solo', ns);
    await waitFor('solo ready', async () => (await solo()).status?.ready === true, { timeoutMs: 90_000, intervalMs: 200 });
    expect((await solo()).status?.conditions?.some((x) => x.type === 'SentinelReady')).toBe(false);
    await kubectlOk(CLUSTER, ['-n', ns, 'annotate', 'un', 'solo-0', 'unit.upm.io/maintenance=true']);
    const agent = new AgentClient(await ipOf('solo-0'), AGENT_PORT, await readUnitAgentToken(c, ns, 'solo-0'));
    killEngine((await agent.status()).pid);
    await agent.stop();
    // The controller has decided on the source being down for this generation (its conditions say so, naming the
    // generation): that decision is to do nothing, which is what is asserted, with no sleep to hope it would not act.
    const down = await waitFor('SourceDown condition', async () => {
      const x = await solo();
      const cond = (t: string) => x.status?.conditions?.find((cd) => cd.type === t);
      return cond('TopologyReady')?.reason === 'SourceDown' && cond('Degraded')?.observedGeneration === x.metadata.generation ? x : undefined;
    }, { timeoutMs: 20_000, intervalMs: 200 });
    expect(down.status?.conditions?.find((x) => x.type === 'TopologyReady')?.message)
      .toMatch(/^spec\.source: solo-0 is unreachable .*without spec\.sentinel the operator does not fail over on its own: name a replica in spec\.source to promote it$/);
    expect(down.status?.conditions?.find((x) => x.type === 'Degraded')).toMatchObject({ status: 'True', reason: 'SourceDown' });
    expect(down.spec.source.name).toBe('solo-0');
    expect(await once(await ipOf('solo-1'), (r) => r.call('ROLE') as Promise<string[]>)).toContain('slave');
    // A person decides: solo-1 is the source now.
    await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'rr', 'solo', '--type', 'merge', '-p', JSON.stringify({ spec: { source: { name: 'solo-1', unit: 'solo-1' }, replicas: [{ name: 'solo-0', unit: 'solo-0' }] } })]);
    await waitFor('solo-1 promoted', async () => (await solo()).status?.source === 'solo-1', { timeoutMs: 20_000, intervalMs: 200 });
    expect((await solo()).status?.lastFailover).toMatchObject({ from: 'solo-0', to: 'solo-1', by: 'Operator' });
    expect(await once(await ipOf('solo-1'), (r) => r.set('after', 'promotion'))).toBe('OK');
    await agent.start();
    await kubectlOk(CLUSTER, ['-n', ns, 'annotate', 'un', 'solo-0', 'unit.upm.io/maintenance-']);
    await waitFor('solo-0 back as a replica', async () => { const m = await solo(); return m.status?.ready === true && m.status.topology?.['solo-0']?.role === 'Replica'; }, { timeoutMs: 60_000, intervalMs: 200 });
    expect(await once(await ipOf('solo-0'), (r) => r.get('after'))).toBe('promotion');
  }, 300_000);

  it('refuses bad specs at the API and reports a missing Secret as a condition naming the field', async () => {
    const base = (name: string, extra: string) => `
apiVersion: compose.upm.io/v1alpha1
kind: RedisReplication
metadata: { name: ${name}, namespace: ${ns} }
spec:
${extra}`;
    const same = await kubectl(CLUSTER, ['apply', '-f', '-'], base('bad1', '  secretName: rs-credentials\n  source: { name: a, unit: rs-0 }\n  replicas: [{ name: b, unit: rs-0 }]'));
    expect(same.code).not.toBe(0);
    expect(same.stderr).toContain("spec.replicas: a replica cannot be the source's unit");
    const twice = await kubectl(CLUSTER, ['apply', '-f', '-'], base('bad2', '  secretName: rs-credentials\n  source: { name: a, unit: rs-0 }\n  replicas: [{ name: b, unit: rs-1 }, { name: c, unit: rs-1 }]'));
    expect(twice.stderr).toContain('spec.replicas: the same unit is listed twice');
    const hosts = await kubectl(CLUSTER, ['apply', '-f', '-'], base('bad3', '  secretName: rs-credentials\n  source: { name: a, host: 127.0.0.1 }\n  replicas: [{ name: b, host: 127.0.0.1 }]'));
    expect(hosts.stderr).toContain("spec.replicas: a replica cannot be the source's host and port");
    const sentinels = await kubectl(CLUSTER, ['apply', '-f', '-'], base('bad4', '  secretName: rs-credentials\n  source: { name: a, unit: rs-0 }\n  sentinel: { nodes: [{ name: s, unit: rs-sentinel-0 }, { name: t, unit: rs-sentinel-0 }], quorum: 3 }'));
    expect(sentinels.stderr).toContain('spec.sentinel.nodes: the same unit is listed twice');
    expect(sentinels.stderr).toContain('spec.sentinel.quorum: cannot exceed the number of sentinels');
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], base('nosecret', '  secretName: nope\n  source: { name: a, unit: rs-0 }\n  replicas: [{ name: b, unit: rs-1 }]'));
    await waitFor('SecretNotFound condition', async () => {
      const o = await c.get<RedisReplication>(RedisReplicationResource, 'nosecret', ns);
      return o.status?.conditions?.some((x) => x.type === 'TopologyReady' && x.reason === 'SecretNotFound' && (x.message ?? '').startsWith('spec.secretName: Secret "nope" not found')) === true
        && o.status.phase === 'Failed';
    }, { timeoutMs: 20_000 });
    for (const bad of ['bad1', 'bad2', 'bad3', 'bad4']) expect((await kubectl(CLUSTER, ['-n', ns, 'get', 'rr', bad])).code).not.toBe(0);
    // Nothing of the real topology was touched by the refused object.
    expect((await rr()).status?.ready).toBe(true);
  });
});
