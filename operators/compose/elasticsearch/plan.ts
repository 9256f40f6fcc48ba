// The next safe step for an ElasticsearchCluster, free of I/O. The controller reads the world (its UnitSets, their
// units, and the cluster through the REST API), asks nextStep, carries the one step out and reads again, so every
// decision here is made from observed state alone and every step is safe to repeat:
//   scale out   raise the UnitSet's size; the new nodes find the cluster through the seed hosts
//   scale in    exclude the leaving nodes from shard allocation, wait until they hold no shard, take the
//               cluster-manager-eligible ones out of the voting configuration, shrink the UnitSet, wait until they
//               are gone, then lift the exclusions
//   restart     (a new revision, a setting that needs one) replica allocation paused, one node named to the Unit
//               Operator, allocation resumed once it is back, the next one only at green; nodes that are not
//               cluster-manager-eligible first, the elected cluster manager last

import { isManagerRole } from './dialect.ts';

export type Health = 'green' | 'yellow' | 'red';

export interface ClusterNode { id: string; name: string; ip: string; roles: string[] }

/** The cluster as one node that knows its elected manager sees it. */
export interface ClusterView {
  /** The node whose view this is. */
  via: string;
  clusterName: string;
  clusterUUID: string;
  health: {
    status: Health; nodes: number; dataNodes: number;
    activePrimary: number; active: number; relocating: number; initializing: number; unassigned: number; activePercent: number;
  };
  nodes: ClusterNode[];
  /** Id of the elected cluster manager. */
  managerId?: string;
  votingExclusions: { id: string; name: string }[];
  allocation: { enable?: string; excludeNames: string[] };
  /** Shard copies per node name, counting relocations both at their source and at their target. */
  shardsByNode: Record<string, number>;
  indices: number;
  /** The highest number_of_replicas of an index that does not expand its replicas by itself. */
  maxReplicas: number;
}

export interface NodeSetState {
  name: string;
  unitSet: string;
  /** Units the spec wants (0 for a node set gone from the spec). */
  wanted: number;
  inSpec: boolean;
  manager: boolean;
  data: boolean;
  /** The UnitSet's spec.units; undefined while it does not exist. */
  current?: number;
  /** The UnitSet's status: units waiting for an update, and units being updated. */
  outdated: string[];
  updating: string[];
  /** Units named by the UnitSet's unit.upm.io/update-next annotation. */
  updateNext: string[];
  /** The UnitSet's status is about its current spec (else its outdated list may be stale). */
  observed: boolean;
}

export interface UnitState { name: string; nodeSet: string; ordinal: number; ready: boolean }

export interface PlanInput {
  cluster: string;
  sets: NodeSetState[];
  /** Units of the cluster's UnitSets that exist (not being deleted counts as existing too). */
  units: UnitState[];
  view?: ClusterView;
  /** Why no view could be had. */
  viewError?: string;
  /** The cluster has formed once (status.bootstrap.formedAt). */
  formed: boolean;
  /** A rolling restart recorded in status (the operator paused replica allocation for it). */
  restarting: boolean;
  /** The last stop paused replica allocation (status.stop): resumed once every wanted node has rejoined. */
  stopPaused?: boolean;
}

export type Phase = 'Pending' | 'Forming' | 'Ready' | 'Scaling' | 'Draining' | 'Removing' | 'Restarting' | 'Degraded' | 'Blocked' | 'Failed' | 'Starting';

export type Step =
  | { kind: 'done' }
  /** Nothing to do now; observe again soon. */
  | { kind: 'wait'; phase: Phase; reason: string }
  /** Refused: the spec asks for something the cluster cannot do safely. Nothing changes. */
  | { kind: 'blocked'; field: string; reason: string }
  | { kind: 'resize'; unitSet: string; from: number; units: number; nodes: string[] }
  /** cluster.routing.allocation.exclude._name becomes `names` (the nodes being removed and anything not ours). */
  | { kind: 'exclude'; names: string[]; adding: string[]; removing: string[] }
  | { kind: 'votingExclude'; names: string[] }
  | { kind: 'clearVotingExclusions'; names: string[] }
  | { kind: 'deleteUnitSet'; unitSet: string }
  | { kind: 'pauseAllocation'; next: string }
  | { kind: 'restart'; unitSet: string; unit: string }
  | { kind: 'resumeAllocation'; after: string[] }
  | { kind: 'finishRestart'; unitSets: string[]; units: string[] };

export type Action = Exclude<Step, { kind: 'done' | 'wait' | 'blocked' }>;

export const nodeName = (unitSet: string, ordinal: number): string => `${unitSet}-${ordinal}`;

/** The nodes leaving the cluster: every ordinal of a node set at or above what the spec wants that still exists somewhere. */
export function leavingNodes(input: PlanInput): { name: string; set: NodeSetState }[] {
  const out: { name: string; set: NodeSetState }[] = [];
  const inCluster = new Set(input.view?.nodes.map((n) => n.name) ?? []);
  for (const set of input.sets) {
    const ordinals = new Set<number>();
    for (let o = set.wanted; o < (set.current ?? 0); o++) ordinals.add(o);
    for (const u of input.units) if (u.nodeSet === set.name && u.ordinal >= set.wanted) ordinals.add(u.ordinal);
    for (const n of inCluster) {
      const m = n.startsWith(`${set.unitSet}-`) ? /^(\d+)$/.exec(n.slice(set.unitSet.length + 1)) : null;
      if (m && Number(m[1]) >= set.wanted) ordinals.add(Number(m[1]));
    }
    for (const o of [...ordinals].sort((a, b) => b - a)) out.push({ name: nodeName(set.unitSet, o), set });
  }
  return out;
}

/** The nodes the spec wants, in spec order. */
export function wantedNodes(sets: readonly NodeSetState[]): { name: string; set: NodeSetState; ordinal: number }[] {
  return sets.filter((s) => s.inSpec).flatMap((set) => Array.from({ length: set.wanted }, (_, o) => ({ name: nodeName(set.unitSet, o), set, ordinal: o })));
}

const ordinalOf = (name: string, set: NodeSetState): number => Number(name.slice(set.unitSet.length + 1));

const list = (names: readonly string[]): string => names.join(', ');

function healthText(v: ClusterView): string {
  const h = v.health;
  const parts = [h.unassigned && `${h.unassigned} unassigned`, h.initializing && `${h.initializing} initializing`, h.relocating && `${h.relocating} relocating`].filter(Boolean);
  return `${h.status}${parts.length ? ` (${parts.join(', ')} shards)` : ''}`;
}

export function nextStep(input: PlanInput): Step {
  const v = input.view;
  const wanted = wantedNodes(input.sets);
  const leaving = leavingNodes(input);
  const leavingNames = new Set(leaving.map((l) => l.name));
  if (!v) {
    return input.formed
      ? { kind: 'wait', phase: 'Degraded', reason: `no node answers for the cluster${input.viewError ? `: ${input.viewError}` : ''}` }
      : { kind: 'wait', phase: 'Forming', reason: `waiting for the nodes to form the cluster${input.viewError ? ` (${input.viewError})` : ''}` };
  }
  const joined = new Set(v.nodes.map((n) => n.name));
  const ours = (name: string) => name.startsWith(`${input.cluster}-`);

  // Scale out: new nodes join by themselves (seed hosts); nothing to prepare.
  for (const set of input.sets) {
    if (set.inSpec && set.current !== undefined && set.current < set.wanted) {
      return { kind: 'resize', unitSet: set.unitSet, from: set.current, units: set.wanted, nodes: Array.from({ length: set.wanted - set.current }, (_, i) => nodeName(set.unitSet, set.current! + i)) };
    }
  }

  // A restart in flight is finished before anything else starts.
  const named = input.sets.flatMap((s) => s.updateNext.filter((u) => !leavingNames.has(u)).map((u) => ({ u, s })));
  if (named.length) {
    for (const { u, s } of named) {
      if (s.outdated.includes(u)) return { kind: 'wait', phase: 'Restarting', reason: `${u}: waiting for the Unit Operator to restart it` };
      const unit = input.units.find((x) => x.name === u);
      if (s.updating.includes(u) || !unit?.ready) return { kind: 'wait', phase: 'Restarting', reason: `${u} is restarting` };
      if (!joined.has(u)) return { kind: 'wait', phase: 'Restarting', reason: `${u} restarted; waiting for it to rejoin the cluster` };
    }
    const units = named.map((n) => n.u);
    if (v.allocation.enable === 'primaries') return { kind: 'resumeAllocation', after: units };
    if (v.health.status !== 'green') return { kind: 'wait', phase: 'Restarting', reason: `${list(units)} rejoined; waiting for green (${healthText(v)})` };
    return { kind: 'finishRestart', unitSets: [...new Set(named.map((n) => n.s.unitSet))], units };
  }

  // Scale in.
  const present = leaving.filter((l) => joined.has(l.name) || input.units.some((u) => u.name === l.name));
  if (present.length) {
    const presentNames = present.map((l) => l.name);
    const started = v.allocation.excludeNames.some((n) => leavingNames.has(n)) || v.votingExclusions.some((x) => leavingNames.has(x.name))
      || present.some((l) => l.set.current !== undefined && ordinalOf(l.name, l.set) >= l.set.current);
    if (!started) {
      const refusal = refuseScaleIn(input, v, present, wanted);
      if (refusal) return refusal;
      if (v.health.status === 'red') return { kind: 'wait', phase: 'Draining', reason: `waiting for the cluster to leave red health (${healthText(v)}) before removing ${list(presentNames)}` };
    }
    const exclude = [...new Set([...v.allocation.excludeNames.filter((n) => !ours(n) || leavingNames.has(n)), ...presentNames])].sort();
    const adding = exclude.filter((n) => !v.allocation.excludeNames.includes(n));
    if (adding.length) return { kind: 'exclude', names: exclude, adding, removing: [] };
    const shardsLeft = presentNames.reduce((n, name) => n + (v.shardsByNode[name] ?? 0), 0);
    if (shardsLeft > 0) {
      const where = presentNames.filter((n) => v.shardsByNode[n]).map((n) => `${n}: ${v.shardsByNode[n]}`).join(', ');
      return { kind: 'wait', phase: 'Draining', reason: `moving ${shardsLeft} shard copies off ${list(presentNames)} (${where})` };
    }
    const voting = present.filter((l) => l.set.manager && !v.votingExclusions.some((x) => x.name === l.name)).map((l) => l.name);
    if (voting.length) {
      const excluded = new Set([...v.votingExclusions.map((x) => x.name), ...voting]);
      const remaining = v.nodes.filter((n) => n.roles.some(isManagerRole) && !excluded.has(n.name) && !leavingNames.has(n.name));
      if (!remaining.length) {
        return { kind: 'blocked', field: 'spec.nodeSets', reason: `removing ${list(voting)} would leave no cluster-manager-eligible node in the cluster` };
      }
      return { kind: 'votingExclude', names: voting };
    }
  }
  for (const set of input.sets) {
    if (set.current !== undefined && set.current > set.wanted) {
      return { kind: 'resize', unitSet: set.unitSet, from: set.current, units: set.wanted, nodes: Array.from({ length: set.current - set.wanted }, (_, i) => nodeName(set.unitSet, set.current! - 1 - i)) };
    }
  }
  if (present.length) return { kind: 'wait', phase: 'Removing', reason: `waiting for ${list(present.map((l) => l.name))} to leave the cluster and their units to go` };

  // The removal is over: lift what it set (exclusions naming nodes that are gone or wanted again).
  const staleExcludes = v.allocation.excludeNames.filter((n) => ours(n) && !leavingNames.has(n));
  if (staleExcludes.length) {
    return { kind: 'exclude', names: v.allocation.excludeNames.filter((n) => !staleExcludes.includes(n)), adding: [], removing: staleExcludes };
  }
  if (v.votingExclusions.length) {
    return { kind: 'clearVotingExclusions', names: v.votingExclusions.map((x) => x.name) };
  }
  const emptied = input.sets.find((s) => !s.inSpec && (s.current ?? 0) === 0 && s.current !== undefined && !input.units.some((u) => u.nodeSet === s.name));
  if (emptied) return { kind: 'deleteUnitSet', unitSet: emptied.unitSet };

  // Rolling restart of the units waiting for one.
  const outdated = input.sets.filter((s) => s.inSpec).flatMap((s) => s.outdated.filter((u) => !leavingNames.has(u)).map((u) => ({ u, s })));
  const unobserved = input.sets.filter((s) => s.current !== undefined && !s.observed).map((s) => s.unitSet);
  if (outdated.length && unobserved.length) return { kind: 'wait', phase: 'Restarting', reason: `waiting for the Unit Operator to take in the new spec of ${list(unobserved)}` };
  if (outdated.length) {
    const missing = wanted.filter((w) => !joined.has(w.name)).map((w) => w.name);
    if (missing.length) return { kind: 'wait', phase: 'Restarting', reason: `${outdated.length} nodes wait for a restart; waiting for ${list(missing)} to join the cluster first` };
    if (v.health.status !== 'green') return { kind: 'wait', phase: 'Restarting', reason: `${outdated.length} nodes wait for a restart; waiting for green (${healthText(v)})` };
    const next = restartOrder(outdated, v)[0]!;
    if (v.allocation.enable !== 'primaries') return { kind: 'pauseAllocation', next: next.u };
    return { kind: 'restart', unitSet: next.s.unitSet, unit: next.u };
  }
  if (input.restarting && v.allocation.enable === 'primaries') return { kind: 'resumeAllocation', after: [] };
  // After a full-cluster stop: every node recovers its primaries and replicas from its own disk; replicas are
  // allocated elsewhere only once every wanted node is back (else the first nodes up would copy the others' shards).
  if (input.stopPaused && v.allocation.enable === 'primaries') {
    const away = wanted.filter((w) => !joined.has(w.name)).map((w) => w.name);
    if (away.length) return { kind: 'wait', phase: 'Starting', reason: `started after the stop: waiting for ${list(away)} to rejoin before replica allocation resumes` };
    return { kind: 'resumeAllocation', after: wanted.map((w) => w.name) };
  }

  const missing = wanted.filter((w) => !joined.has(w.name)).map((w) => w.name);
  if (missing.length) return { kind: 'wait', phase: 'Scaling', reason: `waiting for ${list(missing)} to join the cluster` };
  if (v.health.nodes !== v.nodes.length) return { kind: 'wait', phase: 'Scaling', reason: `the cluster's membership is changing (${v.health.nodes} nodes by its health, ${v.nodes.length} listed)` };
  if (v.health.status !== 'green') return { kind: 'wait', phase: 'Degraded', reason: `cluster health is ${healthText(v)}` };
  return { kind: 'done' };
}

/** Nodes that are not cluster-manager-eligible first, then eligible ones, the elected cluster manager last. */
export function restartOrder<T extends { u: string }>(items: T[], v: ClusterView): T[] {
  const manager = v.nodes.find((n) => n.id === v.managerId)?.name;
  const rank = (u: string) => {
    if (u === manager) return 2;
    const n = v.nodes.find((x) => x.name === u);
    return n?.roles.some(isManagerRole) ? 1 : 0;
  };
  return [...items].sort((a, b) => rank(a.u) - rank(b.u) || a.u.localeCompare(b.u, 'en', { numeric: true }));
}

/** Whether the cluster can do without the leaving nodes; a refusal names the node set's field. */
function refuseScaleIn(input: PlanInput, v: ClusterView, leaving: { name: string; set: NodeSetState }[], wanted: { name: string; set: NodeSetState }[]): Step | undefined {
  const field = (set: NodeSetState) => {
    const i = input.sets.filter((s) => s.inSpec).indexOf(set);
    return i >= 0 ? `spec.nodeSets[${i}].units` : 'spec.nodeSets';
  };
  if (!wanted.some((w) => w.set.manager)) {
    return { kind: 'blocked', field: 'spec.nodeSets', reason: `removing ${list(leaving.map((l) => l.name))} would leave no cluster-manager-eligible node` };
  }
  const dataLeaving = leaving.filter((l) => l.set.data);
  if (dataLeaving.length && v.indices > 0) {
    const remaining = wanted.filter((w) => w.set.data).length;
    const need = Math.max(1, v.maxReplicas + 1);
    if (remaining < need) {
      const set = dataLeaving[0]!.set;
      return {
        kind: 'blocked', field: field(set),
        reason: `removing ${list(dataLeaving.map((l) => l.name))} would leave ${remaining} data nodes, and an index with ${v.maxReplicas} replicas needs ${need}: lower its number_of_replicas first`,
      };
    }
  }
  return undefined;
}
