// Failover: promote a replica while the source is down. A MysqlService goes through the member's MysqlReplication
// spec.failover.request (an id and the candidate; the Compose Operator acts on each id once and answers in
// status.failoverRequest, the failover it made in status.lastFailover). A RedisService without Sentinel goes through
// its RedisReplication spec.source (the Compose Operator promotes the named replica when no server takes writes);
// with Sentinel, a named replica goes through its RedisReplication spec.failover.request as for MySQL (the Compose
// Operator holds the other replicas at replica-priority 0 and asks one Sentinel to fail over), and without a name the
// Sentinels elect the new master by themselves and the Operation waits for that. What the steps
// look at comes from the compose object's status when the controller read it (each server reachable or not, its
// role, GTID position or replication offset), else from the hub service's status (a plan preview: a unit's role is
// "none" when the member cannot reach it).
// The engine fails over by itself (MySQL unless spec.options.failover.automatic is false; Redis with Sentinel): a
// Failover that finds the engine already did it (the old source still down, the writes on the server it promoted)
// changes nothing and says so; asked for another server, it is refused with the advice to use a Switchover, which
// needs no source down.
import { pickCandidate } from '../mysql/gtid.ts';
import { all, clusterReady, notYet, ok, refuse, serviceFound } from './checks.ts';
import { dataServers, replicasBut } from './steps-kinds.ts';
import type { StepDef } from './steps.ts';
import type { Check, Operation, World } from './types.ts';

const MIN = 60;
const instant = (): Check => ok('done');

/** A server; `pos` its GTID position (MySQL) or replication offset (Redis), '' when unknown. */
interface Node { name: string; reachable: boolean; role: string; pos: string }
interface LastFailover { time?: string; from?: string; to?: string; request?: string; lostTransactions?: number; by?: string }
interface Answer { id?: string; outcome?: string; message?: string }

/** The replication as the steps see it. */
export interface ReplicationView {
  /** Read from the member's compose object (else from the hub service's status). */
  fromMember: boolean;
  /** The servers of the service, the isolated ones left out. */
  nodes: Node[];
  /** The server taking writes now ('' when none does). */
  acting: string;
  /** The source the member's object names (from the member only). */
  wanted?: string;
  last?: LastFailover;
  answer?: Answer;
  requested?: string;
}

// The Redis Compose Operator notes a Sentinel failover here in the same write that moves spec.source to the elected
// server, before status.lastFailover follows: read both, or a check in between sees the new source up and no failover.
const FAILOVER_NOTE = 'compose.upm.io/last-failover';
function noted(raw: string | undefined): LastFailover | undefined {
  if (!raw) return undefined;
  try { const v = JSON.parse(raw) as LastFailover; return typeof v.to === 'string' && typeof v.from === 'string' ? v : undefined; } catch { return undefined; }
}
const newest = (a?: LastFailover, b?: LastFailover) => (b && Date.parse(b.time ?? '') > Date.parse(a?.time ?? '1970-01-01T00:00:00Z') ? b : a);

type Topology = Record<string, { role?: string; status?: string; gtidPosition?: string; offset?: number; isolated?: boolean }>;

export function replicationView(op: Operation, w: World): ReplicationView {
  const c = w.compose;
  if (c) {
    const spec = c.spec ?? {};
    const st = c.status ?? {};
    const topo = (st.topology ?? {}) as Topology;
    const nodes = Object.entries(topo).filter(([, t]) => !t.isolated)
      .map(([name, t]) => ({ name, reachable: t.status === 'Healthy', role: (t.role ?? 'None').toLowerCase(), pos: t.gtidPosition ?? (t.offset === undefined ? '' : String(t.offset)) }));
    return {
      fromMember: true, nodes, acting: String(st.source ?? ''), wanted: (spec.source as { name?: string } | undefined)?.name,
      last: newest(st.lastFailover as LastFailover | undefined, noted(c.metadata?.annotations?.[FAILOVER_NOTE])), answer: st.failoverRequest as Answer | undefined,
      requested: ((spec.failover as { request?: { id?: string } } | undefined)?.request)?.id,
    };
  }
  const nodes = dataServers(w).map((u) => ({ name: u.name, reachable: u.role === 'source' || u.role === 'replica', role: u.role ?? 'none', pos: '' }));
  return { fromMember: false, nodes, acting: nodes.find((n) => n.role === 'source' && n.reachable)?.name ?? '', last: w.service?.status?.lastFailover as LastFailover | undefined };
}

export const failoverId = (op: Operation): string => op.metadata.uid ?? op.metadata.name ?? '';
const down = (v: ReplicationView, name: string | undefined) => !!name && !v.nodes.find((n) => n.name === name)?.reachable;

/** The source that is down: the one the member's object names, else the servers nobody reaches. */
function downSource(v: ReplicationView): string | undefined {
  if (v.wanted) return down(v, v.wanted) ? v.wanted : undefined;
  if (v.acting) return undefined;
  const gone = v.nodes.filter((n) => !n.reachable).map((n) => n.name);
  return gone.length ? gone.join(' or ') : undefined;
}

/** The engine failed over by itself (not for this Operation): its old source still down, the writes on the one it promoted. */
export function engineFailedOver(op: Operation, v: ReplicationView): LastFailover | undefined {
  const l = v.last;
  if (!l?.to || !l.from || l.request === failoverId(op)) return undefined;
  // The source the member's object names already, before its status says it takes the writes.
  return l.to === (v.acting || v.wanted) && down(v, l.from) ? l : undefined;
}

/** The replicas that could take over: reachable, replicating. */
const candidates = (v: ReplicationView) => v.nodes.filter((n) => n.reachable && n.role === 'replica');

/** The server to promote: the one chosen before, the one asked for, or the most advanced replica (GTID position, replication offset). */
export function failoverCandidate(op: Operation, w: World, v = replicationView(op, w)): string | undefined {
  if (op.status?.candidate) return op.status.candidate;
  if (op.spec.failover?.candidate) return op.spec.failover.candidate;
  const engine = engineFailedOver(op, v);
  if (engine?.to) return engine.to;
  if (!v.fromMember) return undefined;
  if (op.spec.target.kind === 'RedisService') {
    return candidates(v).filter((n) => n.pos !== '').sort((a, b) => Number(b.pos) - Number(a.pos) || a.name.localeCompare(b.name, 'en', { numeric: true }))[0]?.name;
  }
  const dialect = w.service?.spec.engine === 'mariadb' ? 'mariadb' : 'mysql';
  return pickCandidate(candidates(v).map((n) => ({ name: n.name, received: '', applied: n.pos, lagSeconds: null })), dialect)?.name;
}

/** A RedisService whose Sentinels fail the master over by themselves. */
const withSentinel = (op: Operation, w: World): boolean => op.spec.target.kind === 'RedisService'
  && (w.compose ? !!w.compose.spec?.sentinel : (w.service?.spec.options as { sentinel?: { enabled?: boolean } } | undefined)?.sentinel?.enabled === true);

const when = (l: LastFailover) => (l.time ? ` at ${l.time}` : '');

function failoverChecks(op: Operation, w: World): Check[] {
  const v = replicationView(op, w);
  const name = op.spec.target.name;
  const asked = op.spec.failover?.candidate;
  const field = asked ? 'spec.failover.candidate' : 'spec.type';
  if (w.service?.spec.stopped === true || w.service?.status?.phase === 'Stopped') return [refuse(`spec.type: service ${name} is stopped; start it first`)];
  const engine = engineFailedOver(op, v);
  if (engine) {
    const said = `the engine already failed over from ${engine.from ?? '?'} to ${engine.to ?? '?'}${when(engine)} (${engine.from ?? '?'} is still down)`;
    return [asked && asked !== engine.to ? refuse(`${field}: ${said}; to move the writes to ${asked}, use a Switchover`) : ok(`${said}: nothing left to do`)];
  }
  const gone = downSource(v);
  if (!gone) return [refuse(`spec.type: the source ${v.acting || v.wanted || '?'} is up and takes writes: a Failover is only for a source that is down; use a Switchover`)];
  const facts = [ok(`source ${gone}: down`)];
  if (asked) {
    const n = v.nodes.find((x) => x.name === asked);
    if (!n) return [refuse(`${field}: ${asked} is not a server of service ${name}`)];
    if (n.name === v.wanted || !n.reachable) return [refuse(`${field}: ${asked} is down${n.name === v.wanted ? ': it is the source that failed' : ' too'}`)];
    if (n.role !== 'replica') return [refuse(`${field}: ${asked} is not a replica (${n.role})`)];
    const how = withSentinel(op, w) ? [ok(`the Sentinels are asked to fail over to ${asked}; the other replicas are held at priority 0 until it is done`)] : [];
    return [...facts, ok(`candidate ${asked}: a reachable replica${n.pos ? ` at ${n.pos}` : ''}`), ...how];
  }
  const replicas = candidates(v);
  if (!replicas.length) return [refuse(`spec.type: service ${name} has no reachable replica to promote`)];
  const best = failoverCandidate(op, w, v);
  const by = op.spec.target.kind === 'RedisService' ? 'replication offsets' : 'GTID positions';
  if (!best) return [...facts, notYet(`candidate: the most advanced of ${replicas.map((n) => n.name).join(', ')}, by the ${by} the member reports (not read yet)`), ...sentinelWait(op, w)];
  return [...facts, ok(`candidate ${best}: the most advanced reachable replica (${replicas.map((n) => `${n.name} ${n.pos || '?'}`).join(', ')})`), ...sentinelWait(op, w)];
}

/** With Sentinel, the master is the Sentinels' to elect: the Operation waits for them rather than compete. */
const sentinelWait = (op: Operation, w: World): Check[] => (withSentinel(op, w) ? [notYet('the Sentinels fail the master over by themselves: waiting for them to elect a new one')] : []);

const checks = (o: Operation, w: World): Check => all(serviceFound(o, w), clusterReady(w), ...(w.service ? failoverChecks(o, w) : []));

const checkStep = (): StepDef => ({
  name: 'check', description: 'the source is down (else: use a Switchover), the candidate is a reachable replica of this service (the most advanced one when none is named)', timeoutSeconds: 10 * MIN,
  precondition: checks,
  // The facts it went on, kept in the step's record.
  done: (o, w) => { const c = checks(o, w); return c.ok ? c : instant(); },
});

/** Failover through the compose object's spec.failover.request: asked once per Operation, done when the member records it. */
function requestedFailoverSteps(op: Operation, kind: 'MysqlReplication' | 'RedisReplication', how: string, promoted: (v: ReplicationView) => string): StepDef[] {
  const name = op.spec.target.name;
  return [
    checkStep(),
    {
      name: 'request-failover', description: `ask the member's ${kind} to promote the candidate now (spec.failover.request: ${how}; once per request)`, timeoutSeconds: 2 * MIN,
      effect: (o, w) => {
        const c = failoverCandidate(o, w) ?? '';
        return { on: 'compose', kind, name, patch: { spec: { failover: { request: { id: failoverId(o), candidate: c } } } }, what: `${kind} ${name} spec.failover.request = {id: ${failoverId(o)}, candidate: ${c}}` };
      },
      applied: (o, w) => {
        const v = replicationView(o, w);
        return v.requested === failoverId(o) || v.last?.request === failoverId(o) || !!engineFailedOver(o, v);
      },
      done: (o, w) => {
        const engine = engineFailedOver(o, replicationView(o, w));
        return ok(engine ? `nothing asked: the engine already promoted ${engine.to ?? '?'}` : `asked: promote ${failoverCandidate(o, w) ?? '?'} (request ${failoverId(o)})`);
      },
    },
    {
      name: 'wait-promoted', description: 'wait until the Compose Operator reports the candidate promoted and taking the writes', timeoutSeconds: 3 * MIN,
      done: (o, w) => {
        const v = replicationView(o, w);
        const c = failoverCandidate(o, w, v);
        const engine = engineFailedOver(o, v);
        if (engine && (!o.spec.failover?.candidate || engine.to === o.spec.failover.candidate)) return ok(`the engine already failed over from ${engine.from ?? '?'} to ${engine.to ?? '?'}${when(engine)}`);
        if (v.answer?.id === failoverId(o) && v.answer.outcome === 'Refused') return refuse(`the member refused the failover: ${v.answer.message ?? ''}`);
        const mine = v.last?.request === failoverId(o) || (v.answer?.id === failoverId(o) && v.answer.outcome === 'Done');
        if (mine && v.acting === c) return ok(`${c ?? ''} takes the writes (${promoted(v)})`);
        return notYet(mine ? `${c ?? ''} promoted; waiting for it to take the writes (now: ${v.acting || 'none'})` : `waiting for the member to promote ${c ?? '?'}${v.answer?.message ? ` (${v.answer.message})` : ''}`);
      },
    },
  ];
}

export const mysqlFailoverSteps = (op: Operation): StepDef[] => requestedFailoverSteps(op, 'MysqlReplication', 'the Compose Operator has it apply what it received, promotes it, records the failover',
  (v) => `promoted from ${v.last?.from ?? '?'}, ${v.last?.lostTransactions ?? 0} transactions of the old source's last seen position lost`);

export function redisFailoverSteps(op: Operation, w: World): StepDef[] {
  if (op.spec.failover?.candidate && withSentinel(op, w)) {
    return requestedFailoverSteps(op, 'RedisReplication', 'the Compose Operator holds the other replicas at replica-priority 0, asks one Sentinel SENTINEL FAILOVER and records the failover the Sentinels make',
      (v) => `promoted from ${v.last?.from ?? '?'} by the Sentinels${v.last?.request ? ', as requested' : ' by themselves'}`);
  }
  const name = op.spec.target.name;
  return [
    checkStep(),
    {
      name: 'set-source', description: 'name the candidate as the source of the member\'s RedisReplication (with no server taking writes, the Compose Operator promotes it and re-points the others)', timeoutSeconds: 2 * MIN,
      effect: (o, w) => {
        const c = failoverCandidate(o, w) ?? '';
        const replicas = replicasBut(name, c, dataServers(w));
        return { on: 'compose', kind: 'RedisReplication', name, patch: { spec: { source: { name: c, unit: c }, replicas: replicas.map((u) => ({ name: u, unit: u })) } }, what: `RedisReplication ${name} spec.source = ${c}` };
      },
      applied: (o, w) => {
        const v = replicationView(o, w);
        return (v.fromMember ? v.wanted : v.acting) === failoverCandidate(o, w, v) || !!engineFailedOver(o, v);
      },
      done: (o, w) => {
        const engine = engineFailedOver(o, replicationView(o, w));
        return ok(engine ? `nothing asked: the engine already promoted ${engine.to ?? '?'}` : `asked: ${failoverCandidate(o, w) ?? '?'} is the source`);
      },
    },
    {
      name: 'wait-promoted', description: 'wait until the Compose Operator reports the candidate promoted and taking the writes', timeoutSeconds: 3 * MIN,
      done: (o, w) => {
        const v = replicationView(o, w);
        const c = failoverCandidate(o, w, v);
        if (c && v.acting === c) return ok(`${c} takes the writes${v.last?.to === c ? ` (promoted from ${v.last.from ?? '?'}${v.last.by ? ` by the ${v.last.by}` : ''})` : ''}`);
        const engine = engineFailedOver(o, v);
        if (engine && !o.spec.failover?.candidate) return ok(`the engine already failed over from ${engine.from ?? '?'} to ${engine.to ?? '?'}${when(engine)}`);
        return notYet(`waiting for the member to promote ${c ?? '?'} (the master now: ${v.acting || 'none'})`);
      },
    },
  ];
}
