// A restart of some units of a compose kind (ZooKeeper, Kafka): which request it is, the order among the units, the
// stamp the UnitSet keeps, and what is written to the UnitSet once and read back from it.
import { describe, expect, it } from '@jest/globals';
import type { UnitSet } from '../../../lib/api/unit.upm.io.generated.ts';
import { fullRestartStamp, orderAmong, plannedRestarts, unitRestartRequest, unitRestartStep } from './unit-restart.ts';

const us = (restart?: UnitSet['spec']['restart'], progress?: NonNullable<UnitSet['status']>['restart']): UnitSet => ({
  apiVersion: 'unit.upm.io/v1alpha1', kind: 'UnitSet', metadata: { name: 'zk', namespace: 'ns' },
  spec: { engine: 'zookeeper', version: '3.8', units: 3, ...(restart ? { restart } : {}) },
  ...(progress ? { status: { restart: progress } } : {}),
});

describe('a restart of some units', () => {
  it('is asked by restartedAt with restartUnits; neither alone is one', () => {
    expect(unitRestartRequest({ restartedAt: 'r1', restartUnits: ['zk-2', 'zk-0', 'zk-2'] })).toEqual({ id: 'r1', units: ['zk-2', 'zk-0'] });
    expect(unitRestartRequest({ restartedAt: 'r1' })).toBeUndefined();
    expect(unitRestartRequest({ restartedAt: 'r1', restartUnits: [] })).toBeUndefined();
    expect(unitRestartRequest({ restartUnits: ['zk-0'] })).toBeUndefined();
  });

  it('leaves the stamp the units carry as it is; a restart of all moves it', () => {
    expect(fullRestartStamp({ restartedAt: 'r2', restartUnits: ['zk-0'] }, 'r1')).toBe('r1');
    expect(fullRestartStamp({ restartedAt: 'r2', restartUnits: ['zk-0'] }, undefined)).toBeUndefined();
    expect(fullRestartStamp({ restartedAt: 'r2' }, 'r1')).toBe('r2');
    // restartUnits cleared after r2 was taken for some units: r2 is done, nothing restarts again.
    expect(fullRestartStamp({ restartedAt: 'r2' }, 'r1', 'r2')).toBe('r1');
    expect(fullRestartStamp({ restartedAt: 'r3' }, 'r1', 'r2')).toBe('r3');
  });

  it('orders the units by ordinal, those that must go last after', () => {
    expect(orderAmong(['zk-10', 'zk-1', 'zk-2'], (u) => (u === 'zk-1' ? 1 : 0))).toEqual(['zk-2', 'zk-10', 'zk-1']);
    expect(orderAmong(['zk-2', 'zk-0'], () => 0)).toEqual(['zk-0', 'zk-2']);
  });

  it('writes the UnitSet\'s spec.restart once, when the cluster may begin, with the units in that order', () => {
    const req = { id: 'r1', units: ['zk-1', 'zk-0'] };
    const waiting = unitRestartStep(req, us(), ['zk-0', 'zk-1'], 'the ensemble is not whole and in sync');
    expect(waiting.write).toBeUndefined();
    expect(waiting.status).toMatchObject({ id: 'r1', phase: 'Waiting', message: 'not begun: the ensemble is not whole and in sync' });
    const go = unitRestartStep(req, us({ id: 'older', units: ['zk-2'] }), ['zk-0', 'zk-1'], undefined);
    expect(go.write).toEqual({ id: 'r1', order: ['zk-0', 'zk-1'], units: ['zk-0', 'zk-1'] });
    expect(go.status).toMatchObject({ id: 'r1', units: ['zk-0', 'zk-1'], order: ['zk-0', 'zk-1'], phase: 'Restarting' });
  });

  it('once written, never writes again (not even in another order, nor when the cluster is busy) and reports the UnitSet\'s progress', () => {
    const req = { id: 'r1', units: ['zk-1', 'zk-0'] };
    const written = { id: 'r1', order: ['zk-0', 'zk-1'], units: ['zk-0', 'zk-1'] };
    const taken = unitRestartStep(req, us(written), ['zk-1', 'zk-0'], 'busy');
    expect(taken.write).toBeUndefined();
    expect(taken.status).toMatchObject({ phase: 'Restarting', order: ['zk-0', 'zk-1'], message: 'the Unit Operator has not taken the request yet' });
    const going = unitRestartStep(req, us(written, { id: 'r1', phase: 'Restarting', current: 'zk-1', done: ['zk-0'], message: 'restarting zk-1 (2/2)' }), ['zk-1', 'zk-0'], undefined);
    expect(going).toEqual({ status: { id: 'r1', units: ['zk-0', 'zk-1'], order: ['zk-0', 'zk-1'], phase: 'Restarting', current: 'zk-1', done: ['zk-0'], message: 'restarting zk-1 (2/2)' } });
    const over = unitRestartStep(req, us(written, { id: 'r1', phase: 'Complete', current: 'zk-1', done: ['zk-0', 'zk-1'] }), [], undefined);
    expect(over.status).toMatchObject({ phase: 'Complete', done: ['zk-0', 'zk-1'] });
    expect(over.status.current).toBeUndefined();
    // The UnitSet's record of an earlier id is not this one's.
    expect(unitRestartStep(req, us(written, { id: 'r0', phase: 'Complete', done: ['zk-2'] }), [], undefined).status).toMatchObject({ phase: 'Restarting', done: [] });
  });

  it('counts the units asked for and not done (and the current one) as stopped on purpose while it runs', () => {
    expect(plannedRestarts({ id: 'r1', units: ['zk-0', 'zk-1'], phase: 'Restarting', current: 'zk-1', done: ['zk-0'] })).toEqual(['zk-1']);
    expect(plannedRestarts({ id: 'r1', units: ['zk-0', 'zk-1'], phase: 'Complete', done: ['zk-0', 'zk-1'] })).toEqual([]);
    expect(plannedRestarts(undefined)).toEqual([]);
  });
});
