// Carries a restart of some units (unit-restart.ts) out for a compose object: writes the UnitSet's spec.restart once,
// records an Event when it begins and when it is over, and returns the progress for the compose object's status (and the UnitSet written, for the cache).
import type { UnitSet } from '../../../lib/api/unit.upm.io.generated.ts';
import { UnitSetResource } from '../../../lib/api/unit.upm.io.generated.ts';
import type { EventRecorder } from '../../../lib/events.ts';
import type { KubeClient } from '../../../lib/kube/client.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import { unitRestartStep, type UnitRestartRequest, type UnitRestartStatus } from './unit-restart.ts';

export async function syncUnitRestart(
  client: KubeClient, events: EventRecorder, owner: KubeObject, us: UnitSet, req: UnitRestartRequest, order: string[], notYet: string | undefined, prev: UnitRestartStatus | undefined,
): Promise<{ status: UnitRestartStatus; unitSet?: UnitSet }> {
  const step = unitRestartStep(req, us, order, notYet);
  let unitSet: UnitSet | undefined;
  if (step.write) {
    unitSet = await client.patch<UnitSet>(UnitSetResource, us.metadata.name ?? '', { spec: { restart: step.write } }, 'merge', { namespace: us.metadata.namespace ?? '' });
    await events.record(owner, 'Normal', 'RestartingUnits', `restart ${req.id}: ${step.write.order?.join(', ')} in that order (the others are left alone)`);
  }
  const s = step.status;
  if (s.phase === 'Complete' && !(prev?.id === s.id && prev?.phase === 'Complete')) {
    await events.record(owner, 'Normal', 'UnitsRestarted', `restart ${req.id}: restarted ${(s.done ?? []).join(', ')}`);
  }
  if (s.phase === 'Invalid' && !(prev?.id === s.id && prev?.phase === 'Invalid')) {
    await events.record(owner, 'Warning', 'RestartRefused', `restart ${req.id}: ${s.message ?? ''}`);
  }
  return { status: s, ...(unitSet ? { unitSet } : {}) };
}
