// The rolling-restart plan alone: order, one unit at a time, the gates, and resuming from what the API holds.
import { describe, expect, it } from '@jest/globals';
import { planRestart, restartSequence, type RestartGate, type RestartStatus, type RestartUnit } from './restart-plan.ts';

const unit = (ordinal: number, over: Partial<RestartUnit> = {}): RestartUnit => ({
  name: `db-${ordinal}`, ordinal, requested: '', restarted: '', available: true, inFlux: false, maintenance: false, stopped: false, ...over,
});
const three = (over: Record<string, Partial<RestartUnit>> = {}) => [0, 1, 2].map((o) => unit(o, over[`db-${o}`] ?? {}));
const open: RestartGate = { stopped: false, unavailable: 0, maxUnavailable: 1 };
const req = { id: 'r1', order: ['db-2', 'db-0', 'db-1'] };

/** Runs the plan the way the controller and the Unit controller would, one step at a time, to the end. */
function runToEnd(units: RestartUnit[], request: { id: string; order?: string[]; units?: string[] }, prev?: RestartStatus) {
  const asked: string[] = [];
  let status = prev;
  for (let i = 0; i < 20; i++) {
    const p = planRestart(request, status, units, { ...open, unavailable: units.filter((u) => !u.available).length });
    status = p.status;
    if (p.ask) {
      asked.push(p.ask);
      const u = units.find((x) => x.name === p.ask) as RestartUnit;
      u.requested = request.id;
      u.available = false;
      continue;
    }
    const current = units.find((x) => x.name === status?.current);
    if (current && current.restarted !== request.id) { current.restarted = request.id; continue; }
    if (current && !current.available) { current.available = true; continue; }
    if (status.phase === 'Complete') break;
  }
  return { asked, status: status as RestartStatus };
}

describe('restart order', () => {
  it('puts units the order does not name first, by ordinal, then the named ones as given', () => {
    const units = [unit(3), unit(0), unit(1), unit(2)];
    expect(restartSequence(units, ['db-2', 'db-0'])).toEqual(['db-1', 'db-3', 'db-2', 'db-0']);
    expect(restartSequence(units, [])).toEqual(['db-0', 'db-1', 'db-2', 'db-3']);
  });

  it('refuses an order that names a unit the UnitSet does not have, and asks for nothing', () => {
    const p = planRestart({ id: 'r1', order: ['db-2', 'db-7'] }, undefined, three(), open);
    expect(p.ask).toBeUndefined();
    expect(p.status).toMatchObject({ id: 'r1', phase: 'Invalid', done: [] });
    expect(p.status.message).toContain('db-7');
    // A refused request stays refused (the same id is not retried); a new id is planned afresh.
    expect(planRestart({ id: 'r1', order: ['db-2'] }, p.status, three(), open).status.phase).toBe('Invalid');
    expect(planRestart({ id: 'r2', order: ['db-2'] }, p.status, three(), open).ask).toBe('db-0');
  });

  it('restarts every unit exactly once, one at a time, in the order asked', () => {
    const { asked, status } = runToEnd(three(), req);
    expect(asked).toEqual(['db-2', 'db-0', 'db-1']);
    expect(status).toMatchObject({ id: 'r1', phase: 'Complete', done: ['db-2', 'db-0', 'db-1'] });
  });
});

describe('one at a time', () => {
  it('asks for the next unit only once the current one restarted and is Ready again', () => {
    const units = three({ 'db-2': { requested: 'r1' } });
    expect(planRestart(req, undefined, units, open)).toMatchObject({ status: { phase: 'Restarting', current: 'db-2' } });
    expect(planRestart(req, undefined, units, open).ask).toBeUndefined();
    // Restarted but not Ready yet: still current.
    const restarted = three({ 'db-2': { requested: 'r1', restarted: 'r1', available: false } });
    expect(planRestart(req, undefined, restarted, { ...open, unavailable: 1 })).toMatchObject({ status: { current: 'db-2', done: [] } });
    // Ready again: done, and db-0 is next.
    const ready = three({ 'db-2': { requested: 'r1', restarted: 'r1' } });
    expect(planRestart(req, undefined, ready, open)).toMatchObject({ ask: 'db-0', status: { current: 'db-0', done: ['db-2'] } });
  });

  it('waits while maxUnavailable units are not Ready, or while the UnitSet is stopped', () => {
    const down = planRestart(req, undefined, three({ 'db-1': { available: false } }), { ...open, unavailable: 1 });
    expect(down.ask).toBeUndefined();
    expect(down.status).toMatchObject({ phase: 'Waiting' });
    expect(down.status.message).toContain('maxUnavailable 1');
    // Two may be down at once: the restart goes on beside the one unit that is not Ready.
    expect(planRestart(req, undefined, three({ 'db-1': { available: false } }), { ...open, unavailable: 1, maxUnavailable: 2 }).ask).toBe('db-2');
    const stopped = planRestart(req, undefined, three(), { ...open, stopped: true });
    expect(stopped.ask).toBeUndefined();
    expect(stopped.status.phase).toBe('Waiting');
  });

  it('does not ask again for a unit whose request is not in the cache yet', () => {
    const prev: RestartStatus = { id: 'r1', phase: 'Restarting', current: 'db-2', done: [] };
    // The cache still shows db-2 without its restartId, but the controller's own write is pending (in flux).
    const p = planRestart(req, prev, three({ 'db-2': { inFlux: true } }), { ...open, unavailable: 1 });
    expect(p.ask).toBeUndefined();
    expect(p.status).toMatchObject({ phase: 'Restarting', current: 'db-2' });
  });

  it('skips units in maintenance (their engine is not the operator\'s to drive) or stopped by their own spec, and says so', () => {
    const { asked, status } = runToEnd(three({ 'db-0': { maintenance: true } }), req);
    expect(asked).toEqual(['db-2', 'db-1']);
    expect(status).toMatchObject({ phase: 'Complete', done: ['db-2', 'db-1'], skipped: ['db-0'] });
    const stopped = runToEnd(three({ 'db-2': { stopped: true } }), req);
    expect(stopped.asked).toEqual(['db-0', 'db-1']);
    expect(stopped.status).toMatchObject({ phase: 'Complete', skipped: ['db-2'] });
  });
});

describe('resuming', () => {
  it('a fresh operator that lost status.restart restarts no unit twice: the units record what was done', () => {
    // db-2 done, db-0 asked and restarted (not Ready yet), status.restart never written.
    const units = three({ 'db-2': { requested: 'r1', restarted: 'r1' }, 'db-0': { requested: 'r1', restarted: 'r1', available: false } });
    const p = planRestart(req, undefined, units, { ...open, unavailable: 1 });
    expect(p.ask).toBeUndefined();
    expect(p.status).toMatchObject({ phase: 'Restarting', current: 'db-0', done: ['db-2'] });
    const { asked, status } = runToEnd(units, req, p.status);
    expect(asked).toEqual(['db-1']);
    expect(status.done).toEqual(['db-2', 'db-0', 'db-1']);
  });

  it('keeps what status.restart recorded done even when a unit no longer shows it (a unit status rewritten)', () => {
    const prev: RestartStatus = { id: 'r1', phase: 'Restarting', current: 'db-0', done: ['db-2'] };
    const p = planRestart(req, prev, three({ 'db-0': { requested: 'r1', restarted: 'r1' } }), open);
    expect(p).toMatchObject({ ask: 'db-1', status: { done: ['db-2', 'db-0'] } });
  });

  it('never repeats a completed request; a new id starts over', () => {
    const { status } = runToEnd(three(), req);
    const again = planRestart(req, status, three(), open);
    expect(again.ask).toBeUndefined();
    expect(again.status).toBe(status);
    // Units of the old request count nothing for the new one.
    const fresh = planRestart({ id: 'r2' }, status, three({ 'db-0': { requested: 'r1', restarted: 'r1' } }), open);
    expect(fresh).toMatchObject({ ask: 'db-0', status: { id: 'r2', done: [] } });
  });
});

describe('some units only (spec.restart.units)', () => {
  const some = { id: 'r1', order: ['db-2', 'db-0', 'db-1'], units: ['db-1', 'db-0'] };

  it('restarts only the units named, each once, in the order the engine needs among them; the others are untouched', () => {
    const units = three();
    const { asked, status } = runToEnd(units, some);
    expect(asked).toEqual(['db-0', 'db-1']);
    expect(status).toMatchObject({ id: 'r1', phase: 'Complete', done: ['db-0', 'db-1'] });
    expect(status.message).toBe('restarted 2 units');
    expect(units.find((u) => u.name === 'db-2')).toMatchObject({ requested: '', restarted: '' });
  });

  it('puts the named units the order leaves out first, by ordinal', () => {
    expect(runToEnd(three(), { id: 'r1', order: ['db-0'], units: ['db-2', 'db-0'] }).asked).toEqual(['db-2', 'db-0']);
    expect(runToEnd(three(), { id: 'r1', units: ['db-1'] }).asked).toEqual(['db-1']);
  });

  it('does not wait for a unit left out, nor count it, even when it is not Ready', () => {
    // db-2 is down and not named: with maxUnavailable 2 the named unit goes on, and the request completes without it.
    const units = three({ 'db-2': { available: false } });
    const p = planRestart({ id: 'r1', units: ['db-1'] }, undefined, units, { ...open, unavailable: 1, maxUnavailable: 2 });
    expect(p).toMatchObject({ ask: 'db-1', status: { phase: 'Restarting', current: 'db-1', done: [] } });
    const done = planRestart({ id: 'r1', units: ['db-1'] }, p.status, three({ 'db-1': { requested: 'r1', restarted: 'r1' }, 'db-2': { available: false } }), { ...open, unavailable: 1, maxUnavailable: 2 });
    expect(done.ask).toBeUndefined();
    expect(done.status).toMatchObject({ phase: 'Complete', done: ['db-1'] });
    expect(done.status.skipped).toBeUndefined();
  });

  it('never asks again for a named unit that already restarted for this id (level-based: a fresh plan from the units alone)', () => {
    // db-0 restarted for r1 and Ready, status.restart lost: the plan asks db-1 only, then completes.
    const units = three({ 'db-0': { requested: 'r1', restarted: 'r1' } });
    const { asked, status } = runToEnd(units, some);
    expect(asked).toEqual(['db-1']);
    expect(status.done).toEqual(['db-0', 'db-1']);
    // The same plan again asks nothing.
    expect(planRestart(some, status, units, open)).toEqual({ status });
  });

  it('refuses a name that is not a unit of the UnitSet, and asks for nothing', () => {
    const p = planRestart({ id: 'r1', units: ['db-1', 'db-9'] }, undefined, three(), open);
    expect(p.ask).toBeUndefined();
    expect(p.status).toMatchObject({ phase: 'Invalid', done: [] });
    expect(p.status.message).toBe('spec.restart.units names db-9, not a unit of this UnitSet; nothing was restarted');
  });

  it('skips a named unit in maintenance, and says so', () => {
    const { asked, status } = runToEnd(three({ 'db-1': { maintenance: true } }), some);
    expect(asked).toEqual(['db-0']);
    expect(status).toMatchObject({ phase: 'Complete', done: ['db-0'], skipped: ['db-1'] });
  });
});
