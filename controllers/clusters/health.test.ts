// The clusters controller's decisions as data: what the member watches saw (facts) and the time, in; the Ready
// condition, whether to restart a silent watch and when to look again, out. Then what is written of it.
import { describe, expect, it } from '@jest/globals';
import { readInventory } from '../../lib/inventory.ts';
import { judge, nextStatus, observed, reconnectInterval, type Bounds, type MemberFacts, type Observed } from './health.ts';

const b: Bounds = { staleMs: 25_000, maxReconnectMs: 60_000 };
const T = 1_000_000; // when the watches started
const S = 'Secret upm-system/m1';
const base: MemberFacts = { since: T, reconnects: 0 };
const heard: MemberFacts = { ...base, heardAt: T + 100, version: 'v1.36.3', nodes: 3 };
const at = (iso: string) => new Date(iso);

describe('Ready from the watches', () => {
  it('knows nothing while the first list is under way, and says nothing', () => {
    expect(judge(base, T + 1000, b, S)).toEqual({ reconnect: false, recheckMs: 24_000 });
  });

  it('is True while something was heard within the staleness bound, and looks again when it would go stale', () => {
    expect(judge(heard, T + 100, b, S)).toEqual({
      condition: { type: 'Ready', status: 'True', reason: 'Healthy', message: "the member's API server is heard through the hub's watch (v1.36.3, 3 nodes)" },
      reconnect: false, recheckMs: 25_000,
    });
    // The Lease renewed 10 s later: the next look is 25 s after that, not after the first.
    const renewed = { ...heard, heardAt: T + 10_100 };
    expect(judge(renewed, T + 20_000, b, S)).toMatchObject({ condition: { status: 'True' }, recheckMs: 15_100 });
    // A failure after the member was heard, within the bound (a dropped watch the informer resumes): still True.
    expect(judge({ ...renewed, failure: { at: T + 12_000, detail: 'ECONNRESET: other side closed' } }, T + 20_000, b, S).condition?.status).toBe('True');
  });

  it('is Unknown (Unreachable) once nothing was heard for the bound, and restarts the silent watch with backoff', () => {
    const silent = judge(heard, T + 100 + 25_000, b, S);
    expect(silent).toEqual({
      condition: { type: 'Ready', status: 'Unknown', reason: 'Unreachable', message: "the member did not answer: nothing heard through the hub's watch for 25 s or more (its API server renews its identity Lease every 10 s)" },
      reconnect: true, recheckMs: 50_000,
    });
    // Restarted once: the next restart 50 s later, then every 60 s at most; none in between.
    const restarted = { ...heard, reconnectedAt: T + 25_100, reconnects: 1 };
    expect(judge(restarted, T + 60_000, b, S)).toMatchObject({ condition: { reason: 'Unreachable' }, reconnect: false, recheckMs: 15_100 });
    expect(judge(restarted, T + 75_100, b, S).reconnect).toBe(true);
    expect([0, 1, 2, 3].map((n) => reconnectInterval(n, b))).toEqual([25_000, 50_000, 60_000, 60_000]);
    // Never heard at all since the watches started: stale from their start.
    expect(judge(base, T + 25_000, b, S)).toMatchObject({ condition: { reason: 'Unreachable' }, reconnect: true });
  });

  it('names the failure: unanswered at once before anything was heard, or once stale', () => {
    const refusedConn = { at: T + 50, detail: 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1' };
    expect(judge({ ...base, failure: refusedConn }, T + 60, b, S)).toEqual({
      condition: { type: 'Ready', status: 'Unknown', reason: 'Unreachable', message: 'the member did not answer: ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1' },
      // the informer retries a failing watch by itself: no restart until it has been silent a while
      reconnect: false, recheckMs: 24_990,
    });
    expect(judge({ ...heard, failure: { ...refusedConn, at: T + 20_000 } }, T + 30_000, b, S).condition?.message).toBe('the member did not answer: ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1');
    // A server error and nothing heard since: the member answered, and is not ready.
    expect(judge({ ...heard, failure: { at: T + 20_000, code: 503, detail: '503 ServiceUnavailable on the watch of its identity Leases (kube-system)' } }, T + 30_000, b, S).condition)
      .toEqual({ type: 'Ready', status: 'False', reason: 'NotReady', message: "the member answered the hub's watch: 503 ServiceUnavailable on the watch of its identity Leases (kube-system)" });
  });

  it('says the credentials were refused at once, naming the Secret', () => {
    const failure = { at: T + 50, code: 401, detail: '401 Unauthorized on the watch of its identity Leases (kube-system)' };
    expect(judge({ ...heard, failure }, T + 60, b, S)).toEqual({
      condition: { type: 'Ready', status: 'Unknown', reason: 'CredentialsRejected', message: 'spec.credentials.secretName: the member refused the kubeconfig in Secret upm-system/m1: 401 Unauthorized on the watch of its identity Leases (kube-system)' },
      reconnect: false, recheckMs: 60_000,
    });
    expect(judge({ ...base, failure: { ...failure, code: 403 } }, T + 60, b, S).condition?.reason).toBe('CredentialsRejected');
  });
});

describe('status writes', () => {
  const ok: Observed = { heardAt: '2026-01-01T00:00:00Z', version: 'v1.36.3', nodes: 3 };
  const cond = judge(heard, T + 100, b, S).condition as NonNullable<ReturnType<typeof judge>['condition']>;

  it('records when the member was heard, on the controller clock, to the second', () => {
    expect(observed({ ...heard, heardAt: Date.parse('2026-01-01T00:00:09.750Z') })).toEqual({ heardAt: '2026-01-01T00:00:09Z', version: 'v1.36.3', nodes: 3, inventory: undefined });
    expect(observed(base).heardAt).toBeUndefined();
  });

  it('writes the first heartbeat, then only changes or a heartbeat older than the report period', () => {
    const first = nextStatus(undefined, cond, ok, 1, at('2026-01-01T00:00:00Z'), 60_000);
    expect(first.write).toBe(true);
    expect(first.status).toMatchObject({ phase: 'Ready', kubernetesVersion: 'v1.36.3', nodes: 3, lastHeartbeatTime: '2026-01-01T00:00:00Z', observedGeneration: 1 });
    expect(first.status.conditions?.[0]?.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    const tenLater = { ...ok, heardAt: '2026-01-01T00:00:10Z' };
    expect(nextStatus(first.status, cond, tenLater, 1, at('2026-01-01T00:00:10Z'), 60_000).write).toBe(false);
    const minuteLater = { ...ok, heardAt: '2026-01-01T00:01:00Z' };
    const again = nextStatus(first.status, cond, minuteLater, 1, at('2026-01-01T00:01:00Z'), 60_000);
    expect(again).toMatchObject({ write: true, status: { lastHeartbeatTime: '2026-01-01T00:01:00Z' } });
    expect(again.status.conditions?.[0]?.lastTransitionTime).toBe('2026-01-01T00:00:00Z'); // no flip
    expect(nextStatus(first.status, cond, { ...tenLater, nodes: 4 }, 1, at('2026-01-01T00:00:10Z'), 60_000).write).toBe(true);
    expect(nextStatus(first.status, cond, tenLater, 2, at('2026-01-01T00:00:10Z'), 60_000).write).toBe(true);
  });

  it('keeps the last heartbeat and version when the member is not heard, and moves the transition time', () => {
    const first = nextStatus(undefined, cond, ok, 1, at('2026-01-01T00:00:00Z'), 60_000).status;
    const down = judge(heard, T + 30_000, b, S).condition as NonNullable<ReturnType<typeof judge>['condition']>;
    const next = nextStatus(first, down, ok, 1, at('2026-01-01T00:00:30Z'), 60_000);
    expect(next.write).toBe(true);
    expect(next.status).toMatchObject({ phase: 'Unknown', lastHeartbeatTime: '2026-01-01T00:00:00Z', kubernetesVersion: 'v1.36.3' });
    expect(next.status.conditions?.[0]).toMatchObject({ status: 'Unknown', reason: 'Unreachable', lastTransitionTime: '2026-01-01T00:00:30Z' });
    expect(nextStatus(next.status, down, ok, 1, at('2026-01-01T00:05:00Z'), 60_000).write).toBe(false);
  });
});

describe('the inventory in status', () => {
  const cond = judge(heard, T + 100, b, S).condition as NonNullable<ReturnType<typeof judge>['condition']>;
  const ok: Observed = { heardAt: '2026-01-01T00:00:00Z', version: 'v1.36.3', nodes: 2 };
  const zone = (name: string, z: string) => ({ metadata: { name, labels: { 'topology.kubernetes.io/region': 'r', 'topology.kubernetes.io/zone': z } } });
  const inv = readInventory([zone('n1', 'a'), zone('n2', 'b')], [{ metadata: { name: 'fast' }, provisioner: 'p', allowVolumeExpansion: true }]);

  it('is written when first known and when it changes, never for the same inventory again', () => {
    const first = nextStatus(undefined, cond, { ...ok, inventory: inv }, 1, at('2026-01-01T00:00:00Z'), 60_000);
    expect(first.status).toMatchObject({ region: 'r', zones: ['a', 'b'], nodeGroups: [{ name: 'a' }, { name: 'b' }], storageClasses: [{ name: 'fast', allowVolumeExpansion: true, default: false }] });
    const later = { ...ok, heardAt: '2026-01-01T00:00:10Z' };
    // the same inventory, from caches filled in another order, stored with the API server's key order
    const stored = JSON.parse(JSON.stringify(first.status)) as typeof first.status;
    expect(nextStatus(stored, cond, { ...later, inventory: readInventory([zone('n2', 'b'), zone('n1', 'a')], [{ metadata: { name: 'fast' }, provisioner: 'p', allowVolumeExpansion: true }]) }, 1, at('2026-01-01T00:00:10Z'), 60_000).write).toBe(false);
    const grown = readInventory([zone('n1', 'a'), zone('n2', 'b'), zone('n3', 'c')], [{ metadata: { name: 'fast' }, provisioner: 'p', allowVolumeExpansion: true }]);
    const next = nextStatus(stored, cond, { ...later, inventory: grown }, 1, at('2026-01-01T00:00:10Z'), 60_000);
    expect(next).toMatchObject({ write: true, status: { zones: ['a', 'b', 'c'] } });
    // Caches not filled yet (new credentials): what was known stays.
    expect(nextStatus(next.status, cond, later, 1, at('2026-01-01T00:00:20Z'), 60_000)).toMatchObject({ write: false, status: { zones: ['a', 'b', 'c'] } });
    // A region the nodes no longer name goes.
    const noRegion = nextStatus(next.status, cond, { ...later, inventory: readInventory([{ metadata: { name: 'n1' } }], []) }, 1, at('2026-01-01T00:00:30Z'), 60_000);
    expect(noRegion.write).toBe(true);
    expect(noRegion.status.region).toBeUndefined();
    expect(noRegion.status.zones).toEqual([]);
  });

  it('keeps what was known while the member is not heard or its credentials are not usable', () => {
    const first = nextStatus(undefined, cond, { ...ok, inventory: inv }, 1, at('2026-01-01T00:00:00Z'), 60_000).status;
    const down = judge({ ...heard, inventory: inv }, T + 30_000, b, S).condition as NonNullable<ReturnType<typeof judge>['condition']>;
    expect(nextStatus(first, down, { ...ok, inventory: inv }, 1, at('2026-01-01T00:00:30Z'), 60_000).status.zones).toEqual(['a', 'b']);
    expect(nextStatus(first, { type: 'Ready', status: 'Unknown', reason: 'CredentialsNotFound', message: 'x' }, undefined, 1, at('2026-01-01T00:00:30Z'), 60_000).status.zones).toEqual(['a', 'b']);
  });
});
