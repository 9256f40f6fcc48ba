import { describe, expect, it } from '@jest/globals';
import type { KafkaCluster, KafkaClusterStatus } from '../../../lib/api/compose.upm.io.generated.ts';
import type { EventRecorder } from '../../../lib/events.ts';
import { noticeIncidents, stoppedStatus, type KafkaClusterDeps } from './controller.ts';
import type { ClusterSnapshot, Node } from './plan.ts';

const kc = { metadata: { name: 'ev', namespace: 'ns', uid: 'u' }, spec: { brokers: 3 } } as KafkaCluster;
function recorder() {
  const got: string[] = [];
  const events = { record: async (_o: unknown, type: string, reason: string, message: string) => { got.push(`${type} ${reason}: ${message}`); } } as unknown as EventRecorder;
  return { got, d: { events } as unknown as KafkaClusterDeps };
}
const node = (o: number, over: Partial<Node & { restarts: number; phase: string }> = {}) => ({ ordinal: o, id: o + 1, unit: `ev-${o}`, broker: true, controller: true, ready: true, restarts: 0, phase: 'Running', ...over });
const world = (brokers: number[], leader: number, isr = [1, 2, 3]): ClusterSnapshot => ({
  clusterId: 'c', brokers, minIsr: new Map(), reassigning: [], disagreeing: [],
  partitions: [{ topic: 't', partition: 0, leader: brokers[0] ?? -1, replicas: [1, 2, 3], isr }],
  quorum: { leader, epoch: 1, highWatermark: 1, voters: [] },
});
const running = (restarts: number[] = [0, 0, 0]): KafkaClusterStatus['nodes'] => [0, 1, 2].map((o) => ({ id: o + 1, unit: `ev-${o}`, state: 'Running', engineRestarts: restarts[o] }));

describe('noticeIncidents', () => {
  it('tells one story for a killed active controller: crashed, moved, lost, back, in sync; each written as a new object', async () => {
    const { got, d } = recorder();
    // Pass 1: the quorum has a new leader already; the killed node's broker is still registered.
    let prev: KafkaClusterStatus = { nodes: running(), activeController: { id: 2, unit: 'ev-1' } };
    let status: KafkaClusterStatus = { ...prev };
    await noticeIncidents(d, kc, prev, status, [node(0), node(1, { ready: false }), node(2)], world([1, 2, 3], 3), [], '2026-01-01T00:00:01Z');
    expect(status.lastControllerChange).toEqual({ from: 2, to: 3, time: '2026-01-01T00:00:01Z' });
    expect(status.lastIncident).toBeUndefined();
    // Pass 2: its agent restarted the engine.
    prev = { ...status, nodes: running(), activeController: { id: 3, unit: 'ev-2' } };
    status = { ...prev };
    await noticeIncidents(d, kc, prev, status, [node(0), node(1, { ready: false, restarts: 1, phase: 'Starting' }), node(2)], world([1, 2, 3], 3), [], '2026-01-01T00:00:02Z');
    expect(status.lastIncident).toMatchObject({ unit: 'ev-1', id: 2, wasActiveController: true, detectedAt: '2026-01-01T00:00:02Z' });
    expect(status.lastIncident?.message).toBe('ev-1 (node 2): its engine exited unexpectedly and was restarted by its agent (engine restarts: 1); it was the active controller');
    // Pass 3: the cluster fences the old broker: the same incident, one more fact.
    prev = { ...status, nodes: running([0, 1, 0]) };
    status = { ...prev };
    await noticeIncidents(d, kc, prev, status, [node(0), node(1, { ready: false, restarts: 1, phase: 'Starting' }), node(2)], world([1, 3], 3, [1, 3]), [], '2026-01-01T00:00:05Z');
    expect(status.lastIncident?.detectedAt).toBe('2026-01-01T00:00:02Z');
    expect(status.lastIncident?.message).toMatch(/restarted by its agent .*; it was the active controller; the broker left the cluster \(unit Starting\)$/);
    // Pass 4: back, partitions still catching up; pass 5: in sync. The status object written is never the previous one.
    prev = { ...status, nodes: (running([0, 1, 0]) ?? []).map((n) => (n.id === 2 ? { ...n, state: 'Offline' as const } : n)) };
    status = { ...prev };
    await noticeIncidents(d, kc, prev, status, [node(0), node(1, { restarts: 1 }), node(2)], world([1, 2, 3], 3, [1, 3]), [], '2026-01-01T00:00:09Z');
    expect(status.lastIncident?.recoveredAt).toBe('2026-01-01T00:00:09Z');
    expect(prev.lastIncident?.recoveredAt).toBeUndefined();
    prev = { ...status, nodes: running([0, 1, 0]) };
    status = { ...prev };
    await noticeIncidents(d, kc, prev, status, [node(0), node(1, { restarts: 1 }), node(2)], world([1, 2, 3], 3), [], '2026-01-01T00:00:12Z');
    expect(status.lastIncident?.inSyncAt).toBe('2026-01-01T00:00:12Z');
    // Pass 6: nothing new, nothing said.
    const said = got.length;
    prev = { ...status, nodes: running([0, 1, 0]) };
    status = { ...prev };
    await noticeIncidents(d, kc, prev, status, [node(0), node(1, { restarts: 1 }), node(2)], world([1, 2, 3], 3), [], '2026-01-01T00:00:15Z');
    expect(got).toHaveLength(said);
    expect(got.map((e) => e.split(':')[0])).toEqual(['Warning ControllerChanged', 'Warning EngineCrashed', 'Warning BrokerLost', 'Normal BrokerRecovered', 'Normal InSync']);
  });

  it('says nothing about a unit the operator is restarting itself', async () => {
    const { got, d } = recorder();
    const prev: KafkaClusterStatus = { nodes: running() };
    const status: KafkaClusterStatus = { ...prev };
    await noticeIncidents(d, kc, prev, status, [node(0), node(1, { ready: false }), node(2)], world([1, 3], 1), ['ev-1'], '2026-01-01T00:00:01Z');
    expect(status.lastIncident).toBeUndefined();
    expect(got).toEqual([]);
  });

  it('after a stop, the brokers coming back (some still down, another active controller) are no incident', async () => {
    const { got, d } = recorder();
    const before: KafkaClusterStatus = { nodes: running(), activeController: { id: 1, unit: 'ev-0' }, brokers: 3, brokersReady: '3/3' };
    const held = stoppedStatus(before, 3);
    expect(held.nodes?.map((n) => n.state)).toEqual(['Stopped', 'Stopped', 'Stopped']);
    expect(held).toMatchObject({ brokers: 0, brokersReady: '0/3' });
    expect(held.activeController).toBeUndefined();
    expect(before.activeController).toEqual({ id: 1, unit: 'ev-0' });
    const status: KafkaClusterStatus = { ...held };
    await noticeIncidents(d, kc, held, status, [node(0, { ready: false }), node(1), node(2)], world([2, 3], 3, [2, 3]), [], '2026-01-01T00:00:01Z');
    expect(got).toEqual([]);
    expect(status.lastIncident).toBeUndefined();
    expect(status.lastControllerChange).toBeUndefined();
  });
});
