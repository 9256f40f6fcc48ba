// A replication whose every server was stopped on purpose (each Unit's spec.startup false, as a UnitSet's
// spec.stopped sets it) is not a failure to act on: no failover, no fencing, no Degraded. The controllers of the
// source/replica kinds hold still and say Stopped until the servers start again.
import type { Unit } from '../../../lib/api/unit.upm.io.generated.ts';
import { setCondition, type Condition } from '../../../lib/conditions.ts';
import type { Store } from '../../../lib/informer.ts';
import { ANNOTATION_STOPPED_BY_UNITSET } from '../../unit/naming.ts';

/** Every server named by a unit is a Unit asked to stop (spec.startup false); false when any has no unit. */
export function allStopped(units: (string | undefined)[], namespace: string, store: Pick<Store<Unit>, 'get'>): boolean {
  return units.length > 0 && units.every((u) => !!u && store.get(`${namespace}/${u}`)?.spec.startup === false);
}

/** The conditions of a replication held still while stopped. */
export function stoppedConditions(conditions: Condition[] | undefined, count: number, generation: number | undefined): Condition[] {
  const message = `all ${count} servers are stopped on purpose (their Units' spec.startup is false); nothing is failed over until they start`;
  let c = setCondition(conditions, { type: 'TopologyReady', status: 'False', reason: 'Stopped', message, observedGeneration: generation });
  c = setCondition(c, { type: 'Degraded', status: 'False', reason: 'Stopped', message, observedGeneration: generation });
  return c;
}

// ---- the clustered kinds that own their UnitSets (ZookeeperEnsemble, KafkaCluster, ElasticsearchCluster) --------
// Their spec.stopped goes into their UnitSets' spec.stopped (the Unit Operator stops every engine at once, in place).
// While it is asked, and after it is cleared until the UnitSet has started every unit it stopped, the controller
// holds still: a quorum or cluster whose servers are down on purpose needs no reconfiguration, no reassignment and
// no repair, and a server that does not answer is no failure to record.

/** How far a stop asked of a clustered kind has come, from its Units. */
export interface StopView {
  /** The controller takes no step: spec.stopped, or units the UnitSet stopped that it has not started yet. */
  hold: boolean;
  phase?: 'Stopping' | 'Stopped';
  /** Units whose engine reports stopped as asked / units. */
  stopped: number;
  units: number;
}

type UnitLike = Pick<Unit, 'metadata' | 'spec' | 'status'>;
const stoppedByUnitSet = (u: UnitLike): boolean => u.spec.startup === false && u.metadata.annotations?.[ANNOTATION_STOPPED_BY_UNITSET] === 'true';
const engineStopped = (u: UnitLike): boolean => u.spec.startup === false && u.status?.phase === 'Stopped' && u.status.podRevision === u.spec.revision;

/** Pure: `asked` is the kind's spec.stopped; `units` every live Unit of its UnitSets. */
export function stopView(asked: boolean, units: UnitLike[]): StopView {
  const live = units.filter((u) => !u.metadata.deletionTimestamp);
  const stopped = live.filter(engineStopped).length;
  const all = live.length > 0 && stopped === live.length;
  if (asked) return { hold: true, phase: all ? 'Stopped' : 'Stopping', stopped, units: live.length };
  // Started again: until the UnitSet has taken every unit back, it is still the stop that keeps them down.
  if (live.some(stoppedByUnitSet)) return { hold: true, phase: 'Stopped', stopped, units: live.length };
  return { hold: false, stopped, units: live.length };
}

/** The conditions of a clustered kind held still by a stop (Ready False, not Degraded). */
export function stopConditions(conditions: Condition[] | undefined, v: StopView, what: string, generation: number | undefined): Condition[] {
  const phase = v.phase ?? 'Stopped';
  const message = phase === 'Stopped'
    ? `all ${v.units} ${what} are stopped on purpose (spec.stopped); nothing is reconfigured or repaired until they start`
    : `stopping the ${what}: ${v.stopped}/${v.units} engines stopped (spec.stopped)`;
  let c = setCondition(conditions, { type: 'Ready', status: 'False', reason: phase, message, observedGeneration: generation });
  c = setCondition(c, { type: 'Progressing', status: phase === 'Stopping' ? 'True' : 'False', reason: phase, message, observedGeneration: generation });
  c = setCondition(c, { type: 'Degraded', status: 'False', reason: 'Stopped', message, observedGeneration: generation });
  return c;
}
