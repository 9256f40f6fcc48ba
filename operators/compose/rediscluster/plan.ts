// Redis Cluster planning, free of I/O: parse CLUSTER NODES, compare what every node reports with the desired shards
// and choose the one next safe step. A level-based controller calls observe → nextStep → applyStep → observe again,
// so every decision here is made from the observed state alone and every step is safe to repeat.

export const SLOTS = 16384;
/** Slots moved per migrateSlots step: small enough that a reconcile stays short and progress is resumable. */
export const DEFAULT_BATCH_SLOTS = 128;

export type SlotRange = [number, number];

export interface Endpoint { host: string; port: number }
/** A node by its cluster id and the address it is reached at; `name` is the spec member's name when it has one. */
export interface NodeRef extends Endpoint { id: string; name?: string }

export interface FieldError { field: string; message: string }

export interface ClusterNode {
  id: string;
  host: string;
  port: number;
  busPort?: number;
  hostname?: string;
  role: 'master' | 'replica';
  masterId?: string;
  slots: SlotRange[];
  flags: string[];
  linkState: string;
  configEpoch?: number;
  /** `[slot->-id]`: this node is handing the slot to `to`. Only a node's own line carries these. */
  migrating: { slot: number; to: string }[];
  /** `[slot-<-id]`: this node is receiving the slot from `from`. */
  importing: { slot: number; from: string }[];
}

export interface MemberSpec { name: string; host: string; port: number }
/** The first member is the intended master, the others its replicas. */
export interface ShardSpec { name: string; members: MemberSpec[] }
export interface ClusterSpec { shards: ShardSpec[] }

/** A replica's link to its master, from INFO replication. */
export interface ReplicationInfo {
  /** master_link_status:up */
  linkUp: boolean;
  /** master_sync_in_progress:1 (a full resync is running). */
  syncing: boolean;
}

/** What one node reports; `nodes` is absent when the node could not be read. */
export interface NodeView extends Endpoint {
  nodes?: ClusterNode[];
  error?: string;
  /** cluster-allow-replica-migration, when it could be read. */
  replicaMigration?: boolean;
  /** repl-diskless-sync-max-replicas, when the server has it (Redis 7). */
  disklessMaxReplicas?: number;
  /** cluster_state from CLUSTER INFO ('ok' or 'fail'). */
  state?: string;
  /** Present when the node is a replica. */
  replication?: ReplicationInfo;
}
export interface Observation { views: NodeView[] }

export const done = Object.freeze({ kind: 'done' as const });

export type Step =
  | typeof done
  /** Gossip has not converged (handshakes, node sets or slot maps differ): do nothing, observe again shortly. */
  | { kind: 'waitForAgreement'; reason: string }
  /**
   * Needs a person or another controller (invalid spec, unreachable node, two clusters): do nothing. `field` names
   * the spec field the problem is about, when there is one.
   */
  | { kind: 'blocked'; reason: string; errors?: FieldError[]; field?: string }
  /** CONFIG SET of settings the operator owns (a restarted engine forgets them, so they are read back every pass). */
  | { kind: 'configure'; settings: Setting[] }
  /** Each `node` runs CLUSTER MEET `target` (all at once: the handshakes run in parallel). */
  | { kind: 'meet'; pairs: { node: NodeRef; target: NodeRef }[] }
  /** Each `node` runs CLUSTER REPLICATE `master`. */
  | { kind: 'replicate'; pairs: { node: NodeRef; master: NodeRef }[] }
  | { kind: 'addSlots'; assignments: { node: NodeRef; ranges: SlotRange[] }[] }
  /** One batch of a reshard; `remaining` counts the slots still to move, this batch included. */
  | { kind: 'migrateSlots'; from: NodeRef; to: NodeRef; slots: number[]; reason: 'drain' | 'rebalance'; remaining: number }
  /** Finish interrupted migrations of `slots` from `from` to `to` (forward: nothing is moved back). */
  | { kind: 'fixOpenSlots'; slots: number[]; from: NodeRef; to: NodeRef }
  /** CLUSTER FORGET `node.id` on every node in `on`, then CLUSTER RESET HARD at `reset` (absent if unreachable). */
  | { kind: 'forget'; node: NodeRef; on: NodeRef[]; reset?: Endpoint }
  /** CLUSTER FAILOVER (coordinated, no write lost) on `node`, a caught-up replica of `master`: the shard's first member takes its place back. */
  | { kind: 'failover'; shard: string; node: NodeRef; master: NodeRef };

export interface Setting { node: Endpoint; parameter: 'cluster-allow-replica-migration' | 'repl-diskless-sync-max-replicas'; value: string }

export interface PlanOptions {
  batchSlots?: number;
  /** Hand a shard back to its first member once Redis failed it over and that member is a healthy replica again (default true). */
  failback?: boolean;
}

// --- CLUSTER NODES ------------------------------------------------------------------------------------------------

const OPEN_SLOT = /^\[(\d+)(->-|-<-)([0-9a-zA-Z]+)\]$/;

/** Parses CLUSTER NODES output: `<id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>...`. */
export function parseClusterNodes(text: string): ClusterNode[] {
  const out: ClusterNode[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const f = line.split(' ');
    if (f.length < 8) throw new Error(`malformed CLUSTER NODES line: ${line}`);
    const [id, address, flagText, master, , , epoch, linkState] = f as [string, string, string, string, string, string, string, string];
    const [hostPort = '', hostname] = address.split(',', 2);
    const [ipPort = '', bus] = hostPort.split('@', 2);
    const colon = ipPort.lastIndexOf(':');
    const flags = flagText.split(',').filter((x) => x && x !== 'noflags');
    const node: ClusterNode = {
      id,
      host: colon >= 0 ? ipPort.slice(0, colon) : ipPort,
      port: colon >= 0 ? Number(ipPort.slice(colon + 1)) : 0,
      role: flags.includes('slave') ? 'replica' : 'master',
      slots: [], flags, linkState, migrating: [], importing: [],
    };
    if (bus) node.busPort = Number(bus);
    if (hostname) node.hostname = hostname;
    if (master !== '-') node.masterId = master;
    if (/^\d+$/.test(epoch)) node.configEpoch = Number(epoch);
    for (const s of f.slice(8)) {
      const open = OPEN_SLOT.exec(s);
      if (open) {
        const slot = Number(open[1]);
        if (open[2] === '->-') node.migrating.push({ slot, to: open[3]! });
        else node.importing.push({ slot, from: open[3]! });
        continue;
      }
      const dash = s.indexOf('-');
      const a = Number(dash < 0 ? s : s.slice(0, dash));
      const b = Number(dash < 0 ? s : s.slice(dash + 1));
      if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b >= SLOTS || a > b) throw new Error(`malformed slot "${s}" in: ${line}`);
      node.slots.push([a, b]);
    }
    out.push(node);
  }
  return out;
}

// --- slots -------------------------------------------------------------------------------------------------------

/** Contiguous, even ranges in shard order; the first `16384 % n` shards get one slot more. */
export function evenSlots(shardCount: number): SlotRange[] {
  if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > SLOTS) throw new RangeError(`shard count must be 1..${SLOTS}, got ${shardCount}`);
  const base = Math.floor(SLOTS / shardCount);
  const extra = SLOTS % shardCount;
  const out: SlotRange[] = [];
  let start = 0;
  for (let i = 0; i < shardCount; i++) {
    const size = base + (i < extra ? 1 : 0);
    out.push([start, start + size - 1]);
    start += size;
  }
  return out;
}

/** Sorted, merged ranges of a set of slots. */
export function rangesOf(slots: Iterable<number>): SlotRange[] {
  const sorted = [...new Set(slots)].sort((a, b) => a - b);
  const out: SlotRange[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && last[1] === s - 1) last[1] = s;
    else out.push([s, s]);
  }
  return out;
}

export function expandRanges(ranges: readonly SlotRange[]): number[] {
  const out: number[] = [];
  for (const [a, b] of ranges) for (let s = a; s <= b; s++) out.push(s);
  return out;
}

const CRC16_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

function crc16(buf: Uint8Array): number {
  let crc = 0;
  for (const b of buf) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ b) & 0xff]!;
  return crc;
}

/** The hash slot of a key (CRC16/XMODEM of the key or of its first non-empty {hash tag}). */
export function keySlot(key: string | Uint8Array): number {
  const b = typeof key === 'string' ? Buffer.from(key) : key;
  const open = b.indexOf(0x7b);
  if (open >= 0) {
    const close = b.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(b.subarray(open + 1, close)) & (SLOTS - 1);
  }
  return crc16(b) & (SLOTS - 1);
}

const usable = (n: ClusterNode): boolean => !n.flags.includes('handshake');

/** Slot → owning master id, as one node sees it. */
export function slotOwners(nodes: readonly ClusterNode[]): (string | undefined)[] {
  const owners = new Array<string | undefined>(SLOTS).fill(undefined);
  for (const n of nodes) {
    if (n.role !== 'master' || !usable(n)) continue;
    for (const [a, b] of n.slots) for (let s = a; s <= b; s++) owners[s] = n.id;
  }
  return owners;
}

/** A canonical text of a slot map (runs of `start-end=id`), equal for equal maps whatever the line order. */
export function slotSignature(nodes: readonly ClusterNode[]): string {
  const owners = slotOwners(nodes);
  const runs: string[] = [];
  let start = 0;
  for (let s = 1; s <= SLOTS; s++) {
    if (s === SLOTS || owners[s] !== owners[start]) {
      if (owners[start] !== undefined) runs.push(`${start}-${s - 1}=${owners[start]}`);
      start = s;
    }
  }
  return runs.join(' ');
}

const myself = (nodes: readonly ClusterNode[] | undefined): ClusterNode | undefined => nodes?.find((n) => n.flags.includes('myself'));
const addr = (e: Endpoint): string => `${e.host}:${e.port}`;

/**
 * What `redis-cli --cluster check` complains about, over the given views: unreadable nodes, differing slot maps or node
 * sets, open slots and uncovered slots; and what it does not look at but a settled cluster must not show: nodes
 * flagged failing, a cluster_state other than ok. Empty means the cluster agrees.
 */
export function clusterProblems(views: readonly NodeView[]): string[] {
  const problems: string[] = [];
  let signature: string | undefined;
  let members: string | undefined;
  for (const v of views) {
    if (!v.nodes) { problems.push(`${addr(v)}: unreadable (${v.error ?? 'no answer'})`); continue; }
    const sig = slotSignature(v.nodes);
    if (signature === undefined) signature = sig;
    else if (sig !== signature) problems.push(`${addr(v)}: slot map differs`);
    const ids = v.nodes.filter(usable).map((n) => n.id).sort().join(',');
    if (members === undefined) members = ids;
    else if (ids !== members) problems.push(`${addr(v)}: node set differs`);
    if (v.nodes.some((n) => n.flags.includes('handshake'))) problems.push(`${addr(v)}: handshake in progress`);
    const me = myself(v.nodes);
    for (const m of me?.migrating ?? []) problems.push(`${addr(v)}: slot ${m.slot} migrating to ${m.to}`);
    for (const i of me?.importing ?? []) problems.push(`${addr(v)}: slot ${i.slot} importing from ${i.from}`);
    const uncovered = slotOwners(v.nodes).filter((o) => o === undefined).length;
    if (uncovered) problems.push(`${addr(v)}: ${uncovered} slots not covered`);
    const failing = v.nodes.filter((n) => n.flags.includes('fail') || n.flags.includes('fail?'));
    if (failing.length) problems.push(`${addr(v)}: sees ${failing.map((n) => (n.host ? addr(n) : n.id)).join(', ')} failing`);
    if (v.state !== undefined && v.state !== 'ok') problems.push(`${addr(v)}: cluster_state ${v.state}`);
  }
  return problems;
}

// --- validation --------------------------------------------------------------------------------------------------

export function validate(spec: ClusterSpec): FieldError[] {
  const errors: FieldError[] = [];
  if (!Array.isArray(spec.shards) || spec.shards.length === 0) {
    errors.push({ field: 'spec.shards', message: 'must have at least one shard' });
    return errors;
  }
  if (spec.shards.length > SLOTS) errors.push({ field: 'spec.shards', message: `must have at most ${SLOTS} shards` });
  const shardNames = new Map<string, number>();
  const memberNames = new Map<string, string>();
  const addresses = new Map<string, string>();
  spec.shards.forEach((shard, si) => {
    const sf = `spec.shards[${si}]`;
    if (!shard.name) errors.push({ field: `${sf}.name`, message: 'must not be empty' });
    else if (shardNames.has(shard.name)) errors.push({ field: `${sf}.name`, message: `duplicate shard name "${shard.name}" (also spec.shards[${shardNames.get(shard.name)}])` });
    else shardNames.set(shard.name, si);
    if (!Array.isArray(shard.members) || shard.members.length === 0) {
      errors.push({ field: `${sf}.members`, message: 'must have at least one member (the master)' });
      return;
    }
    shard.members.forEach((m, mi) => {
      const mf = `${sf}.members[${mi}]`;
      if (!m.name) errors.push({ field: `${mf}.name`, message: 'must not be empty' });
      else if (memberNames.has(m.name)) errors.push({ field: `${mf}.name`, message: `duplicate member name "${m.name}" (also ${memberNames.get(m.name)})` });
      else memberNames.set(m.name, mf);
      if (!m.host) errors.push({ field: `${mf}.host`, message: 'must not be empty' });
      if (!Number.isInteger(m.port) || m.port < 1 || m.port > 65535 - 10000) errors.push({ field: `${mf}.port`, message: `must be 1..55535 (the bus port is port+10000), got ${m.port}` });
      const a = addr(m);
      const master = shard.members[0];
      if (mi > 0 && master && addr(master) === a) errors.push({ field: mf, message: `replica must not be the same node as its master (${a})` });
      else if (addresses.has(a)) errors.push({ field: mf, message: `duplicate node ${a} (also ${addresses.get(a)})` });
      else addresses.set(a, mf);
    });
  });
  return errors;
}

// --- the next step -----------------------------------------------------------------------------------------------

interface Reached { id: string; ep: Endpoint; self: ClusterNode; nodes: ClusterNode[]; view: NodeView }
interface Member extends Reached { name: string; shard: number; field: string }
type Pair = { node: NodeRef; target: NodeRef };

const ref = (r: Reached, name?: string): NodeRef => (name ? { id: r.id, host: r.ep.host, port: r.ep.port, name } : { id: r.id, host: r.ep.host, port: r.ep.port });
const knownIds = (nodes: readonly ClusterNode[]): Set<string> => new Set(nodes.filter(usable).map((n) => n.id));
const wait = (reason: string): Step => ({ kind: 'waitForAgreement', reason });
const blocked = (reason: string, field?: string): Step => (field ? { kind: 'blocked', reason, field } : { kind: 'blocked', reason });
const handshakeWith = (r: Reached, other: Reached): boolean =>
  r.nodes.some((n) => n.flags.includes('handshake') && n.host === other.ep.host && n.port === other.ep.port);
const hasSlots = (nodes: readonly ClusterNode[]): boolean => nodes.some((n) => n.role === 'master' && n.slots.length > 0);

/**
 * The one next step toward `spec`, in this order (each needs the ones before it to be settled):
 * spec valid and members reachable → replica migration off → every member met (with the anchor, then with each
 * other) → no open slot → masters agree on the slot map → roles (replicas follow their shard's master) → unassigned
 * slots assigned → slots drained from removed nodes, then balanced → removed nodes forgotten (replicas first) →
 * every node agrees → shards handed back to their first member after a failover → done.
 */
export function nextStep(spec: ClusterSpec, observed: Observation, opts: PlanOptions = {}): Step {
  const errors = validate(spec);
  if (errors.length) return { kind: 'blocked', reason: 'invalid spec', errors, field: errors[0]!.field };
  const batch = Math.max(1, opts.batchSlots ?? DEFAULT_BATCH_SLOTS);

  const viewAt = new Map(observed.views.map((v) => [addr(v), v]));
  const members: Member[] = [];
  const unreachable: { field: string; text: string }[] = [];
  spec.shards.forEach((shard, si) => shard.members.forEach((m, mi) => {
    const field = `spec.shards[${si}].members[${mi}]`;
    const view = viewAt.get(addr(m));
    const self = myself(view?.nodes);
    if (!view?.nodes || !self) { unreachable.push({ field, text: `${field} (${m.name} at ${addr(m)}): ${view?.error ?? 'no answer'}` }); return; }
    members.push({ id: self.id, ep: { host: m.host, port: m.port }, self, nodes: view.nodes, view, name: m.name, shard: si, field });
  }));
  if (unreachable.length) return blocked(`not reachable: ${unreachable.map((u) => u.text).join('; ')}`, unreachable[0]!.field);
  const specIds = new Set(members.map((m) => m.id));

  // The anchor is the member that knows the most nodes (the existing cluster), ties in spec order.
  let anchor = members[0]!;
  for (const m of members) if (knownIds(m.nodes).size > knownIds(anchor.nodes).size) anchor = m;

  // Every node the members know of is in the cluster; reachable ones are indexed by the id they report for themselves.
  const clusterIds = new Set<string>(specIds);
  for (const m of members) for (const id of knownIds(m.nodes)) clusterIds.add(id);
  const reached = new Map<string, Reached>();
  for (const v of observed.views) {
    const self = myself(v.nodes);
    if (v.nodes && self && clusterIds.has(self.id)) reached.set(self.id, { id: self.id, ep: { host: v.host, port: v.port }, self, nodes: v.nodes, view: v });
  }

  // Emptied masters must stay where the spec puts them: the operator, not Redis, decides who replicates whom. And a
  // master starts a full sync as soon as all of its shard's replicas asked for one, instead of waiting out
  // repl-diskless-sync-delay for more (every member may become the master).
  const settings: Setting[] = [...reached.values()].filter((r) => r.view.replicaMigration === true)
    .map((r) => ({ node: r.ep, parameter: 'cluster-allow-replica-migration', value: 'no' }));
  for (const m of members) {
    const replicas = spec.shards[m.shard]!.members.length - 1;
    if (m.view.disklessMaxReplicas !== undefined && m.view.disklessMaxReplicas !== replicas) settings.push({ node: m.ep, parameter: 'repl-diskless-sync-max-replicas', value: String(replicas) });
  }
  if (settings.length) return { kind: 'configure', settings };

  // Membership, first with the anchor: every member and the anchor must know each other.
  const anchorKnown = knownIds(anchor.nodes);
  const meets: Pair[] = [];
  const shaking: string[] = [];
  for (const m of members) {
    if (m === anchor) continue;
    const mKnown = knownIds(m.nodes);
    if (anchorKnown.has(m.id) && mKnown.has(anchor.id)) continue;
    if (handshakeWith(anchor, m) || handshakeWith(m, anchor)) { shaking.push(m.name); continue; }
    if (!mKnown.has(anchor.id) && hasSlots(m.nodes) && hasSlots(anchor.nodes) && !anchorKnown.has(m.id)) {
      return blocked(`${m.field} (${m.name} at ${addr(m.ep)}) belongs to another cluster that has slots assigned`, m.field);
    }
    meets.push({ node: ref(m, m.name), target: ref(anchor, anchor.name) });
  }
  if (meets.length) return { kind: 'meet', pairs: meets };
  if (shaking.length) return wait(`handshake between ${anchor.name} and ${shaking.join(', ')}`);
  // Then with each other: gossip would get there, but only after a node timeout or so; a direct MEET is immediate.
  for (const m of members) {
    const known = knownIds(m.nodes);
    for (const o of members) {
      if (o === m || known.has(o.id)) continue;
      if (handshakeWith(m, o)) shaking.push(`${m.name} → ${o.name}`);
      else meets.push({ node: ref(m, m.name), target: ref(o, o.name) });
    }
  }
  if (meets.length) return { kind: 'meet', pairs: meets };
  if (shaking.length) return wait(`handshakes in progress: ${shaking.slice(0, 3).join(', ')}`);

  const nodeRef = (id: string): NodeRef | undefined => {
    const member = members.find((m) => m.id === id);
    if (member) return ref(member, member.name);
    const r = reached.get(id);
    return r ? ref(r) : undefined;
  };

  // Interrupted migrations come first: nothing else may touch a slot that is half moved. They are finished forward,
  // in batches of slots that share a source and a target.
  const open = new Map<number, { migrating: { node: Reached; to: string }[]; importing: { node: Reached; from: string }[] }>();
  const openAt = (slot: number) => {
    let o = open.get(slot);
    if (!o) open.set(slot, (o = { migrating: [], importing: [] }));
    return o;
  };
  for (const r of reached.values()) {
    for (const m of r.self.migrating) openAt(m.slot).migrating.push({ node: r, to: m.to });
    for (const i of r.self.importing) openAt(i.slot).importing.push({ node: r, from: i.from });
  }
  if (open.size) {
    const direction = (slot: number): { fromId: string; toId: string } | string => {
      const o = open.get(slot)!;
      if (o.importing.length > 1) return `slot ${slot} is importing on several nodes`;
      const toId = o.importing[0]?.node.id ?? o.migrating[0]!.to;
      if (o.migrating.some((m) => m.to !== toId)) return `slot ${slot} is migrating to a node other than the one importing it`;
      const fromId = o.migrating[0]?.node.id ?? o.importing[0]!.from;
      if (!nodeRef(fromId) || !nodeRef(toId) || fromId === toId) return `open slot ${slot} (${fromId} → ${toId}): a side is not reachable`;
      return { fromId, toId };
    };
    const slots = [...open.keys()].sort((a, b) => a - b);
    const first = direction(slots[0]!);
    if (typeof first === 'string') return blocked(first);
    const same = slots.filter((s) => { const d = direction(s); return typeof d !== 'string' && d.fromId === first.fromId && d.toId === first.toId; });
    return { kind: 'fixOpenSlots', slots: same.slice(0, batch), from: nodeRef(first.fromId)!, to: nodeRef(first.toId)! };
  }

  // Masters (the nodes that take SETSLOT) must agree before slots are moved; replicas may lag until the end.
  const masterViews = [...reached.values()].filter((r) => r.self.role === 'master');
  const signature = slotSignature(masterViews[0]?.nodes ?? anchor.nodes);
  const disagreeing = masterViews.filter((r) => slotSignature(r.nodes) !== signature);
  if (disagreeing.length) return wait(`masters disagree about the slot map: ${disagreeing.map((r) => addr(r.ep)).join(', ')}`);
  const owners = slotOwners(masterViews[0]?.nodes ?? anchor.nodes);
  const slotsOf = new Map<string, number[]>();
  owners.forEach((id, s) => {
    if (id === undefined) return;
    let list = slotsOf.get(id);
    if (!list) slotsOf.set(id, (list = []));
    list.push(s);
  });

  // Roles: the shard's master is the member holding slots (Redis may have failed over to a replica), else the
  // first member that is a master; every other member replicates it.
  const shardMasters: Member[] = [];
  const replicate: { node: NodeRef; master: NodeRef }[] = [];
  for (let si = 0; si < spec.shards.length; si++) {
    const field = `spec.shards[${si}]`;
    const shard = members.filter((m) => m.shard === si);
    const holding = shard.filter((m) => (slotsOf.get(m.id)?.length ?? 0) > 0);
    if (holding.length > 1) return blocked(`${field} (${spec.shards[si]!.name}) has several masters holding slots: ${holding.map((m) => m.name).join(', ')}`, field);
    const master = holding[0] ?? shard.find((m) => m.self.role === 'master');
    if (!master) return blocked(`${field} (${spec.shards[si]!.name}) has no master: every member replicates another shard`, field);
    shardMasters.push(master);
    for (const m of shard) {
      if (m === master || (m.self.role === 'replica' && m.self.masterId === master.id)) continue;
      replicate.push({ node: ref(m, m.name), master: ref(master, master.name) });
    }
  }
  if (replicate.length) return { kind: 'replicate', pairs: replicate };

  // Unassigned slots (a new cluster, or an interrupted allocation) go where the even layout puts them.
  const unassigned = owners.flatMap((o, s) => (o === undefined ? [s] : []));
  if (unassigned.length) {
    const layout = evenSlots(spec.shards.length);
    const assignments = shardMasters.flatMap((master, si) => {
      const [a, b] = layout[si]!;
      const mine = unassigned.filter((s) => s >= a && s <= b);
      return mine.length ? [{ node: ref(master, master.name), ranges: rangesOf(mine) }] : [];
    });
    return { kind: 'addSlots', assignments };
  }

  // Migration: first drain nodes that are not in the spec, then even out the shards. MIGRATE needs the target to
  // serve (a node that just joined reports cluster_state fail for a while), so every master must be ok first.
  const notOk = masterViews.filter((r) => r.view.state !== undefined && r.view.state !== 'ok');
  const targets = evenSlots(spec.shards.length).map(([a, b]) => b - a + 1);
  const counts = shardMasters.map((m) => slotsOf.get(m.id)?.length ?? 0);
  const deficit = (i: number): number => targets[i]! - counts[i]!;
  const largest = (score: (i: number) => number): number => {
    let best = 0;
    for (let i = 1; i < counts.length; i++) if (score(i) > score(best)) best = i;
    return best;
  };
  const shardIds = new Set(shardMasters.map((m) => m.id));
  const strays = [...slotsOf.keys()].filter((id) => !shardIds.has(id)).sort();
  const toMove = strays.length > 0 || counts.some((_c, i) => deficit(i) > 0);
  if (toMove && notOk.length) return wait(`cluster_state is not ok on ${notOk.map((r) => addr(r.ep)).join(', ')}`);
  if (strays.length) {
    const id = strays[0]!;
    const source = reached.get(id);
    if (!source) return blocked(`node ${id} is not in the spec and holds ${slotsOf.get(id)!.length} slots, but is not reachable`);
    const to = largest(deficit);
    const slots = slotsOf.get(id)!.slice(0, Math.max(1, Math.min(batch, deficit(to))));
    const remaining = strays.reduce((n, s) => n + slotsOf.get(s)!.length, 0);
    return { kind: 'migrateSlots', from: ref(source), to: ref(shardMasters[to]!, shardMasters[to]!.name), slots, reason: 'drain', remaining };
  }
  const from = largest((i) => -deficit(i));
  const to = largest(deficit);
  if (deficit(to) > 0 && deficit(from) < 0) {
    const n = Math.min(batch, deficit(to), -deficit(from));
    const slots = slotsOf.get(shardMasters[from]!.id)!.slice(0, n);
    const remaining = counts.reduce((sum, _c, i) => sum + Math.max(0, -deficit(i)), 0);
    return { kind: 'migrateSlots', from: ref(shardMasters[from]!, shardMasters[from]!.name), to: ref(shardMasters[to]!, shardMasters[to]!.name), slots, reason: 'rebalance', remaining };
  }

  // Nodes not in the spec hold no slots now: forget replicas first (a replica refuses to forget its own master).
  const roleOf = (id: string): ClusterNode | undefined => reached.get(id)?.self ?? anchor.nodes.find((n) => n.id === id);
  const leftovers = [...clusterIds].filter((id) => !specIds.has(id)).sort((a, b) => {
    const ra = roleOf(a)?.role === 'replica' ? 0 : 1;
    const rb = roleOf(b)?.role === 'replica' ? 0 : 1;
    return ra - rb || a.localeCompare(b);
  });
  const gone = leftovers[0];
  if (gone !== undefined) {
    const r = reached.get(gone);
    const seen = roleOf(gone);
    const node: NodeRef = r ? ref(r) : { id: gone, host: seen?.host ?? '', port: seen?.port ?? 0 };
    const on = [...reached.values()].filter((o) => o.id !== gone && knownIds(o.nodes).has(gone)).map((o) => nodeRef(o.id)!);
    return r ? { kind: 'forget', node, on, reset: r.ep } : { kind: 'forget', node, on };
  }

  // Replicas learn the map by gossip; settled only once every node agrees, as `redis-cli --cluster check` wants.
  const problems = clusterProblems([...reached.values()].map((r) => r.view));
  if (problems.length) return wait(problems.slice(0, 3).join('; '));

  // After a failover by Redis, the shard goes back to its first member once that is a caught-up replica again.
  if (opts.failback !== false) {
    for (let si = 0; si < spec.shards.length; si++) {
      const first = members.find((m) => m.shard === si)!;
      const master = shardMasters[si]!;
      if (first === master) continue;
      if (first.self.role !== 'replica' || first.self.masterId !== master.id) continue;
      const link = first.view.replication;
      if (!link?.linkUp || link.syncing) return wait(`${first.name} is catching up with ${master.name} before it takes shard ${spec.shards[si]!.name} back`);
      // The master only starts a manual failover for a node it sees as its replica, and the other masters vote
      // only for one they see so: gossip about the returned node must have reached them all.
      const unaware = masterViews.filter((r) => { const n = r.nodes.find((x) => x.id === first.id); return n?.role !== 'replica' || n.masterId !== master.id; });
      if (unaware.length) return wait(`${unaware.map((r) => addr(r.ep)).join(', ')} do not see ${first.name} as a replica of ${master.name} yet`);
      return { kind: 'failover', shard: spec.shards[si]!.name, node: ref(first, first.name), master: ref(master, master.name) };
    }
  }
  return done;
}
