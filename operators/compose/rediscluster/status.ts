// What the cluster looks like, for status: every member as the cluster sees it, the master of each shard, slot
// coverage, nodes on their way out, and what keeps it from being healthy (each problem naming its member's field).
// Pure: built from one observation.
import type { RedisClusterStatus } from '../../../lib/api/compose.upm.io.generated.ts';
import { slotOwners, SLOTS, type ClusterNode, type NodeView, type Observation } from './plan.ts';

type Topology = NonNullable<RedisClusterStatus['topology']>;

/** A spec member with its address (empty with `problem` when its unit has none). */
export interface ResolvedMember {
  name: string;
  shard: string;
  field: string;
  unit?: string;
  /** The Kubernetes node of the unit's pod. */
  node?: string;
  host: string;
  port: number;
  problem?: string;
}

export interface ClusterDescription {
  topology: Topology;
  /** Shard name → the member holding its slots. */
  masters: Record<string, string>;
  /** Shards whose master holds slots. */
  shards: number;
  slotsAssigned: number;
  /** Nodes of the cluster that are no member: "<id> (<host:port>)". */
  leaving: string[];
  /** Why the cluster is not healthy, each naming a member's field; empty when it is. */
  problems: string[];
}

const addr = (e: { host: string; port: number }): string => `${e.host}:${e.port}`;
const myself = (nodes: readonly ClusterNode[] | undefined): ClusterNode | undefined => nodes?.find((n) => n.flags.includes('myself'));
const rangeText = ([a, b]: [number, number]): string => (a === b ? `${a}` : `${a}-${b}`);
const isFailing = (n: ClusterNode): boolean => n.flags.includes('fail') || n.flags.includes('fail?');

export function describeCluster(members: readonly ResolvedMember[], observed: Observation): ClusterDescription {
  const viewAt = new Map<string, NodeView>(observed.views.map((v) => [addr(v), v]));
  const seen = members.map((m) => ({ m, view: m.host ? viewAt.get(addr(m)) : undefined })).map((x) => ({ ...x, self: myself(x.view?.nodes) }));
  // Members by node id: their own word, or for one that cannot be read, what the others know of its address.
  const nameOf = new Map<string, string>();
  for (const { m, self } of seen) if (self) nameOf.set(self.id, m.name);
  const idOf = new Map<string, string>();
  for (const { m, self } of seen) {
    if (self || !m.host) continue;
    const known = seen.flatMap((x) => x.view?.nodes ?? []).find((n) => n.host === m.host && n.port === m.port && !n.flags.includes('handshake'));
    if (known && !nameOf.has(known.id)) { nameOf.set(known.id, m.name); idOf.set(m.name, known.id); }
  }
  // A node is failing when a reachable member flags it so.
  const flagged = new Set<string>();
  for (const { view } of seen) for (const n of view?.nodes ?? []) if (isFailing(n)) flagged.add(n.id);

  const masters: Record<string, string> = {};
  for (const { m, self } of seen) if (self?.role === 'master' && self.slots.length && !flagged.has(self.id)) masters[m.shard] = m.name;

  const topology: Topology = {};
  const problems: string[] = [];
  for (const { m, view, self } of seen) {
    const base = { ...(m.unit ? { unit: m.unit } : {}), ...(m.node ? { node: m.node } : {}), host: m.host, port: m.port, shard: m.shard };
    if (!view?.nodes || !self) {
      const why = m.problem ?? view?.error ?? 'not observed';
      topology[m.name] = { ...base, ...(idOf.has(m.name) ? { id: idOf.get(m.name) } : {}), role: 'None', status: 'Unreachable', ready: false, lastError: why };
      problems.push(`${m.field} (${m.name}): ${why}`);
      continue;
    }
    const slotCount = self.slots.reduce((n, [a, b]) => n + b - a + 1, 0);
    const failing = flagged.has(self.id);
    const role = self.role === 'master' ? 'Master' : 'Replica';
    const shardMaster = masters[m.shard];
    let ready: boolean;
    let why = '';
    if (failing) { ready = false; why = 'marked failing by other nodes'; }
    else if (view.state !== 'ok') { ready = false; why = `cluster_state ${view.state ?? 'unknown'}`; }
    else if (role === 'Master') { ready = slotCount > 0 && shardMaster === m.name; if (!ready) why = 'a master without slots'; }
    else {
      const follows = shardMaster !== undefined && nameOf.get(self.masterId ?? '') === shardMaster;
      ready = follows && !!view.replication?.linkUp && !view.replication.syncing;
      if (!follows) why = `replicates ${nameOf.get(self.masterId ?? '') ?? self.masterId ?? 'nothing'}, not the master of shard ${m.shard}`;
      else if (!ready) why = view.replication?.syncing ? 'syncing with its master' : 'link to its master is down';
    }
    topology[m.name] = {
      ...base, id: self.id, role,
      ...(self.masterId ? { masterRef: nameOf.get(self.masterId) ?? self.masterId } : {}),
      slots: self.slots.map(rangeText), slotCount,
      status: failing ? 'Failing' : 'Healthy', ready,
      ...(view.replication ? { linkUp: view.replication.linkUp } : {}),
      ...(why ? { lastError: why } : {}),
    };
    if (!ready) problems.push(`${m.field} (${m.name}): ${why}`);
  }

  const reference = seen.find((x) => x.self && x.self.role === 'master')?.view?.nodes ?? seen.find((x) => x.self)?.view?.nodes ?? [];
  const slotsAssigned = slotOwners(reference).filter((o) => o !== undefined).length;
  if (seen.some((x) => x.self) && slotsAssigned < SLOTS) problems.push(`${SLOTS - slotsAssigned} of ${SLOTS} slots are not assigned`);
  const memberIds = new Set(seen.flatMap((x) => (x.self ? [x.self.id] : [])));
  const leaving = new Map<string, string>();
  for (const { view } of seen) {
    for (const n of view?.nodes ?? []) {
      if (memberIds.has(n.id) || n.flags.includes('handshake')) continue;
      leaving.set(n.id, `${n.id} (${n.host ? addr(n) : 'no address'})`);
    }
  }
  return { topology, masters, shards: Object.keys(masters).length, slotsAssigned, leaving: [...leaving.values()].sort(), problems };
}
