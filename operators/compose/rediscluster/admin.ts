// Redis Cluster administration over ioredis: read each node's view and carry out the steps that plan.ts chooses.
// Every action reads the nodes' own state first and skips what is already done, so a step interrupted by a crash or
// a lost leadership can simply be chosen and applied again. Credentials go to Redis only (AUTH, MIGRATE ... AUTH2),
// never into a message.
import { Redis } from 'ioredis';
import { crashPoint } from '../common/steps.ts';
import {
  clusterProblems, expandRanges, parseClusterNodes, rangesOf,
  type ClusterNode, type ClusterSpec, type Endpoint, type NodeRef, type NodeView, type Observation, type Setting, type SlotRange, type Step,
} from './plan.ts';

export interface AdminOptions {
  /** The ACL user (a UnitSet's admin account is `default`); always sent with the password, see connectNode. */
  username?: string;
  password?: string;
  connectTimeoutMs?: number;
  /** Per command; MIGRATE's own timeout is kept below it. */
  commandTimeoutMs?: number;
}

export interface MigrateOptions {
  /** Keys per GETKEYSINSLOT + MIGRATE round trip (1000 measured about 4x faster than 100). */
  batchKeys?: number;
  /** MIGRATE's timeout for one batch of keys, in ms. */
  timeoutMs?: number;
}

export interface MigrateResult { slots: number; keys: number; skipped: number }
export interface StepResult { detail: string; keys?: number; slots?: number }

type Args = (string | number | Buffer)[];

const addr = (e: Endpoint): string => `${e.host}:${e.port}`;
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * One connection to one node: no reconnection and no retries, so an unreachable node fails the call at once.
 * `AUTH <user> <password>` (the two-argument form) also succeeds on a server whose user has no password, so the
 * same credentials work whether or not the server enforces them.
 */
export function connectNode(ep: Endpoint, opts: AdminOptions = {}): Redis {
  const client = new Redis({
    host: ep.host, port: ep.port,
    ...(opts.password ? { username: opts.username || 'default', password: opts.password } : {}),
    lazyConnect: true, connectTimeout: opts.connectTimeoutMs ?? 2000, commandTimeout: opts.commandTimeoutMs ?? 15_000,
    maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false,
  });
  client.on('error', () => { /* surfaced by the failing command */ });
  return client;
}

const owns = (n: ClusterNode, slot: number): boolean => n.slots.some(([a, b]) => slot >= a && slot <= b);
const failing = (n: ClusterNode): boolean => n.flags.some((f) => f === 'fail' || f === 'handshake' || f === 'noaddr');

/** `key:value` lines of INFO / CLUSTER INFO. */
export function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return out;
}

export class ClusterAdmin {
  private readonly opts: AdminOptions;
  private readonly clients = new Map<string, Redis>();

  constructor(opts: AdminOptions = {}) {
    this.opts = opts;
  }

  private client(ep: Endpoint): Redis {
    const key = addr(ep);
    let c = this.clients.get(key);
    if (!c || c.status === 'end' || c.status === 'close') {
      c?.disconnect();
      c = connectNode(ep, this.opts);
      this.clients.set(key, c);
    }
    return c;
  }

  call(ep: Endpoint, command: string, ...args: Args): Promise<unknown> {
    return this.client(ep).call(command, ...args);
  }

  /** Sends the commands in one round trip; the first failure is thrown, naming the node and the command. */
  private async pipe(ep: Endpoint, commands: Args[], buffers = false): Promise<unknown[]> {
    if (!commands.length) return [];
    const p = this.client(ep).pipeline();
    for (const [name, ...args] of commands) {
      if (buffers) p.callBuffer(String(name), ...args);
      else p.call(String(name), ...args);
    }
    const replies = (await p.exec()) ?? [];
    return replies.map(([err, value], i) => {
      if (err) throw new Error(`${addr(ep)}: ${commands[i]!.slice(0, 4).map(String).join(' ')}: ${err.message}`);
      return value;
    });
  }

  async close(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(all.map((c) => c.quit().catch(() => c.disconnect())));
  }

  async clusterNodes(ep: Endpoint): Promise<ClusterNode[]> {
    const text = await this.call(ep, 'CLUSTER', 'NODES');
    if (typeof text !== 'string') throw new Error(`${addr(ep)}: CLUSTER NODES returned ${typeof text}`);
    return parseClusterNodes(text);
  }

  private async self(ep: Endpoint, expectId?: string): Promise<{ self: ClusterNode; nodes: ClusterNode[] }> {
    const nodes = await this.clusterNodes(ep);
    const self = nodes.find((n) => n.flags.includes('myself'));
    if (!self) throw new Error(`${addr(ep)}: CLUSTER NODES has no myself line`);
    // The address may now belong to another node (reset or replaced): never act on the wrong one.
    if (expectId && self.id !== expectId) throw new Error(`${addr(ep)} is node ${self.id}, expected ${expectId}`);
    return { self, nodes };
  }

  /** One round trip per node: its CLUSTER NODES, the settings the operator owns, cluster_state and replication link. */
  async view(ep: Endpoint): Promise<NodeView> {
    try {
      const [nodes, cfg, info, replication] = await this.pipe(ep, [
        ['CLUSTER', 'NODES'], ['CONFIG', 'GET', 'cluster-allow-replica-migration', 'repl-diskless-sync-max-replicas'], ['CLUSTER', 'INFO'], ['INFO', 'replication'],
      ]);
      const v: NodeView = { host: ep.host, port: ep.port, nodes: parseClusterNodes(String(nodes)) };
      const settings = new Map<string, string>();
      if (Array.isArray(cfg)) for (let i = 0; i + 1 < cfg.length; i += 2) settings.set(String(cfg[i]), String(cfg[i + 1]));
      const migration = settings.get('cluster-allow-replica-migration');
      if (migration === 'yes' || migration === 'no') v.replicaMigration = migration === 'yes';
      const diskless = settings.get('repl-diskless-sync-max-replicas');
      if (diskless !== undefined && /^\d+$/.test(diskless)) v.disklessMaxReplicas = Number(diskless);
      const state = parseInfo(String(info)).get('cluster_state');
      if (state) v.state = state;
      const repl = parseInfo(String(replication));
      if (repl.get('role') === 'slave') v.replication = { linkUp: repl.get('master_link_status') === 'up', syncing: repl.get('master_sync_in_progress') === '1' };
      return v;
    } catch (err) {
      return { host: ep.host, port: ep.port, error: message(err) };
    }
  }

  /** Every spec member's view, plus the views of the other nodes they know (nodes being removed). */
  async observe(spec: ClusterSpec): Promise<Observation> {
    const seen = new Set<string>();
    const first = spec.shards.flatMap((s) => s.members).map((m) => ({ host: m.host, port: m.port })).filter((e) => !seen.has(addr(e)) && seen.add(addr(e)));
    const views = await Promise.all(first.map((e) => this.view(e)));
    const extra: Endpoint[] = [];
    for (const v of views) {
      for (const n of v.nodes ?? []) {
        if (!n.host || failing(n) || seen.has(addr(n))) continue;
        seen.add(addr(n));
        extra.push({ host: n.host, port: n.port });
      }
    }
    views.push(...(await Promise.all(extra.map((e) => this.view(e)))));
    return { views };
  }

  /** Problems in the way `redis-cli --cluster check` sees them, over the given nodes and all the nodes they know. */
  async checkAgreement(endpoints: Endpoint[]): Promise<{ ok: boolean; problems: string[] }> {
    const spec: ClusterSpec = { shards: [{ name: 'check', members: endpoints.map((e, i) => ({ name: String(i), ...e })) }] };
    const { views } = await this.observe(spec);
    const problems = clusterProblems(views);
    return { ok: problems.length === 0, problems };
  }

  async configure(settings: Setting[]): Promise<void> {
    await Promise.all(settings.map((s) => this.call(s.node, 'CONFIG', 'SET', s.parameter, s.value)));
  }

  /** `node` runs CLUSTER MEET `target` (a MEET of a node already known ends in the same node, so it is harmless). */
  async meet(node: Endpoint, target: Endpoint): Promise<void> {
    await this.call(node, 'CLUSTER', 'MEET', target.host, target.port);
  }

  async replicate(node: NodeRef, master: NodeRef): Promise<boolean> {
    const { self } = await this.self(node, node.id);
    if (self.role === 'replica' && self.masterId === master.id) return false;
    await this.call(node, 'CLUSTER', 'REPLICATE', master.id);
    return true;
  }

  /** Assigns the ranges that are still unassigned in the node's own view; a slot owned by another node is an error. */
  async addSlots(node: NodeRef, ranges: SlotRange[]): Promise<number> {
    const { self, nodes } = await this.self(node, node.id);
    const wanted = expandRanges(ranges);
    const taken = new Map<number, string>();
    for (const n of nodes) if (n.role === 'master') for (const s of expandRanges(n.slots)) taken.set(s, n.id);
    const conflict = wanted.find((s) => taken.has(s) && taken.get(s) !== self.id);
    if (conflict !== undefined) throw new Error(`slot ${conflict} already belongs to ${taken.get(conflict)}`);
    const todo = rangesOf(wanted.filter((s) => !taken.has(s)));
    if (!todo.length) return 0;
    try {
      await this.call(node, 'CLUSTER', 'ADDSLOTSRANGE', ...todo.flat());
    } catch (err) {
      // Redis before 7.0 has no ADDSLOTSRANGE.
      if (!/unknown subcommand/i.test(message(err))) throw err;
      await this.call(node, 'CLUSTER', 'ADDSLOTS', ...expandRanges(todo));
    }
    return todo.reduce((n, [a, b]) => n + b - a + 1, 0);
  }

  /**
   * The standard protocol, for a batch of slots at once: SETSLOT IMPORTING on the target, SETSLOT MIGRATING on the
   * source, GETKEYSINSLOT + MIGRATE until the source has no key left in them, then SETSLOT NODE on the target, the
   * source and every other master (in that order, so that no node points clients at a target that does not know
   * yet). Each stage runs only for the slots whose nodes' own views (read first) show it not done, so a batch cut
   * anywhere resumes where it stopped; a slot that already belongs to the target is left alone. Keys go with
   * REPLACE: a key can be on both sides only when a MIGRATE was cut between its RESTORE and its DEL, and the copy
   * the source still holds is then the live one (while the slot is migrating, writes to existing keys go there).
   */
  async migrateSlots(from: NodeRef, to: NodeRef, slots: number[], opts: MigrateOptions = {}): Promise<MigrateResult> {
    const { self: src, nodes: srcNodes } = await this.self(from, from.id);
    const { self: dst, nodes: dstNodes } = await this.self(to, to.id);
    const result: MigrateResult = { slots: 0, keys: 0, skipped: 0 };
    const todo: number[] = [];
    for (const slot of slots) {
      const srcMigrating = src.migrating.some((m) => m.slot === slot);
      if (owns(dst, slot) && !owns(src, slot) && !srcMigrating) { result.skipped++; continue; }
      if (!owns(src, slot) && !owns(dst, slot) && !srcMigrating && !dst.importing.some((i) => i.slot === slot)) {
        throw new Error(`slot ${slot} belongs to neither ${from.name ?? from.id} nor ${to.name ?? to.id}`);
      }
      todo.push(slot);
    }
    if (!todo.length) return result;
    await this.pipe(to, todo.filter((s) => !owns(dst, s) && !dst.importing.some((i) => i.slot === s)).map((s) => ['CLUSTER', 'SETSLOT', s, 'IMPORTING', src.id]));
    await this.pipe(from, todo.filter((s) => owns(src, s) && !src.migrating.some((m) => m.slot === s)).map((s) => ['CLUSTER', 'SETSLOT', s, 'MIGRATING', dst.id]));
    // The source reaches the target at the address the cluster knows it by.
    const known = srcNodes.find((n) => n.id === dst.id);
    const target: Endpoint = known?.host ? { host: known.host, port: known.port } : to;
    result.keys = await this.moveKeys(from, target, todo, opts);
    const assign = todo.map((s): Args => ['CLUSTER', 'SETSLOT', s, 'NODE', dst.id]);
    await this.pipe(to, assign);
    // Other masters learn it by gossip anyway (the target bumped its epoch); telling them makes it immediate.
    const others = dstNodes.filter((n) => n.role === 'master' && !failing(n) && n.id !== src.id && n.id !== dst.id && n.host);
    const [source] = await Promise.allSettled([this.pipe(from, assign), ...others.map((n) => this.pipe(n, assign))]);
    if (source.status === 'rejected') throw source.reason;
    result.slots = todo.length;
    return result;
  }

  /**
   * Moves every key of the (migrating) slots: one round trip asks for up to `batchKeys` keys of every slot, the next
   * sends one MIGRATE per slot that has keys (MIGRATE takes the keys of one slot only), until no slot has any left.
   */
  private async moveKeys(from: Endpoint, to: Endpoint, slots: number[], opts: MigrateOptions): Promise<number> {
    const batch = opts.batchKeys ?? 1000;
    const timeoutMs = opts.timeoutMs ?? 5000;
    const auth: Args = this.opts.password ? ['AUTH2', this.opts.username || 'default', this.opts.password] : [];
    let active = slots;
    let moved = 0;
    while (active.length) {
      const replies = await this.pipe(from, active.map((s) => ['CLUSTER', 'GETKEYSINSLOT', s, batch]), true);
      const migrations: Args[] = [];
      const next: number[] = [];
      replies.forEach((r, i) => {
        if (!Array.isArray(r) || r.length === 0) return;
        migrations.push(['MIGRATE', to.host, to.port, '', 0, timeoutMs, 'REPLACE', ...auth, 'KEYS', ...(r as Buffer[])]);
        moved += r.length;
        next.push(active[i]!);
      });
      await this.pipe(from, migrations);
      // Fault injection: the slots are open on both sides and (with few keys per MIGRATE) split between them.
      if (migrations.length) crashPoint('rediscluster-keys-moved');
      active = next;
    }
    return moved;
  }

  /**
   * CLUSTER FORGET on every node in `on` ("Unknown node" counts as done), then CLUSTER RESET HARD on the node itself,
   * which gives it a new id so that nothing can confuse it with the old member. The 60 s FORGET ban keeps gossip
   * from the not-yet-reset node from re-adding it in between.
   */
  async forget(node: NodeRef, on: Endpoint[], reset?: Endpoint): Promise<void> {
    await Promise.all(on.map(async (o) => {
      try {
        await this.call(o, 'CLUSTER', 'FORGET', node.id);
      } catch (err) {
        if (!/unknown node/i.test(message(err))) throw new Error(`${addr(o)}: CLUSTER FORGET ${node.id}: ${message(err)}`, { cause: err });
      }
    }));
    if (!reset) return;
    const { self } = await this.self(reset);
    if (self.id !== node.id) return; // already reset
    await this.call(reset, 'CLUSTER', 'RESET', 'HARD');
  }

  /**
   * CLUSTER FAILOVER (the coordinated kind: the master stops writes, the replica catches up to its exact offset,
   * then takes over) on `node`, when it still is a replica of `master`. Returns false when there was nothing to do.
   */
  async failover(node: NodeRef, master: NodeRef): Promise<boolean> {
    const { self } = await this.self(node, node.id);
    if (self.role !== 'replica' || self.masterId !== master.id) return false;
    await this.call(node, 'CLUSTER', 'FAILOVER');
    return true;
  }

  /** Carries out one actionable step of plan.nextStep and says what it did. */
  async applyStep(step: Step, opts: MigrateOptions = {}): Promise<StepResult> {
    const name = (n: NodeRef): string => n.name ?? addr(n);
    switch (step.kind) {
      case 'done':
      case 'waitForAgreement':
      case 'blocked':
        return { detail: step.kind };
      case 'configure':
        await this.configure(step.settings);
        return { detail: `set ${[...new Set(step.settings.map((x) => `${x.parameter} ${x.value}`))].join(', ')} on ${new Set(step.settings.map((x) => addr(x.node))).size} nodes` };
      case 'meet':
        await Promise.all(step.pairs.map((p) => this.meet(p.node, p.target)));
        return { detail: `introduced ${step.pairs.map((p) => `${name(p.node)} to ${name(p.target)}`).join(', ')}` };
      case 'replicate': {
        const changed = await Promise.all(step.pairs.map(async (p) => ((await this.replicate(p.node, p.master)) ? `${name(p.node)} replicates ${name(p.master)}` : '')));
        return { detail: changed.filter(Boolean).join(', ') || 'replicas already in place' };
      }
      case 'addSlots': {
        const counts = await Promise.all(step.assignments.map((a) => this.addSlots(a.node, a.ranges)));
        const parts = step.assignments.map((a, i) => `${counts[i]} to ${name(a.node)}`);
        return { detail: `assigned ${counts.reduce((a, b) => a + b, 0)} slots (${parts.join(', ')})`, slots: counts.reduce((a, b) => a + b, 0) };
      }
      case 'migrateSlots': {
        const r = await this.migrateSlots(step.from, step.to, step.slots, opts);
        return { detail: `moved ${r.slots} slots (${describeSlots(step.slots)}) with ${r.keys} keys from ${name(step.from)} to ${name(step.to)}`, keys: r.keys, slots: r.slots };
      }
      case 'fixOpenSlots': {
        const r = await this.migrateSlots(step.from, step.to, step.slots, opts);
        return { detail: `finished the interrupted migration of ${describeSlots(step.slots)} from ${name(step.from)} to ${name(step.to)} (${r.keys} keys)`, keys: r.keys, slots: r.slots };
      }
      case 'forget':
        await this.forget(step.node, step.on, step.reset);
        return { detail: `forgot node ${step.node.id}${step.node.host ? ` (${addr(step.node)})` : ''} on ${step.on.length} nodes${step.reset ? ' and reset it' : ''}` };
      case 'failover': {
        const asked = await this.failover(step.node, step.master);
        return { detail: asked ? `asked ${name(step.node)} to take shard ${step.shard} back from ${name(step.master)} (CLUSTER FAILOVER)` : `${name(step.node)} already is the master of shard ${step.shard}` };
      }
    }
  }
}

/** Slot numbers as short ranges: "0-127, 300". */
export function describeSlots(slots: readonly number[]): string {
  return rangesOf(slots).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(', ');
}
