// The heartbeat's timing against a fake clock: when a probe is due, when the status is written and what times it
// records all follow the controller's clock, so each step here is exact.
import { describe, expect, it } from '@jest/globals';
import type { ClusterRecord } from '../../lib/api/internal.upm.io.generated.ts';
import { FakeClock } from '../../lib/clock.ts';
import type { ReconcileContext } from '../../lib/controller.ts';
import { EventRecorder } from '../../lib/events.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import type { MemberClients } from '../../lib/kube/member-clients.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { silentLogger } from '../../lib/log.ts';
import { clustersReconciler } from './controller.ts';
import type { ClusterStatus, ProbeResult } from './health.ts';

const PERIOD = 10_000;
const REPORT = 60_000;

function world() {
  const clock = new FakeClock('2030-01-01T00:00:00Z');
  const cluster: ClusterRecord = {
    apiVersion: 'internal.upm.io/v1alpha1', kind: 'ClusterRecord',
    metadata: { name: 'm1', uid: 'u1', generation: 1, resourceVersion: '1' },
    spec: { credentials: { secretName: 'm1-kubeconfig' } },
  } as ClusterRecord;
  // The stored status after each write: a patch carries only what changed and merges into it (RFC 7386).
  const statuses: ClusterStatus[] = [];
  // The API as the reconciler uses it: status patches land on the stored object; Events are accepted.
  const client = {
    patch: async (_rt: unknown, _name: string, body: { status: ClusterStatus }) => {
      cluster.status = mergeInto(cluster.status ?? {}, body.status) as ClusterRecord['status'];
      statuses.push(cluster.status as ClusterStatus);
      return cluster;
    },
    create: async (_rt: unknown, obj: KubeObject) => obj,
  } as unknown as KubeClient;
  const probes: string[] = [];
  const probe = async (_c: KubeClient, _t: number, { now }: { now: () => Date }): Promise<ProbeResult> => {
    const answeredAt = now().toISOString().replace(/\.\d{3}Z$/, 'Z');
    probes.push(answeredAt);
    return { outcome: 'ok', answeredAt, version: 'v1.33.0', nodes: 3, detail: 'ok' };
  };
  // Credentials resolve to a client the injected probe never uses.
  const members = { resolve: async () => ({ client, secretVersion: 'uid/1/kubeconfig' }), retain: () => {} } as unknown as MemberClients;
  const reconcile = clustersReconciler({
    client, events: new EventRecorder(client, 'test'), clusters: { get: () => cluster, list: () => [cluster], keys: () => ['m1'], size: 1 },
    members, namespace: 'upm-system', pace: { periodMs: PERIOD, maxBackoffMs: 6 * PERIOD, minSpacingMs: 1000 }, reportMs: REPORT, inventoryMs: REPORT, timeoutMs: 1000, probe,
  });
  const ctx = { key: 'm1', log: silentLogger, signal: new AbortController().signal, clock } as ReconcileContext;
  return { clock, statuses, probes, pass: () => reconcile('m1', ctx) };
}

describe('clusters reconciler and its clock', () => {
  it('probes when due by the clock, and records heartbeats and transitions at the clock time', async () => {
    const w = world();
    expect(await w.pass()).toEqual({ requeueAfterMs: PERIOD });
    expect(w.probes).toEqual(['2030-01-01T00:00:00Z']);
    const first = w.statuses.at(-1);
    expect(first?.lastHeartbeatTime).toBe('2030-01-01T00:00:00Z');
    expect(first?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', lastTransitionTime: '2030-01-01T00:00:00Z' });

    // The clock has not moved: the whole period is still to wait, and nothing is probed or written.
    expect(await w.pass()).toEqual({ requeueAfterMs: PERIOD });
    w.clock.step(PERIOD - 1);
    expect(await w.pass()).toEqual({ requeueAfterMs: 1 });
    expect(w.probes).toHaveLength(1);

    // Due: probed, but a heartbeat younger than the report period is not written.
    w.clock.step(1);
    expect(await w.pass()).toEqual({ requeueAfterMs: PERIOD });
    expect(w.probes).toEqual(['2030-01-01T00:00:00Z', '2030-01-01T00:00:10Z']);
    expect(w.statuses).toHaveLength(1);

    // A report period after the recorded heartbeat: written, with the clock's time; the transition time stays.
    w.clock.step(REPORT);
    await w.pass();
    expect(w.statuses).toHaveLength(2);
    expect(w.statuses.at(-1)?.lastHeartbeatTime).toBe('2030-01-01T00:01:10Z');
    expect(w.statuses.at(-1)?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime).toBe('2030-01-01T00:00:00Z');
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
