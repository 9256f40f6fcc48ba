// The planner: given an Operation, the world now (its service, its cluster, the other Operations of that service)
// it names the next thing to do: wait in the queue (naming the Operation waited for), start or try again a step
// (with the effect to make, unless it is already there), wait for a step, finish, fail or cancel. Pure; the
// controller carries the decision out and operationStatus() records it.
import { clusterReady } from './checks.ts';
import { isMutating, stepsFor, type StepDef } from './steps.ts';
import type { Decision, Effect, Operation, StepStatus, World } from './types.ts';

export const MAX_ATTEMPTS = 5;
/** A waiting step is looked at again after this long at the latest (its service's changes wake it sooner). */
export const POLL_MS = 5000;
export const backoffMs = (attempts: number): number => Math.min(60_000, 2000 * 2 ** Math.max(0, attempts - 1));

const TERMINAL = new Set(['Succeeded', 'Failed', 'Cancelled']);
export const isTerminal = (op: Operation): boolean => TERMINAL.has(op.status?.phase ?? '');
const DONE_STEP = new Set(['Succeeded', 'Skipped']);
const ms = (t: string | undefined) => (t ? Date.parse(t) : NaN);

/** Creation order: creation time, then name (the time has whole seconds). */
export function compareCreation(a: Operation, b: Operation): number {
  const d = (ms(a.metadata.creationTimestamp) || 0) - (ms(b.metadata.creationTimestamp) || 0);
  return d !== 0 ? d : (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
}

/** The Operation of the same service this one waits for: one that runs, else the first created before it. */
export function waitsFor(op: Operation, others: Operation[]): Operation | undefined {
  if (!isMutating(op)) return undefined;
  const same = (o: Operation) => o.metadata.name === op.metadata.name || (!!o.metadata.uid && o.metadata.uid === op.metadata.uid);
  const ahead = others.filter((o) => !same(o) && isMutating(o) && !isTerminal(o)
    && o.spec.target.kind === op.spec.target.kind && o.spec.target.name === op.spec.target.name);
  const running = ahead.find((o) => !!o.status?.startTime || o.status?.phase === 'Running');
  if (running) return running;
  return ahead.filter((o) => compareCreation(o, op) < 0).sort(compareCreation)[0];
}

const stepOf = (op: Operation, name: string): StepStatus | undefined => op.status?.steps?.find((s) => s.name === name);

function runningStep(op: Operation, def: StepDef, st: StepStatus, w: World): Decision {
  const now = w.now.getTime();
  const d = def.done(op, w);
  if (d.fatal) return { kind: 'fail', step: def.name, message: d.message };
  const elapsed = now - (ms(st.startTime) || now);
  if (elapsed > def.timeoutSeconds * 1000) return { kind: 'fail', step: def.name, message: `did not finish within ${def.timeoutSeconds} s: ${d.message}` };
  // The controller records a step Running before it makes the effect: a step whose effect is not there yet was cut
  // short (a write refused, or the process killed between the two), so it is not done however quick its `done` is.
  if (def.effect && !def.applied?.(op, w)) {
    // Its write did not take (or was undone): again, after a growing pause, up to a limit.
    const attempts = st.attempts ?? 0;
    if (attempts >= MAX_ATTEMPTS) return { kind: 'fail', step: def.name, message: `gave up after ${attempts} attempts: ${st.message ?? d.message}` };
    const wait = backoffMs(attempts) - (now - (ms(st.lastAttemptTime) || 0));
    if (wait > 0) return { kind: 'wait', step: def.name, message: st.message ?? d.message, afterMs: wait };
    const pre = def.precondition?.(op, w);
    if (pre && !pre.ok) return { kind: 'wait', step: def.name, message: pre.message, afterMs: POLL_MS };
    const effect = def.effect(op, w);
    const member = forMember(effect, w);
    if (member) return { kind: 'wait', step: def.name, message: member, afterMs: POLL_MS };
    return { kind: 'run', step: def.name, effect, message: `attempt ${attempts + 1}`, afterMs: backoffMs(attempts + 1) };
  }
  if (d.ok) return { kind: 'complete', step: def.name, message: d.message };
  // What the step waits for comes from the member: while the hub cannot reach it, that is what the wait is about.
  const c = clusterReady(w);
  return { kind: 'wait', step: def.name, message: c.ok ? d.message : `waiting for the member: ${c.message}; ${d.message}`, afterMs: POLL_MS };
}

/** Why an effect on the member's objects cannot be made now (its cluster not Ready): it waits, spending no attempt. */
function forMember(effect: Effect, w: World): string | undefined {
  if (effect.on !== 'compose') return undefined;
  const c = clusterReady(w);
  return c.ok ? undefined : `waiting for the member: ${c.message}`;
}

export function plan(op: Operation, w: World): Decision {
  if (isTerminal(op)) return { kind: 'done' };
  const defs = stepsFor(op, w);
  if ('unsupported' in defs) return { kind: 'fail', message: defs.unsupported };
  const started = !!op.status?.startTime;
  if (!started) {
    if (op.spec.cancel) return { kind: 'cancel', message: 'cancelled before it began: nothing was changed' };
    const ahead = waitsFor(op, w.others);
    if (ahead) return { kind: 'queue', waitingFor: ahead.metadata.name ?? '', message: `waiting for Operation ${ahead.metadata.name ?? ''} on the same service` };
  }
  const now = w.now.getTime();
  const current = defs.find((d) => !DONE_STEP.has(stepOf(op, d.name)?.phase ?? 'Pending'));
  if (!current) return { kind: 'finish', message: `all ${defs.length} steps succeeded` };
  if (started && op.spec.timeoutSeconds && now - ms(op.status?.startTime) > op.spec.timeoutSeconds * 1000) {
    return { kind: 'fail', step: current.name, message: `spec.timeoutSeconds: the Operation did not finish within ${op.spec.timeoutSeconds} s` };
  }
  const st = stepOf(op, current.name);
  if (st?.phase === 'Running') return runningStep(op, current, st, w);
  // Between steps: a cancellation takes effect here, after the step that ran.
  if (op.spec.cancel) return { kind: 'cancel', message: `cancelled before step ${current.name}` };
  const pre = current.precondition?.(op, w);
  if (pre && !pre.ok) return pre.fatal ? { kind: 'fail', step: current.name, message: `precondition: ${pre.message}` } : { kind: 'wait', step: current.name, message: pre.message, afterMs: POLL_MS };
  if (!current.effect || current.applied?.(op, w)) return { kind: 'run', step: current.name, message: current.effect ? 'already so: nothing to change' : (pre?.message ?? 'running'), afterMs: 0 };
  const effect = current.effect(op, w);
  const member = forMember(effect, w);
  if (member) return { kind: 'wait', step: current.name, message: member, afterMs: POLL_MS };
  return { kind: 'run', step: current.name, effect, message: 'attempt 1', afterMs: backoffMs(1) };
}
