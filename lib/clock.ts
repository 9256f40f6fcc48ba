// The time a controller reads: "now" for status timestamps, heartbeats and the due times it computes. Injected
// (ManagerOptions.clock, handed to every reconcile as ctx.clock) so a test can put a reconciler at any moment and
// step it forward. Waiting is not covered: the work queue's delayed adds and backoff keep real timers.
export interface Clock {
  now(): Date;
}

export const realClock: Clock = { now: () => new Date() };

/** A clock that moves only when told. */
export class FakeClock implements Clock {
  private ms: number;

  constructor(start: Date | string = '2026-01-01T00:00:00Z') {
    this.ms = new Date(start).getTime();
  }

  now(): Date { return new Date(this.ms); }

  set(at: Date | string): void { this.ms = new Date(at).getTime(); }

  /** Moves forward (a negative step would let time run backwards, which no real clock a controller reads does). */
  step(ms: number): Date {
    if (ms < 0) throw new Error('FakeClock.step: time only moves forward');
    this.ms += ms;
    return this.now();
  }
}
