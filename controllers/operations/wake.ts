// Which Operations an event concerns, from the unfinished Operations of one service (as this process last wrote
// them). Pure. A burst of Operations on a service must not make every change of that service, or every start of a
// sibling, a reconcile (and a status write) of each one waiting in its queue: those wait for the one ahead of them,
// whatever the service does.
import { compareCreation, waitsFor } from '../../lib/operations/plan.ts';
import type { Operation } from '../../lib/operations/types.ts';

const started = (o: Operation): boolean => !!o.status?.startTime;

/**
 * A change of the service concerns every unfinished Operation except one waiting in the queue behind another that
 * is still unfinished: a running step waits for the service, and so does one not started whose precondition is not
 * met yet; a queued one's turn comes when the one ahead ends (a sibling event).
 */
export function concernedByService(ops: Operation[]): Operation[] {
  const unfinished = new Set(ops.map((o) => o.metadata.name));
  return ops.filter((o) => started(o) || !o.status?.waitingFor || !unfinished.has(o.status.waitingFor));
}

/**
 * An Operation that arrives, starts or ends concerns its siblings not started yet (whether they may start, and which
 * one they wait for, follow from it), head of the queue first; one already running never looks at its siblings.
 */
export function concernedBySibling(ops: Operation[], changed: Operation): Operation[] {
  const same = (o: Operation) => o.metadata.name === changed.metadata.name;
  return ops.filter((o) => !same(o) && !started(o)).sort(compareCreation);
}

/**
 * An Operation whose reconcile can only record its place in its service's queue (not started, another ahead of it):
 * it can wait in the work queue behind those that start or carry on a step. `siblings` are the unfinished ones of
 * its service.
 */
export function onlyQueued(op: Operation | undefined, siblings: Operation[]): boolean {
  return !!op && !started(op) && !op.spec.cancel && !!waitsFor(op, siblings);
}
