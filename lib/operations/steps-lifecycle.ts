// Stop, Start and Restart as step lists. Each works through the hub service's spec (spec.stopped, spec.restart),
// which the services controller passes into every UnitSet of the service (the Unit Operator stops the engines in
// place, or restarts them one at a time in the order given) or, for the kinds that restart their servers in their
// own order (ZooKeeper, Kafka, OpenSearch/Elasticsearch), into the compose object's restartedAt (ZooKeeper and Kafka
// take some servers too, as restartUnits, still in their own order among them). The hub service's
// status says when the member did it (phase Stopped; status.restart with the request's id Complete).
import { all, basics, clusterReady, notYet, ok, refuse, serviceFound } from './checks.ts';
import type { StepDef } from './steps.ts';
import type { Check, Operation, ServiceUnit, World } from './types.ts';

const MIN = 60;
const instant = (): Check => ok('done');

/** The kinds whose compose object restarts the servers itself, in the engine's order (spec.restart.order unused). */
export const COMPOSE_RESTARTS: ReadonlySet<string> = new Set(['ZookeeperService', 'KafkaService', 'ElasticsearchService']);
/** Of those, the kinds whose compose object restarts every server or none (spec.restart.servers is refused). */
const ALL_OR_NONE: ReadonlySet<string> = new Set(['ElasticsearchService']);
/** What goes last in a kind's own order. */
const OWN_LAST: Record<string, string> = { KafkaService: 'the active controller last', ZookeeperService: 'the leader last', ElasticsearchService: 'the elected cluster manager last' };
/**
 * The kinds the hub can stop. Every engine stops at once (the Unit Operator's UnitSet spec.stopped); the compose
 * objects hold still meanwhile, and an ElasticsearchCluster pauses replica allocation and flushes before its nodes go.
 */
export const STOPPABLE: ReadonlySet<string> = new Set(['MysqlService', 'RedisService', 'RedisClusterService', 'ZookeeperService', 'KafkaService', 'ElasticsearchService']);

const byOrdinal = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

/** The data servers of the service (not ProxySQL's nor Sentinel's: those are not ordered by role). */
function dataServers(op: Operation, w: World): ServiceUnit[] {
  const re = new RegExp(`^${op.spec.target.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d+|[a-z]+-\\d+)$`);
  return (w.service?.status?.units ?? []).filter((u) => re.test(u.name) && u.role !== 'proxysql' && u.role !== 'sentinel');
}

/** Whether a server must go last: the one taking writes, leading, or deciding for the others. */
function last(kind: string, u: ServiceUnit): boolean {
  const roles = (u.role ?? '').split(',');
  switch (kind) {
    case 'MysqlService': case 'RedisService': return roles.includes('source');
    case 'RedisClusterService': return roles.includes('master');
    case 'ZookeeperService': return roles.includes('leader');
    case 'KafkaService': return roles.includes('active-controller');
    case 'ElasticsearchService': return roles.includes('elected');
    default: return false;
  }
}

/**
 * The order the servers restart in: the others first (by ordinal), then those that must go last (the source, the
 * masters, the leader, the active controller, the elected cluster manager).
 */
export function restartOrder(op: Operation, w: World): string[] {
  const servers = dataServers(op, w);
  const kind = op.spec.target.kind;
  const first = servers.filter((u) => !last(kind, u)).map((u) => u.name).sort(byOrdinal);
  const after = servers.filter((u) => last(kind, u)).map((u) => u.name).sort(byOrdinal);
  return [...first, ...after];
}

interface RestartSpec { id?: string; order?: string[]; servers?: string[] }
const written = (op: Operation, w: World): RestartSpec | undefined => {
  const r = w.service?.spec.restart as RestartSpec | undefined;
  return r?.id === restartId(op) ? r : undefined;
};

/**
 * The servers a Restart takes when it names only some (spec.restart.servers narrower than all data servers); undefined
 * when it takes every server. Once written, the service's record says it, so a later change of the servers' roles or
 * count does not move it.
 */
export function someServers(op: Operation, w: World): string[] | undefined {
  const w0 = written(op, w);
  if (w0) return w0.servers?.length ? w0.servers : undefined;
  const asked = op.spec.restart?.servers;
  if (!asked?.length) return undefined;
  const have = dataServers(op, w).map((u) => u.name);
  return have.every((s) => asked.includes(s)) ? undefined : [...asked].sort(byOrdinal);
}

/** The order an Operation recorded when it wrote its request, else the one computed now (of the servers it takes). */
const orderOf = (op: Operation, w: World): string[] => {
  const w0 = written(op, w);
  if (w0?.order?.length) return w0.order;
  const some = someServers(op, w);
  return restartOrder(op, w).filter((s) => !some || some.includes(s));
};

export const restartId = (op: Operation): string => op.metadata.uid ?? op.metadata.name ?? '';

interface RestartView { id?: string; phase?: string; current?: string; done?: string[]; message?: string }
const restartStatus = (w: World): RestartView => (w.service?.status?.restart ?? {}) as RestartView;

/** spec.restart.servers: data servers of the service; all of them, or some (the member then restarts only those). */
function serversCheck(op: Operation, w: World): Check[] {
  const asked = op.spec.restart?.servers;
  if (!asked?.length) return [];
  const have = dataServers(op, w).map((u) => u.name);
  const unknown = asked.map((s, i) => [s, i] as const).filter(([s]) => !have.includes(s));
  if (unknown.length) return unknown.map(([s, i]) => refuse(`spec.restart.servers[${i}]: ${s} is not a server of ${op.spec.target.kind} ${op.spec.target.name}`));
  const left = have.filter((s) => !asked.includes(s));
  return [ok(left.length ? `servers: ${asked.length} of ${have.length} (${left.join(', ')} left alone)` : `servers: all ${have.length}`)];
}

function notStopped(op: Operation, w: World): Check {
  return w.service?.spec.stopped === true || w.service?.status?.phase === 'Stopped' ? refuse(`spec.type: service ${op.spec.target.name} is stopped; start it first`) : ok(`service ${op.spec.target.name}: running`);
}

// ---- Restart ----------------------------------------------------------------------------------------------------

export function restartSteps(op: Operation, w: World): StepDef[] {
  const kind = op.spec.target.kind;
  const own = COMPOSE_RESTARTS.has(kind);
  const order = w.service ? orderOf(op, w) : [];
  const said = order.length ? order.join(', ') : 'the servers';
  const some = w.service && !ALL_OR_NONE.has(kind) ? someServers(op, w) : undefined;
  const which = some ? `only ${some.join(', ')} (the others are left alone)` : 'every server';
  const ownWhich = some ? `only ${some.join(', ')} once in the engine's order among them (${said}: ${OWN_LAST[kind] ?? ''} if among them; the others are left alone)` : `every server once in the engine's order (${said}: ${OWN_LAST[kind] ?? ''})`;
  return [
    {
      name: 'check', description: `the service is Ready and running, its cluster answers; the restart order: ${said}`, timeoutSeconds: 10 * MIN,
      precondition: (o, world) => {
        if (world.service && restartStatus(world).id === restartId(o)) return all(serviceFound(o, world), clusterReady(world)); // resumed after writing it
        return all(...basics(o, world), ...(world.service ? [notStopped(o, world), ...(ALL_OR_NONE.has(kind) && o.spec.restart?.servers?.length ? [refuse('spec.restart.servers: an OpenSearch/Elasticsearch service restarts every server in its own order')] : serversCheck(o, world)), ok(`order: ${orderOf(o, world).join(', ')}`)] : []));
      },
      done: instant,
    },
    {
      name: 'request-restart',
      description: own ? `ask the member to restart ${ownWhich}` : `ask the member to restart ${which} once, one at a time, in the order ${said}`,
      timeoutSeconds: 2 * MIN,
      effect: (o, world) => {
        const ord = orderOf(o, world);
        const only = ALL_OR_NONE.has(kind) ? undefined : someServers(o, world);
        return {
          on: 'service', patch: { restart: { id: restartId(o), order: own ? null : ord, ...(ALL_OR_NONE.has(kind) ? {} : { servers: only ?? null }) } },
          what: `spec.restart = {id: ${restartId(o)}${own ? '' : `, order: ${ord.join(', ')}`}${only ? `, servers: ${only.join(', ')}` : ''}}`,
        };
      },
      applied: (o, world) => (world.service?.spec.restart as { id?: string } | undefined)?.id === restartId(o),
      done: instant,
    },
    {
      name: 'wait-restarted', description: `wait until ${some ? `${said} ${some.length === 1 ? 'was' : 'were'}` : 'every server was'} restarted once${some ? '' : ` (${said})`} and the service is Ready`, timeoutSeconds: 30 * MIN,
      done: (o, world) => {
        const r = restartStatus(world);
        if (r.id !== restartId(o)) return notYet('the member has not taken the request yet');
        if (r.phase === 'Invalid') return refuse(`the member refused the restart: ${r.message ?? ''}`);
        if (r.phase !== 'Complete') return notYet(`${r.current ? `restarting ${r.current}` : r.phase ?? 'waiting'}${r.done?.length ? `; done: ${r.done.join(', ')}` : ''}${r.message ? ` (${r.message})` : ''}`);
        const st = world.service?.status;
        if (st?.phase !== 'Ready' || (st.observedGeneration ?? 0) < (world.service?.metadata.generation ?? 0)) return notYet(`restarted ${r.done?.join(', ') ?? 'every server'}; the service is ${st?.phase ?? '?'}`);
        return ok(`restarted ${r.done?.length ? r.done.join(', ') : 'every server'}; the service is Ready`);
      },
    },
  ];
}

// ---- Stop and Start ---------------------------------------------------------------------------------------------

const stoppable = (op: Operation): Check[] => (STOPPABLE.has(op.spec.target.kind) ? [] : [refuse(`spec.type: Stop of a ${op.spec.target.kind} is not supported yet: its compose object has no stop`)]);

export function stopSteps(): StepDef[] {
  return [
    {
      name: 'check', description: 'the service exists and its cluster answers (a stopped service stays stopped)', timeoutSeconds: 10 * MIN,
      precondition: (o, w) => all(serviceFound(o, w), clusterReady(w), ...stoppable(o)),
      done: instant,
    },
    {
      name: 'stop-servers', description: 'set spec.stopped: every engine stops in place (the pods, volumes and data stay)', timeoutSeconds: 2 * MIN,
      effect: () => ({ on: 'service', patch: { stopped: true }, what: 'spec.stopped = true' }),
      applied: (_o, w) => w.service?.spec.stopped === true,
      done: instant,
    },
    {
      name: 'wait-stopped', description: 'wait until every engine reports stopped (service phase Stopped)', timeoutSeconds: 10 * MIN,
      done: (_o, w) => {
        const st = w.service?.status;
        if (st?.phase === 'Stopped' && (st.observedGeneration ?? 0) >= (w.service?.metadata.generation ?? 0)) return ok('every engine is stopped');
        return notYet(`${st?.phase ?? 'no status'}: ${st?.conditions?.find((c) => c.type === 'Ready')?.message ?? ''}`);
      },
    },
  ];
}

export function startSteps(): StepDef[] {
  return [
    {
      name: 'check', description: 'the service is stopped and its cluster answers', timeoutSeconds: 10 * MIN,
      precondition: (o, w) => all(serviceFound(o, w), clusterReady(w), ...(w.service && w.service.spec.stopped !== true && w.service.status?.phase !== 'Stopped' ? [refuse(`spec.type: service ${o.spec.target.name} is not stopped`)] : [ok(`service ${o.spec.target.name}: stopped`)])),
      done: instant,
    },
    {
      name: 'start-servers', description: 'clear spec.stopped: every engine starts again on its data', timeoutSeconds: 2 * MIN,
      effect: () => ({ on: 'service', patch: { stopped: false }, what: 'spec.stopped = false' }),
      applied: (_o, w) => w.service?.spec.stopped !== true,
      done: instant,
    },
    {
      name: 'wait-ready', description: 'wait until every server is ready', timeoutSeconds: 30 * MIN,
      done: (o, w) => {
        const st = w.service?.status;
        if (st?.phase === 'Ready' && (st.observedGeneration ?? 0) >= (w.service?.metadata.generation ?? 0)) return ok(`service ${o.spec.target.name}: Ready (${st.ready ?? ''})`);
        return notYet(`service ${o.spec.target.name}: ${st?.phase ?? 'no status'}${st?.ready ? ` (${st.ready})` : ''}`);
      },
    },
  ];
}
