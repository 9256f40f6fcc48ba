// What a Redis server and a Sentinel say about replication, parsed from their replies into plain facts the planner
// works with. Pure.
import { pairs, parseInfo, type RespValue } from '../../../agent/engines/resp.ts';

export interface Endpoint { host: string; port: number }

/** A replica as its master lists it (INFO replication, slaveN lines). */
export interface ListedReplica { ip: string; port: number; state: string; offset: number }

/** INFO replication of one server. */
export interface Replication {
  role: 'master' | 'slave';
  /** Replicas only: where they replicate from and whether the link is up. */
  masterHost?: string;
  masterPort?: number;
  linkUp?: boolean;
  syncInProgress?: boolean;
  /** The server's own position in the replication stream (a replica: what it has applied). */
  offset: number;
  /** master_failover_state: no-failover, waiting-for-sync or failover-in-progress (a FAILOVER command at work). */
  failoverState: string;
  replicas: ListedReplica[];
}

export function parseReplication(text: string): Replication {
  const info = parseInfo(text);
  const role = info.get('role') === 'slave' ? 'slave' : 'master';
  const replicas: ListedReplica[] = [];
  for (const [k, v] of info) {
    if (!/^slave\d+$/.test(k)) continue;
    const f = new Map(v.split(',').map((kv) => { const i = kv.indexOf('='); return [kv.slice(0, i), kv.slice(i + 1)] as [string, string]; }));
    replicas.push({ ip: f.get('ip') ?? '', port: Number(f.get('port') ?? 0), state: f.get('state') ?? '', offset: Number(f.get('offset') ?? 0) });
  }
  const base = { role, failoverState: info.get('master_failover_state') ?? 'no-failover', replicas } as const;
  if (role === 'master') return { ...base, offset: Number(info.get('master_repl_offset') ?? 0) };
  return {
    ...base,
    masterHost: info.get('master_host') ?? '',
    masterPort: Number(info.get('master_port') ?? 0),
    linkUp: info.get('master_link_status') === 'up',
    syncInProgress: info.get('master_sync_in_progress') === '1',
    offset: Number(info.get('slave_repl_offset') ?? info.get('master_repl_offset') ?? 0),
  };
}

/** What one Sentinel knows about the master it watches under our name (SENTINEL MASTER + SENTINEL REPLICAS). */
export interface SentinelMaster {
  host: string;
  port: number;
  flags: string[];
  configEpoch: number;
  numSlaves: number;
  numOtherSentinels: number;
  quorum: number;
  downAfterMs: number;
  failoverTimeoutMs: number;
  parallelSyncs: number;
  /** host:port of every replica it knows, as it names them. */
  replicas: string[];
  /** The replica-priority it last read from each of them (host:port as above): whom it would promote. */
  priorities?: Record<string, number>;
}

export function parseSentinelMaster(master: RespValue, replicas: RespValue): SentinelMaster {
  const m = pairs(master);
  const num = (k: string) => Number(m.get(k) ?? 0);
  const listed = Array.isArray(replicas) ? replicas.map((r) => pairs(r)) : [];
  const list = listed.map((r) => `${r.get('ip') ?? ''}:${r.get('port') ?? ''}`);
  const priorities = Object.fromEntries(listed.flatMap((r, i) => (r.has('slave-priority') ? [[list[i] as string, Number(r.get('slave-priority'))]] : [])));
  return {
    host: m.get('ip') ?? '', port: num('port'),
    flags: (m.get('flags') ?? '').split(',').filter(Boolean),
    configEpoch: num('config-epoch'), numSlaves: num('num-slaves'), numOtherSentinels: num('num-other-sentinels'),
    quorum: num('quorum'), downAfterMs: num('down-after-milliseconds'), failoverTimeoutMs: num('failover-timeout'), parallelSyncs: num('parallel-syncs'),
    replicas: list,
    ...(Object.keys(priorities).length ? { priorities } : {}),
  };
}

/** A Sentinel in the middle of a failover of this master (it will re-point servers itself). */
export const failingOver = (m: SentinelMaster): boolean => m.flags.includes('failover_in_progress');

/** Replies of a server that needs no password when one was sent (Redis 6+ and older wording). */
export const isNoPasswordConfigured = (message: string): boolean =>
  /without any password configured|no password is set/i.test(message);
