// The Events an Operation's progress is told by, on the Operation and on its service: each step that starts,
// succeeds or fails, the queue, and the end. Pure: from the status before and after one reconcile.
import type { EventType } from '../../lib/events.ts';
import type { Operation } from '../../lib/operations/types.ts';

export interface OperationEvent { type: EventType; reason: string; message: string }

export function transitions(before: Operation, after: Operation): OperationEvent[] {
  const out: OperationEvent[] = [];
  const prev = new Map((before.status?.steps ?? []).map((s) => [s.name, s]));
  const a = after.status;
  if (a?.waitingFor && a.waitingFor !== before.status?.waitingFor) out.push({ type: 'Normal', reason: 'Queued', message: a.message ?? `waiting for Operation ${a.waitingFor}` });
  for (const s of a?.steps ?? []) {
    const was = prev.get(s.name)?.phase ?? 'Pending';
    if (s.phase === was) {
      if (s.phase === 'Running' && (s.attempts ?? 0) > (prev.get(s.name)?.attempts ?? 0) && (s.attempts ?? 0) > 1) out.push({ type: 'Warning', reason: 'StepRetried', message: `step ${s.name}: ${s.message ?? ''}` });
      continue;
    }
    if (s.phase === 'Running') out.push({ type: 'Normal', reason: 'StepStarted', message: `step ${s.name}: ${s.message ?? s.description ?? ''}` });
    if (s.phase === 'Succeeded') out.push({ type: 'Normal', reason: 'StepSucceeded', message: `step ${s.name}: ${s.message ?? 'done'}` });
    if (s.phase === 'Failed') out.push({ type: 'Warning', reason: 'StepFailed', message: `step ${s.name}: ${s.message ?? ''}` });
  }
  if (a?.phase && a.phase !== before.status?.phase && ['Succeeded', 'Failed', 'Cancelled'].includes(a.phase)) {
    out.push({ type: a.phase === 'Succeeded' ? 'Normal' : 'Warning', reason: a.phase, message: a.message ?? a.phase });
  }
  return out;
}
