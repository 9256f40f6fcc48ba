import { describe, expect, it } from '@jest/globals';
import {
  clusterProblems, done, evenSlots, keySlot, nextStep, parseClusterNodes, rangesOf, SLOTS, slotSignature, validate,
  type ClusterSpec, type Endpoint, type NodeView, type Observation, type Step,
} from './plan.ts';

// --- a small simulated cluster: instant gossip, CLUSTER NODES rendered as text so that parsing is exercised too ----

interface SimNode {
  ep: Endpoint; id: string; known: Set<string>; role: 'master' | 'replica'; masterId?: string;
  migrating: Map<number, string>; importing: Map<number, string>; replicaMigration: boolean; diskless: number; up: boolean;
}

let idSeq = 0;
const newId = (): string => (++idSeq).toString(16).padStart(40, '0');
const key = (e: Endpoint): string => `${e.host}:${e.port}`;

class Sim {
  readonly nodes = new Map<string, SimNode>();
  /** Nodes replaced at their address: still listed by the others (as failed) until forgotten. */
  readonly ghosts = new Map<string, SimNode>();
  readonly owner = new Array<string | undefined>(SLOTS).fill(undefined);
  readonly applied: Step[] = [];

  add(host: string, port = 6379): SimNode {
    const id = newId();
    const old = this.nodes.get(`${host}:${port}`);
    if (old) this.ghosts.set(old.id, old);
    const n: SimNode = { ep: { host, port }, id, known: new Set([id]), role: 'master', migrating: new Map(), importing: new Map(), replicaMigration: true, diskless: 0, up: true };
    this.nodes.set(key(n.ep), n);
    return n;
  }

  byId(id: string): SimNode | undefined {
    return [...this.nodes.values()].find((n) => n.id === id) ?? this.ghosts.get(id);
  }

  private rangeCache?: Map<string, string[]>;

  private slotText(id: string): string[] {
    if (!this.rangeCache) {
      const byOwner = new Map<string, number[]>();
      this.owner.forEach((o, s) => {
        if (!o) return;
        const list = byOwner.get(o);
        if (list) list.push(s);
        else byOwner.set(o, [s]);
      });
      this.rangeCache = new Map([...byOwner].map(([o, slots]) => [o, rangesOf(slots).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`))]));
    }
    return this.rangeCache.get(id) ?? [];
  }

  render(me: SimNode): string {
    const lines: string[] = [];
    for (const id of me.known) {
      const n = this.byId(id);
      if (!n) continue;
      const flags = [...(n === me ? ['myself'] : []), n.role === 'master' ? 'master' : 'slave', ...(this.ghosts.has(id) ? ['fail'] : [])].join(',');
      const slots = n.role === 'master' ? this.slotText(n.id) : [];
      const open = n === me ? [...[...n.migrating].map(([s, to]) => `[${s}->-${to}]`), ...[...n.importing].map(([s, from]) => `[${s}-<-${from}]`)] : [];
      lines.push([n.id, `${n.ep.host}:${n.ep.port}@${n.ep.port + 10000}`, flags, n.masterId ?? '-', '0', '0', '1', 'connected', ...slots, ...open].join(' '));
    }
    return lines.join('\n') + '\n';
  }

  view(ep: Endpoint): NodeView {
    const n = this.nodes.get(key(ep));
    if (!n || !n.up) return { ...ep, error: 'connection refused' };
    const v: NodeView = { ...ep, nodes: parseClusterNodes(this.render(n)), replicaMigration: n.replicaMigration, disklessMaxReplicas: n.diskless, state: 'ok' };
    if (n.role === 'replica') v.replication = { linkUp: true, syncing: false };
    return v;
  }

  observe(spec: ClusterSpec): Observation {
    this.rangeCache = undefined; // the test may have changed ownership directly
    const eps = new Map<string, Endpoint>();
    for (const m of spec.shards.flatMap((s) => s.members)) eps.set(key(m), { host: m.host, port: m.port });
    for (const e of [...eps.values()]) for (const n of this.view(e).nodes ?? []) if (!eps.has(key(n))) eps.set(key(n), { host: n.host, port: n.port });
    return { views: [...eps.values()].map((e) => this.view(e)) };
  }

  apply(step: Step): void {
    this.applied.push(step);
    const at = (e: Endpoint): SimNode => this.nodes.get(key(e))!;
    switch (step.kind) {
      case 'configure':
        for (const x of step.settings) {
          if (x.parameter === 'cluster-allow-replica-migration') at(x.node).replicaMigration = false;
          else at(x.node).diskless = Number(x.value);
        }
        break;
      case 'meet':
        for (const p of step.pairs) {
          const all = new Set([...at(p.node).known, ...at(p.target).known]);
          for (const id of all) { const n = this.byId(id); if (n) n.known = new Set(all); }
        }
        break;
      case 'replicate': for (const p of step.pairs) Object.assign(at(p.node), { role: 'replica', masterId: p.master.id }); break;
      case 'addSlots':
        for (const a of step.assignments) for (const [x, y] of a.ranges) for (let s = x; s <= y; s++) {
          if (this.owner[s] !== undefined) throw new Error(`slot ${s} assigned twice`);
          this.owner[s] = a.node.id;
        }
        break;
      case 'migrateSlots':
        expect(step.slots.length).toBeLessThanOrEqual(this.batch);
        expect(step.remaining).toBeGreaterThanOrEqual(step.slots.length);
        for (const s of step.slots) {
          if (this.owner[s] !== step.from.id) throw new Error(`slot ${s} is not on ${step.from.id}`);
          this.owner[s] = step.to.id;
        }
        break;
      case 'fixOpenSlots':
        for (const slot of step.slots) {
          this.owner[slot] = step.to.id;
          at(step.from).migrating.delete(slot);
          at(step.to).importing.delete(slot);
        }
        break;
      case 'failover': {
        const node = at(step.node);
        const master = at(step.master);
        for (let s = 0; s < SLOTS; s++) if (this.owner[s] === master.id) this.owner[s] = node.id;
        Object.assign(node, { role: 'master', masterId: undefined });
        Object.assign(master, { role: 'replica', masterId: node.id });
        break;
      }
      case 'forget': {
        expect(this.owner.includes(step.node.id)).toBe(false);
        for (const e of step.on) at(e).known.delete(step.node.id);
        if (step.reset) Object.assign(at(step.reset), { id: newId(), role: 'master', masterId: undefined, known: new Set<string>() }).known.add(at(step.reset).id);
        break;
      }
      default: throw new Error(`unexpected step ${step.kind}`);
    }
  }

  batch = 64;

  /** The controller's loop; returns the steps taken. */
  converge(spec: ClusterSpec, limit = 1000): Step[] {
    const start = this.applied.length;
    for (let i = 0; i < limit; i++) {
      const step = nextStep(spec, this.observe(spec), { batchSlots: this.batch });
      if (step === done) return this.applied.slice(start);
      this.apply(step);
    }
    throw new Error('did not converge');
  }

  counts(): Map<string, number> {
    const c = new Map<string, number>();
    for (const o of this.owner) if (o) c.set(o, (c.get(o) ?? 0) + 1);
    return c;
  }
}

const member = (name: string, host: string) => ({ name, host, port: 6379 });
const shard = (name: string, ...hosts: string[]) => ({ name, members: hosts.map((h, i) => member(`${name}-${i}`, h)) });

function formed(): { sim: Sim; spec: ClusterSpec } {
  const sim = new Sim();
  for (let i = 1; i <= 8; i++) sim.add(`10.0.0.${i}`);
  const spec: ClusterSpec = { shards: [shard('a', '10.0.0.1', '10.0.0.2'), shard('b', '10.0.0.3', '10.0.0.4'), shard('c', '10.0.0.5', '10.0.0.6')] };
  sim.converge(spec);
  return { sim, spec };
}

// --- parsing -----------------------------------------------------------------------------------------------------

describe('parseClusterNodes', () => {
  const text = [
    'e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001,host-a.example myself,master - 0 0 1 connected 0-5460 [5461-<-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f] [93->-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]',
    '67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922',
    '292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@31003 master,fail? - 1426238316232 1426238317741 3 disconnected 10923-16383 7',
    '6ec23923021cf3ffec47632106199cb7f496ce01 127.0.0.1:30005@31005 slave 67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 0 1426238316232 5 connected',
    '824fe116063bc5fcf9f4ffd895bc17aee7731ac3 :0@0 slave,fail,noaddr 292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 1426238317741 1426238316232 6 disconnected',
    'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0 127.0.0.9:6379@16379 handshake - 0 0 0 connected',
    '',
  ].join('\n');

  it('reads ids, addresses, roles, slots, open-slot markers and flags', () => {
    const nodes = parseClusterNodes(text);
    expect(nodes).toHaveLength(6);
    const [me, b, c, r, gone, hs] = nodes as [typeof nodes[0], typeof nodes[0], typeof nodes[0], typeof nodes[0], typeof nodes[0], typeof nodes[0]];
    expect(me).toEqual({
      id: 'e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca', host: '127.0.0.1', port: 30001, busPort: 31001, hostname: 'host-a.example',
      role: 'master', slots: [[0, 5460]], flags: ['myself', 'master'], linkState: 'connected', configEpoch: 1,
      migrating: [{ slot: 93, to: '67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1' }],
      importing: [{ slot: 5461, from: '292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f' }],
    });
    expect(b.slots).toEqual([[5461, 10922]]);
    expect(c.flags).toEqual(['master', 'fail?']);
    expect(c.linkState).toBe('disconnected');
    expect(c.slots).toEqual([[10923, 16383], [7, 7]]);
    expect(r).toMatchObject({ role: 'replica', masterId: '67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1', slots: [] });
    expect(gone).toMatchObject({ host: '', port: 0, role: 'replica', flags: ['slave', 'fail', 'noaddr'] });
    expect(hs).toMatchObject({ role: 'master', flags: ['handshake'] });
    expect(hs.masterId).toBeUndefined();
  });

  it('rejects malformed lines and slots', () => {
    expect(() => parseClusterNodes('abc 1.2.3.4:1@2 master')).toThrow(/malformed CLUSTER NODES line/);
    expect(() => parseClusterNodes('abc 1.2.3.4:1@2 master - 0 0 1 connected 5-2')).toThrow(/malformed slot/);
    expect(() => parseClusterNodes('abc 1.2.3.4:1@2 master - 0 0 1 connected 16384')).toThrow(/malformed slot/);
  });
});

describe('slots', () => {
  it('evenSlots: contiguous, covering, in shard order, remainder to the first shards', () => {
    expect(evenSlots(1)).toEqual([[0, 16383]]);
    expect(evenSlots(3)).toEqual([[0, 5461], [5462, 10922], [10923, 16383]]);
    expect(evenSlots(4)).toEqual([[0, 4095], [4096, 8191], [8192, 12287], [12288, 16383]]);
    for (const n of [2, 5, 7, 100, 16384]) {
      const r = evenSlots(n);
      expect(r[0]![0]).toBe(0);
      expect(r[r.length - 1]![1]).toBe(16383);
      expect(r.every(([a], i) => i === 0 || a === r[i - 1]![1] + 1)).toBe(true);
      const sizes = r.map(([a, b]) => b - a + 1);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
    expect(() => evenSlots(0)).toThrow(RangeError);
    expect(() => evenSlots(16385)).toThrow(RangeError);
  });

  it('keySlot matches Redis (CRC16/XMODEM, hash tags)', () => {
    expect(keySlot('123456789')).toBe(0x31c3 & 16383);
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'));
    expect(keySlot('foo{}{bar}')).toBe(keySlot('foo{}{bar}')); // empty tag: the whole key is hashed
    expect(keySlot('foo{}{bar}')).not.toBe(keySlot('bar'));
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'));
  });

  it('rangesOf merges and sorts; slotSignature ignores line order', () => {
    expect(rangesOf([5, 3, 4, 9, 1])).toEqual([[1, 1], [3, 5], [9, 9]]);
    const a = parseClusterNodes('a 1.1.1.1:1@2 master - 0 0 1 connected 0-99 200\nb 1.1.1.2:1@2 master - 0 0 1 connected 100-199');
    const b = parseClusterNodes('b 1.1.1.2:1@2 master - 0 0 1 connected 100-150 151-199\na 1.1.1.1:1@2 master - 0 0 1 connected 200 0-99');
    expect(slotSignature(a)).toBe(slotSignature(b));
  });
});

describe('validate', () => {
  it('names the field of each problem', () => {
    expect(validate({ shards: [] })).toEqual([{ field: 'spec.shards', message: 'must have at least one shard' }]);
    const errors = validate({
      shards: [
        { name: 'a', members: [member('a0', '10.0.0.1'), member('a1', '10.0.0.1')] },
        { name: 'a', members: [] },
        { name: 'c', members: [member('a0', '10.0.0.3'), { name: 'c1', host: '10.0.0.1', port: 6379 }, { name: 'c2', host: '', port: 70000 }] },
      ],
    });
    expect(errors).toEqual([
      { field: 'spec.shards[0].members[1]', message: 'replica must not be the same node as its master (10.0.0.1:6379)' },
      { field: 'spec.shards[1].name', message: 'duplicate shard name "a" (also spec.shards[0])' },
      { field: 'spec.shards[1].members', message: 'must have at least one member (the master)' },
      { field: 'spec.shards[2].members[0].name', message: 'duplicate member name "a0" (also spec.shards[0].members[0])' },
      { field: 'spec.shards[2].members[1]', message: 'duplicate node 10.0.0.1:6379 (also spec.shards[0].members[0])' },
      { field: 'spec.shards[2].members[2].host', message: 'must not be empty' },
      { field: 'spec.shards[2].members[2].port', message: 'must be 1..55535 (the bus port is port+10000), got 70000' },
    ]);
    expect(validate({ shards: [shard('a', '10.0.0.1', '10.0.0.2')] })).toEqual([]);
  });

  it('an invalid spec blocks the plan', () => {
    const step = nextStep({ shards: [] }, { views: [] });
    expect(step).toMatchObject({ kind: 'blocked', reason: 'invalid spec', errors: [{ field: 'spec.shards' }] });
  });
});

// --- whole plans on the simulated cluster ----------------------------------------------------------------------

describe('nextStep on a simulated cluster', () => {
  it('forms 3 shards x 1 replica: configure, meet, replicate, then the even allocation, each as one step', () => {
    const { sim, spec } = formed();
    const kinds = sim.applied.map((s) => s.kind);
    expect(kinds).toEqual(['configure', 'meet', 'replicate', 'addSlots']);
    const ids = (h: string) => sim.nodes.get(`${h}:6379`)!.id;
    const meet = sim.applied[1]!;
    expect(meet.kind === 'meet' && meet.pairs.map((p) => `${p.node.name}>${p.target.name}`)).toEqual(['a-1>a-0', 'b-0>a-0', 'b-1>a-0', 'c-0>a-0', 'c-1>a-0']);
    const replicate = sim.applied[2]!;
    expect(replicate.kind === 'replicate' && replicate.pairs.map((p) => `${p.node.name}>${p.master.name}`)).toEqual(['a-1>a-0', 'b-1>b-0', 'c-1>c-0']);
    expect(sim.applied[3]).toEqual({
      kind: 'addSlots', assignments: [
        { node: { id: ids('10.0.0.1'), host: '10.0.0.1', port: 6379, name: 'a-0' }, ranges: [[0, 5461]] },
        { node: { id: ids('10.0.0.3'), host: '10.0.0.3', port: 6379, name: 'b-0' }, ranges: [[5462, 10922]] },
        { node: { id: ids('10.0.0.5'), host: '10.0.0.5', port: 6379, name: 'c-0' }, ranges: [[10923, 16383]] },
      ],
    });
    expect(sim.nodes.get('10.0.0.2:6379')).toMatchObject({ role: 'replica', masterId: ids('10.0.0.1') });
    expect(nextStep(spec, sim.observe(spec))).toBe(done);
  });

  it('scales out by migrating batches of at most 64 slots to the new shard until every shard has 4096', () => {
    const { sim, spec } = formed();
    const bigger: ClusterSpec = { shards: [...spec.shards, shard('d', '10.0.0.7', '10.0.0.8')] };
    const steps = sim.converge(bigger);
    const d0 = sim.nodes.get('10.0.0.7:6379')!.id;
    expect(steps.slice(0, 4).map((s) => s.kind)).toEqual(['configure', 'meet', 'replicate', 'migrateSlots']);
    expect(steps[3]).toMatchObject({ remaining: 4096, reason: 'rebalance' });
    const moves = steps.filter((s) => s.kind === 'migrateSlots');
    // a, b and c give 1366, 1365 and 1365 slots, each in batches of up to 64.
    expect(moves.length).toBe(22 * 3);
    expect(moves.reduce((n, m) => n + (m.kind === 'migrateSlots' ? m.slots.length : 0), 0)).toBe(4096);
    expect(moves.every((m) => m.kind === 'migrateSlots' && m.to.id === d0 && m.reason === 'rebalance')).toBe(true);
    expect([...sim.counts().values()]).toEqual([4096, 4096, 4096, 4096]);
    expect(sim.counts().get(d0)).toBe(4096);
  });

  it('scales in: drains the removed shard first, then forgets its replica before its master, without moving members', () => {
    const { sim, spec } = formed();
    const b0 = sim.nodes.get('10.0.0.3:6379')!.id;
    const b1 = sim.nodes.get('10.0.0.4:6379')!.id;
    const smaller: ClusterSpec = { shards: [spec.shards[0]!, spec.shards[2]!] };
    const steps = sim.converge(smaller);
    const kinds = [...new Set(steps.map((s) => s.kind))];
    expect(kinds).toEqual(['migrateSlots', 'forget']);
    const drains = steps.filter((s) => s.kind === 'migrateSlots');
    expect(drains.every((s) => s.kind === 'migrateSlots' && s.from.id === b0 && s.reason === 'drain')).toBe(true);
    const forgets = steps.filter((s) => s.kind === 'forget');
    expect(forgets.map((s) => s.kind === 'forget' && s.node.id)).toEqual([b1, b0]);
    expect(forgets[0]).toMatchObject({ reset: { host: '10.0.0.4', port: 6379 } });
    expect([...sim.counts().values()].sort()).toEqual([8192, 8192]);
    expect(sim.nodes.get('10.0.0.1:6379')!.known.size).toBe(4);
    expect(sim.nodes.get('10.0.0.3:6379')!.known.size).toBe(1); // reset: a fresh node
  });

  it('after a failover by Redis, hands the shard back to its first member once that is a caught-up replica', () => {
    const { sim, spec } = formed();
    const a0 = sim.nodes.get('10.0.0.1:6379')!;
    const a1 = sim.nodes.get('10.0.0.2:6379')!;
    for (let s = 0; s < SLOTS; s++) if (sim.owner[s] === a0.id) sim.owner[s] = a1.id;
    Object.assign(a1, { role: 'master', masterId: undefined });
    Object.assign(a0, { role: 'replica', masterId: a1.id });
    // Opted out: the member Redis promoted stays the master.
    expect(nextStep(spec, sim.observe(spec), { failback: false })).toBe(done);
    // Still syncing: wait, do not ask for a failover that would time out.
    const syncing = sim.observe(spec);
    syncing.views.find((v) => v.host === '10.0.0.1')!.replication = { linkUp: true, syncing: true };
    expect(nextStep(spec, syncing)).toMatchObject({ kind: 'waitForAgreement', reason: expect.stringContaining('a-0 is catching up with a-1') });
    // A master that still sees a-0 as a master (gossip behind) would ignore the request or refuse its vote.
    const behind = sim.observe(spec);
    const c0 = behind.views.find((v) => v.host === '10.0.0.5')!;
    c0.nodes = c0.nodes!.map((n) => (n.id === a0.id ? { ...n, role: 'master', masterId: undefined } : n));
    expect(nextStep(spec, behind)).toMatchObject({ kind: 'waitForAgreement', reason: '10.0.0.5:6379 do not see a-0 as a replica of a-1 yet' });
    expect(nextStep(spec, sim.observe(spec))).toEqual({
      kind: 'failover', shard: 'a', node: { id: a0.id, host: '10.0.0.1', port: 6379, name: 'a-0' }, master: { id: a1.id, host: '10.0.0.2', port: 6379, name: 'a-1' },
    });
    expect(sim.converge(spec).map((s) => s.kind)).toEqual(['failover']);
    expect(sim.counts().get(a0.id)).toBe(5462);
  });

  it('joins a replaced node (same address, new id) and forgets the stale id without resetting the new node', () => {
    const { sim, spec } = formed();
    const staleId = sim.nodes.get('10.0.0.2:6379')!.id;
    sim.add('10.0.0.2'); // a new, empty node at the same address; the others still list the old id, failed
    const steps = sim.converge(spec);
    expect(steps.map((s) => s.kind)).toEqual(['configure', 'meet', 'replicate', 'forget']);
    const forget = steps[3]!;
    expect(forget).toMatchObject({ kind: 'forget', node: { id: staleId } });
    expect(forget.kind === 'forget' && forget.reset).toBeUndefined();
  });

  it('owns two settings: replica migration off, and a full sync that starts once all of a shard\'s replicas ask', () => {
    const { sim, spec } = formed();
    expect(sim.applied[0]).toMatchObject({ kind: 'configure' });
    expect(sim.nodes.get('10.0.0.1:6379')).toMatchObject({ replicaMigration: false, diskless: 1 });
    // A restarted engine is back to the defaults: set again.
    Object.assign(sim.nodes.get('10.0.0.4:6379')!, { replicaMigration: true, diskless: 0 });
    expect(nextStep(spec, sim.observe(spec))).toEqual({
      kind: 'configure', settings: [
        { node: { host: '10.0.0.4', port: 6379 }, parameter: 'cluster-allow-replica-migration', value: 'no' },
        { node: { host: '10.0.0.4', port: 6379 }, parameter: 'repl-diskless-sync-max-replicas', value: '1' },
      ],
    });
    // A server without the setting (before Redis 7) is left alone.
    const old = sim.observe(spec);
    old.views.forEach((v) => { delete v.disklessMaxReplicas; v.replicaMigration = false; });
    expect(nextStep(spec, old)).toBe(done);
  });

  it('is blocked while a member is unreachable, or when a member belongs to another cluster', () => {
    const { sim, spec } = formed();
    sim.nodes.get('10.0.0.6:6379')!.up = false;
    expect(nextStep(spec, sim.observe(spec))).toMatchObject({
      kind: 'blocked', field: 'spec.shards[2].members[1]', reason: expect.stringContaining('spec.shards[2].members[1] (c-1 at 10.0.0.6:6379): connection refused'),
    });
    sim.nodes.get('10.0.0.6:6379')!.up = true;

    const other = new Sim();
    const x = other.add('10.0.0.9');
    other.owner.fill(x.id);
    x.replicaMigration = false;
    sim.nodes.set('10.0.0.9:6379', x);
    for (let s = 0; s < SLOTS; s++) if (!sim.owner[s]) throw new Error('formed cluster has all slots');
    // The simulator keeps one slot map; fake the other cluster's by giving its node its own view.
    const obs = sim.observe({ shards: [...spec.shards, shard('x', '10.0.0.9')] });
    const v9 = obs.views.find((v) => v.host === '10.0.0.9')!;
    v9.nodes = parseClusterNodes(`${x.id} 10.0.0.9:6379@16379 myself,master - 0 0 1 connected 0-16383\n`);
    expect(nextStep({ shards: [...spec.shards, shard('x', '10.0.0.9')] }, obs)).toMatchObject({ kind: 'blocked', reason: expect.stringContaining('another cluster') });
  });
});

describe('nextStep on crafted views', () => {
  const A = 'a'.repeat(40);
  const B = 'b'.repeat(40);
  const spec: ClusterSpec = { shards: [{ name: 's0', members: [member('s0-0', '10.1.0.1')] }, { name: 's1', members: [member('s1-0', '10.1.0.2')] }] };
  const line = (id: string, host: string, me: boolean, slots: string) => `${id} ${host}:6379@16379 ${me ? 'myself,' : ''}master - 0 0 1 connected ${slots}`.trim();
  const obs = (aSlots: string, bSlots: string, aOpen = '', bOpen = '', bSeesA = aSlots): Observation => ({
    views: [
      { host: '10.1.0.1', port: 6379, replicaMigration: false, nodes: parseClusterNodes(`${line(A, '10.1.0.1', true, `${aSlots} ${aOpen}`)}\n${line(B, '10.1.0.2', false, bSlots)}`) },
      { host: '10.1.0.2', port: 6379, replicaMigration: false, nodes: parseClusterNodes(`${line(A, '10.1.0.1', false, bSeesA)}\n${line(B, '10.1.0.2', true, `${bSlots} ${bOpen}`)}`) },
    ],
  });

  it('is done when both masters agree and the split is even', () => {
    expect(nextStep(spec, obs('0-8191', '8192-16383'))).toBe(done);
  });

  it('finishes an open slot forward, before anything else', () => {
    const step = nextStep(spec, obs('0-8191', '8192-16383', `[100->-${B}]`, `[100-<-${A}]`));
    expect(step).toEqual({ kind: 'fixOpenSlots', slots: [100], from: { id: A, host: '10.1.0.1', port: 6379, name: 's0-0' }, to: { id: B, host: '10.1.0.2', port: 6379, name: 's1-0' } });
    // Only the target's IMPORTING survived (cut before MIGRATING was set): same direction.
    expect(nextStep(spec, obs('0-8191', '8192-16383', '', `[100-<-${A}]`))).toMatchObject({ kind: 'fixOpenSlots', slots: [100], from: { id: A }, to: { id: B } });
    // Only the source's MIGRATING survived (the target already took the slot): same direction.
    expect(nextStep(spec, obs('0-8191', '8192-16383', `[7->-${B}]`))).toMatchObject({ kind: 'fixOpenSlots', slots: [7], from: { id: A }, to: { id: B } });
  });

  it('finishes every open slot of one direction in one step, the other direction in the next', () => {
    const opens = `[5->-${B}] [6->-${B}] [7->-${B}]`;
    const step = nextStep(spec, obs('0-8191', '8192-16383', opens, `[5-<-${A}] [6-<-${A}] [7-<-${A}] [9000->-${A}]`));
    expect(step).toMatchObject({ kind: 'fixOpenSlots', slots: [5, 6, 7], from: { id: A }, to: { id: B } });
    expect(nextStep(spec, obs('0-8191', '8192-16383', `[5->-${B}] [6->-${B}]`, ''), { batchSlots: 1 })).toMatchObject({ kind: 'fixOpenSlots', slots: [5] });
    expect(nextStep(spec, obs('0-8191', '8192-16383', `[9000-<-${B}]`, `[9000->-${A}]`))).toMatchObject({ kind: 'fixOpenSlots', slots: [9000], from: { id: B }, to: { id: A } });
  });

  it('waits while masters disagree about the slot map', () => {
    const step = nextStep(spec, obs('0-8191', '8192-16383', '', '', '0-8190'));
    expect(step).toMatchObject({ kind: 'waitForAgreement', reason: expect.stringContaining('masters disagree') });
  });

  it('assigns only the slots nobody has, where the even layout puts them', () => {
    expect(nextStep(spec, obs('0-100', ''))).toEqual({
      kind: 'addSlots', assignments: [
        { node: { id: A, host: '10.1.0.1', port: 6379, name: 's0-0' }, ranges: [[101, 8191]] },
        { node: { id: B, host: '10.1.0.2', port: 6379, name: 's1-0' }, ranges: [[8192, 16383]] },
      ],
    });
  });

  it('rebalances in batches from the fullest to the emptiest shard', () => {
    expect(nextStep(spec, obs('0-9999', '10000-16383'))).toMatchObject({ kind: 'migrateSlots', from: { id: A }, to: { id: B }, slots: Array.from({ length: 128 }, (_, i) => i), remaining: 1808 });
    expect(nextStep(spec, obs('0-8199', '8200-16383'), { batchSlots: 64 })).toMatchObject({ kind: 'migrateSlots', slots: [0, 1, 2, 3, 4, 5, 6, 7] });
  });

  it('clusterProblems reports what redis-cli --cluster check would', () => {
    const o = obs('0-8191', '8192-16382', `[5->-${B}]`);
    expect(clusterProblems(o.views)).toEqual([
      '10.1.0.1:6379: slot 5 migrating to ' + B,
      '10.1.0.1:6379: 1 slots not covered',
      '10.1.0.2:6379: 1 slots not covered',
    ]);
    expect(clusterProblems([{ host: 'h', port: 1, error: 'ECONNREFUSED' }])).toEqual(['h:1: unreadable (ECONNREFUSED)']);
    // Beyond redis-cli's check: a node seen failing, a cluster_state other than ok.
    const f = obs('0-8191', '8192-16383');
    f.views[0]!.nodes![1]!.flags.push('fail?');
    f.views[1]!.state = 'fail';
    expect(clusterProblems(f.views)).toEqual(['10.1.0.1:6379: sees 10.1.0.2:6379 failing', '10.1.0.2:6379: cluster_state fail']);
  });

  it('meets members that know the anchor but not each other directly, and waits out handshakes', () => {
    const s: ClusterSpec = { shards: [{ name: 's0', members: [member('s0-0', '10.1.0.1'), member('s0-1', '10.1.0.3')] }, { name: 's1', members: [member('s1-0', '10.1.0.2')] }] };
    const R = 'c'.repeat(40);
    const aLine = (me: boolean) => line(A, '10.1.0.1', me, '');
    const views = (rSeesB: string): Observation => ({
      views: [
        { host: '10.1.0.1', port: 6379, replicaMigration: false, nodes: parseClusterNodes(`${aLine(true)}\n${line(B, '10.1.0.2', false, '')}\n${R} 10.1.0.3:6379@16379 master - 0 0 0 connected`) },
        { host: '10.1.0.2', port: 6379, replicaMigration: false, nodes: parseClusterNodes(`${aLine(false)}\n${line(B, '10.1.0.2', true, '')}`) },
        { host: '10.1.0.3', port: 6379, replicaMigration: false, nodes: parseClusterNodes(`${aLine(false)}\n${R} 10.1.0.3:6379@16379 myself,master - 0 0 0 connected${rSeesB}`) },
      ],
    });
    expect(nextStep(s, views(''))).toEqual({
      kind: 'meet', pairs: [
        { node: { id: R, host: '10.1.0.3', port: 6379, name: 's0-1' }, target: { id: B, host: '10.1.0.2', port: 6379, name: 's1-0' } },
        { node: { id: B, host: '10.1.0.2', port: 6379, name: 's1-0' }, target: { id: R, host: '10.1.0.3', port: 6379, name: 's0-1' } },
      ],
    });
    const shaking = views(`\n${'d'.repeat(40)} 10.1.0.2:6379@16379 handshake - 0 0 0 connected`);
    shaking.views[1]!.nodes!.push(...parseClusterNodes(`${'e'.repeat(40)} 10.1.0.3:6379@16379 handshake - 0 0 0 connected`));
    expect(nextStep(s, shaking)).toMatchObject({ kind: 'waitForAgreement', reason: expect.stringContaining('handshakes in progress') });
  });

  it('waits for replicas to learn the final map before done', () => {
    const s: ClusterSpec = { shards: [{ name: 's0', members: [member('s0-0', '10.1.0.1'), member('s0-1', '10.1.0.3')] }, { name: 's1', members: [member('s1-0', '10.1.0.2')] }] };
    const R = 'c'.repeat(40);
    const o = obs('0-8191', '8192-16383');
    const others = `${line(A, '10.1.0.1', false, '0-8000')}\n${line(B, '10.1.0.2', false, '8001-16383')}`;
    o.views.push({ host: '10.1.0.3', port: 6379, replicaMigration: false, nodes: parseClusterNodes(`${R} 10.1.0.3:6379@16379 myself,slave ${A} 0 0 1 connected\n${others}`) });
    for (const v of o.views.slice(0, 2)) v.nodes!.push(...parseClusterNodes(`${R} 10.1.0.3:6379@16379 slave ${A} 0 0 1 connected`));
    expect(nextStep(s, o)).toMatchObject({ kind: 'waitForAgreement', reason: expect.stringContaining('10.1.0.3:6379: slot map differs') });
  });
});
