import { describe, expect, it } from '@jest/globals';
import { readInventory } from '../../lib/inventory.ts';
import { inventoryDue, nextStatus, probeCondition, probeDue, probeInterval, type Pace, type ProbeResult } from './health.ts';

const pace: Pace = { periodMs: 10_000, maxBackoffMs: 60_000, minSpacingMs: 1000 };
const ok: ProbeResult = { outcome: 'ok', answeredAt: '2026-01-01T00:00:00Z', version: 'v1.36.3', nodes: 3, detail: 'ok' };
const at = (iso: string) => new Date(iso);

describe('the Ready condition from a probe', () => {
  it('says what the member answered, and names the credentials when they are refused', () => {
    expect(probeCondition(ok, 'Secret upm-system/m1')).toEqual({ type: 'Ready', status: 'True', reason: 'Healthy', message: 'the member answered /readyz: ok (v1.36.3, 3 nodes)' });
    expect(probeCondition({ outcome: 'notReady', answeredAt: 'x', detail: '500: [-]etcd failed: reason withheld' }, 's')).toMatchObject({ status: 'False', reason: 'NotReady', message: 'the member answered /readyz: 500: [-]etcd failed: reason withheld' });
    expect(probeCondition({ outcome: 'unreachable', detail: 'ECONNREFUSED' }, 's')).toMatchObject({ status: 'Unknown', reason: 'Unreachable' });
    expect(probeCondition({ outcome: 'refused', detail: '401 Unauthorized on /readyz' }, 'Secret upm-system/m1').message)
      .toBe('spec.credentials.secretName: the member refused the kubeconfig in Secret upm-system/m1: 401 Unauthorized on /readyz');
  });
});

describe('status writes', () => {
  const cond = probeCondition(ok, 's');

  it('writes the first heartbeat, then only changes or a heartbeat older than the report period', () => {
    const first = nextStatus(undefined, cond, ok, 1, at('2026-01-01T00:00:00Z'), 60_000);
    expect(first.write).toBe(true);
    expect(first.status).toMatchObject({ phase: 'Ready', kubernetesVersion: 'v1.36.3', nodes: 3, lastHeartbeatTime: '2026-01-01T00:00:00Z', observedGeneration: 1 });
    expect(first.status.conditions?.[0]?.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    const tenLater = { ...ok, answeredAt: '2026-01-01T00:00:10Z' };
    expect(nextStatus(first.status, cond, tenLater, 1, at('2026-01-01T00:00:10Z'), 60_000).write).toBe(false);
    const minuteLater = { ...ok, answeredAt: '2026-01-01T00:01:00Z' };
    const again = nextStatus(first.status, cond, minuteLater, 1, at('2026-01-01T00:01:00Z'), 60_000);
    expect(again).toMatchObject({ write: true, status: { lastHeartbeatTime: '2026-01-01T00:01:00Z' } });
    expect(again.status.conditions?.[0]?.lastTransitionTime).toBe('2026-01-01T00:00:00Z'); // no flip
    expect(nextStatus(first.status, cond, { ...tenLater, nodes: 4 }, 1, at('2026-01-01T00:00:10Z'), 60_000).write).toBe(true);
    expect(nextStatus(first.status, cond, tenLater, 2, at('2026-01-01T00:00:10Z'), 60_000).write).toBe(true);
  });

  it('keeps the last heartbeat and version when the member stops answering, and moves the transition time', () => {
    const first = nextStatus(undefined, cond, ok, 1, at('2026-01-01T00:00:00Z'), 60_000).status;
    const down: ProbeResult = { outcome: 'unreachable', detail: 'timed out' };
    const next = nextStatus(first, probeCondition(down, 's'), down, 1, at('2026-01-01T00:00:30Z'), 60_000);
    expect(next.write).toBe(true);
    expect(next.status).toMatchObject({ phase: 'Unknown', lastHeartbeatTime: '2026-01-01T00:00:00Z', kubernetesVersion: 'v1.36.3' });
    expect(next.status.conditions?.[0]).toMatchObject({ status: 'Unknown', reason: 'Unreachable', lastTransitionTime: '2026-01-01T00:00:30Z' });
    expect(nextStatus(next.status, probeCondition(down, 's'), down, 1, at('2026-01-01T00:05:00Z'), 60_000).write).toBe(false);
  });
});

describe('probe pacing', () => {
  it('probes once a period, backs off while the member does not answer, and at once for new credentials', () => {
    expect(probeInterval(0, pace)).toBe(10_000);
    expect(probeInterval(1, pace)).toBe(20_000);
    expect(probeInterval(2, pace)).toBe(40_000);
    expect(probeInterval(9, pace)).toBe(60_000);
    expect(probeDue(undefined, 'a', 0, pace)).toBe(0);
    const state = { lastAt: 100_000, failures: 0, credentials: 'a' };
    expect(probeDue(state, 'a', 103_000, pace)).toBe(7000);
    expect(probeDue(state, 'a', 111_000, pace)).toBe(0);
    // rotated credentials: soon, but never closer than the minimum spacing
    expect(probeDue(state, 'b', 100_200, pace)).toBe(800);
    expect(probeDue(state, 'b', 102_000, pace)).toBe(0);
    expect(probeDue({ ...state, failures: 2 }, 'a', 130_000, pace)).toBe(10_000);
  });
});

describe('the inventory in status', () => {
  const cond = probeCondition(ok, 's');
  const zone = (name: string, z: string) => ({ metadata: { name, labels: { 'topology.kubernetes.io/region': 'r', 'topology.kubernetes.io/zone': z } } });
  const inv = readInventory([zone('n1', 'a'), zone('n2', 'b')], [{ metadata: { name: 'fast' }, provisioner: 'p', allowVolumeExpansion: true }]);

  it('is written when read for the first time and when it changes, never for the same inventory again', () => {
    const first = nextStatus(undefined, cond, { ...ok, inventory: inv }, 1, at('2026-01-01T00:00:00Z'), 60_000);
    expect(first.status).toMatchObject({ region: 'r', zones: ['a', 'b'], nodeGroups: [{ name: 'a' }, { name: 'b' }], storageClasses: [{ name: 'fast', allowVolumeExpansion: true, default: false }] });
    const later = { ...ok, answeredAt: '2026-01-01T00:00:10Z' };
    // the same inventory, read again, stored with the API server's key order
    const stored = JSON.parse(JSON.stringify(first.status)) as typeof first.status;
    expect(nextStatus(stored, cond, { ...later, inventory: readInventory([zone('n2', 'b'), zone('n1', 'a')], [{ metadata: { name: 'fast' }, provisioner: 'p', allowVolumeExpansion: true }]) }, 1, at('2026-01-01T00:00:10Z'), 60_000).write).toBe(false);
    const grown = readInventory([zone('n1', 'a'), zone('n2', 'b'), zone('n3', 'c')], [{ metadata: { name: 'fast' }, provisioner: 'p', allowVolumeExpansion: true }]);
    const next = nextStatus(stored, cond, { ...later, inventory: grown }, 1, at('2026-01-01T00:00:10Z'), 60_000);
    expect(next).toMatchObject({ write: true, status: { zones: ['a', 'b', 'c'] } });
    // A heartbeat without an inventory read keeps what was read.
    expect(nextStatus(next.status, cond, later, 1, at('2026-01-01T00:00:20Z'), 60_000)).toMatchObject({ write: false, status: { zones: ['a', 'b', 'c'] } });
    // A region the nodes no longer name goes.
    const noRegion = nextStatus(next.status, cond, { ...later, inventory: readInventory([{ metadata: { name: 'n1' } }], []) }, 1, at('2026-01-01T00:00:30Z'), 60_000);
    expect(noRegion.write).toBe(true);
    expect(noRegion.status.region).toBeUndefined();
    expect(noRegion.status.zones).toEqual([]);
  });

  it('keeps what was read while the member does not answer', () => {
    const first = nextStatus(undefined, cond, { ...ok, inventory: inv }, 1, at('2026-01-01T00:00:00Z'), 60_000).status;
    const down: ProbeResult = { outcome: 'unreachable', detail: 'timed out' };
    expect(nextStatus(first, probeCondition(down, 's'), down, 1, at('2026-01-01T00:00:30Z'), 60_000).status.zones).toEqual(['a', 'b']);
  });

  it('is read once an inventory period, and at once when none is recorded, for new credentials or a member back', () => {
    const state = { lastAt: 100_000, failures: 0, credentials: 'a', inventoryAt: 100_000 };
    expect(inventoryDue(undefined, 'a', false, 100_000, 60_000)).toBe(true);
    expect(inventoryDue(state, 'a', true, 110_000, 60_000)).toBe(false);
    expect(inventoryDue(state, 'a', true, 160_000, 60_000)).toBe(true);
    expect(inventoryDue(state, 'a', false, 110_000, 60_000)).toBe(true);
    expect(inventoryDue(state, 'b', true, 110_000, 60_000)).toBe(true);
    expect(inventoryDue({ ...state, failures: 1 }, 'a', true, 110_000, 60_000)).toBe(true);
    expect(inventoryDue({ ...state, inventoryAt: undefined }, 'a', true, 110_000, 60_000)).toBe(true);
  });
});
