import { describe, expect, it } from '@jest/globals';
import { nextStatus, probeCondition, probeDue, probeInterval, type Pace, type ProbeResult } from './health.ts';

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
