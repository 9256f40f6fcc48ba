// The ZooKeeper ensemble's next safe step, chosen from what the servers and the UnitSet say now. Pure: the controller
// observes, asks, carries the one step out, and asks again on the next pass, so an interrupted change is finished
// from the state ZooKeeper and the UnitSet record, never from memory.
//
// The ensemble's members are servers 1..replicas (server id = unit ordinal + 1):
//   - a member too many leaves by reconfig (only while every member that stays is serving and in sync); its unit is
//     removed after it left, when it is no longer a voter;
//   - a member missing joins one at a time: the UnitSet grows by one unit, whose server starts with the members and
//     itself in its config (so it finds the leader), follows as a non-voting follower, and is added by reconfig once
//     it serves in sync. Never two joiners at once: two joiners listing each other could form a quorum of their own;
//   - outdated units (a new revision, a setting that needs a restart, a changed server list) are updated one at a
//     time, followers first, each only once every member serves in sync again; the leader goes last, and when its
//     update restarts it, leadership is handed over first (reconfig removes it: ZooKeeper's leader names its successor
//     without an election), then it is updated as a non-voting follower and added back.

export type Role = 'leader' | 'follower' | 'observer' | 'non-voting' | 'looking' | 'down';

export interface ServerView {
  unit: string;
  ordinal: number;
  /** Server id (myid): ordinal + 1. */
  id: number;
  /** The pod's address ('' while it has none). */
  address: string;
  /** srvr's Mode when the server serves (leader, follower, observer, standalone), else undefined. */
  mode?: string;
  /** The server answered on its client port (serving or not). */
  reachable: boolean;
  zxid?: bigint;
  /** The UnitSet lists the unit as waiting for an update (status.outdated). */
  outdated: boolean;
  /** The UnitSet is updating the unit, or the unit is not yet available at its revision and config. */
  updating: boolean;
  /** The unit's pending update restarts the engine (a new revision or a changed setting), not only its server list. */
  restartNeeded: boolean;
}

export interface Observation {
  /** spec.replicas. */
  desired: number;
  /** UnitSet spec.units. */
  units: number;
  /** The UnitSet's status reflects its current spec (observedGeneration). */
  unitSetCurrent: boolean;
  /** Every unit of the UnitSet, by ordinal. */
  servers: ServerView[];
  /** Voting members of the committed configuration (from the leader), id -> server line value; undefined without a leader. */
  members?: Map<number, string>;
  /** Followers the leader counts as synced, voting ones only. */
  syncedVoters?: number;
  /** The unit currently named for update (annotation), if any. */
  updateNext?: string;
  /** A leader that was handed over for its update and must be added back once updated. */
  handoff?: string;
}

export type Step =
  | { kind: 'done' }
  | { kind: 'wait'; reason: string }
  | { kind: 'scaleUnitSet'; units: number; reason: string }
  | { kind: 'addServer'; server: ServerView; reason: string }
  | { kind: 'removeServers'; servers: ServerView[]; handoff: boolean; reason: string }
  | { kind: 'updateUnit'; server: ServerView; reason: string };

export const done: Step = { kind: 'done' };

const epoch = (z: bigint | undefined): bigint => (z === undefined ? -1n : z >> 32n);

export function leaderOf(o: Observation): ServerView | undefined {
  const leaders = o.servers.filter((s) => s.mode === 'leader');
  // Two servers claiming leadership happens only fleetingly (an old leader that has not noticed yet): the newer epoch leads.
  return leaders.sort((a, b) => Number(epoch(b.zxid) - epoch(a.zxid)))[0];
}

/**
 * A server that serves as the leader's follower (or observer), or the leader itself. A follower serves clients only
 * once it has synced with the leader (srvr says it is not serving until then); its own zxid says nothing here, as
 * an idle follower reports the last transaction it applied, which may predate the leader's epoch.
 */
export function inSync(s: ServerView | undefined, leader: ServerView | undefined): boolean {
  if (!s || !leader || !s.mode) return false;
  return s === leader || s.mode === 'follower' || s.mode === 'observer';
}

export function roleOf(s: ServerView, members: Map<number, string> | undefined): Role {
  if (!s.mode) return s.reachable ? 'looking' : 'down';
  if (s.mode === 'leader') return 'leader';
  if (s.mode === 'observer') return 'observer';
  return members && !members.has(s.id) ? 'non-voting' : 'follower';
}

/** The members that are not serving in sync with the leader, as "zk-1 (down)" for messages. */
function laggards(o: Observation, ids: Iterable<number>, leader: ServerView | undefined): string[] {
  const out: string[] = [];
  for (const id of ids) {
    const s = o.servers.find((x) => x.id === id);
    if (!inSync(s, leader)) out.push(s ? `${s.unit} (${roleOf(s, o.members)})` : `server ${id} (no unit)`);
  }
  return out;
}

export function nextStep(o: Observation): Step {
  const leader = leaderOf(o);
  const members = o.members;
  if (!leader || !members) {
    const serving = o.servers.filter((s) => s.mode).length;
    return { kind: 'wait', reason: `no leader: ${serving} of ${o.servers.length} servers serving (ZooKeeper elects one once a majority of the members is up)` };
  }
  const byId = new Map(o.servers.map((s) => [s.id, s]));
  const target = new Set(Array.from({ length: o.desired }, (_, i) => i + 1));
  const memberIds = [...members.keys()].sort((a, b) => a - b);
  const allInSync = (ids: Iterable<number>) => laggards(o, ids, leader);

  // A unit named for update and not finished yet: nothing else moves meanwhile.
  const named = o.updateNext ? o.servers.find((s) => s.unit === o.updateNext) : undefined;
  if (named && (named.outdated || named.updating)) {
    return { kind: 'wait', reason: `${named.unit} is being updated` };
  }
  if (!o.unitSetCurrent) return { kind: 'wait', reason: 'the UnitSet has not caught up with its spec yet' };

  // Scale in: the members too many leave together, while every member that stays serves in sync.
  const extra = memberIds.filter((id) => !target.has(id));
  if (extra.length) {
    const lagging = allInSync(memberIds.filter((id) => target.has(id)));
    if (lagging.length) return { kind: 'wait', reason: `before servers ${extra.join(', ')} leave, every server that stays must serve in sync; not yet: ${lagging.join(', ')}` };
    const leaving = extra.map((id) => byId.get(id) ?? { unit: `server ${id}`, ordinal: id - 1, id, address: '', reachable: false, outdated: false, updating: false, restartNeeded: false });
    return { kind: 'removeServers', servers: leaving, handoff: false, reason: `scale in to ${o.desired}` };
  }

  // Scale out (or a handed-over leader coming back): the lowest missing member joins.
  const missing = [...target].filter((id) => !members.has(id)).sort((a, b) => a - b);
  if (missing.length) {
    const id = missing[0] as number;
    const lagging = allInSync(memberIds);
    if (o.units < id) {
      if (lagging.length) return { kind: 'wait', reason: `before server ${id} joins, every member must serve in sync; not yet: ${lagging.join(', ')}` };
      return { kind: 'scaleUnitSet', units: id, reason: `server ${id} joins (scale out to ${o.desired})` };
    }
    const joiner = byId.get(id);
    if (!joiner) return { kind: 'wait', reason: `unit for server ${id} not created yet` };
    if (o.handoff === joiner.unit && (joiner.outdated || joiner.restartNeeded)) {
      if (lagging.length) return { kind: 'wait', reason: `before ${joiner.unit} is updated, every member must serve in sync; not yet: ${lagging.join(', ')}` };
      return { kind: 'updateUnit', server: joiner, reason: `update the former leader ${joiner.unit} (handed over)` };
    }
    if (joiner.updating || !inSync(joiner, leader)) return { kind: 'wait', reason: `${joiner.unit} is joining: ${joiner.mode ? `${joiner.mode}, not in sync yet` : 'not serving yet'}` };
    if (lagging.length) return { kind: 'wait', reason: `before ${joiner.unit} is added, every member must serve in sync; not yet: ${lagging.join(', ')}` };
    return { kind: 'addServer', server: joiner, reason: o.handoff === joiner.unit ? `add ${joiner.unit} back after its update` : `server ${id} joins (scale out to ${o.desired})` };
  }

  // Units no member needs any more (left by reconfig), highest first as the UnitSet removes them.
  if (o.units > o.desired) return { kind: 'scaleUnitSet', units: o.desired, reason: `servers above ${o.desired} have left the ensemble` };
  if (o.units < o.desired) return { kind: 'scaleUnitSet', units: o.desired, reason: `members without a unit: the UnitSet has ${o.units}` };

  // Updates: followers first (highest ordinal first), the leader last.
  const outdated = o.servers.filter((s) => target.has(s.id) && s.outdated);
  if (!outdated.length) return done;
  const lagging = allInSync(memberIds);
  const busy = o.servers.filter((s) => target.has(s.id) && s.updating).map((s) => s.unit);
  if (lagging.length || busy.length) {
    return { kind: 'wait', reason: `next update only once every member serves in sync again; not yet: ${[...lagging, ...busy.map((u) => `${u} (updating)`)].join(', ')}` };
  }
  if (o.syncedVoters !== undefined && o.syncedVoters < members.size - 1) {
    return { kind: 'wait', reason: `the leader counts ${o.syncedVoters} of ${members.size - 1} followers in sync` };
  }
  const followers = outdated.filter((s) => s !== leader).sort((a, b) => b.ordinal - a.ordinal);
  const next = followers[0];
  if (next) return { kind: 'updateUnit', server: next, reason: `${next.unit} (${roleOf(next, members)}) first, the leader last` };
  // Only the leader is left.
  if (!leader.restartNeeded) return { kind: 'updateUnit', server: leader, reason: `the leader ${leader.unit} last (its server list only: no restart)` };
  if (members.size < 2) return { kind: 'updateUnit', server: leader, reason: `the leader ${leader.unit} last (no other member to hand over to)` };
  return { kind: 'removeServers', servers: [leader], handoff: true, reason: `the leader ${leader.unit} last: hand leadership over before it restarts` };
}
