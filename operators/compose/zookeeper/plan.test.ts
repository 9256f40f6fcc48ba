import { describe, expect, it } from '@jest/globals';
import { inSync, leaderOf, nextStep, roleOf, type Observation, type ServerView } from './plan.ts';

const EPOCH = 5n << 32n;

/** Servers zk-0..n-1; server 1 (zk-0) leads unless said otherwise; all serve in sync at the current epoch. */
function servers(n: number, over: Record<number, Partial<ServerView>> = {}, leaderId = 1): ServerView[] {
  return Array.from({ length: n }, (_, o) => ({
    unit: `zk-${o}`, ordinal: o, id: o + 1, address: `127.0.0.${o + 1}`, mode: o + 1 === leaderId ? 'leader' : 'follower', reachable: true,
    zxid: EPOCH + 10n, outdated: false, updating: false, restartNeeded: false, ...over[o + 1],
  }));
}
const members = (...ids: number[]) => new Map(ids.map((id) => [id, `127.0.0.${id}:2888:3888:participant`]));
function obs(o: Partial<Observation> & { servers: ServerView[] }): Observation {
  return { desired: 3, units: o.servers.length, unitSetCurrent: true, members: members(1, 2, 3), syncedVoters: 2, ...o };
}

describe('ZooKeeper plan', () => {
  it('is done when the members are 1..replicas, all in sync, nothing outdated', () => {
    expect(nextStep(obs({ servers: servers(3) }))).toEqual({ kind: 'done' });
  });

  it('waits without a leader, and says how many serve', () => {
    const s = servers(3, { 1: { mode: undefined }, 2: { mode: undefined }, 3: { mode: undefined } });
    const step = nextStep(obs({ servers: s, members: undefined }));
    expect(step).toMatchObject({ kind: 'wait' });
    expect(step.kind === 'wait' && step.reason).toContain('no leader: 0 of 3 servers serving');
  });

  it('scales out one joiner at a time: grow the UnitSet by one, add the server once it follows in sync', () => {
    expect(nextStep(obs({ desired: 5, servers: servers(3) }))).toMatchObject({ kind: 'scaleUnitSet', units: 4 });
    // The joiner starts: not serving yet, then a non-voting follower of an older epoch, then in sync.
    const starting = servers(4, { 4: { mode: undefined, updating: true } });
    expect(nextStep(obs({ desired: 5, servers: starting }))).toMatchObject({ kind: 'wait' });
    const electing = servers(4, { 4: { mode: undefined } });
    expect(nextStep(obs({ desired: 5, servers: electing }))).toMatchObject({ kind: 'wait' });
    // An idle follower reports the last transaction it applied, which may predate the leader's epoch: still in sync.
    const idle = servers(4, { 4: { zxid: 0n } });
    expect(nextStep(obs({ desired: 5, servers: idle }))).toMatchObject({ kind: 'addServer' });
    const step = nextStep(obs({ desired: 5, servers: servers(4) }));
    expect(step).toMatchObject({ kind: 'addServer', server: { unit: 'zk-3', id: 4 } });
    // Added: the next joiner, never two at once.
    expect(nextStep(obs({ desired: 5, servers: servers(4), members: members(1, 2, 3, 4), syncedVoters: 3 }))).toMatchObject({ kind: 'scaleUnitSet', units: 5 });
  });

  it('adds no server while a member lags', () => {
    const s = servers(4, { 2: { mode: undefined } });
    const step = nextStep(obs({ desired: 5, servers: s }));
    expect(step).toMatchObject({ kind: 'wait' });
    expect(step.kind === 'wait' && step.reason).toContain('zk-1 (looking)');
  });

  it('scales in: the members too many leave by reconfig first, their units go after', () => {
    const five = servers(5);
    const step = nextStep(obs({ desired: 3, servers: five, members: members(1, 2, 3, 4, 5), syncedVoters: 4 }));
    expect(step).toMatchObject({ kind: 'removeServers', handoff: false });
    expect(step.kind === 'removeServers' && step.servers.map((s) => s.id)).toEqual([4, 5]);
    expect(nextStep(obs({ desired: 3, servers: five, members: members(1, 2, 3), syncedVoters: 2 }))).toMatchObject({ kind: 'scaleUnitSet', units: 3 });
  });

  it('does not shrink while a server that stays is down', () => {
    const s = servers(5, { 3: { mode: undefined, reachable: false } });
    const step = nextStep(obs({ desired: 3, servers: s, members: members(1, 2, 3, 4, 5) }));
    expect(step).toMatchObject({ kind: 'wait' });
    expect(step.kind === 'wait' && step.reason).toContain('zk-2 (down)');
  });

  it('updates followers first, highest ordinal first, one at a time, each after the ensemble is in sync again', () => {
    const all = servers(3, { 1: { outdated: true, restartNeeded: true }, 2: { outdated: true, restartNeeded: true }, 3: { outdated: true, restartNeeded: true } });
    expect(nextStep(obs({ servers: all }))).toMatchObject({ kind: 'updateUnit', server: { unit: 'zk-2' } });
    // zk-2 named and restarting: nothing else moves.
    const busy = servers(3, { 1: { outdated: true, restartNeeded: true }, 2: { outdated: true, restartNeeded: true }, 3: { updating: true, mode: undefined } });
    expect(nextStep(obs({ servers: busy, updateNext: 'zk-2' }))).toMatchObject({ kind: 'wait' });
    // Back, but the leader does not count it as synced yet.
    const back = servers(3, { 1: { outdated: true, restartNeeded: true }, 2: { outdated: true, restartNeeded: true } });
    expect(nextStep(obs({ servers: back, updateNext: 'zk-2', syncedVoters: 1 }))).toMatchObject({ kind: 'wait' });
    expect(nextStep(obs({ servers: back, updateNext: 'zk-2' }))).toMatchObject({ kind: 'updateUnit', server: { unit: 'zk-1' } });
  });

  it('hands leadership over before the leader restarts, updates it as a non-voting follower, adds it back', () => {
    const onlyLeader = servers(3, { 1: { outdated: true, restartNeeded: true } });
    const step = nextStep(obs({ servers: onlyLeader }));
    expect(step).toMatchObject({ kind: 'removeServers', handoff: true });
    expect(step.kind === 'removeServers' && step.servers.map((s) => s.unit)).toEqual(['zk-0']);
    // Handed over: zk-1 leads, zk-0 follows without a vote and is updated before it may come back.
    const after = servers(3, { 1: { outdated: true, restartNeeded: true } }, 2);
    const m = members(2, 3);
    expect(nextStep(obs({ servers: after, members: m, syncedVoters: 1, handoff: 'zk-0' }))).toMatchObject({ kind: 'updateUnit', server: { unit: 'zk-0' } });
    const restarting = servers(3, { 1: { updating: true, mode: undefined } }, 2);
    expect(nextStep(obs({ servers: restarting, members: m, syncedVoters: 1, handoff: 'zk-0', updateNext: 'zk-0' }))).toMatchObject({ kind: 'wait' });
    const updated = servers(3, {}, 2);
    expect(nextStep(obs({ servers: updated, members: m, syncedVoters: 1, handoff: 'zk-0', updateNext: 'zk-0' }))).toMatchObject({ kind: 'addServer', server: { unit: 'zk-0' } });
  });

  it('updates a leader whose change is only its server list in place (no restart, no hand-over)', () => {
    const s = servers(3, { 1: { outdated: true, restartNeeded: false } });
    expect(nextStep(obs({ servers: s }))).toMatchObject({ kind: 'updateUnit', server: { unit: 'zk-0' } });
  });

  it('waits for the UnitSet to catch up with its spec before judging its lists', () => {
    expect(nextStep(obs({ servers: servers(3, { 2: { outdated: true } }), unitSetCurrent: false }))).toMatchObject({ kind: 'wait' });
  });

  it('tells roles and sync apart', () => {
    const s = servers(4, { 4: {} });
    const leader = leaderOf(obs({ servers: s }));
    expect(leader?.unit).toBe('zk-0');
    expect(roleOf(s[3] as ServerView, members(1, 2, 3))).toBe('non-voting');
    expect(roleOf({ ...(s[1] as ServerView), mode: undefined }, members(1, 2, 3))).toBe('looking');
    expect(roleOf({ ...(s[1] as ServerView), mode: undefined, reachable: false }, members(1, 2, 3))).toBe('down');
    expect(inSync({ ...(s[1] as ServerView), mode: undefined }, leader)).toBe(false);
    expect(inSync(s[1], undefined)).toBe(false);
    // Two servers claiming to lead (an old leader that has not noticed): the newer epoch is the leader.
    const two = servers(3, { 3: { mode: 'leader', zxid: EPOCH + (1n << 32n) } });
    expect(leaderOf(obs({ servers: two }))?.unit).toBe('zk-2');
  });
});
