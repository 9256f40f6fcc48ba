// A failover to a named replica with Sentinel (spec.failover.request), decided from what the servers and the
// Sentinels report. Pure. Sentinel promotes the replica with the lowest non-zero replica-priority and never one at 0,
// and SENTINEL FAILOVER makes one Sentinel fail over without asking the others; so, while the source is down:
//   1. the candidate must be a reachable replica whose priority is not 0 (else the request is refused for good);
//   2. every other reachable replica is held at priority 0, what it had is written down first (status);
//   3. once the Sentinel to ask has read those priorities, it is asked once (the time written down before);
//   4. the Sentinels naming the candidate master is recorded by the planner's record-failover with the request id;
//   5. a request answered (Done, or Refused: also when the Sentinels did not promote it in time) gets every held
//      priority put back, each as soon as its server answers.
// A Sentinel election of the candidate by the Sentinels themselves before the request fired counts as done.
import { failingOver } from './observe.ts';
import { isAt, type NodeState, type SentinelState, type Topology } from './plan.ts';

export interface FailoverRequest { id: string; candidate: string }

/** The request being carried out (status.requestedFailover). */
export interface Held {
  id: string;
  candidate: string;
  /** What each held replica's replica-priority was before. */
  priorities: Record<string, number>;
  sentinel?: string;
  /** When `sentinel` was asked (ms). */
  firedAt?: number;
}

export interface RequestInput {
  name: string;
  request?: FailoverRequest;
  /** The id status.failoverRequest answers. */
  answered?: string;
  lastFailover?: { from?: string; to?: string; request?: string };
  held?: Held;
  /** spec.source.name */
  source: string;
  nodes: NodeState[];
  /** Undefined without spec.sentinel. */
  sentinels?: SentinelState[];
  /** What the planner decided this pass, and the server taking writes. */
  topology: Topology;
  active?: string;
  now: number;
  timeoutMs: number;
}

export type PrioritySet = { node: string; priority: number };

export type RequestDecision =
  | { kind: 'none' }
  | { kind: 'answer'; id: string; outcome: 'Done' | 'Refused'; message: string }
  /** Put back what was held; `left` is what could not be reached yet (kept for a later pass), undefined when none. */
  | { kind: 'restore'; set: PrioritySet[]; left?: Held }
  /** Write `held` down, then set these priorities. */
  | { kind: 'hold'; held: Held; set: PrioritySet[]; message: string }
  /** Write down that `sentinel` is asked, then ask it (SENTINEL FAILOVER). */
  | { kind: 'fire'; held: Held; sentinel: string; message: string }
  | { kind: 'wait'; message: string };

const FIELD = 'spec.failover.request.candidate';

/** The replicas' priorities to put back: those whose server answers are set (when they differ), the rest kept. */
export function restorePriorities(held: Held, nodes: NodeState[]): Extract<RequestDecision, { kind: 'restore' }> {
  const set: PrioritySet[] = [];
  const left: Record<string, number> = {};
  for (const [name, priority] of Object.entries(held.priorities)) {
    const n = nodes.find((x) => x.name === name);
    if (!n) continue;
    if (!n.reachable || n.priority === undefined) left[name] = priority;
    else if (n.priority !== priority) set.push({ node: name, priority });
  }
  return { kind: 'restore', set, ...(Object.keys(left).length ? { left: { ...held, priorities: left } } : {}) };
}

/** host:port keys as a Sentinel lists its replicas, matched to a server. */
function priorityIn(s: SentinelState, n: NodeState): number | undefined {
  for (const [addr, p] of Object.entries(s.master?.priorities ?? {})) {
    const i = addr.lastIndexOf(':');
    if (isAt(n, addr.slice(0, i), Number(addr.slice(i + 1)))) return p;
  }
  return undefined;
}

export function decideRequest(input: RequestInput): RequestDecision {
  const { request: req, held, nodes } = input;
  const pending = req && input.answered !== req.id ? req : undefined;
  if (!pending) return held ? restorePriorities(held, nodes) : { kind: 'none' };
  // An earlier request's priorities go back before a new one holds any.
  if (held && held.id !== pending.id) return restorePriorities(held, nodes);
  const c = pending.candidate;
  const answer = (outcome: 'Done' | 'Refused', message: string): RequestDecision => ({ kind: 'answer', id: pending.id, outcome, message });
  const last = input.lastFailover;
  if (last?.request === pending.id) return answer('Done', `${last.to ?? c} promoted by the Sentinels as requested (was ${last.from ?? '?'})`);
  if (!input.sentinels) return answer('Refused', `spec.failover.request: ${input.name} has no Sentinels (spec.sentinel); without them, name ${c} in spec.source to promote it`);
  // A name that is no server of this object is refused whatever the servers' state.
  if (!nodes.some((n) => n.name === c)) return answer('Refused', `${FIELD}: ${c} is not a replica of ${input.name}`);
  const t = input.topology;
  // The Sentinels named a new master: the planner records it (with this request's id when it is the candidate).
  if (t.kind === 'record-failover') return { kind: 'wait', message: `the Sentinels elected ${t.to}; recording it` };
  if (input.active) {
    if (input.active === c) return answer('Done', `${c} takes the writes${held?.firedAt === undefined ? ' (the Sentinels elected it by themselves)' : ''}`);
    return answer('Refused', `spec.failover.request: the source ${input.active} is reachable and takes writes: a failover is only for a source that is down (to move the writes to ${c}, name it in spec.source: a switchover)`);
  }
  if (held?.firedAt !== undefined) {
    const asked = `Sentinel ${held.sentinel ?? '?'} was asked to fail over to ${c} at ${new Date(held.firedAt).toISOString()}`;
    if (input.now > held.firedAt + input.timeoutMs) return answer('Refused', `${asked}, and the Sentinels did not name it master within ${input.timeoutMs / 1000} s; given up`);
    return { kind: 'wait', message: `${asked}; waiting for the Sentinels to name it master` };
  }
  // Sentinels busy, unreachable, or a server handing over: nothing is asked of them now.
  if (t.kind === 'wait') return { kind: 'wait', message: t.message };

  const cand = nodes.find((n) => n.name === c && n.name !== input.source);
  if (!cand) return answer('Refused', `${FIELD}: ${c} is not a replica of ${input.name}`);
  if (cand.isolated) return answer('Refused', `${FIELD}: ${c} is isolated`);
  if (!cand.reachable) return answer('Refused', `${FIELD}: ${c} is unreachable (${cand.error ?? 'no answer'})`);
  if (cand.repl?.role !== 'slave') return answer('Refused', `${FIELD}: ${c} is not a replica (it is a master of its own)`);
  if (cand.priority === 0) return answer('Refused', `${FIELD}: ${c} has replica-priority 0: it is configured never to be promoted`);

  const others = nodes.filter((n) => n !== cand && n.name !== input.source && !n.isolated && n.reachable && n.repl?.role === 'slave');
  const toHold = others.filter((n) => n.priority !== 0);
  const missing = others.filter((n) => !held || !(n.name in held.priorities));
  if (!held || missing.length || toHold.length) {
    const priorities = { ...held?.priorities, ...Object.fromEntries(missing.map((n) => [n.name, n.priority ?? 100])) };
    return {
      kind: 'hold', held: { id: pending.id, candidate: c, priorities }, set: toHold.map((n) => ({ node: n.name, priority: 0 })),
      message: `the other replicas (${others.map((n) => n.name).join(', ') || 'none'}) are held at priority 0 so that only ${c} can be promoted`,
    };
  }
  const want = nodes.find((n) => n.name === input.source);
  const ready = (input.sentinels ?? []).filter((s) => s.reachable && s.master && !failingOver(s.master) && (!want || isAt(want, s.master.host, s.master.port)))
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  if (!ready.length) return { kind: 'wait', message: `no reachable Sentinel watches ${input.source} to be asked to fail over to ${c}` };
  // Ask a Sentinel only once it has read the held priorities, or it may still pick another replica.
  const s = ready.find((x) => (priorityIn(x, cand) ?? 0) > 0 && others.every((n) => (priorityIn(x, n) ?? 0) === 0));
  if (!s) return { kind: 'wait', message: `waiting for the Sentinels to read the held priorities (${c} the only replica above 0)` };
  return { kind: 'fire', held, sentinel: s.name, message: `Sentinel ${s.name} asked to fail over to ${c} (SENTINEL FAILOVER); ${others.map((n) => n.name).join(', ') || 'no other replica'} held at priority 0` };
}
