// The status of an Operation after a decision (plan.ts): phase, message, the steps with their state, attempts and
// times, and the conditions Succeeded, Failed and Progressing (so `kubectl wait --for=condition=Succeeded` works).
// The printed `N/M` is the count of Succeeded (or Skipped) steps of status.steps, so every step is listed from the
// start. Pure: the controller writes the result only when it differs.
import { setCondition } from '../conditions.ts';
import { waitsFor } from './plan.ts';
import { chosenCandidate, stepsFor } from './steps.ts';
import type { Decision, Operation, OperationPhase, OperationStatus, StepStatus, World } from './types.ts';

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The steps a failure or cancellation leaves behind: what changed (steps with an effect that ran) for the message. */
function changedSoFar(steps: StepStatus[], changing: ReadonlySet<string>): string {
  const changed = steps.filter((s) => changing.has(s.name) && (s.phase === 'Succeeded' || (s.attempts ?? 0) > 0));
  return changed.length ? `already changed: ${changed.map((s) => s.description ?? s.name).join('; ')}` : 'nothing was changed';
}

function conditionsFor(phase: OperationPhase, message: string, prev: OperationStatus, now: Date, generation?: number) {
  const c = (type: string, on: boolean, reason: string) => ({ type, status: on ? 'True' as const : 'False' as const, reason, message, ...(generation ? { observedGeneration: generation } : {}) });
  let list = prev.conditions;
  list = setCondition(list, c('Succeeded', phase === 'Succeeded', phase === 'Succeeded' ? 'Succeeded' : phase), now);
  list = setCondition(list, c('Failed', phase === 'Failed', phase === 'Failed' ? 'StepFailed' : phase), now);
  list = setCondition(list, c('Progressing', phase === 'Running' || phase === 'Pending', phase), now);
  return list;
}

export function operationStatus(op: Operation, decision: Decision, w: World): OperationStatus {
  const prev = op.status ?? {};
  const now = iso(w.now);
  const defs = stepsFor(op, w);
  const declared = 'unsupported' in defs ? [] : defs;
  const steps: StepStatus[] = declared.map((d) => ({ ...(prev.steps?.find((s) => s.name === d.name) ?? { name: d.name, phase: 'Pending' as const }), description: d.description }));
  const step = (name?: string) => steps.find((s) => s.name === name);
  const changing = new Set(declared.filter((d) => d.effect).map((d) => d.name));
  let phase: OperationPhase = prev.phase ?? 'Pending';
  let message = prev.message ?? '';
  const out: OperationStatus = { ...prev };
  delete out.waitingFor;
  switch (decision.kind) {
    case 'done': return prev;
    case 'queue': phase = 'Pending'; message = decision.message; out.waitingFor = decision.waitingFor; break;
    case 'wait': {
      message = decision.step ? `${decision.step}: ${decision.message}` : decision.message;
      const s = step(decision.step);
      if (s && s.phase === 'Running') s.message = decision.message;
      break;
    }
    case 'run': case 'retry': {
      const s = step(decision.step);
      if (s) {
        s.phase = 'Running';
        s.startTime ??= now;
        if (decision.kind === 'retry' || ('effect' in decision && decision.effect)) { s.attempts = (s.attempts ?? 0) + 1; s.lastAttemptTime = now; }
        s.message = decision.kind === 'run' && decision.effect ? decision.effect.what : decision.message;
        if (decision.kind === 'retry') s.message = `attempt ${s.attempts ?? 1} failed: ${decision.message}`;
      }
      phase = 'Running';
      out.startTime ??= now;
      message = `${decision.step}: ${s?.message ?? decision.message}`;
      break;
    }
    case 'complete': {
      const s = step(decision.step);
      if (s) { s.phase = 'Succeeded'; s.completionTime = now; s.message = decision.message; s.startTime ??= now; }
      phase = 'Running';
      out.startTime ??= now;
      message = `${decision.step}: ${decision.message}`;
      break;
    }
    case 'finish': phase = 'Succeeded'; message = decision.message; out.completionTime = now; break;
    case 'fail': {
      const s = step(decision.step);
      if (s) { s.phase = 'Failed'; s.message = decision.message; s.completionTime = now; }
      for (const x of steps) if (x.phase === 'Pending' || x.phase === 'Running') { x.phase = 'Cancelled'; x.message = 'not run: an earlier step failed'; }
      phase = 'Failed';
      message = `${decision.step ? `step ${decision.step} failed: ` : ''}${decision.message}; ${changedSoFar(steps, changing)}`;
      out.completionTime = now;
      break;
    }
    case 'cancel': {
      for (const x of steps) if (x.phase === 'Pending' || x.phase === 'Running') { x.phase = 'Cancelled'; x.message = 'not run: the Operation was cancelled'; }
      phase = 'Cancelled';
      message = out.startTime ? `${decision.message}; ${changedSoFar(steps, changing)}` : decision.message;
      out.completionTime = now;
      break;
    }
  }
  if (phase !== 'Pending' && !out.candidate) {
    const c = chosenCandidate(op, w);
    if (c) out.candidate = c;
  }
  return { ...out, phase, message, steps, observedGeneration: op.metadata.generation, conditions: conditionsFor(phase, message, prev, w.now, op.metadata.generation) };
}

/** A plan preview: every step as it would run, each precondition evaluated now, nothing changed. */
export function previewStatus(op: Operation, w: World): OperationStatus {
  const defs = stepsFor(op, w);
  if ('unsupported' in defs) return { phase: 'Pending', message: `would fail: ${defs.unsupported}`, steps: [] };
  const steps: StepStatus[] = defs.map((d) => {
    const pre = d.precondition?.(op, w);
    const applied = d.effect && d.applied?.(op, w);
    const message = pre ? `${pre.ok ? 'ready' : pre.fatal ? 'would fail' : 'would wait'}: ${pre.message}` : applied ? 'already so: nothing to change' : `would ${d.effect ? 'change' : 'wait'}: ${d.description}`;
    return { name: d.name, phase: 'Pending', description: d.description, message };
  });
  const refused = steps.find((s) => s.message?.startsWith('would fail'));
  const c = chosenCandidate(op, w);
  const ahead = waitsFor(op, w.others)?.metadata.name;
  const plan = refused ? `would fail at step ${refused.name}` : `plan: ${steps.map((s) => s.name).join(', ')}`;
  return { phase: 'Pending', message: ahead ? `would wait for Operation ${ahead} on the same service; ${plan}` : plan, steps, ...(c ? { candidate: c } : {}), ...(ahead ? { waitingFor: ahead } : {}) };
}
