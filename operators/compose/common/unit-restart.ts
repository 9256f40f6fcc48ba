// A restart of some units only (spec.restartedAt with spec.restartUnits) for the compose kinds that restart their
// servers in the engine's order (ZooKeeper, Kafka). A restart of every unit is a new revision of the UnitSet; a
// restart of some cannot be (a revision is the UnitSet's, so every unit would become outdated), so it is passed to the
// UnitSet as spec.restart {id, order, units}: the Unit Operator restarts the named engines in place, one at a time,
// each next one only after the previous is Ready again, in the order given, and records its progress per id (a
// restarted operator resumes, an id is never done twice). The compose object decides the order once, when the
// cluster is healthy (the leader or the active controller last), and reports the UnitSet's progress. Pure.
import type { ZookeeperEnsemble } from '../../../lib/api/compose.upm.io.generated.ts';
import type { UnitSet } from '../../../lib/api/unit.upm.io.generated.ts';

type UnitSetRestart = NonNullable<UnitSet['spec']['restart']>;

/** status.unitRestart (the same in ZookeeperEnsemble and KafkaCluster). */
export type UnitRestartStatus = NonNullable<NonNullable<ZookeeperEnsemble['status']>['unitRestart']>;

export interface UnitRestartRequest { id: string; units: string[] }

/** The restart of some units the spec asks for; undefined when there is none (no id, or every unit restarts). */
export function unitRestartRequest(spec: { restartedAt?: string; restartUnits?: string[] }): UnitRestartRequest | undefined {
  const units = [...new Set(spec.restartUnits ?? [])];
  return spec.restartedAt && units.length ? { id: spec.restartedAt, units } : undefined;
}

/**
 * The restart stamp the UnitSet's template carries: the spec's for a restart of every unit; while some units only are
 * asked for, the one it carries already (changing it would restart every unit), and so too once restartUnits is
 * cleared after that id was taken for some units (`takenForSome`: status.unitRestart.id): an id is done once.
 */
export function fullRestartStamp(spec: { restartedAt?: string; restartUnits?: string[] }, carried: string | undefined, takenForSome?: string): string | undefined {
  return unitRestartRequest(spec) || (!!spec.restartedAt && spec.restartedAt === takenForSome) ? carried : spec.restartedAt;
}

/** The order among `units`: the others by ordinal, then those that must go last (the leader, the active controller). */
export function orderAmong(units: string[], last: (unit: string) => number): string[] {
  const ordinal = (u: string) => Number(/-(\d+)$/.exec(u)?.[1] ?? 0);
  return [...units].sort((a, b) => last(a) - last(b) || ordinal(a) - ordinal(b));
}

/** The units a restart of some units may still stop on purpose (asked for, not yet done): not failures. */
export function plannedRestarts(st: UnitRestartStatus | undefined): string[] {
  if (st?.phase !== 'Restarting') return [];
  return (st.units ?? []).filter((u) => !(st.done ?? []).includes(u) || st.current === u);
}

export interface UnitRestartStep {
  status: UnitRestartStatus;
  /** spec.restart to write on the UnitSet now (the request is not there yet and the cluster may begin). */
  write?: UnitSetRestart;
}

/**
 * What to do for a restart of some units: write it to the UnitSet once (when `notYet` gives no reason to wait), then
 * report the UnitSet's progress. `order` is the engine's order among the units, computed now.
 */
export function unitRestartStep(req: UnitRestartRequest, us: UnitSet, order: string[], notYet: string | undefined): UnitRestartStep {
  const base = { id: req.id, units: [...req.units].sort() };
  const asked = us.spec.restart;
  if (asked?.id !== req.id) {
    if (notYet) return { status: { ...base, phase: 'Waiting', done: [], message: `not begun: ${notYet}` } };
    const write: UnitSetRestart = { id: req.id, order, units: order };
    return { status: { ...base, order, phase: 'Restarting', done: [], message: `asked UnitSet ${us.metadata.name ?? ''} to restart ${order.join(', ')} in that order` }, write };
  }
  const p = us.status?.restart;
  const written = { ...base, order: asked.order ?? order };
  if (p?.id !== req.id) return { status: { ...written, phase: 'Restarting', done: [], message: 'the Unit Operator has not taken the request yet' } };
  return {
    status: {
      ...written, phase: p.phase ?? 'Restarting', done: p.done ?? [], ...(p.current && p.phase !== 'Complete' ? { current: p.current } : {}),
      ...(p.message ? { message: p.message } : {}),
    },
  };
}
