// GTID positions as comparable progress, for both dialects: MariaDB "domain-server-seq" lists (one entry per
// domain, the last transaction) and MySQL GTID sets ("uuid:1-100:105"). Used to pick the most advanced replica, to
// tell how many transactions a promotion would lose, and to find errant transactions. Pure, and in lib/ because
// the hub's Failover plan picks its candidate the way the Compose Operator does.

/** The two SQL dialects of replication: MariaDB's GTIDs and wording, and MySQL's. */
export type Dialect = 'mariadb' | 'mysql';

/** Transactions per stream: MariaDB domain -> last seq; MySQL source uuid -> number of transactions. */
export type Progress = Map<string, number>;

export function progress(position: string, dialect: Dialect): Progress {
  const out: Progress = new Map();
  for (const part of position.split(',').map((p) => p.trim()).filter(Boolean)) {
    if (dialect === 'mariadb') {
      const m = /^(\d+)-(\d+)-(\d+)$/.exec(part);
      if (m) out.set(m[1] as string, Math.max(out.get(m[1] as string) ?? 0, Number(m[3])));
    } else {
      const [uuid, ...ranges] = part.split(':');
      let n = 0;
      for (const r of ranges) {
        const [a, b] = r.split('-').map(Number);
        n += b === undefined ? 1 : (b as number) - (a as number) + 1;
      }
      if (uuid) out.set(uuid.toLowerCase(), (out.get(uuid.toLowerCase()) ?? 0) + n);
    }
  }
  return out;
}

/** Transactions `a` has beyond `b`, summed over streams (0 when `b` has everything `a` has). */
export function ahead(a: Progress, b: Progress): number {
  let n = 0;
  for (const [k, v] of a) n += Math.max(0, v - (b.get(k) ?? 0));
  return n;
}

export const total = (p: Progress): number => [...p.values()].reduce((s, v) => s + v, 0);

/**
 * MariaDB: a replica whose binlog ends with a transaction of its own server_id that it did not receive from a
 * source wrote locally (an errant transaction); with gtid_strict_mode such a node breaks when re-pointed, and
 * promoting it would publish a write no one else has. (MySQL's equivalent is GTID_SUBTRACT against the source.)
 */
export function hasErrantMariadb(binlogPos: string, appliedPos: string, serverId: number): boolean {
  const applied = new Map(appliedPos.split(',').map((p) => p.trim()).filter(Boolean).map((p) => [p.split('-')[0], p]));
  return binlogPos.split(',').map((p) => p.trim()).filter(Boolean).some((p) => {
    const [domain, server] = p.split('-');
    return Number(server) === serverId && applied.get(domain) !== p;
  });
}

/**
 * MariaDB: a former source coming back after a failover has diverged when, in some domain, it holds a transaction
 * the promoted node did not have at promotion time (a later seq, or the same seq from another server). Such a
 * node keeps writes nobody else has: it stays fenced and out of replication until it is rebuilt.
 */
export function divergedMariadb(nodePos: string, promotedPos: string): boolean {
  const promoted = new Map(promotedPos.split(',').map((p) => p.trim()).filter(Boolean).map((p) => [p.split('-')[0], p]));
  return nodePos.split(',').map((p) => p.trim()).filter(Boolean).some((p) => {
    const [domain, , seq] = p.split('-');
    const q = promoted.get(domain);
    if (!q) return true;
    const qseq = Number(q.split('-')[2]);
    return Number(seq) > qseq || (Number(seq) === qseq && q !== p);
  });
}

export interface Candidate { name: string; received: string; applied: string; lagSeconds: number | null }

/**
 * The replica to promote: the one that received the most transactions (it can finish applying its relay log
 * before it takes writes); ties go to the one that applied more, then to the least lag, then by name. A replica
 * that merely lags is never chosen over one that has more.
 */
export function pickCandidate(candidates: Candidate[], dialect: Dialect): Candidate | undefined {
  const score = (c: Candidate) => {
    const received = progress(c.received || c.applied, dialect);
    const applied = progress(c.applied, dialect);
    // received may lag behind applied on MariaDB when the IO position was reset; take the larger.
    return { got: Math.max(total(received), total(applied)), applied: total(applied) };
  };
  return [...candidates].sort((a, b) => {
    const sa = score(a), sb = score(b);
    return sb.got - sa.got || sb.applied - sa.applied || (a.lagSeconds ?? 1e9) - (b.lagSeconds ?? 1e9) || a.name.localeCompare(b.name);
  })[0];
}

/** MySQL: the intervals of one source uuid in a GTID set ("uuid:1-5:7,other:1-3"). */
function intervalsOf(set: string, uuid: string): [number, number][] {
  const out: [number, number][] = [];
  for (const part of set.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [u, ...ranges] = part.split(':');
    if (u?.toLowerCase() !== uuid.toLowerCase()) continue;
    for (const r of ranges) {
      const [a, b] = r.split('-').map(Number);
      out.push([a as number, b ?? (a as number)]);
    }
  }
  return out;
}

/**
 * MySQL: a replica holds an errant transaction when its gtid_executed has a transaction under its own server_uuid
 * that the source's last seen gtid_executed lacks (a local write). A former source's own transactions, replicated
 * to the current source, are in that set and so are not errant.
 */
export function hasErrantMysql(executed: string, serverUuid: string, sourceExecuted: string): boolean {
  if (!serverUuid) return false;
  const have = intervalsOf(sourceExecuted, serverUuid);
  return intervalsOf(executed, serverUuid).some(([a, b]) => {
    // Every transaction a..b must lie in some interval the source has.
    let next = a;
    for (const [x, y] of [...have].sort((p, q) => p[0] - q[0])) if (x <= next && y >= next) next = y + 1;
    return next <= b;
  });
}
