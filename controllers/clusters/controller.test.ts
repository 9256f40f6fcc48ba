// The reconciler against a fake clock and fake member watches: what it writes and when it looks again follow the
// controller's clock and what the watches saw, never a request to the member; the watches are started with usable
// credentials, restarted when silent, and stopped when the credentials or the Cluster go away.
import { describe, expect, it } from '@jest/globals';
import type { ClusterRecord } from '../../lib/api/internal.upm.io.generated.ts';
import { FakeClock } from '../../lib/clock.ts';
import type { ReconcileContext } from '../../lib/controller.ts';
import { EventRecorder } from '../../lib/events.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import type { MemberClient, MemberClients } from '../../lib/kube/member-clients.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { silentLogger } from '../../lib/log.ts';
import { clustersReconciler, type WatchSource } from './controller.ts';
import type { ClusterStatus, MemberFacts } from './health.ts';

const STALE = 25_000;
const REPORT = 60_000;

function world() {
  const clock = new FakeClock('2030-01-01T00:00:00Z');
  const cluster: ClusterRecord = {
    apiVersion: 'internal.upm.io/v1alpha1', kind: 'ClusterRecord',
    metadata: { name: 'm1', uid: 'u1', generation: 1, resourceVersion: '1' },
    spec: { credentials: { secretName: 'm1-kubeconfig' } },
  } as ClusterRecord;
  let exists = true;
  // The stored status after each write: a patch carries only what changed and merges into it (RFC 7386).
  const statuses: ClusterStatus[] = [];
  const events: string[] = [];
  // The API as the reconciler uses it: status patches land on the stored object; Events are recorded.
  const client = {
    patch: async (rt: { kind: string }, _name: string, body: { status: ClusterStatus }) => {
      if (rt.kind !== 'ClusterRecord') return body; // an Event seen again: its count
      cluster.status = mergeInto(cluster.status ?? {}, body.status) as ClusterRecord['status'];
      statuses.push(cluster.status as ClusterStatus);
      return cluster;
    },
    create: async (_rt: unknown, obj: KubeObject & { reason?: string }) => { events.push(obj.reason ?? ''); return obj; },
  } as unknown as KubeClient;
  // What the member's watches saw: the test moves it along as a member would.
  const facts: MemberFacts = { since: clock.now().getTime(), reconnects: 0 };
  const log: string[] = [];
  const watches: WatchSource = {
    ensure: (name, _c, credentials) => {
      log.push(`ensure ${name} ${credentials}`);
      return { facts: () => ({ ...facts }), reconnect: () => { log.push('reconnect'); facts.reconnectedAt = clock.now().getTime(); facts.reconnects++; } };
    },
    stop: (name) => log.push(`stop ${name}`),
  };
  let credentials: MemberClient = { client, secretVersion: 'uid/1/kubeconfig' };
  const members = { resolve: async () => credentials, retain: () => {} } as unknown as MemberClients;
  const reconcile = clustersReconciler({
    client, events: new EventRecorder(client, 'test'), members, watches, namespace: 'upm-system', reportMs: REPORT,
    clusters: { get: () => (exists ? cluster : undefined), list: () => (exists ? [cluster] : []), keys: () => ['m1'], size: 1 },
    bounds: { staleMs: STALE, maxReconnectMs: 60_000 },
  });
  const ctx = { key: 'm1', log: silentLogger, signal: new AbortController().signal, clock } as ReconcileContext;
  const ready = () => statuses.at(-1)?.conditions?.find((c) => c.type === 'Ready');
  return {
    clock, cluster, statuses, events, facts, log, ready, pass: () => reconcile('m1', ctx),
    hear: () => { facts.heardAt = clock.now().getTime(); facts.failure = undefined; facts.reconnects = 0; },
    refuse: (reason: 'CredentialsNotFound') => { credentials = { reason, message: 'spec.credentials.secretName: Secret upm-system/m1-kubeconfig not found' }; },
    remove: () => { exists = false; },
  };
}

describe('clusters reconciler, its clock and the member watches', () => {
  it('writes nothing until the watches know something, then Ready and the heartbeat at the clock time', async () => {
    const w = world();
    expect(await w.pass()).toEqual({ requeueAfterMs: STALE });
    expect(w.log).toEqual(['ensure m1 uid/1/kubeconfig']);
    expect(w.statuses).toEqual([]);
    w.clock.step(300);
    w.hear();
    Object.assign(w.facts, { version: 'v1.36.3', nodes: 3 });
    expect(await w.pass()).toEqual({ requeueAfterMs: STALE });
    expect(w.statuses.at(-1)).toMatchObject({ phase: 'Ready', kubernetesVersion: 'v1.36.3', nodes: 3, lastHeartbeatTime: '2030-01-01T00:00:00Z' });
    expect(w.ready()).toMatchObject({ status: 'True', reason: 'Healthy', lastTransitionTime: '2030-01-01T00:00:00Z' });
    expect(w.events).toEqual(['ClusterReady']);
  });

  it('looks again when the member would go stale, writes the heartbeat once a report period, and no more', async () => {
    const w = world();
    w.hear();
    await w.pass();
    // The Lease is renewed every 10 s (the watches hear it; no reconcile for it): each look finds it fresh.
    let writes = w.statuses.length;
    for (let t = 0; t < 6; t++) {
      w.clock.step(10_000);
      w.hear();
      if (t % 2 === 1) expect(await w.pass()).toEqual({ requeueAfterMs: STALE });
    }
    expect(w.statuses.length).toBe(writes + 1); // one heartbeat after 60 s
    expect(w.statuses.at(-1)?.lastHeartbeatTime).toBe('2030-01-01T00:01:00Z');
    expect(w.ready()?.lastTransitionTime).toBe('2030-01-01T00:00:00Z');
    writes = w.statuses.length;
    w.clock.step(5000);
    expect(await w.pass()).toEqual({ requeueAfterMs: STALE - 5000 });
    expect(w.statuses.length).toBe(writes);
  });

  it('says Unreachable once nothing was heard for the staleness bound, restarts the silent watches, and is Ready when heard again', async () => {
    const w = world();
    w.hear();
    await w.pass();
    w.clock.step(STALE - 1);
    expect(await w.pass()).toEqual({ requeueAfterMs: 1 });
    expect(w.ready()?.status).toBe('True');
    w.clock.step(1);
    expect(await w.pass()).toEqual({ requeueAfterMs: 50_000 });
    expect(w.ready()).toMatchObject({ status: 'Unknown', reason: 'Unreachable', lastTransitionTime: '2030-01-01T00:00:25Z' });
    expect(w.log).toContain('reconnect');
    expect(w.events).toEqual(['ClusterReady', 'Unreachable']);
    // Looked at again before the next restart is due: no restart, no write.
    const writes = w.statuses.length;
    w.clock.step(10_000);
    expect(await w.pass()).toEqual({ requeueAfterMs: 40_000 });
    expect(w.log.filter((l) => l === 'reconnect')).toHaveLength(1);
    expect(w.statuses.length).toBe(writes);
    // Heard again (the watch said so): Ready at once, with the new heartbeat.
    w.hear();
    await w.pass();
    expect(w.ready()).toMatchObject({ status: 'True', lastTransitionTime: '2030-01-01T00:00:35Z' });
    expect(w.statuses.at(-1)?.lastHeartbeatTime).toBe('2030-01-01T00:00:35Z');
  });

  it('records a new generation without a word from the member, and stops watching without credentials or Cluster', async () => {
    const w = world();
    await w.pass();
    expect(w.statuses).toEqual([]); // nothing known: nothing to say, not even the generation (no Ready yet)
    w.hear();
    await w.pass();
    // A spec change: the new generation is recorded, the member's state stays as it was; no restart of the watches.
    w.cluster.metadata.generation = 2;
    w.clock.step(1000);
    await w.pass();
    expect(w.statuses.at(-1)).toMatchObject({ observedGeneration: 2, lastHeartbeatTime: '2030-01-01T00:00:00Z' });
    expect(w.ready()).toMatchObject({ status: 'True', observedGeneration: 2 });
    expect(w.log.filter((l) => l.startsWith('ensure')).every((l) => l === 'ensure m1 uid/1/kubeconfig')).toBe(true);
    w.refuse('CredentialsNotFound');
    expect(await w.pass()).toBeUndefined();
    expect(w.log.at(-1)).toBe('stop m1');
    expect(w.ready()).toMatchObject({ status: 'Unknown', reason: 'CredentialsNotFound' });
    w.remove();
    await w.pass();
    expect(w.log.at(-1)).toBe('stop m1');
  });
});

/** A JSON merge patch applied (RFC 7386): null removes, objects merge, anything else replaces. */
function mergeInto(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergeInto(out[k], v);
  }
  return out;
}
