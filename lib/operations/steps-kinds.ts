// Step lists and checks that differ by service kind: the switchover of a RedisService (through the member's
// RedisReplication spec.source, as the MySQL one goes through the MysqlReplication), and when a Scale is over for each
// kind (a Redis Cluster only once its slots are settled, not when its servers are ready). Data and pure checks, as in
// steps.ts.
import { parseQuantity } from '../quantity.ts';
import { notYet, ok, refuse } from './checks.ts';
import { KINDS } from './kinds.ts';
import { candidateOf, checkStep, instant, MIN, waitStep, type StepDef } from './steps.ts';
import type { Check, Operation, ServiceUnit, World } from './types.ts';

export const SLOTS = 16384;
/** Units that are not servers of the data (they take no part in a size): Sentinels, ProxySQL. */
const SIDE_ROLES: ReadonlySet<string> = new Set(['sentinel', 'proxysql']);

/** The data servers of the service as the hub reports them, the side units left out. */
export const dataServers = (w: World): ServiceUnit[] => (w.service?.status?.units ?? []).filter((u) => !SIDE_ROLES.has(u.role ?? ''));

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** A Scale is over: every server of the new size ready, and for a Redis Cluster every slot assigned, none moving, no node leaving. */
export function scaleSettled(op: Operation, w: World): Check {
  const k = KINDS[op.spec.target.kind];
  const s = op.spec.scale ?? {};
  const st = w.service?.status ?? {};
  const spec = w.service?.spec ?? {};
  const servers = dataServers(w);
  const ready = servers.filter((u) => u.ready).length;
  if (op.spec.target.kind === 'RedisClusterService' && k?.shards) {
    const shards = s.shards ?? k.shards.default(spec);
    const total = shards * (1 + (s.replicas ?? k.replicas.default(spec)));
    const assigned = num(st.slotsAssigned) ?? 0;
    if (assigned !== SLOTS) return notYet(`${assigned} of ${SLOTS} slots assigned`);
    if (typeof st.reshard === 'string' && st.reshard) return notYet(`slots moving: ${st.reshard}`);
    if ((num(st.leavingNodes) ?? 0) > 0) return notYet(`${String(st.leavingNodes)} nodes still leaving the cluster`);
    if (num(st.shards) !== shards) return notYet(`${num(st.shards) ?? 0} of ${shards} shards hold slots`);
    if (servers.length !== total) return notYet(`${servers.length} servers run, ${total} wanted`);
    if (ready !== total) return notYet(`${ready} of ${total} servers ready`);
    return ok(`${shards} shards hold all ${SLOTS} slots, none moving; ${total} servers ready`);
  }
  if (s.storage?.size !== undefined) {
    const grown = storageGrown(servers, s.storage.size);
    if (!grown.ok) return grown;
  }
  if (s.replicas === undefined) return ok('');
  return servers.length === s.replicas && ready === s.replicas ? ok(`${s.replicas} ${k?.replicas.noun ?? 'servers'} ready`) : notYet(`${ready} of ${s.replicas} ${k?.replicas.noun ?? 'servers'} ready`);
}

/** Every data server's volume reports at least the new size (its claim grown by the member's provisioner, not only asked). */
function storageGrown(servers: ServiceUnit[], size: string | number): Check {
  const want = parseQuantity(size);
  const short = servers.filter((u) => { const have = parseQuantity(u.storage); return want === undefined || have === undefined || have < want; });
  if (short.length) return notYet(`volumes not grown to ${String(size)} yet: ${short.map((u) => `${u.name} ${u.storage ?? '?'}`).join(', ')}`);
  return ok(`every volume has ${String(size)}`);
}

// ---- Switchover (Redis with or without Sentinel) ---------------------------------------------------------------

type Topology = Record<string, { lagBytes?: number; role?: string }>;
const composeTopology = (w: World): Topology | undefined => w.compose?.status?.topology as Topology | undefined;
const composeSource = (w: World): string => String((w.compose?.spec?.source as { unit?: string } | undefined)?.unit ?? '');
/** The replica's lag behind the master as the member's RedisReplication reports it, when it was read. */
const lagOf = (w: World, unit: string): string => { const l = composeTopology(w)?.[unit]?.lagBytes; return l === undefined ? '' : `, lag ${l} bytes`; };

/** The others as the hub's mirror derives them (desired/common.ts replicationMembers): every server "<name>-<n>" but the source, by ordinal. */
export function replicasBut(name: string, source: string, units: ServiceUnit[]): string[] {
  return units.map((u) => u.name).filter((u) => u !== source && new RegExp(`^${name}-\\d+$`).test(u)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

export function redisSwitchoverSteps(op: Operation): StepDef[] {
  const name = op.spec.target.name;
  return [
    checkStep('the service is Ready and the candidate is a replica in sync with the master', (o, w) => {
      const c = candidateOf(o, w);
      const field = o.spec.switchover?.candidate ? 'spec.switchover.candidate' : 'spec.type';
      if (!c) return [refuse(`${field}: service ${name} has no replica in sync to hand over to`)];
      const u = dataServers(w).find((x) => x.name === c);
      if (!u) return [refuse(`${field}: ${c} is not a Redis server of service ${name}`)];
      if (u.role === 'source') return [refuse(`${field}: ${c} already takes the writes`)];
      // A replica the member does not count as in sync (link down, not replicating the master) would lose writes.
      if (u.role !== 'replica' || !u.ready) return [refuse(`${field}: ${c} is not a replica in sync with the master (${u.role ?? 'no role'}, ${u.ready ? 'ready' : 'not ready'})`)];
      return [ok(`candidate ${c} in sync: yes${lagOf(w, c)}`)];
    }),
    {
      name: 'switch-source',
      description: 'name the candidate as the source of the member\'s RedisReplication (the Compose Operator has every Sentinel stop watching, pauses writes on the master, waits for the candidate to reach its offset, swaps the roles, and has the Sentinels watch the new master)',
      timeoutSeconds: 2 * MIN,
      effect: (o, w) => {
        const c = candidateOf(o, w) ?? '';
        const replicas = replicasBut(name, c, dataServers(w));
        return { on: 'compose', kind: 'RedisReplication', name, patch: { spec: { source: { name: c, unit: c }, replicas: replicas.map((u) => ({ name: u, unit: u })) } }, what: `RedisReplication ${name} spec.source = ${c}` };
      },
      // The member's object when it was read, else what the hub last saw of it.
      applied: (o, w) => (w.compose ? composeSource(w) : String(w.service?.status?.master ?? '')) === candidateOf(o, w),
      done: instant,
    },
    waitStep('wait-source', 'wait until the Compose Operator reports the candidate as the master, its replicas in sync and every Sentinel watching it', 5 * MIN, (o, w) => {
      const c = candidateOf(o, w);
      return w.service?.status?.master === c ? ok(`${c ?? ''} takes the writes`) : notYet(`the master is still ${String(w.service?.status?.master ?? '?')}`);
    }),
  ];
}
