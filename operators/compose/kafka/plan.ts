// The KafkaCluster's decisions, as pure functions of what the operator observed: which node is which (node.id from
// the ordinal, roles from spec.roles and spec.controllers), and the one next safe step toward the spec. The cluster
// itself is the record of progress (replica sets, reassignments in flight, live brokers, the UnitSet's outdated
// units), so a pass cut off anywhere is finished by the next one, which reads the same state again.
//
// Safety rules, after Strimzi's KafkaRoller and its scale-down check:
// - brokers are added at once; they are removed only after every partition was moved off them and every partition
//   is fully in sync again, and never below a topic's replication factor (then the scale-in is refused whole);
// - a unit is restarted only while every broker is live, no partition is under-replicated or moving, and the
//   controller quorum keeps a caught-up majority without it; a broker whose restart would take a partition below
//   its topic's min.insync.replicas waits (another goes first), and the active controller goes last.

export interface PartitionState { topic: string; partition: number; leader: number; replicas: number[]; isr: number[] }
export interface Voter { id: number; logEndOffset: number; lastCaughtUpMs: number; lastFetchMs: number }
export interface Quorum { leader: number; epoch: number; highWatermark: number; voters: Voter[] }
export interface InFlight { topic: string; partition: number; replicas: number[]; adding: number[]; removing: number[] }

export interface ClusterSnapshot {
  clusterId: string;
  /** Live (registered and unfenced) brokers. */
  brokers: number[];
  partitions: PartitionState[];
  /** min.insync.replicas of each topic (its own or the broker default). */
  minIsr: Map<string, number>;
  quorum: Quorum | undefined;
  reassigning: InFlight[];
  /** Live brokers whose metadata differs from the copy read (not caught up with the controller yet). */
  disagreeing: number[];
}

/** A partition's new replica list (the first is its preferred leader). */
export interface Move { topic: string; partition: number; replicas: number[] }

export type Roles = 'Combined' | 'Dedicated';

export interface NodeRoles { broker: boolean; controller: boolean }

/** Kafka's node.id of a unit: its ordinal + 1 (the template's serverId). */
export const nodeId = (ordinal: number): number => ordinal + 1;

/** The roles of the unit at an ordinal: the `controllers` lowest ordinals are the quorum. */
export function rolesOf(ordinal: number, roles: Roles, controllers: number): NodeRoles {
  const controller = ordinal < controllers;
  return { controller, broker: roles === 'Combined' || !controller };
}

/** Units the UnitSet needs for this many brokers. */
export const unitsFor = (brokers: number, roles: Roles, controllers: number): number => (roles === 'Combined' ? Math.max(brokers, controllers) : controllers + brokers);

export interface Node extends NodeRoles {
  ordinal: number;
  id: number;
  unit: string;
  /** The unit's engine is Ready (the agent's probe). */
  ready: boolean;
}

export interface PlanInput {
  roles: Roles;
  controllers: number;
  /** Units the spec asks for (unitsFor(spec.brokers)). */
  desiredUnits: number;
  /** The UnitSet's spec.units now. */
  unitSetUnits: number;
  /** Units that exist, by ordinal. */
  nodes: Node[];
  /** The UnitSet's status: units waiting for an update (restart), and units being updated. */
  outdated: string[];
  updating: string[];
  /** Units the UnitSet's unit.upm.io/update-next annotation names now. */
  updateNext: string[];
  world: ClusterSnapshot;
  /** The largest replication factor the parameters give new and internal topics. */
  configuredReplication: number;
  rebalanceOnScaleOut: boolean;
  /** The brokers partitions were last spread over (status.balancedBrokers). */
  balancedBrokers: number[] | undefined;
  /** Brokers removed by a scale-in whose registration is still to be dropped. */
  toUnregister: number[];
  /** The leader's clock, for the voters' catch-up times. */
  now: number;
}

export type Phase = 'Forming' | 'Ready' | 'ScalingOut' | 'Rebalancing' | 'Draining' | 'ScalingIn' | 'Restarting' | 'Degraded' | 'Blocked';

export type Step =
  | { kind: 'scale'; units: number; direction: 'out' | 'in'; leaving: number[] }
  | { kind: 'reassign'; reason: 'Drain' | 'Rebalance'; brokers: number[]; moves: Move[] }
  | { kind: 'restart'; unit: string; id: number; why: string }
  | { kind: 'unregister'; ids: number[] }
  | { kind: 'balanced'; brokers: number[] }
  | { kind: 'wait'; phase: Phase; reason: string }
  | { kind: 'refuse'; field: string; message: string }
  | { kind: 'done' };

/** A voter counts as caught up when it fetched up to the leader's end within this window. */
export const CAUGHT_UP_WINDOW_MS = 10_000;

const sorted = (xs: Iterable<number>): number[] => [...xs].sort((a, b) => a - b);
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
const pname = (p: { topic: string; partition: number }): string => `${p.topic}-${p.partition}`;
const brokerList = (ids: number[]): string => `broker${ids.length > 1 ? 's' : ''} ${ids.join(',')}`;

export const underReplicated = (ps: PartitionState[]): PartitionState[] => ps.filter((p) => p.isr.length < p.replicas.length);
export const underMinIsr = (ps: PartitionState[], minIsr: Map<string, number>): PartitionState[] =>
  ps.filter((p) => p.isr.length < Math.min(minIsr.get(p.topic) ?? 1, p.replicas.length));
export const offline = (ps: PartitionState[]): PartitionState[] => ps.filter((p) => p.leader < 0);

/** Replicas held per broker. */
export function replicaCounts(ps: PartitionState[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of ps) for (const r of p.replicas) out.set(r, (out.get(r) ?? 0) + 1);
  return out;
}

/**
 * New replicas for every partition that has one on a leaving broker: each leaving replica is replaced, in its place
 * (so a preferred leader's successor is preferred), by the remaining broker holding the fewest replicas (of the
 * topic, then overall) that is not already a replica of the partition.
 */
export function drainMoves(ps: PartitionState[], leaving: number[], remaining: number[]): Move[] {
  const gone = new Set(leaving);
  const total = replicaCounts(ps);
  const perTopic = new Map<string, Map<number, number>>();
  for (const p of ps) {
    const m = perTopic.get(p.topic) ?? new Map<number, number>();
    for (const r of p.replicas) m.set(r, (m.get(r) ?? 0) + 1);
    perTopic.set(p.topic, m);
  }
  const moves: Move[] = [];
  for (const p of [...ps].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)) {
    if (!p.replicas.some((r) => gone.has(r))) continue;
    const topic = perTopic.get(p.topic) ?? new Map<number, number>();
    const replicas = [...p.replicas];
    for (let i = 0; i < replicas.length; i++) {
      const old = replicas[i] ?? -1;
      if (!gone.has(old)) continue;
      const choice = remaining.filter((b) => !replicas.includes(b))
        .sort((a, b) => (topic.get(a) ?? 0) - (topic.get(b) ?? 0) || (total.get(a) ?? 0) - (total.get(b) ?? 0) || a - b)[0];
      if (choice === undefined) throw new Error(`${pname(p)} has ${p.replicas.length} replicas; ${remaining.length} remaining brokers cannot hold them`);
      replicas[i] = choice;
      for (const m of [topic, total]) { m.set(choice, (m.get(choice) ?? 0) + 1); m.set(old, (m.get(old) ?? 0) - 1); }
    }
    moves.push({ topic: p.topic, partition: p.partition, replicas });
  }
  return moves;
}

/**
 * Moves that spread every topic's replicas evenly over the brokers (no broker more than one replica above another),
 * one replica at a time from the fullest broker to the emptiest, in its place in the replica list; leaders follow the
 * first replica. Partitions whose replicas name a broker not in `brokers` are left alone.
 */
export function balanceMoves(ps: PartitionState[], brokers: number[]): Move[] {
  const known = new Set(brokers);
  const byTopic = new Map<string, PartitionState[]>();
  for (const p of ps) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p]);
  const moves: Move[] = [];
  for (const [, parts] of [...byTopic].sort(([a], [b]) => a.localeCompare(b))) {
    const movable = parts.filter((p) => p.replicas.every((r) => known.has(r))).sort((a, b) => a.partition - b.partition);
    const replicas = new Map(movable.map((p) => [p.partition, [...p.replicas]]));
    const count = new Map<number, number>(brokers.map((b) => [b, 0]));
    for (const rs of replicas.values()) for (const r of rs) count.set(r, (count.get(r) ?? 0) + 1);
    const changed = new Set<number>();
    for (;;) {
      const order = sorted(count.keys()).sort((a, b) => (count.get(a) ?? 0) - (count.get(b) ?? 0));
      const low = order[0];
      // From the fullest broker that has a partition the emptiest one is not in.
      let moved = false;
      for (const high of [...order].reverse()) {
        if (low === undefined || (count.get(high) ?? 0) - (count.get(low) ?? 0) <= 1) break;
        const candidate = [...replicas].find(([, rs]) => rs.includes(high) && !rs.includes(low));
        if (!candidate) continue;
        const [partition, rs] = candidate;
        rs[rs.indexOf(high)] = low;
        count.set(high, (count.get(high) ?? 0) - 1);
        count.set(low, (count.get(low) ?? 0) + 1);
        changed.add(partition);
        moved = true;
        break;
      }
      if (!moved) break;
    }
    for (const p of movable) if (changed.has(p.partition)) moves.push({ topic: p.topic, partition: p.partition, replicas: replicas.get(p.partition) ?? p.replicas });
  }
  return moves;
}

/** Why restarting this broker now would take a partition below its topic's min.insync.replicas, or undefined. */
export function minIsrBlocker(id: number, world: ClusterSnapshot): string | undefined {
  for (const p of world.partitions) {
    const min = world.minIsr.get(p.topic) ?? 1;
    // A partition with no more replicas than min.insync.replicas cannot stay writable through any restart: it does
    // not hold the roll back (Strimzi's rule too).
    if (p.replicas.length <= min || !p.isr.includes(id)) continue;
    if (p.isr.length - 1 < min) return `${pname(p)} has ${plural(p.isr.length, 'in-sync replica')} (${p.isr.join(',')}) and min.insync.replicas ${min}`;
  }
  return undefined;
}

/** Voters caught up with the leader (the leader itself included). */
export function caughtUpVoters(q: Quorum, now: number): number[] {
  return q.voters.filter((v) => v.id === q.leader || (v.logEndOffset >= 0 && v.lastCaughtUpMs >= now - CAUGHT_UP_WINDOW_MS)).map((v) => v.id);
}

/** Why restarting this controller now could leave the quorum without a caught-up majority, or undefined. */
export function quorumBlocker(id: number, q: Quorum | undefined, controllers: number, now: number): string | undefined {
  if (controllers <= 1) return undefined; // a single controller cannot stay available through its own restart
  if (!q || q.leader < 0) return 'the controller quorum has no leader';
  const others = caughtUpVoters(q, now).filter((v) => v !== id);
  const majority = Math.floor(controllers / 2) + 1;
  return others.length >= majority ? undefined : `only ${plural(others.length, 'other voter')} (${others.join(',') || 'none'}) caught up; the quorum needs ${majority}`;
}

/** The order to restart outdated units in: brokers only, then controllers, the active controller last. */
export function restartOrder(nodes: Node[], outdated: string[], activeController: number | undefined): Node[] {
  const want = new Set(outdated);
  const rank = (n: Node) => (n.id === activeController ? 2 : n.controller ? 1 : 0);
  return nodes.filter((n) => want.has(n.unit)).sort((a, b) => rank(a) - rank(b) || b.ordinal - a.ordinal);
}

/** Why the cluster is not healthy enough for a restart or a scale-in to be completed, or undefined. */
export function healthBlocker(input: Pick<PlanInput, 'nodes' | 'world' | 'unitSetUnits'>): string | undefined {
  const { world } = input;
  const expected = input.nodes.filter((n) => n.broker && n.ordinal < input.unitSetUnits);
  const missing = expected.filter((n) => !world.brokers.includes(n.id));
  if (missing.length) return `${missing.map((n) => `broker ${n.id} (${n.unit})`).join(', ')} not live`;
  const urp = underReplicated(world.partitions);
  if (urp.length) return `${plural(urp.length, 'partition')} under-replicated (${urp.slice(0, 3).map(pname).join(', ')}${urp.length > 3 ? ', ...' : ''})`;
  if (world.reassigning.length) return `${plural(world.reassigning.length, 'partition')} being reassigned`;
  return undefined;
}

/**
 * The replication factor to keep: the largest of every topic's and of what the parameters give new topics. A
 * partition being reassigned lists its old and new replicas together: its target counts.
 */
export function requiredReplication(ps: PartitionState[], configured: number, moving: InFlight[] = []): { rf: number; topics: string[] } {
  const removing = new Map(moving.map((m) => [`${m.topic}-${m.partition}`, m.removing.length]));
  const byTopic = new Map<string, number>();
  for (const p of ps) byTopic.set(p.topic, Math.max(byTopic.get(p.topic) ?? 0, p.replicas.length - (removing.get(pname(p)) ?? 0)));
  const rf = Math.max(configured, ...byTopic.values());
  return { rf, topics: [...byTopic].filter(([, n]) => n === rf).map(([t]) => t).sort() };
}

export function nextStep(input: PlanInput): Step {
  const { world, nodes } = input;
  const brokerIds = (pred: (n: Node) => boolean) => sorted(nodes.filter((n) => n.broker && pred(n)).map((n) => n.id));

  // Scale out: new units join at once (their storage is formatted, they register as brokers).
  if (input.unitSetUnits < input.desiredUnits) return { kind: 'scale', units: input.desiredUnits, direction: 'out', leaving: [] };

  // Every other decision reads replica sets and ISRs: only once every live broker's metadata tells the same.
  if (world.disagreeing.length) {
    return { kind: 'wait', phase: input.desiredUnits < input.unitSetUnits ? 'Draining' : 'Ready', reason: `${brokerList(world.disagreeing)} not caught up with the cluster metadata yet` };
  }

  // Scale in: drain, then wait until everything is in sync, then remove.
  if (input.desiredUnits < input.unitSetUnits) {
    const leaving = brokerIds((n) => n.ordinal >= input.desiredUnits && n.ordinal < input.unitSetUnits);
    const remaining = brokerIds((n) => n.ordinal < input.desiredUnits);
    const need = requiredReplication(world.partitions, input.configuredReplication, world.reassigning);
    if (need.rf > remaining.length) {
      const what = need.topics.length ? `topic${need.topics.length > 1 ? 's' : ''} ${need.topics.slice(0, 5).join(', ')}${need.topics.length > 5 ? ', ...' : ''} ${need.topics.length > 1 ? 'have' : 'has'} replication factor ${need.rf}` : `the parameters give new topics replication factor ${need.rf}`;
      return { kind: 'refuse', field: 'spec.brokers', message: `${plural(remaining.length, 'broker')} cannot keep the replication factor: ${what}; scale-in refused, nothing was changed` };
    }
    if (world.reassigning.length) return { kind: 'wait', phase: 'Draining', reason: `${plural(world.reassigning.length, 'partition')} moving off broker${leaving.length > 1 ? 's' : ''} ${leaving.join(',')}` };
    const holding = world.partitions.filter((p) => p.replicas.some((r) => leaving.includes(r)));
    if (holding.length) {
      const down = remaining.filter((b) => !world.brokers.includes(b));
      if (down.length) return { kind: 'wait', phase: 'Draining', reason: `broker${down.length > 1 ? 's' : ''} ${down.join(',')} not live: partitions are moved only onto live brokers` };
      return { kind: 'reassign', reason: 'Drain', brokers: leaving, moves: drainMoves(world.partitions, leaving, remaining) };
    }
    const urp = underReplicated(world.partitions);
    if (urp.length) return { kind: 'wait', phase: 'Draining', reason: `${plural(urp.length, 'partition')} not fully in sync yet` };
    return { kind: 'scale', units: input.desiredUnits, direction: 'in', leaving };
  }

  if (input.toUnregister.length) return { kind: 'unregister', ids: input.toUnregister };

  // A reassignment in flight (a rebalance of ours, or someone's) finishes before anything else starts.
  if (world.reassigning.length) return { kind: 'wait', phase: 'Rebalancing', reason: `${plural(world.reassigning.length, 'partition')} being reassigned` };

  // Rolling restart (a new revision or a static setting: the UnitSet's outdated units), one unit at a time.
  // The UnitSet lists as updating every unit not available at its revision, so it also names a crashed one.
  const busy = input.updating.filter((u) => nodes.some((n) => n.unit === u));
  const named = input.updateNext.filter((u) => input.outdated.includes(u));
  if (input.outdated.length || input.updateNext.some((u) => busy.includes(u))) {
    if (busy.length) return { kind: 'wait', phase: 'Restarting', reason: `${busy.join(', ')} restarting: waiting for ${busy.length > 1 ? 'them' : 'it'} to serve again` };
    if (named.length) return { kind: 'wait', phase: 'Restarting', reason: `waiting for the Unit Operator to restart ${named.join(', ')}` };
    const health = healthBlocker(input);
    if (health) return { kind: 'wait', phase: 'Restarting', reason: `next restart waits: ${health}` };
    const blocked: string[] = [];
    for (const n of restartOrder(nodes, input.outdated, world.quorum?.leader)) {
      const why = (n.broker ? minIsrBlocker(n.id, world) : undefined) ?? (n.controller ? quorumBlocker(n.id, world.quorum, input.controllers, input.now) : undefined);
      if (why) { blocked.push(`${n.unit}: ${why}`); continue; }
      const what = n.id === world.quorum?.leader ? 'the active controller, last' : n.controller ? (n.broker ? 'a broker and controller' : 'a controller') : 'a broker';
      return { kind: 'restart', unit: n.unit, id: n.id, why: `${what}; every broker live, no partition under-replicated` };
    }
    return { kind: 'wait', phase: 'Restarting', reason: `no unit can restart without losing availability: ${blocked.join('; ')}` };
  }

  // Spread partitions onto brokers that joined (spec.rebalance.onScaleOut), once every broker is live and in sync.
  const expected = brokerIds((n) => n.ordinal < input.unitSetUnits);
  const allLive = expected.every((b) => world.brokers.includes(b));
  if (allLive && !healthBlocker(input)) {
    const fresh = expected.filter((b) => !(input.balancedBrokers ?? expected).includes(b));
    if (fresh.length && input.rebalanceOnScaleOut) {
      const moves = balanceMoves(world.partitions, expected);
      if (moves.length) return { kind: 'reassign', reason: 'Rebalance', brokers: fresh, moves };
    }
    if (JSON.stringify(input.balancedBrokers) !== JSON.stringify(expected)) return { kind: 'balanced', brokers: expected };
  }
  return { kind: 'done' };
}
