// The RedisReplication planner: from what every server and Sentinel reports, decide who takes writes and the next
// safe steps. Pure, so every rule below has a unit test. The rules, in order:
//   1. a server in the middle of a coordinated handover (FAILOVER) is left alone until it is done;
//   2. with Sentinels: without a majority of them answering, or while one of them fails over (or holds a newer
//      configuration the others have not learnt yet), nothing is changed: the operator never fights Sentinel;
//   3. with Sentinels: when a majority names a reachable master that is neither spec.source nor the source the
//      operator last saw, Sentinel failed over: the operator records it in the spec and follows;
//   4. the writer is the master the Sentinels agree on, else the last source, else spec.source, if it is a master;
//   5. no writer: with Sentinels, wait for their election; without, promote spec.source only when a person named a
//      replica there (the operator never fails over by itself);
//   6. spec.source names a replica of the writer: a switchover (every Sentinel stops watching, the writer's writes
//      are paused, the replica catches up with its offset, the writer becomes its replica, it is promoted); one that
//      stopped half-way (old source demoted, new one not yet promoted) is finished first;
//   7. otherwise every other server replicates from the writer (isolated ones from nobody), and every Sentinel
//      watches the writer with the wanted settings.
import { failingOver, type Replication, type SentinelMaster } from './observe.ts';

export interface NodeState {
  name: string;
  host: string;
  port: number;
  /** Every name the server may be reported by (its address, its DNS names). */
  aliases: string[];
  isolated: boolean;
  reachable: boolean;
  error?: string;
  repl?: Replication;
  minReplicasToWrite?: number;
  /** replica-priority (0: Sentinel never promotes it). */
  priority?: number;
}

export interface SentinelState {
  name: string;
  host: string;
  port: number;
  reachable: boolean;
  error?: string;
  /** Undefined when it does not monitor the master name. */
  master?: SentinelMaster;
}

export interface SentinelSettings { quorum: number; downAfterMs: number; failoverTimeoutMs: number; parallelSyncs: number }

export interface SwitchoverRecord { from: string; to: string; issuedAt?: number; retryAfter?: number }

export interface PlanInput {
  /** spec.source.name */
  source: string;
  nodes: NodeState[];
  sentinel?: { settings: SentinelSettings; states: SentinelState[] };
  /** status.source of the previous pass; undefined before the first one. */
  lastSource?: string;
  switchover?: SwitchoverRecord;
  now: number;
}

export type Topology =
  | { kind: 'steady' }
  /** Leave the servers alone this pass. */
  | { kind: 'wait'; phase: 'SwitchingOver' | 'FailingOver' | 'Degraded'; reason: string; message: string }
  /** Sentinel promoted `to`: make it spec.source. */
  | { kind: 'record-failover'; from: string; to: string }
  | { kind: 'source-down'; reason: string; message: string }
  /** A person named a replica as spec.source while no server takes writes (no Sentinels): REPLICAOF NO ONE. */
  | { kind: 'promote'; node: string; from: string }
  | { kind: 'switchover'; from: string; to: string; step: SwitchoverStep; message: string }
  /** The old source was already made a replica of the new one, which was not promoted yet. */
  | { kind: 'complete-switchover'; from: string; to: string };

/** issue: carry it out now; failed: the last attempt ended (the operator may have died in it) without a swap. */
export type SwitchoverStep = 'issue' | 'failed' | 'backoff' | 'blocked';

export type WiringAction = { node: string; do: 'replicaof' } | { node: string; do: 'detach' };
export type SentinelAction =
  | { sentinel: string; do: 'monitor' }
  /** It watches another server under our name with an older (or equal) configuration: drop it and watch the writer. */
  | { sentinel: string; do: 'remonitor' }
  | { sentinel: string; do: 'set'; changes: [string, string][] }
  /** It still lists an isolated server as a replica (and would re-attach it): forget the replicas it knows. */
  | { sentinel: string; do: 'reset' }
  | { sentinel: string; do: 'remove' };

export interface Plan {
  topology: Topology;
  /** The server that takes writes and that the wiring and Sentinel actions point at. */
  active?: string;
  wiring: WiringAction[];
  sentinel: SentinelAction[];
}

export interface SentinelView {
  listed: number;
  reachable: number;
  majority: number;
  /** What a majority of the listed Sentinels call the master. */
  agreed?: { host: string; port: number; node?: NodeState; epoch: number; count: number };
  /** Why the Sentinels must be left alone right now. */
  busy?: string;
}

const norm = (h: string) => h.toLowerCase().replace(/\.$/, '');
export const isAt = (n: NodeState, host: string | undefined, port: number | undefined): boolean =>
  !!host && n.port === port && n.aliases.some((a) => norm(a) === norm(host));
export const nodeAt = (nodes: NodeState[], host: string | undefined, port: number | undefined): NodeState | undefined =>
  nodes.find((n) => isAt(n, host, port));
export const isMaster = (n: NodeState | undefined): boolean => !!n?.reachable && n.repl?.role === 'master';
const asMaster = (n: NodeState | undefined): NodeState | undefined => (isMaster(n) ? n : undefined);
export const replicatesFrom = (n: NodeState, from: NodeState): boolean =>
  n.repl?.role === 'slave' && isAt(from, n.repl.masterHost, n.repl.masterPort);
export const majorityOf = (n: number): number => Math.floor(n / 2) + 1;

export function sentinelView(nodes: NodeState[], states: SentinelState[]): SentinelView {
  const listed = states.length;
  const majority = majorityOf(listed);
  const up = states.filter((s) => s.reachable);
  const monitoring = up.filter((s): s is SentinelState & { master: SentinelMaster } => !!s.master);
  const inFailover = monitoring.find((s) => failingOver(s.master));
  // Group by server (a node may be named by address or DNS name), else by the address itself.
  const groups = new Map<string, { host: string; port: number; node?: NodeState; epoch: number; count: number }>();
  for (const s of monitoring) {
    const node = nodeAt(nodes, s.master.host, s.master.port);
    const key = node ? `node:${node.name}` : `${norm(s.master.host)}:${s.master.port}`;
    const g = groups.get(key) ?? { host: s.master.host, port: s.master.port, ...(node ? { node } : {}), epoch: -1, count: 0 };
    g.count++;
    g.epoch = Math.max(g.epoch, s.master.configEpoch);
    groups.set(key, g);
  }
  const agreed = [...groups.values()].find((g) => g.count >= majority);
  const view: SentinelView = { listed, reachable: up.length, majority, ...(agreed ? { agreed } : {}) };
  if (inFailover) {
    // The Sentinel that leads a failover names the old master until it has re-pointed every replica; the others
    // already name the new one. Once a majority names a live master the leader is moving away from, that is the
    // outcome: it may be followed (the leader itself is left alone until it is done).
    const away = monitoring.filter((s) => failingOver(s.master)).every((s) => !agreed?.node || !isAt(agreed.node, s.master.host, s.master.port));
    if (!isMaster(agreed?.node) || !away) {
      return { ...view, busy: `Sentinel ${inFailover.name} is failing over ${inFailover.master.host}:${inFailover.master.port}` };
    }
  }
  if (groups.size > 1) {
    // A minority holding a newer configuration is Sentinel's own news spreading (a failover just ended): wait.
    const top = Math.max(...[...groups.values()].map((g) => g.epoch));
    const newest = [...groups.values()].filter((g) => g.epoch === top);
    if (!agreed || agreed.epoch < top) {
      if (newest.length === 1 && newest[0] !== agreed) {
        const g = newest[0] as { host: string; port: number };
        return { ...view, busy: `a Sentinel holds a newer configuration (epoch ${top}: ${g.host}:${g.port}) that the others have not learnt yet` };
      }
    }
  }
  return view;
}

export function plan(input: PlanInput): Plan {
  const { nodes } = input;
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const want = byName.get(input.source);
  if (!want) throw new Error(`spec.source ${input.source} is not among the nodes`);
  const none = { wiring: [], sentinel: [] };

  const handing = nodes.find((n) => n.reachable && n.repl && n.repl.failoverState !== 'no-failover');
  if (handing) {
    return { topology: { kind: 'wait', phase: 'SwitchingOver', reason: 'SwitchingOver', message: `${handing.name} is handing over its role (${handing.repl?.failoverState})` }, ...none };
  }

  // A switchover of ours that stopped after the old source became a replica of the new one (which had caught up
  // with it) and before the new one was promoted: nobody takes writes until it is finished.
  const so = input.switchover;
  const sFrom = so ? byName.get(so.from) : undefined;
  const sTo = so ? byName.get(so.to) : undefined;
  if (so && so.to === want.name && sFrom && sTo && !isMaster(sTo) && sTo.reachable && sFrom.reachable && replicatesFrom(sFrom, sTo)
    && (sTo.repl?.offset ?? -1) >= (sFrom.repl?.offset ?? 0) && !nodes.some((n) => n !== sTo && isMaster(n) && !n.isolated)) {
    return { topology: { kind: 'complete-switchover', from: so.from, to: so.to }, ...none };
  }

  let view: SentinelView | undefined;
  if (input.sentinel) {
    view = sentinelView(nodes, input.sentinel.states);
    if (view.reachable < view.majority) {
      const down = input.sentinel.states.filter((s) => !s.reachable).map((s) => s.name);
      return { topology: { kind: 'wait', phase: 'Degraded', reason: 'SentinelsUnreachable', message: `spec.sentinel.nodes: ${down.join(', ')} do not answer; without a majority of the Sentinels the operator leaves the roles alone` }, ...none };
    }
    if (view.busy) return { topology: { kind: 'wait', phase: 'FailingOver', reason: 'SentinelFailingOver', message: view.busy }, ...none };
    const elected = asMaster(view.agreed?.node);
    if (elected && elected.name !== want.name && input.lastSource !== undefined && elected.name !== input.lastSource) {
      return { topology: { kind: 'record-failover', from: want.name, to: elected.name }, ...none };
    }
  }

  const last = input.lastSource ? byName.get(input.lastSource) : undefined;
  const agreedNode = view?.agreed?.node;
  // The server that was taking writes keeps them over a second master (a node named as spec.source that never
  // replicated from it must not replace it and its data): the role moves only by a switchover.
  const active = asMaster(agreedNode) ?? asMaster(last) ?? asMaster(want);

  if (!active) {
    const why = want.reachable ? `is a replica of ${want.repl?.masterHost}:${want.repl?.masterPort}` : `is unreachable (${want.error ?? 'no answer'})`;
    if (input.sentinel) {
      return { topology: { kind: 'source-down', reason: 'SourceDown', message: `spec.source: ${want.name} ${why} and no server takes writes; waiting for the Sentinels to elect a new source` }, ...none };
    }
    if (want.reachable && want.repl?.role === 'slave') {
      const upstream = nodeAt(nodes, want.repl.masterHost, want.repl.masterPort);
      const from = upstream?.name ?? `${want.repl.masterHost}:${want.repl.masterPort}`;
      if (!isMaster(upstream)) return { topology: { kind: 'promote', node: want.name, from }, ...none };
    }
    return {
      topology: { kind: 'source-down', reason: 'SourceDown', message: `spec.source: ${want.name} ${why} and no server takes writes; without spec.sentinel the operator does not fail over on its own: name a replica in spec.source to promote it` },
      ...none,
    };
  }

  const converge = (): Omit<Plan, 'topology'> => ({ active: active.name, wiring: wiringFor(nodes, active), sentinel: sentinelActionsFor(input, nodes, active) });
  if (active === want) return { topology: { kind: 'steady' }, ...converge() };

  const sw = switchover(input, active, want, view);
  if (sw.step === 'issue') return { topology: sw, active: active.name, wiring: [], sentinel: [] };
  return { topology: sw, ...converge() };
}

function switchover(input: PlanInput, from: NodeState, to: NodeState, view: SentinelView | undefined): Extract<Topology, { kind: 'switchover' }> {
  const base = { kind: 'switchover' as const, from: from.name, to: to.name };
  const keep = `${from.name} keeps taking writes`;
  if (!to.reachable) return { ...base, step: 'blocked', message: `spec.source: ${to.name} is unreachable (${to.error ?? 'no answer'}); ${keep}` };
  if (!replicatesFrom(to, from)) return { ...base, step: 'blocked', message: `spec.source: ${to.name} does not replicate from ${from.name} yet (it is pointed there first); ${keep}` };
  const listed = from.repl?.replicas.find((r) => isAt(to, r.ip, r.port));
  if (!to.repl?.linkUp || listed?.state !== 'online') {
    return { ...base, step: 'blocked', message: `spec.source: ${to.name} is not in sync with ${from.name} yet (link ${to.repl?.linkUp ? 'up' : 'down'}, ${listed?.state ?? 'not listed'}); ${keep}` };
  }
  if (input.sentinel && view && view.reachable < view.listed) {
    const down = input.sentinel.states.filter((s) => !s.reachable).map((s) => s.name);
    return { ...base, step: 'blocked', message: `spec.sentinel.nodes: ${down.join(', ')} do not answer; a switchover first makes every Sentinel stop watching ${from.name}; ${keep}` };
  }
  const rec = input.switchover?.from === from.name && input.switchover.to === to.name ? input.switchover : undefined;
  if (rec?.retryAfter !== undefined && input.now < rec.retryAfter) {
    return { ...base, step: 'backoff', message: `the last switchover to ${to.name} did not complete; trying again at ${new Date(rec.retryAfter).toISOString()}; ${keep}` };
  }
  if (rec?.issuedAt !== undefined && rec.retryAfter === undefined) {
    // Issued, and the writer is still a master with no handover running: the attempt ended without a swap.
    return { ...base, step: 'failed', message: `spec.source: ${to.name} did not catch up with ${from.name} in time (the handover was abandoned); ${keep}` };
  }
  return { ...base, step: 'issue', message: `switching over ${from.name} -> ${to.name}` };
}

function wiringFor(nodes: NodeState[], active: NodeState): WiringAction[] {
  const out: WiringAction[] = [];
  for (const n of nodes) {
    if (n === active || !n.reachable || !n.repl) continue;
    if (n.isolated) {
      if (n.repl.role === 'slave') out.push({ node: n.name, do: 'detach' });
    } else if (!replicatesFrom(n, active)) {
      out.push({ node: n.name, do: 'replicaof' });
    }
  }
  return out;
}

/** SENTINEL SET pairs that differ from what the Sentinel has. */
export function settingsDiff(m: SentinelMaster, s: SentinelSettings): [string, string][] {
  const want: [string, number, number][] = [
    ['quorum', s.quorum, m.quorum],
    ['down-after-milliseconds', s.downAfterMs, m.downAfterMs],
    ['failover-timeout', s.failoverTimeoutMs, m.failoverTimeoutMs],
    ['parallel-syncs', s.parallelSyncs, m.parallelSyncs],
  ];
  return want.filter(([, w, cur]) => w !== cur).map(([k, w]) => [k, String(w)]);
}

function sentinelActionsFor(input: PlanInput, nodes: NodeState[], active: NodeState): SentinelAction[] {
  if (!input.sentinel) return [];
  const out: SentinelAction[] = [];
  const detached = nodes.filter((n) => n.isolated && n.reachable && n.repl?.role === 'master');
  for (const s of input.sentinel.states) {
    if (!s.reachable || (s.master && failingOver(s.master))) continue;
    if (!s.master) { out.push({ sentinel: s.name, do: 'monitor' }); continue; }
    if (!isAt(active, s.master.host, s.master.port)) { out.push({ sentinel: s.name, do: 'remonitor' }); continue; }
    const changes = settingsDiff(s.master, input.sentinel.settings);
    if (changes.length) out.push({ sentinel: s.name, do: 'set', changes });
    const known = s.master.replicas;
    if (detached.some((n) => known.some((r) => { const i = r.lastIndexOf(':'); return isAt(n, r.slice(0, i), Number(r.slice(i + 1))); }))) {
      out.push({ sentinel: s.name, do: 'reset' });
    }
  }
  return out;
}

/** The Sentinels to make stop watching before a switchover (those that watch anything under our name). */
export function sentinelsToRemove(input: PlanInput): SentinelAction[] {
  return (input.sentinel?.states ?? []).filter((s) => s.reachable && s.master).map((s) => ({ sentinel: s.name, do: 'remove' as const }));
}
