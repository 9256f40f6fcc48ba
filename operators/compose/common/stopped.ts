// A replication whose every server was stopped on purpose (each Unit's spec.startup false, as a UnitSet's
// spec.stopped sets it) is not a failure to act on: no failover, no fencing, no Degraded. The controllers of the
// source/replica kinds hold still and say Stopped until the servers start again.
import type { Unit } from '../../../lib/api/unit.upm.io.generated.ts';
import { setCondition, type Condition } from '../../../lib/conditions.ts';
import type { Store } from '../../../lib/informer.ts';

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
