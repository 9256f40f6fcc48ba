// Stopping, starting and rolling-restarting a UnitSet's real Redis engines. Engine launches are counted from the
// agents' own state changes (every change, delivered synchronously by the local runtime), so a restart done twice,
// or two units down at once, cannot slip between two samples.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import type { AgentStatus } from '../../agent/api.ts';
import type { Unit, UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { redisUnitSet } from '../fixtures.ts';
import { kubectlOk } from '../kubectl.ts';
import { useUnitOperator } from '../unit-operator.ts';

const CLUSTER = 'member2';
const READY_MS = 120_000;
const UNITS = ['kv-0', 'kv-1', 'kv-2'];
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

async function redis<T>(host: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ host, port: 6379, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: 3000 });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

describe('UnitSet stop, start and rolling restart on real Redis engines', () => {
  const f = useUnitOperator(CLUSTER, 'stoprst', { engines: true });
  let c: KubeClient;
  let ns: string;
  beforeAll(() => { c = f.client; ns = f.ns; });

  const unitSet = () => c.get<UnitSet>(UnitSetResource, 'kv', ns);
  const units = async () => (await c.list<Unit>(UnitResource, { namespace: ns, labelSelector: 'unit.upm.io/unitset=kv' })).items
    .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  const podUids = async () => Promise.all(UNITS.map(async (u) => (await c.get<KubeObject>(Resources.pods, u, ns)).metadata.uid));
  const waitPhase = (phase: string, check: (us: UnitSet) => boolean = () => true) => waitFor(`UnitSet kv ${phase}`, async () => {
    const us = await unitSet();
    return us.status?.phase === phase && check(us);
  }, { timeoutMs: READY_MS, intervalMs: 250 });

  /** The suite's UnitSet, Ready (each test can run alone: apply is idempotent). */
  const readyUnitSet = async () => {
    await kubectlOk(CLUSTER, ['apply', '--server-side', '-f', '-'], redisUnitSet(ns, 3));
    await waitPhase('Ready', (us) => us.status?.readyUnits === 3);
    for (const u of await units()) expect(await redis(u.status?.podIP ?? '', (r) => r.set('owner', u.metadata.name ?? ''))).toBe('OK');
  };

  it('stops every engine in place, keeping pods and data, and starts them again with their data', async () => {
    await readyUnitSet();
    const before = await units();
    const pids = before.map((u) => u.status?.engine?.pid ?? 0);
    expect(pids.every((p) => p > 0 && alive(p))).toBe(true);
    const uids = await podUids();
    const revisions = before.map((u) => u.spec.revision);

    await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'us', 'kv', '--type', 'merge', '-p', '{"spec":{"stopped":true}}']);
    await waitPhase('Stopped', (us) => us.status?.stoppedUnits === 3);
    // Every engine process is gone; the pods, their revision and the volumes stay.
    expect(pids.map(alive)).toEqual([false, false, false]);
    const stopped = await units();
    expect(stopped.map((u) => u.status?.engine?.state)).toEqual(['Stopped', 'Stopped', 'Stopped']);
    expect(stopped.map((u) => u.spec.startup)).toEqual([false, false, false]);
    expect(stopped.map((u) => u.spec.revision)).toEqual(revisions);
    expect(await podUids()).toEqual(uids);
    const us = await unitSet();
    expect(us.status?.conditions?.find((x) => x.type === 'Ready')).toMatchObject({ status: 'False', reason: 'Stopped' });
    await expect(redis(stopped[0]?.status?.podIP ?? '', (r) => r.ping())).rejects.toThrow();

    // Scaled out while stopped: the new unit's pod runs, its engine is never started.
    await kubectlOk(CLUSTER, ['-n', ns, 'scale', 'us', 'kv', '--replicas=4']);
    await waitPhase('Stopped', (x) => x.status?.stoppedUnits === 4);
    const added = await c.get<Unit>(UnitResource, 'kv-3', ns);
    expect(added.spec.startup).toBe(false);
    expect(added.status?.engine).toMatchObject({ state: 'Stopped' });
    expect(added.status?.engine?.pid).toBeUndefined();
    await kubectlOk(CLUSTER, ['-n', ns, 'scale', 'us', 'kv', '--replicas=3']);
    await waitFor('kv-3 gone', async () => (await units()).length === 3, { timeoutMs: 60_000, intervalMs: 250 });

    await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'us', 'kv', '--type', 'merge', '-p', '{"spec":{"stopped":false}}']);
    await waitPhase('Ready', (x) => x.status?.readyUnits === 3);
    const started = await units();
    expect(await podUids()).toEqual(uids);
    for (const u of started) {
      expect((u.status?.engine?.pid ?? 0) > 0 && !pids.includes(u.status?.engine?.pid ?? 0)).toBe(true);
      expect(await redis(u.status?.podIP ?? '', (r) => r.get('owner'))).toBe(u.metadata.name);
    }
  }, 2 * READY_MS + 60_000);

  it('restarts each engine exactly once in the order asked, one at a time, across two operator deaths', async () => {
    const runtime = f.runtime;
    if (!runtime) throw new Error('the suite runs with engines');
    await readyUnitSet();
    const uids = await podUids();
    const before = await units();

    // Every engine launch, in order; and how many engines are down at once.
    const launches: string[] = [];
    const down = new Set<string>();
    let mostDown = 0;
    let killedAt = '';
    let killing: Promise<void> | undefined;
    const last = new Map<string, AgentStatus['state']>();
    const stopListening = runtime.onAgentChange((pod, st) => {
      const unit = pod.slice(ns.length + 1);
      if (!UNITS.includes(unit)) return;
      if (st.state === 'Starting' && last.get(unit) !== 'Starting') launches.push(unit);
      last.set(unit, st.state);
      // Down: no engine process serving (a readiness probe slow on a loaded machine is not a restart).
      if (st.state === 'Running') down.delete(unit);
      else down.add(unit);
      mostDown = Math.max(mostDown, down.size);
      // The second death: the moment the second unit's engine is relaunched, the operator that asked is killed.
      if (launches.length === 2 && !killedAt) { killedAt = unit; killing = f.restart(); }
    });

    try {
      // The first death: an operator that dies right after its first engine restart, before recording it.
      await f.restart({ UPM_CRASH_AT: 'unit.engine-restarted' });
      const doomed = f.operator;
      await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'us', 'kv', '--type', 'merge', '-p', '{"spec":{"restart":{"id":"r1","order":["kv-2","kv-0","kv-1"]}}}']);
      await waitFor('the operator to die after restarting kv-2', () => doomed.signalCode === 'SIGKILL', {
        timeoutMs: READY_MS, intervalMs: 100,
        failFast: () => (doomed.exitCode !== null ? `it exited with code ${doomed.exitCode} instead` : undefined),
      });
      expect(launches).toEqual(['kv-2']);
      await f.restart();

      await waitPhase('Ready', (us) => us.status?.restart?.id === 'r1' && us.status.restart.phase === 'Complete');
      await killing;

      // The same request again (another order, the same id), seen by a fresh operator: nothing restarts.
      await f.restart();
      await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'us', 'kv', '--type', 'merge', '-p', '{"spec":{"restart":{"id":"r1","order":["kv-0","kv-1","kv-2"]}}}']);
      await waitFor('the fresh operator to have seen the repeated request', async () => {
        const us = await unitSet();
        return us.status?.observedGeneration === us.metadata.generation && us.status?.phase === 'Ready';
      }, { timeoutMs: 60_000, intervalMs: 250 });
    } finally {
      stopListening();
    }
    expect(launches).toEqual(['kv-2', 'kv-0', 'kv-1']);
    expect(killedAt).toBe('kv-0');
    expect(mostDown).toBe(1);
    const us = await unitSet();
    expect(us.status?.restart).toMatchObject({ id: 'r1', phase: 'Complete', done: ['kv-2', 'kv-0', 'kv-1'] });
    const after = await units();
    expect(after.map((u) => u.status?.lastRestartId)).toEqual(['r1', 'r1', 'r1']);
    for (const [i, u] of after.entries()) {
      expect(u.status?.engine?.pid).not.toBe(before[i]?.status?.engine?.pid);
      expect(u.status?.engine?.restarts).toBe(before[i]?.status?.engine?.restarts); // restarted on request, not crashed
      expect(await redis(u.status?.podIP ?? '', (r) => r.get('owner'))).toBe(u.metadata.name);
    }
    expect(await podUids()).toEqual(uids); // in place: no pod replaced
  }, 4 * READY_MS);
});
