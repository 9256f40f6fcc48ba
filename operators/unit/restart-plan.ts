// The rolling restart of a UnitSet (spec.restart), decided without side effects: which unit is being restarted,
// which are done, and whether the next may be asked for now. The durable record is on the Units themselves (a
// unit's spec.restartId says it was asked, its status.lastRestartId that its engine did restart) and in
// status.restart.done, so a plan made by a fresh operator from what the API holds never asks a unit twice. A request
// may name the units it takes (spec.restart.units): only those restart, in the order the sequence gives them.
import type { UnitSet } from '../../lib/api/unit.upm.io.generated.ts';

export type RestartRequest = NonNullable<UnitSet['spec']['restart']>;
export type RestartStatus = NonNullable<NonNullable<UnitSet['status']>['restart']>;

/** What the plan needs to know about one unit (ordinal below spec.units, not being deleted). */
export interface RestartUnit {
  name: string;
  ordinal: number;
  /** spec.restartId: the restart asked of it. */
  requested: string;
  /** status.lastRestartId: the restart its engine did. */
  restarted: string;
  /** Ready at its revision and config. */
  available: boolean;
  /** A write of this controller to it is not in the cache yet: what the cache shows may be stale. */
  inFlux: boolean;
  /** Handed off (annotation unit.upm.io/maintenance): the operator does not drive its engine. */
  maintenance: boolean;
  /** Stopped by its own spec.startup (not by the UnitSet): no engine runs, so none is restarted. */
  stopped: boolean;
}

export interface RestartGate {
  /** spec.stopped: nothing runs, so nothing is restarted until the units start again. */
  stopped: boolean;
  /** Units unavailable now (not Ready, or in flux), this pass's own rollout steps included; not those stopped on purpose. */
  unavailable: number;
  maxUnavailable: number;
}

export interface RestartPlan {
  status: RestartStatus;
  /** The unit to ask for a restart now (set its spec.restartId to the request's id). */
  ask?: string;
}

/** Units not named in `order` first (by ordinal), then the named ones in the order given. */
export function restartSequence(units: RestartUnit[], order: string[]): string[] {
  const named = new Set(order);
  return [...units.filter((u) => !named.has(u.name)).sort((a, b) => a.ordinal - b.ordinal).map((u) => u.name), ...order];
}

export function planRestart(req: RestartRequest, prev: RestartStatus | undefined, units: RestartUnit[], gate: RestartGate): RestartPlan {
  const id = req.id;
  const same = prev?.id === id;
  // A finished request stays finished: units created later start after it and need no restart.
  if (same && (prev.phase === 'Complete' || prev.phase === 'Invalid')) return { status: prev };
  const byName = new Map(units.map((u) => [u.name, u]));
  const order = req.order ?? [];
  for (const [field, names] of [['order', order], ['units', req.units ?? []]] as const) {
    const unknown = names.filter((n) => !byName.has(n));
    if (unknown.length) {
      return { status: { id, phase: 'Invalid', done: [], message: `spec.restart.${field} names ${unknown.join(', ')}, not ${unknown.length > 1 ? 'units' : 'a unit'} of this UnitSet; nothing was restarted` } };
    }
  }
  // spec.restart.units narrows the request: the others are neither asked, nor counted, nor waited for.
  const only = req.units?.length ? new Set(req.units) : undefined;
  const sequence = restartSequence(units, order).filter((n) => !only || only.has(n));
  // Done: what earlier passes recorded, and every unit whose engine restarted for this id and is Ready again.
  const done = (same ? prev.done ?? [] : []).filter((n) => byName.has(n));
  for (const name of sequence) {
    const u = byName.get(name) as RestartUnit;
    if (!done.includes(name) && u.restarted === id && u.available && !u.inFlux) done.push(name);
  }
  const left = sequence.filter((n) => !done.includes(n));
  const skipped = left.filter((n) => byName.get(n)?.maintenance || byName.get(n)?.stopped);
  const todo = left.filter((n) => !skipped.includes(n));
  const base = { id, done, ...(skipped.length ? { skipped } : {}) };
  // Being restarted: asked (or asked in a write the cache does not show yet), not Ready again.
  const current = todo.find((n) => {
    const u = byName.get(n) as RestartUnit;
    return u.requested === id || u.restarted === id || (u.inFlux && same && prev.current === n);
  });
  if (current) {
    const u = byName.get(current) as RestartUnit;
    return { status: { ...base, phase: 'Restarting', current, message: `restarting ${current} (${done.length + 1}/${done.length + todo.length}); waiting for it to be Ready${u.restarted === id ? '' : ' after its restart'}` } };
  }
  const next = todo[0];
  if (!next) {
    return { status: { ...base, phase: 'Complete', message: `restarted ${done.length} ${done.length === 1 ? 'unit' : 'units'}${skipped.length ? `; skipped ${skipped.join(', ')} (in maintenance or stopped)` : ''}` } };
  }
  if (gate.stopped) return { status: { ...base, phase: 'Waiting', message: 'the UnitSet is stopped; the restart goes on once it is started' } };
  if (gate.unavailable >= gate.maxUnavailable) {
    return { status: { ...base, phase: 'Waiting', message: `${gate.unavailable} ${gate.unavailable === 1 ? 'unit is' : 'units are'} not Ready (maxUnavailable ${gate.maxUnavailable}); ${next} is next` } };
  }
  return { status: { ...base, phase: 'Restarting', current: next, message: `restarting ${next} (${done.length + 1}/${done.length + todo.length})` }, ask: next };
}
