// What each server says about itself over ZooKeeper's four-letter words (srvr, and the leader's conf and mntr), read in
// parallel with short timeouts: a server that does not answer is reported as down, never waited for.
import { tcpExchange } from '../../../agent/engines/util.ts';
import { membershipOf } from '../../../agent/engines/zookeeper.ts';

export const CLIENT_PORT = 2181;
const TIMEOUT_MS = 1500;

export interface Srvr {
  /** Mode while serving (leader, follower, observer, standalone); undefined when not serving. */
  mode?: string;
  zxid?: bigint;
  connections?: number;
  nodeCount?: number;
  /** Why it does not serve (its own words), when it answered without a Mode. */
  message?: string;
}

/** Parses srvr's answer. */
export function parseSrvr(text: string): Srvr {
  const field = (name: string) => new RegExp(`^${name}: (.+)$`, 'm').exec(text)?.[1]?.trim();
  const mode = field('Mode');
  if (!mode) return { message: text.trim() || 'no answer' };
  const zxid = field('Zxid');
  const n = (v: string | undefined) => (v === undefined || !/^[0-9]+$/.test(v) ? undefined : Number(v));
  return {
    mode,
    ...(zxid && /^0x[0-9a-f]+$/i.test(zxid) ? { zxid: BigInt(zxid) } : {}),
    ...(n(field('Connections')) !== undefined ? { connections: n(field('Connections')) } : {}),
    ...(n(field('Node count')) !== undefined ? { nodeCount: n(field('Node count')) } : {}),
  };
}

/** mntr's "key<TAB>value" lines. */
export function parseMntr(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('\t');
    if (i > 0) out.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return out;
}

export async function fourLetters(host: string, word: string, timeoutMs = TIMEOUT_MS): Promise<string> {
  return tcpExchange(host, CLIENT_PORT, word, timeoutMs);
}

/** srvr of one server: undefined when nothing answers on its client port. */
export async function srvrOf(host: string): Promise<Srvr | undefined> {
  if (!host) return undefined;
  try {
    return parseSrvr(await fourLetters(host, 'srvr'));
  } catch {
    return undefined;
  }
}

export interface LeaderView {
  members: Map<number, string>;
  version: string;
  /** Voting followers the leader counts as synced. */
  syncedVoters?: number;
}

/** The committed configuration and the synced followers, as the leader reports them. */
export async function leaderView(host: string): Promise<LeaderView | undefined> {
  try {
    const [conf, mntr] = await Promise.all([fourLetters(host, 'conf'), fourLetters(host, 'mntr').catch(() => '')]);
    const m = membershipOf(conf);
    if (!m) return undefined;
    const stats = parseMntr(mntr);
    const synced = Number(stats.get('zk_synced_followers'));
    const nonVoting = Number(stats.get('zk_synced_non_voting_followers') ?? 0);
    return { members: m.servers, version: m.version, ...(Number.isFinite(synced) && stats.has('zk_synced_followers') ? { syncedVoters: synced - (Number.isFinite(nonVoting) ? nonVoting : 0) } : {}) };
  } catch {
    return undefined;
  }
}

/** The quorum address of a server line value ("host:2888:3888:participant"). */
export const hostOf = (line: string): string => line.split(':')[0] ?? '';
/** Quorum and election ports of a server line value. */
export function portsOf(line: string | undefined): [number, number] {
  const p = (line ?? '').split(':');
  const q = Number(p[1]);
  const e = Number(p[2]);
  return [Number.isInteger(q) && q > 0 ? q : 2888, Number.isInteger(e) && e > 0 ? e : 3888];
}
