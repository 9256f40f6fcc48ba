// The hub status of a service from what its member shows (contract.ts StatusFn): phase, the Ready, Progressing and
// Degraded conditions with reasons naming the member object at fault, the running version, the endpoints (the compose
// operators' Services and the servers behind them), each server's role, readiness, node and zone, and the last
// failover the compose kind recorded. Pure: the controller writes the result only when it differs.
import { setCondition, type Condition } from '../../lib/conditions.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { parseQuantity } from '../../lib/quantity.ts';
import type { Endpoint, HubService, Observed, Phase, ServiceStatus, StatusFn, UnitReport } from './contract.ts';
import { retainedOf } from './desired/common.ts';

type Json = Record<string, unknown>;
type Obj = KubeObject & { spec?: Json; status?: Json };
const rec = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const conditionOf = (o: Obj | undefined, type: string): Condition | undefined => (Array.isArray(o?.status?.conditions) ? (o.status.conditions as Condition[]).find((c) => c.type === type) : undefined);
const ref = (o: KubeObject) => `${o.kind ?? ''} ${o.metadata.name ?? ''}`;
const ZONE_LABEL = 'topology.kubernetes.io/zone';

/** What one kind's compose object says, in the terms of the hub's status. */
interface View {
  /** The object that owns the topology (MysqlReplication "db"), when the member has it. */
  compose?: Obj;
  composeKind: string;
  /** It says it is ready for its current spec. */
  ready: boolean;
  servers: { ready: number; total: number };
  endpoints: Endpoint[];
  units: UnitReport[];
  lastFailover?: Json;
  /** The kind's own status fields (source, master, leader...). */
  extra: Json;
  /** Units that cannot run on this member and that the service can do without (ProxySQL here): what, its condition, why. */
  optionalNotRunnable?: { what: string; condition: string; message: string };
}

interface Ctx {
  svc: HubService;
  name: string;
  objects: Obj[];
  units: Obj[];
  zoneOf: (node: string | undefined) => string | undefined;
}

const find = (c: Ctx, kind: string, name = c.name) => c.objects.find((o) => o.kind === kind && o.metadata.name === name);
const unitsOf = (c: Ctx, unitSet: string) => c.units.filter((u) => u.metadata.labels?.['unit.upm.io/unitset'] === unitSet)
  .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '', 'en', { numeric: true }));
const unitReady = (u: Obj | undefined) => u?.status?.ready === true;
const ipOf = (u: Obj | undefined) => str(u?.status?.podIP);

/** A server as the Unit shows it (node, readiness) with the role the compose object gives it. */
function unitReport(c: Ctx, unitName: string, role: string | undefined, ready?: boolean, lagSeconds?: unknown): UnitReport {
  const u = c.units.find((x) => x.metadata.name === unitName);
  const node = str(u?.status?.nodeName) || undefined;
  const zone = c.zoneOf(node);
  const storage = dataCapacity(u);
  return {
    name: unitName, ...(role ? { role } : {}), ready: ready ?? unitReady(u), ...(node ? { node } : {}), ...(zone ? { zone } : {}),
    ...(typeof lagSeconds === 'number' ? { lagSeconds } : {}), ...(storage ? { storage } : {}),
  };
}

/** The capacity of a Unit's data volume as its claim reports it (empty while unbound). */
const dataCapacity = (u: Obj | undefined): string => str((Array.isArray(u?.status?.volumes) ? (u.status.volumes as Json[]) : []).find((v) => v.name === 'data')?.capacity);

/** Source/replica topology kinds (MysqlReplication, RedisReplication): endpoints and units from status.topology. */
function replicationView(c: Ctx, kind: string, port: number, extra: (s: Json) => Json): View {
  const mr = find(c, kind);
  const s = rec(mr?.status);
  const topology = rec(s.topology) as Record<string, Json>;
  const units = unitsOf(c, c.name);
  const unitOfNode = (n: string) => str(topology[n]?.unit) || n;
  const hosts = (role: string) => Object.entries(topology).filter(([, t]) => t.role === role && t.ready !== false && t.status !== 'Failed' && !t.isolated && t.host).map(([, t]) => str(t.host));
  const endpoints: Endpoint[] = [];
  if (s.readwriteService) endpoints.push({ name: str(s.readwriteService), role: 'readwrite', addresses: hosts('Source'), port });
  if (s.readonlyService) endpoints.push({ name: str(s.readonlyService), role: 'readonly', addresses: hosts('Replica'), port });
  const reports = units.map((u) => {
    const name = u.metadata.name ?? '';
    const t = topology[name] ?? Object.entries(topology).find(([n]) => unitOfNode(n) === name)?.[1];
    const role = t?.role === 'Source' ? 'source' : t?.role === 'Replica' ? 'replica' : t ? 'none' : undefined;
    return unitReport(c, name, role, unitReady(u) && (t ? t.ready !== false : true), t?.lagSeconds);
  });
  const wanted = Number(rec(find(c, 'UnitSet')?.spec).units ?? units.length);
  return {
    compose: mr, composeKind: kind, ready: s.ready === true && s.observedGeneration === mr?.metadata.generation,
    servers: { ready: reports.filter((r) => r.ready).length, total: wanted }, endpoints, units: reports,
    ...(s.lastFailover ? { lastFailover: rec(s.lastFailover) } : {}), extra: extra(s),
  };
}

/** Units of an extra UnitSet of the service (ProxySQL, Sentinel): their reports, endpoint, and whether they cannot run. */
function sideUnits(c: Ctx, unitSet: string, role: string, port: number, what: string, usedBy: string): { reports: UnitReport[]; endpoint?: Endpoint; notRunnable?: string } {
  const units = unitsOf(c, unitSet);
  const reports = units.map((u) => unitReport(c, u.metadata.name ?? '', role));
  const stuck = units.filter((u) => u.status?.phase === 'NotRunnable');
  const why = str(rec(stuck[0]?.status?.engine).message);
  return {
    reports,
    ...(find(c, 'UnitSet', unitSet) ? { endpoint: { name: `${unitSet}-headless`, role, addresses: units.filter(unitReady).map(ipOf).filter(Boolean), port } } : {}),
    ...(stuck.length ? { notRunnable: `${what} unit${stuck.length > 1 ? 's' : ''} ${stuck.map((u) => u.metadata.name).join(', ')} cannot run on this cluster${why ? ` (${why})` : ''}; ${usedBy}` } : {}),
  };
}

/**
 * Where a Redis Cluster's slots are: assigned, the shards whose master holds some, a move in progress and the nodes
 * still leaving. A resize is over only when no slot moves and no node leaves, not when the servers are ready.
 */
function reshardingOf(s: Json): Json {
  const m = rec(s.migration);
  const leaving = Array.isArray(s.leaving) ? s.leaving.length : 0;
  return {
    ...(typeof s.slotsAssigned === 'number' ? { slotsAssigned: s.slotsAssigned } : {}),
    ...(typeof s.shards === 'number' ? { shards: s.shards } : {}),
    reshard: s.migration ? `${str(m.reason) || 'Rebalance'}: ${Number(m.slotsLeft ?? 0)} slots left to move from ${str(m.from)} to ${str(m.to)} (${Number(m.slotsMoved ?? 0)} moved)` : '',
    leavingNodes: leaving,
  };
}

const VIEWS: Record<string, (c: Ctx) => View> = {
  MysqlService: (c) => {
    const v = replicationView(c, 'MysqlReplication', 3306, (s) => ({ source: str(s.source) }));
    const ps = `${c.name}-proxysql`;
    if (!find(c, 'UnitSet', ps)) return v;
    const side = sideUnits(c, ps, 'proxysql', 6033, 'ProxySQL', `ProxysqlSync ${c.name} computes and reports its desired state only; clients use ${c.name}-readwrite`);
    return {
      ...v, units: [...v.units, ...side.reports], endpoints: [...v.endpoints, ...(side.endpoint ? [side.endpoint] : [])],
      ...(side.notRunnable ? { optionalNotRunnable: { what: 'ProxySQL', condition: 'ProxySQLReady', message: side.notRunnable } } : {}),
    };
  },
  RedisService: (c) => {
    const v = replicationView(c, 'RedisReplication', 6379, (s) => ({ master: str(s.source) }));
    const sentinel = `${c.name}-sentinel`;
    if (!find(c, 'UnitSet', sentinel)) return v;
    const side = sideUnits(c, sentinel, 'sentinel', 26379, 'Sentinel', 'the master cannot fail over by itself');
    return { ...v, units: [...v.units, ...side.reports], endpoints: [...v.endpoints, ...(side.endpoint ? [side.endpoint] : [])] };
  },
  RedisClusterService: (c) => {
    const rc = find(c, 'RedisCluster');
    const s = rec(rc?.status);
    const topology = Object.values(rec(s.topology)).map(rec);
    const units = unitsOf(c, c.name);
    const reports = units.map((u) => {
      const t = topology.find((x) => x.unit === u.metadata.name);
      return unitReport(c, u.metadata.name ?? '', t ? (t.role === 'Master' ? 'master' : t.role === 'Replica' ? 'replica' : 'none') : undefined, unitReady(u) && (t ? t.ready !== false : true));
    });
    return {
      compose: rc, composeKind: 'RedisCluster', ready: s.ready === true && s.observedGeneration === rc?.metadata.generation,
      servers: { ready: reports.filter((r) => r.ready).length, total: Number(rec(find(c, 'UnitSet')?.spec).units ?? units.length) },
      endpoints: s.readwriteService ? [{ name: str(s.readwriteService), role: 'readwrite', addresses: topology.filter((t) => t.role === 'Master' && t.status === 'Healthy').map((t) => str(t.host)).filter(Boolean), port: 6379 }] : [],
      units: reports, ...(s.lastFailover ? { lastFailover: rec(s.lastFailover) } : {}),
      extra: reshardingOf(s),
    };
  },
  ZookeeperService: (c) => {
    const zk = find(c, 'ZookeeperEnsemble');
    const s = rec(zk?.status);
    const servers = Object.entries(rec(s.servers)).map(([unit, x]): Json & { unit: string } => ({ ...rec(x), unit }));
    const reports = servers.map((x) => unitReport(c, x.unit, str(x.role) || undefined, x.serving === true && x.synced !== false));
    const last = rec(s.lastLeaderChange);
    return {
      compose: zk, composeKind: 'ZookeeperEnsemble', ready: s.ready === true && s.observedGeneration === zk?.metadata.generation,
      servers: { ready: reports.filter((r) => r.ready).length, total: Number(zk?.spec?.replicas ?? servers.length) },
      endpoints: s.clientService ? [{ name: str(s.clientService), role: 'readwrite', addresses: servers.filter((x) => x.serving === true).map((x) => str(x.address)).filter(Boolean), port: 2181 }] : [],
      units: reports, ...(last.reason === 'Election' ? { lastFailover: last } : {}),
      extra: { leader: str(s.leader) },
    };
  },
  KafkaService: (c) => {
    const kc = find(c, 'KafkaCluster');
    const s = rec(kc?.status);
    const nodes = (Array.isArray(s.nodes) ? s.nodes : []).map(rec);
    const active = rec(s.activeController);
    const reports = nodes.map((n) => unitReport(c, str(n.unit), Array.isArray(n.roles) ? (n.roles as string[]).join(',') + (n.id === active.id ? ',active-controller' : '') : undefined, n.state === 'Running'));
    const brokers = nodes.filter((n) => Array.isArray(n.roles) && (n.roles as string[]).includes('broker'));
    return {
      compose: kc, composeKind: 'KafkaCluster', ready: s.ready === true && s.observedGeneration === kc?.metadata.generation,
      servers: { ready: brokers.filter((n) => n.state === 'Running').length, total: Number(kc?.spec?.brokers ?? brokers.length) },
      endpoints: s.bootstrapService ? [{ name: str(s.bootstrapService), role: 'readwrite', addresses: brokers.filter((n) => n.state === 'Running').map((n) => str(n.address)).filter(Boolean), port: 9092 }] : [],
      units: reports, ...(s.lastControllerChange ? { lastFailover: rec(s.lastControllerChange) } : {}),
      extra: { controller: str(active.unit) },
    };
  },
  ElasticsearchService: (c) => {
    const es = find(c, 'ElasticsearchCluster');
    const s = rec(es?.status);
    const topology = Object.entries(rec(s.topology)).map(([node, t]): Json & { node: string } => ({ ...rec(t), node }));
    const roles = (t: Json) => (Array.isArray(t.roles) ? (t.roles as string[]) : []);
    const reports = topology.filter((t) => !t.leaving).map((t) => unitReport(c, str(t.unit) || t.node, [...roles(t), ...(t.clusterManager ? ['elected'] : [])].join(',') || 'coordinating', t.joined === true));
    const data = topology.filter((t) => roles(t).some((r) => r.startsWith('data')));
    const wanted = (Array.isArray(es?.spec?.nodeSets) ? es.spec.nodeSets : []).map(rec).reduce((n, x) => n + Number(x.units ?? 0), 0);
    return {
      compose: es, composeKind: 'ElasticsearchCluster', ready: s.ready === true && s.observedGeneration === es?.metadata.generation,
      servers: { ready: reports.filter((r) => r.ready).length, total: wanted },
      endpoints: es ? [{ name: `${c.name}-readwrite`, role: 'readwrite', addresses: data.filter((t) => t.joined === true).map((t) => str(t.host)).filter(Boolean), port: 9200 }] : [],
      units: reports, ...(s.lastManagerChange ? { lastFailover: rec(s.lastManagerChange) } : {}),
      extra: { ...(['green', 'yellow', 'red'].includes(str(s.health)) ? { health: s.health } : {}) },
    };
  },
};

/** How ZookeeperEnsemble (an env variable), KafkaCluster and ElasticsearchCluster (an annotation) mark their units with restartedAt. */
const RESTARTED_AT_ANNOTATION = 'compose.upm.io/restarted-at';
const RESTARTED_AT_ENV = 'UPM_RESTARTED_AT';

export interface RestartProgress { id: string; phase: 'Waiting' | 'Restarting' | 'Complete' | 'Invalid'; current?: string; done?: string[]; message?: string }

/**
 * How far spec.restart got on the member. UnitSets that carry it report their own status.restart (the id must be
 * this one: a finished id stays finished there); a compose kind that restarts its servers itself (spec.restartedAt)
 * is done once it acted on that value, no UnitSet still rolls and it is ready.
 */
function restartProgress(svc: HubService, objects: Obj[], v: View): RestartProgress | undefined {
  const r = rec(svc.spec.restart);
  const id = str(r.id);
  if (!id) return undefined;
  const some = someRestarted(id, v);
  if (some) return some;
  const sets = objects.filter((o) => o.kind === 'UnitSet' && str(rec(o.spec?.restart).id) === id);
  if (sets.length) {
    const all = sets.map((us) => ({ us, p: rec(us.status?.restart) }));
    const mine = all.filter((x) => x.p.id === id);
    const done = mine.flatMap((x) => (Array.isArray(x.p.done) ? (x.p.done as string[]) : []));
    const bad = mine.find((x) => x.p.phase === 'Invalid');
    if (bad) return { id, phase: 'Invalid', done, message: `UnitSet ${bad.us.metadata.name ?? ''}: ${str(bad.p.message)}` };
    if (mine.length === all.length && mine.every((x) => x.p.phase === 'Complete')) return { id, phase: 'Complete', done, message: `restarted ${done.length} servers` };
    const going = mine.find((x) => x.p.phase === 'Restarting');
    if (going) return { id, phase: 'Restarting', current: str(going.p.current) || undefined, done, message: `UnitSet ${going.us.metadata.name ?? ''}: ${str(going.p.message)}` };
    const waiting = mine.find((x) => x.p.phase !== 'Complete');
    return { id, phase: 'Waiting', done, message: waiting ? `UnitSet ${waiting.us.metadata.name ?? ''}: ${str(waiting.p.message)}` : 'the Unit Operator has not taken the request yet' };
  }
  const c = v.compose;
  // A restart of some servers only that no UnitSet carries any more: every server it named is gone (scaled in after
  // it was done), so nothing is left to restart. While one of them is still a Unit, the UnitSet has not taken it yet.
  const named = Array.isArray(r.servers) ? (r.servers as unknown[]).map(str).filter(Boolean) : [];
  const unitNamesNow = new Set(objects.filter((o) => o.kind === 'Unit').map((o) => o.metadata.name ?? ''));
  if (named.length && str(c?.spec?.restartedAt) !== id && !named.some((n) => unitNamesNow.has(n))) {
    return { id, phase: 'Complete', done: [], message: `the servers it named (${named.join(', ')}) are gone` };
  }
  if (!c || str(c.spec?.restartedAt) !== id) return { id, phase: 'Waiting', message: `${v.composeKind} ${svc.metadata.name ?? ''}: not asked yet` };
  const st = rec(c.status?.restart);
  const current = str(st.current) || str(st.next) || str(st.node) || undefined;
  const acted = c.status?.observedGeneration === c.metadata.generation;
  // Every server runs at the revision that carries the id (the compose kinds put it on their UnitSets, so on each
  // Unit as it is updated) and is ready again: not merely a cluster that has not begun.
  const units = objects.filter((o) => o.kind === 'Unit');
  const carries = (u: Obj) => u.metadata.annotations?.[RESTARTED_AT_ANNOTATION] === id
    || (Array.isArray(u.spec?.env) && (u.spec.env as { name?: string; value?: string }[]).some((e) => e.name === RESTARTED_AT_ENV && e.value === id));
  const through = units.length > 0 && units.every((u) => carries(u) && unitReady(u));
  if (acted && v.ready && !current && through && !rollingUnitSet(objects)) return { id, phase: 'Complete', message: `${v.composeKind} ${c.metadata.name ?? ''} restarted its servers` };
  return { id, phase: 'Restarting', ...(current ? { current } : {}), message: `${v.composeKind} ${c.metadata.name ?? ''}: ${current ? `restarting ${current}` : 'restarting its servers'}` };
}

/**
 * A restart of some servers that the compose object carries out itself, in its own order among them (restartUnits
 * beside restartedAt): its status.unitRestart for this id says how far it got.
 */
function someRestarted(id: string, v: View): RestartProgress | undefined {
  const c = v.compose;
  const units = c?.spec?.restartUnits;
  if (!c || str(c.spec?.restartedAt) !== id || !Array.isArray(units) || !units.length) return undefined;
  const p = rec(c.status?.unitRestart);
  const name = `${v.composeKind} ${c.metadata.name ?? ''}`;
  if (str(p.id) !== id) return { id, phase: 'Waiting', message: `${name}: not taken yet` };
  const done = Array.isArray(p.done) ? p.done.map(str).filter(Boolean) : [];
  const phase = p.phase === 'Complete' || p.phase === 'Invalid' || p.phase === 'Waiting' ? p.phase : 'Restarting';
  return { id, phase, ...(str(p.current) ? { current: str(p.current) } : {}), done, message: `${name}: ${str(p.message) || phase}` };
}

/** The compose kinds that make their own UnitSets (the hub does not watch those): their phase says the stop is done. */
const STOPPING_COMPOSE = new Set(['ZookeeperEnsemble', 'KafkaCluster', 'ElasticsearchCluster']);

/**
 * spec.stopped: whether the service's stoppable UnitSets, or for the kinds whose compose object makes its own UnitSets
 * that compose object (phase Stopped once every engine of its units is), report every engine stopped.
 */
function stopProgress(objects: Obj[]): { stopped: boolean; message: string } {
  const sets = objects.filter((o) => o.kind === 'UnitSet' && o.spec?.stopped === true);
  const composed = objects.filter((o) => STOPPING_COMPOSE.has(o.kind ?? '') && o.spec?.stopped === true);
  if (composed.length) {
    const units = objects.filter((o) => o.kind === 'Unit');
    const down = units.filter((u) => u.status?.phase === 'Stopped').length;
    const waiting = composed.find((c) => c.status?.phase !== 'Stopped' || c.status?.observedGeneration !== c.metadata.generation);
    if (!waiting) return { stopped: true, message: `every engine is stopped (${down}/${units.length}); the data stays` };
    return { stopped: false, message: `${ref(waiting)}: ${str(waiting.status?.phase) || 'not acted on yet'} (${down}/${units.length} engines stopped)` };
  }
  const waiting = sets.filter((us) => us.status?.phase !== 'Stopped' || us.status?.observedGeneration !== us.metadata.generation);
  const engines = sets.reduce((n, us) => n + Number(us.status?.stoppedUnits ?? 0), 0);
  const total = sets.reduce((n, us) => n + Number(us.spec?.units ?? 0), 0);
  if (sets.length && !waiting.length) return { stopped: true, message: `every engine is stopped (${engines}/${total}); the data stays` };
  const first = waiting[0];
  return { stopped: false, message: first ? `UnitSet ${first.metadata.name ?? ''}: ${Number(first.status?.stoppedUnits ?? 0)}/${Number(first.spec?.units ?? 0)} engines stopped` : 'spec.stopped: not applied on the member yet' };
}

/** The public kind of a service record ("MysqlServiceRecord" -> "MysqlService"). */
export const publicKind = (svc: HubService): string => (svc.kind ?? '').replace(/Record$/, '');

/** Every field the desired object sets has that value on the member (the member adds defaults and status). */
export function applied(want: unknown, have: unknown): boolean {
  if (want && typeof want === 'object' && !Array.isArray(want)) return Object.entries(want as Json).every(([k, v]) => applied(v, rec(have)[k]));
  if (Array.isArray(want)) return Array.isArray(have) && want.length === have.length && want.every((v, i) => applied(v, have[i]));
  return want === have;
}

/** The first desired object the member does not have as desired (not applied yet, or changed by hand). */
function notApplied(observed: Observed): KubeObject | undefined {
  const d = observed.desired;
  if (!d || !('objects' in d)) return undefined;
  // The Namespace is shared by the project's services and need not be among a service's observed objects.
  return d.objects.filter((w) => w.kind !== 'Namespace').find((w) => {
    const have = observed.objects.find((o) => o.kind === w.kind && o.metadata.name === w.metadata.name);
    return !have || !applied((w as Obj).spec ?? {}, (have as Obj).spec) || !applied(w.metadata.labels ?? {}, have.metadata.labels);
  });
}

/** A UnitSet still scaling or rolling out a revision (not merely a unit that is not ready: that is no change). */
function rollingUnitSet(objects: Obj[]): { us: Obj; message: string } | undefined {
  for (const us of objects.filter((o) => o.kind === 'UnitSet')) {
    const s = rec(us.status);
    const want = Number(us.spec?.units ?? 1);
    if (s.observedGeneration !== us.metadata.generation) return { us, message: 'the Unit Operator has not acted on its latest spec yet' };
    if (s.units !== want || s.updatedUnits !== want) return { us, message: conditionOf(us, 'Progressing')?.message || `${Number(s.units ?? 0)}/${want} units, ${Number(s.updatedUnits ?? 0)} updated` };
    const growing = growingClaim(us, objects);
    if (growing) return { us, message: growing };
  }
  return undefined;
}

/** A claim of the UnitSet's units still smaller than its storage size: grown in its spec, not yet by its provisioner. */
function growingClaim(us: Obj, objects: Obj[]): string | undefined {
  const sizes = (Array.isArray(us.spec?.storage) ? (us.spec.storage as Json[]) : []).map((v) => [str(v.name), str(v.size)] as const);
  if (!sizes.length) return undefined;
  const units = objects.filter((o) => o.kind === 'Unit' && o.metadata.labels?.['unit.upm.io/unitset'] === us.metadata.name);
  for (const u of units) {
    for (const v of Array.isArray(u.status?.volumes) ? (u.status.volumes as Json[]) : []) {
      const want = sizes.find(([n]) => n === str(v.name))?.[1];
      const have = parseQuantity(v.capacity);
      const need = parseQuantity(want);
      // An unbound claim (no capacity yet) is the unit's own story, not a resize.
      if (have !== undefined && need !== undefined && have < need) return `claim ${str(v.claimName)} is ${str(v.capacity)}, growing to ${want ?? ''}`;
    }
  }
  return undefined;
}

export const serviceStatus: StatusFn = (svc: HubService, observed: Observed, now: Date): ServiceStatus => {
  const prev = svc.status ?? {};
  const generation = svc.metadata.generation;
  const kind = publicKind(svc);
  let conditions = (prev.conditions ?? []) as Condition[];
  const set = (type: string, status: Condition['status'], reason: string, message: string) => { conditions = setCondition(conditions, { type, status, reason, message, observedGeneration: generation }, now); };
  const wasUp = prev.phase === 'Ready' || prev.phase === 'Updating' || prev.phase === 'Degraded' || prev.phase === 'Stopped';
  const out = (phase: Phase, rest: Partial<ServiceStatus> = {}): ServiceStatus => ({ ...prev, ...rest, observedGeneration: generation, phase, conditions });

  if (svc.metadata.deletionTimestamp) {
    const left = observed.objects.filter((o) => o.kind !== 'Namespace' && o.kind !== 'Node' && o.kind !== 'Unit').map(ref);
    set('Ready', 'False', 'Deleting', left.length ? `removing from the member: ${left.join(', ')}` : 'the member objects are gone');
    set('Progressing', 'True', 'Deleting', left.length ? `${left.length} member objects left` : 'removing the finalizer');
    // With Retain, where the data stays: the claims and credentials of the UnitSets the service had.
    const kept = svc.spec.deletionPolicy === 'Retain' && observed.desired ? retainedOf(observed.desired) : undefined;
    return out('Deleting', kept ? { retained: { cluster: svc.spec.placement?.cluster ?? '', namespace: svc.metadata.namespace ?? '', ...kept } } : {});
  }
  if (observed.desired && 'refused' in observed.desired) {
    const r = observed.desired.refused;
    set('Ready', 'False', 'InvalidSpec', `${r.field}: ${r.message}`);
    set('Progressing', 'False', 'InvalidSpec', 'nothing is applied until the spec changes');
    set('Degraded', 'True', 'InvalidSpec', `${r.field}: ${r.message}`);
    return out('Failed');
  }
  if (!observed.reachable) {
    const why = observed.unreachableReason ?? `Cluster ${svc.spec.placement?.cluster ?? ''} is not reachable`;
    set('Ready', wasUp ? 'Unknown' : 'False', 'ClusterUnreachable', why);
    set('Progressing', 'Unknown', 'ClusterUnreachable', why);
    return out(wasUp ? (prev.phase as Phase) : 'Pending');
  }

  const zones = new Map(observed.objects.filter((o) => o.kind === 'Node').map((n) => [n.metadata.name ?? '', n.metadata.labels?.[ZONE_LABEL] ?? '']));
  const objects = observed.objects as Obj[];
  const ctx: Ctx = {
    svc, name: svc.metadata.name ?? '', objects, units: objects.filter((o) => o.kind === 'Unit'),
    zoneOf: (node) => (node ? zones.get(node) || undefined : undefined),
  };
  const viewOf = VIEWS[kind];
  if (!viewOf) {
    set('Ready', 'False', 'UnknownKind', `no status function for kind ${kind}`);
    return out('Failed');
  }
  const v = viewOf(ctx);
  const ready = `${v.servers.ready}/${v.servers.total}`;
  const restart = restartProgress(svc, objects, v);
  const report: Partial<ServiceStatus> = {
    ready, endpoints: v.endpoints, units: v.units, ...v.extra,
    ...(v.lastFailover ? { lastFailover: v.lastFailover } : {}),
    restart,
  };
  if (v.optionalNotRunnable) set(v.optionalNotRunnable.condition, 'False', 'NotRunnable', v.optionalNotRunnable.message);
  else conditions = conditions.filter((c) => c.type !== 'ProxySQLReady');

  // What is at fault, in the order a reader should fix it.
  const stuck = ctx.units.find((u) => u.status?.phase === 'NotRunnable' && !v.units.some((r) => r.name === u.metadata.name && (r.role === 'proxysql')));
  const composeFailed = v.compose && (v.compose.status?.phase === 'Failed' || conditionOf(v.compose, 'Ready')?.reason === 'SecretNotFound') ? v.compose : undefined;
  const missing = notApplied(observed);
  const rolling = rollingUnitSet(objects);
  const composeWhy = (o: Obj | undefined) => (o ? conditionOf(o, 'Ready')?.message || str(o.status?.phase) || 'not ready yet' : 'not on the member yet');
  const unready = v.servers.ready < v.servers.total ? v.units.find((u) => !u.ready && u.role !== 'proxysql') : undefined;
  const running = v.ready && !missing && !rolling && !unready;

  if (observed.applyError) {
    const msg = `${observed.applyError.object}: ${observed.applyError.message}`;
    set('Ready', running ? 'True' : 'False', 'ApplyFailed', msg);
    set('Progressing', 'False', 'ApplyFailed', msg);
    set('Degraded', 'True', 'ApplyFailed', msg);
    return out(wasUp ? 'Degraded' : 'Failed', report);
  }
  if (svc.spec.stopped === true) {
    // Stopped on purpose: not a failure, whatever the compose object makes of servers that do not answer.
    const stop = stopProgress(objects);
    const at = missing && !stop.stopped ? `${ref(missing)}: not applied on the member yet` : stop.message;
    set('Ready', 'False', stop.stopped ? 'Stopped' : 'Stopping', at);
    set('Progressing', stop.stopped ? 'False' : 'True', stop.stopped ? 'Stopped' : 'Stopping', at);
    set('Degraded', 'False', 'AsExpected', '');
    return out(stop.stopped ? 'Stopped' : 'Updating', report);
  }
  if (stuck || composeFailed) {
    const at = stuck ? `Unit ${stuck.metadata.name ?? ''}: ${str(rec(stuck.status?.engine).message) || 'its engine cannot run on this cluster'}` : `${ref(composeFailed as Obj)}: ${composeWhy(composeFailed)}`;
    const reason = stuck ? 'UnitNotRunnable' : `${v.composeKind}Failed`;
    set('Ready', 'False', reason, at);
    set('Progressing', 'False', reason, at);
    set('Degraded', 'True', reason, at);
    return out('Failed', report);
  }
  const version = running ? svc.spec.version : prev.version;
  if (restart && (restart.phase === 'Restarting' || restart.phase === 'Waiting') && !missing) {
    const at = restart.current ? `restarting ${restart.current}: ${restart.message ?? ''}` : restart.message ?? 'restarting';
    set('Ready', running ? 'True' : 'False', 'Restarting', at);
    set('Progressing', 'True', 'Restarting', at);
    set('Degraded', 'False', 'AsExpected', '');
    return out('Updating', { ...report, ...(version ? { version } : {}) });
  }
  if (running) {
    // Ready reads as the whole story: what the service runs without is named here too, not only in its own condition.
    const without = v.optionalNotRunnable ? `; ${v.optionalNotRunnable.what} does not run on this cluster (condition ${v.optionalNotRunnable.condition})` : '';
    set('Ready', 'True', 'AllReady', `${ready} servers ready${without}`);
    set('Progressing', 'False', 'Complete', `the member runs generation ${generation ?? 0} of the service`);
    set('Degraded', 'False', 'AsExpected', '');
    return out('Ready', { ...report, ...(version ? { version } : {}) });
  }
  // Not ready: applying, rolling, or something broke while nothing changed.
  const changing = !!missing || !!rolling || prev.observedGeneration !== generation;
  const at = missing ? `${ref(missing)}: not applied on the member yet` : rolling ? `${ref(rolling.us)}: ${rolling.message}`
    : v.ready && unready ? `Unit ${unready.name}: not ready` : `${v.compose ? ref(v.compose) : `${v.composeKind} ${ctx.name}`}: ${composeWhy(v.compose)}`;
  const reason = missing ? 'Applying' : rolling ? 'UnitSetProgressing' : v.ready && unready ? 'UnitNotReady' : `${v.composeKind}NotReady`;
  set('Ready', 'False', reason, at);
  if (!wasUp) {
    set('Progressing', 'True', reason, at);
    set('Degraded', 'False', 'AsExpected', '');
    return out('Creating', { ...report, ...(version ? { version } : {}) });
  }
  if (changing) {
    set('Progressing', 'True', reason, at);
    set('Degraded', 'False', 'AsExpected', '');
    return out('Updating', { ...report, ...(version ? { version } : {}) });
  }
  set('Progressing', 'False', reason, at);
  set('Degraded', 'True', reason, at);
  return out('Degraded', { ...report, ...(version ? { version } : {}) });
};
