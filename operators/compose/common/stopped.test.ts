import { describe, expect, it } from '@jest/globals';
import type { Unit } from '../../../lib/api/unit.upm.io.generated.ts';
import { allStopped, stopConditions, stoppedConditions, stopView } from './stopped.ts';

const store = (startup: Record<string, boolean | undefined>) => ({
  get: (key: string) => {
    const name = key.split('/')[1] ?? '';
    return name in startup ? ({ metadata: { name }, spec: { startup: startup[name] } } as unknown as Unit) : undefined;
  },
});

describe('a replication stopped on purpose', () => {
  it('is so only when every server is a Unit asked to stop', () => {
    expect(allStopped(['db-0', 'db-1'], 'p', store({ 'db-0': false, 'db-1': false }))).toBe(true);
    expect(allStopped(['db-0', 'db-1'], 'p', store({ 'db-0': false, 'db-1': true }))).toBe(false);
    expect(allStopped(['db-0', 'db-1'], 'p', store({ 'db-0': false, 'db-1': undefined }))).toBe(false);
    expect(allStopped(['db-0', undefined], 'p', store({ 'db-0': false }))).toBe(false);
    expect(allStopped(['db-0', 'db-9'], 'p', store({ 'db-0': false }))).toBe(false);
    expect(allStopped([], 'p', store({}))).toBe(false);
  });

  it('reads as not Degraded, with the reason Stopped', () => {
    const c = stoppedConditions([{ type: 'Degraded', status: 'True', reason: 'NodesNotReady', message: 'db-0: unreachable' }], 3, 2);
    expect(c.find((x) => x.type === 'Degraded')).toMatchObject({ status: 'False', reason: 'Stopped', observedGeneration: 2 });
    expect(c.find((x) => x.type === 'TopologyReady')).toMatchObject({ status: 'False', reason: 'Stopped' });
    expect(c.find((x) => x.type === 'TopologyReady')?.message).toContain('all 3 servers are stopped on purpose');
  });
});

describe('a clustered kind (ZooKeeper, Kafka, OpenSearch) stopped on purpose', () => {
  type State = 'running' | 'asked' | 'stopped' | 'byUser' | 'starting';
  /** A unit: running; asked to stop by its UnitSet (engine still up); stopped by it; stopped by a user on its own; started again (annotation gone, engine down). */
  const unit = (name: string, s: State): Unit => ({
    metadata: { name, ...(s === 'asked' || s === 'stopped' ? { annotations: { 'unit.upm.io/stopped-by-unitset': 'true' } } : {}) },
    spec: { revision: 'r1', ...(s === 'running' || s === 'starting' ? { startup: true } : { startup: false }) },
    status: { phase: s === 'stopped' || s === 'byUser' || s === 'starting' ? 'Stopped' : 'Ready', podRevision: 'r1' },
  } as unknown as Unit);
  const units = (...states: State[]) => states.map((s, i) => unit(`zk-${i}`, s));

  it('holds still while asked: Stopping until every engine reports stopped, then Stopped', () => {
    expect(stopView(true, units('running', 'running', 'running'))).toEqual({ hold: true, phase: 'Stopping', stopped: 0, units: 3 });
    expect(stopView(true, units('stopped', 'asked', 'stopped'))).toEqual({ hold: true, phase: 'Stopping', stopped: 2, units: 3 });
    expect(stopView(true, units('stopped', 'stopped', 'stopped'))).toEqual({ hold: true, phase: 'Stopped', stopped: 3, units: 3 });
    // An engine stopped at an older revision than its unit wants is not the stop's doing yet.
    const stale = units('stopped');
    (stale[0] as Unit).status = { ...(stale[0] as Unit).status, podRevision: 'r0' };
    expect(stopView(true, stale)).toMatchObject({ phase: 'Stopping', stopped: 0 });
    expect(stopView(true, [])).toEqual({ hold: true, phase: 'Stopping', stopped: 0, units: 0 });
  });

  it('after the stop is cleared, holds still until the UnitSet has started every unit it stopped', () => {
    expect(stopView(false, units('stopped', 'stopped', 'stopped'))).toMatchObject({ hold: true, phase: 'Stopped' });
    expect(stopView(false, units('starting', 'starting', 'stopped'))).toMatchObject({ hold: true });
    expect(stopView(false, units('starting', 'starting', 'starting'))).toEqual({ hold: false, stopped: 0, units: 3 });
    expect(stopView(false, units('running', 'running', 'running'))).toEqual({ hold: false, stopped: 0, units: 3 });
  });

  it('does not hold still for a unit a user stopped on its own: that is a server down to report', () => {
    expect(stopView(false, units('running', 'byUser', 'running'))).toEqual({ hold: false, stopped: 1, units: 3 });
  });

  it('reads as not Ready and not Degraded, saying how far the stop has come', () => {
    const before = [{ type: 'Degraded', status: 'True' as const, reason: 'NoLeader', message: 'no leader' }];
    const stopping = stopConditions(before, { hold: true, phase: 'Stopping', stopped: 1, units: 3 }, 'servers', 4);
    expect(stopping.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'Stopping', message: 'stopping the servers: 1/3 engines stopped (spec.stopped)', observedGeneration: 4 });
    expect(stopping.find((c) => c.type === 'Progressing')).toMatchObject({ status: 'True', reason: 'Stopping' });
    expect(stopping.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'False', reason: 'Stopped' });
    const stopped = stopConditions(stopping, { hold: true, phase: 'Stopped', stopped: 3, units: 3 }, 'servers', 4);
    expect(stopped.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'Stopped' });
    expect(stopped.find((c) => c.type === 'Ready')?.message).toContain('all 3 servers are stopped on purpose');
    expect(stopped.find((c) => c.type === 'Progressing')).toMatchObject({ status: 'False', reason: 'Stopped' });
  });
});
