// The side effects a reconcile takes, each told as an Event the moment it is done (not batched at the end, so a
// crash loses no record of what already happened), with an optional crash point after it.
import type { EventRecorder } from '../../../lib/events.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';

/**
 * Fault injection for the resumability tests: with UPM_CRASH_AT=<point> the process dies at that point, as it
 * would under kill -9, so a test can show that the next operator finishes the job without repeating a step.
 */
export function crashPoint(point: string): void {
  if (process.env.UPM_CRASH_AT === point) process.kill(process.pid, 'SIGKILL');
}

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
