// The side effects a reconcile takes, each told as an Event the moment it is done (not batched at the end, so a
// crash loses no record of what already happened), with an optional crash point after it.
import { crashPoint } from '../../../lib/crashpoint.ts';
import type { EventRecorder } from '../../../lib/events.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';

// Shared with the Unit Operator, so it lives in lib/.
export { crashPoint };

export class StepLog {
  readonly done: string[] = [];
  private readonly events: EventRecorder;
  private readonly obj: KubeObject;

  constructor(events: EventRecorder, obj: KubeObject) {
    this.events = events;
    this.obj = obj;
  }

  /** Records a step that has just been taken; `point` names the crash point right after it. */
  async push(message: string, point?: string, reason = 'Synced'): Promise<void> {
    this.done.push(message);
    await this.events.record(this.obj, 'Normal', reason, message);
    if (point) crashPoint(point);
  }
}
