// RedisReplication controller. Each pass reads every server (INFO replication) and every Sentinel (SENTINEL MASTER),
// asks the planner (plan.ts) for the next safe steps and takes them, each guarded by what was just read:
//   - record a failover the Sentinels made: spec.source and the replica swap, in one write together with an
//     annotation saying what happened, so status.lastFailover and the event follow even after a crash;
//   - a switchover: every Sentinel stops watching the old source (SENTINEL REMOVE), then FAILOVER TO on it: Redis
//     pauses writes, waits until the new source has its replication offset, demotes itself and promotes the other,
//     or gives up after the catch-up timeout and takes writes again. The operator only watches it finish;
//   - wiring: REPLICAOF the source on every other server (masteruser/masterauth first when the servers have
//     passwords), REPLICAOF NO ONE on isolated ones, and every Sentinel watching the source (MONITOR / SET / RESET);
//   - a failover to a named replica (spec.failover.request, request.ts): the other replicas held at replica-priority
//     0, one Sentinel asked SENTINEL FAILOVER once, the priorities put back once the request is answered;
//   - pod role labels and the readwrite/readonly Services; status with per-node and per-Sentinel health.
// Nothing is written into the servers' config files: the agent renders them from the template, and a server that
// restarts comes back as a master of its own data. What keeps such a former source from taking writes is the
// UnitSet parameter min-replicas-to-write (a master without replicas refuses writes) and this controller, which
// points it at the source as soon as its unit reports it running again.
import { RedisReplicationResource, type RedisReplication } from '../../../lib/api/compose.upm.io.generated.ts';
import type { Unit } from '../../../lib/api/unit.upm.io.generated.ts';
import { setCondition, type Condition } from '../../../lib/conditions.ts';
import type { ReconcileContext, ReconcileResult } from '../../../lib/controller.ts';
import type { EventRecorder } from '../../../lib/events.ts';
import type { Store } from '../../../lib/informer.ts';
import type { KubeClient } from '../../../lib/kube/client.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import { ANNOTATION_SKIP, b64, type Secret } from '../common/context.ts';
import { allStopped, stoppedConditions } from '../common/stopped.ts';
import { duplicateAddress, resolveNode, type NodeRef, type ResolvedNode } from '../common/nodes.ts';
import { ensureRoleServices, labelPods, type Role } from '../common/roles.ts';
import { crashPoint, StepLog } from '../common/steps.ts';
import { describeNodes, describeSentinels } from './describe.ts';
import { errorText, Link, type Credentials } from './link.ts';
import { parseReplication, parseSentinelMaster } from './observe.ts';
import { patchStatus } from '../common/status.ts';
import { MutationCache } from '../../../lib/mutationcache.ts';
import { majorityOf, plan, sentinelsToRemove, type NodeState, type Plan, type SentinelSettings, type SentinelState } from './plan.ts';
import { decideRequest, type Held, type RequestDecision } from './request.ts';
import type { SentinelWatch } from './watch.ts';

export const KIND_LABEL = 'compose.upm.io/redisreplication';
/** What the Sentinels last made happen, written with the spec change that records it (one atomic update). */
export const ANNOTATION_FAILOVER = 'compose.upm.io/last-failover';
export const REDIS_PORT = 6379;
export const SENTINEL_PORT = 26379;

const HEALTH_INTERVAL_MS = 5000;
const RETRY_MS = 1000;
const HANDOVER_POLL_MS = 20;
/** How often a requested failover looks again while the Sentinels read priorities or fail over (their events wake it too). */
const REQUEST_POLL_MS = 250;
/** How long past the Sentinels' failover-timeout a requested failover is waited for before it is given up. */
const REQUEST_GRACE_MS = 15_000;

type Status = NonNullable<RedisReplication['status']>;
type Failover = NonNullable<Status['lastFailover']>;

export interface RedisReplicationDeps {
  client: KubeClient;
  events: EventRecorder;
  replications: Store<RedisReplication>;
  units: Store<Unit>;
  pods: Store<KubeObject>;
  services: Store<KubeObject>;
  secrets: Store<Secret>;
  watch?: SentinelWatch;
}

interface Observed { nodes: NodeState[]; sentinels: SentinelState[]; links: Map<string, Link> }

export function redisReplicationReconciler(d: RedisReplicationDeps) {
  // A pass that follows its own write at once (a handover is polled every few ms) must see that write, or it would
  // repeat an event or a step.
  const cache = new MutationCache(d.replications);
  const remember = (o: RedisReplication | undefined) => { cache.mutated(o); };

  return async function reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    const rr = cache.get(key);
    if (!rr || rr.metadata.deletionTimestamp) { d.watch?.drop(key); cache.forget(key); return undefined; }
    const ns = rr.metadata.namespace ?? '';
    const spec = rr.spec;
    const gen = rr.metadata.generation;
    let conditions = rr.status?.conditions as Condition[] | undefined;
    const status: Status = { ...(rr.status ?? {}), observedGeneration: gen };
    const fail = async (reason: string, message: string): Promise<ReconcileResult> => {
      conditions = setCondition(conditions, { type: 'TopologyReady', status: 'False', reason, message, observedGeneration: gen });
      if (rr.status?.conditions?.find((c) => c.type === 'TopologyReady')?.message !== message) await d.events.record(rr, 'Warning', reason, message);
      remember(await writeStatus(d, rr, { ...status, ready: false, phase: 'Failed', conditions }));
      return undefined;
    };

    // Inputs that need the world: Secrets, node addresses.
    const secret = d.secrets.get(`${ns}/${spec.secretName}`);
    if (!secret) return fail('SecretNotFound', `spec.secretName: Secret "${spec.secretName}" not found in ${ns}`);
    const admin: Credentials = { username: b64(secret.data?.['admin-username']), password: b64(secret.data?.['admin-password']) };
    const repl: Credentials = { username: b64(secret.data?.['replication-username']), password: b64(secret.data?.['replication-password']) };
    let sentinelCred: Credentials = {};
    if (spec.sentinel) {
      const name = spec.sentinel.secretName ?? spec.secretName;
      const s = d.secrets.get(`${ns}/${name}`);
      if (!s) return fail('SecretNotFound', `spec.sentinel.secretName: Secret "${name}" not found in ${ns}`);
      sentinelCred = { password: b64(s.data?.['admin-password']) };
    }
    const refs: NodeRef[] = [spec.source, ...(spec.replicas ?? [])];
    const nodes = refs.map((r) => resolveNode(r, ns, d.units, REDIS_PORT));
    const sentinelNodes = (spec.sentinel?.nodes ?? []).map((r) => resolveNode(r, ns, d.units, SENTINEL_PORT));
    const dup = duplicateAddress([...nodes, ...sentinelNodes]);
    if (dup) return fail('DuplicateNode', `${sentinelNodes.some((s) => dup.includes(s.name)) ? 'spec.sentinel.nodes' : 'spec.replicas'}: ${dup}`);
    if (allStopped(refs.map((r) => r.unit), ns, d.units)) {
      // Stopped on purpose: hold still (no failover, no Sentinel wiring) until the servers start again.
      d.watch?.drop(key);
      const topology = Object.fromEntries(Object.entries(status.topology ?? {}).map(([n, t]) => [n, { ...t, ready: false }]));
      if (rr.status?.phase !== 'Stopped') await d.events.record(rr, 'Normal', 'Stopped', `all ${refs.length} servers are stopped on purpose; holding still until they start`);
      remember(await writeStatus(d, rr, { ...status, topology, ready: false, phase: 'Stopped', conditions: stoppedConditions(conditions, refs.length, gen) }));
      return undefined;
    }
    const aliases = (n: ResolvedNode) => aliasesOf(n, ns, d.pods);

    const settings: SentinelSettings | undefined = spec.sentinel ? {
      quorum: spec.sentinel.quorum ?? majorityOf(spec.sentinel.nodes.length),
      downAfterMs: spec.sentinel.downAfterMilliseconds ?? 5000,
      failoverTimeoutMs: spec.sentinel.failoverTimeoutMilliseconds ?? 60_000,
      parallelSyncs: spec.sentinel.parallelSyncs ?? 1,
    } : undefined;
    const masterName = spec.sentinel?.masterName ?? rr.metadata.name ?? '';
    const skip = rr.metadata.annotations?.[ANNOTATION_SKIP] === 'true';
    const steps = new StepLog(d.events, rr);
    const observe = () => observeAll(nodes, sentinelNodes, aliases, admin, sentinelCred, masterName);

    let seen = await observe();
    try {
      if (spec.sentinel) {
        d.watch?.ensure(key, sentinelNodes.map((n) => ({
          ep: { host: n.host, port: n.port },
          ...(seen.links.get(`sentinel/${n.name}`)?.authenticated ? { password: sentinelCred.password ?? '' } : {}),
        })));
      } else {
        d.watch?.drop(key);
      }
      // A failover recorded in the spec (with its note) shows in status and as an event once.
      const lastFailover = failoverFromAnnotation(rr);
      if (lastFailover && Date.parse(lastFailover.time ?? '') > Date.parse(status.lastFailover?.time ?? '1970-01-01T00:00:00Z')) {
        await d.events.record(rr, 'Warning', 'FailedOver', `${lastFailover.to} is the source now (was ${lastFailover.from}): ${lastFailover.reason}`);
        status.lastFailover = lastFailover;
      }
      const input = {
        source: spec.source.name,
        nodes: seen.nodes,
        ...(settings ? { sentinel: { settings, states: seen.sentinels } } : {}),
        ...(rr.status?.source !== undefined ? { lastSource: rr.status.source } : {}),
        ...(status.switchover?.from && status.switchover.to ? {
          switchover: {
            from: status.switchover.from, to: status.switchover.to,
            ...(status.switchover.issuedAt ? { issuedAt: Date.parse(status.switchover.issuedAt) } : {}),
            ...(status.switchover.retryAfter ? { retryAfter: Date.parse(status.switchover.retryAfter) } : {}),
          },
        } : {}),
        now: Date.now(),
      };
      const p = plan(input);
      const t = p.topology;
      const req = spec.failover?.request;
      const decision: RequestDecision = skip ? { kind: 'none' } : decideRequest({
        name: rr.metadata.name ?? '', ...(req ? { request: req } : {}), ...(status.failoverRequest?.id ? { answered: status.failoverRequest.id } : {}),
        ...(status.lastFailover ? { lastFailover: status.lastFailover } : {}), ...(status.requestedFailover ? { held: heldOf(status.requestedFailover) } : {}),
        source: spec.source.name, nodes: seen.nodes, ...(settings ? { sentinels: seen.sentinels } : {}), topology: t, ...(p.active ? { active: p.active } : {}),
        now: input.now, timeoutMs: (settings?.failoverTimeoutMs ?? 60_000) + REQUEST_GRACE_MS,
      });
      let requeueMs = HEALTH_INTERVAL_MS;
      let phase: Status['phase'] = 'Ready';
      let topologyCondition: Condition | undefined;
      const condition = (reason: string, message: string) => { topologyCondition = { type: 'TopologyReady', status: 'False', reason, message, observedGeneration: gen }; };
      let acted = false;

      if (skip) {
        // Observe and report only: no server, Sentinel or spec is changed.
      } else if (t.kind === 'record-failover') {
        const asked = req && status.failoverRequest?.id !== req.id && req.candidate === t.to ? status.requestedFailover?.firedAt ?? '' : undefined;
        remember(await recordFailover(d, rr, seen.nodes, t.from, t.to, asked === undefined ? undefined : { id: req?.id ?? '', fired: asked !== '' }));
        return { requeueAfterMs: 0 };
      } else if (t.kind === 'wait') {
        condition(t.reason, t.message);
        phase = t.phase;
        requeueMs = t.reason === 'SwitchingOver' ? HANDOVER_POLL_MS : t.reason === 'SentinelFailingOver' ? 250 : RETRY_MS;
      } else if (t.kind === 'source-down') {
        condition(t.reason, t.message);
        phase = 'Degraded';
        requeueMs = spec.sentinel ? 500 : RETRY_MS * 2;
      } else if (t.kind === 'promote') {
        await call(seen, t.node, 'REPLICAOF', 'NO', 'ONE');
        await steps.push(`promoted ${t.node}: spec.source names it and no server took writes (${t.from} unreachable)`, 'redis-promoted', 'Promoted');
        status.lastFailover = { time: new Date().toISOString(), from: t.from, to: t.node, by: 'Operator', reason: `spec.source named ${t.node} while no server took writes` };
        acted = true;
        requeueMs = 0;
      } else if (t.kind === 'complete-switchover') {
        // A switchover stopped between demoting the old source and promoting the new one: finish it.
        phase = 'SwitchingOver';
        await call(seen, t.to, 'REPLICAOF', 'NO', 'ONE');
        await steps.push(`switchover ${t.from} -> ${t.to}: ${t.to} promoted, it takes writes (completing an interrupted switchover)`, 'redis-switchover-promoted', 'SwitchingOver');
        // The old source may still be paused: a paused replica does not apply its stream, and loses its partial
        // resync state if its source goes away meanwhile. As a replica it refuses writes anyway.
        await call(seen, t.from, 'CLIENT', 'UNPAUSE');
        acted = true;
        requeueMs = 0;
      } else if (t.kind === 'switchover' && t.step === 'issue') {
        phase = 'SwitchingOver';
        condition('SwitchingOver', t.message);
        const r = await switchOver(d, rr, status, seen, input, t.from, t.to, masterName, spec.switchover?.catchUpTimeoutMilliseconds ?? 5000, steps, remember);
        if (!r.ok) {
          condition('SwitchoverFailed', r.message);
          status.switchover = { ...status.switchover, retryAfter: new Date(Date.now() + (spec.switchover?.retryAfterSeconds ?? 15) * 1000).toISOString() };
          await d.events.record(rr, 'Warning', 'SwitchoverFailed', r.message);
          phase = 'Degraded';
        }
        acted = true;
        requeueMs = r.ok ? 0 : RETRY_MS;
      } else {
        if (t.kind === 'switchover') {
          phase = t.step === 'blocked' ? 'SwitchingOver' : 'Degraded';
          condition(t.step === 'blocked' ? 'SwitchoverBlocked' : 'SwitchoverFailed', t.message);
          requeueMs = t.step === 'blocked' ? RETRY_MS : RETRY_MS * 2;
          if (t.step === 'failed') {
            // The attempt was cut short (an operator died in it): lift a fence it may have left before the Sentinels
            // watch the old source again (a paused server answers them late), as its deadline would.
            if (seen.links.has(`node/${t.from}`)) await call(seen, t.from, 'CLIENT', 'UNPAUSE');
            const retry = Date.now() + (spec.switchover?.retryAfterSeconds ?? 15) * 1000;
            status.switchover = { ...status.switchover, retryAfter: new Date(retry).toISOString() };
            await d.events.record(rr, 'Warning', 'SwitchoverFailed', t.message);
          }
        } else if (status.switchover) {
          const so = status.switchover;
          const offset = seen.nodes.find((n) => n.name === spec.source.name)?.repl?.offset ?? 0;
          if (so.to === spec.source.name) {
            // The old source, a replica now, may still be paused if an operator died before lifting it.
            if (so.from && seen.links.has(`node/${so.from}`)) await call(seen, so.from, 'CLIENT', 'UNPAUSE');
            status.lastSwitchover = { time: new Date().toISOString(), from: so.from ?? '', to: so.to, offset };
            await d.events.record(rr, 'Normal', 'SwitchedOver', `${so.to} takes writes now (was ${so.from}); roles swapped at offset ${offset}`);
          }
          delete status.switchover;
        }
        acted = await converge(seen, p, repl, admin, masterName, settings, steps) || acted;
      }

      if (decision.kind !== 'none') {
        acted = await carryOut(d, rr, status, seen, decision, masterName, steps, remember) || acted;
        if (decision.kind !== 'restore' && decision.kind !== 'answer') {
          phase = 'FailingOver';
          condition('FailoverRequested', decision.message);
        }
        // Priorities of servers that do not answer yet are put back once they do (their unit wakes this).
        const again = decision.kind === 'wait' ? REQUEST_POLL_MS : decision.kind === 'restore' && decision.left ? RETRY_MS * 2 : 0;
        requeueMs = Math.min(requeueMs, again);
      }

      // Observe again after any change, for an honest status; then labels, Services, conditions.
      if (acted) {
        closeAll(seen);
        seen = await observe();
      }
      const fresh = acted ? plan({ ...input, nodes: seen.nodes, ...(settings ? { sentinel: { settings, states: seen.sentinels } } : {}) }) : p;
      const active = seen.nodes.find((n) => n.name === fresh.active);
      const desc = describeNodes(seen.nodes, active, active ?? seen.nodes.find((n) => n.name === spec.source.name), spec.source.name);
      const sdesc = settings ? describeSentinels(seen.sentinels, active, settings, seen.nodes.filter((n) => n.isolated), seen.nodes.filter((n) => !n.isolated && n.reachable && n !== active)) : undefined;
      const roles = new Map<string, Role>();
      for (const [i, n] of nodes.entries()) if (refs[i]?.unit) roles.set(refs[i].unit, desc.roles.get(n.name) ?? 'none');
      const changed = await labelPods(d.client, d.pods, ns, KIND_LABEL, rr.metadata.name ?? '', roles);
      if (changed.length) await steps.push(`labelled ${changed.join(', ')} by role`);
      const svc = await ensureRoleServices(d.client, d.services, rr, KIND_LABEL, { name: 'redis', port: spec.source.port ?? REDIS_PORT },
        spec.service?.type ?? 'ClusterIP', (spec.replicas ?? []).some((r) => !r.isolated));

      const steady = fresh.topology.kind === 'steady' && active?.name === spec.source.name;
      const ready = steady && desc.replicasInSync && (!sdesc || sdesc.ready);
      if (!topologyCondition) {
        if (steady && desc.replicasInSync) {
          const note = skip ? ` (annotation ${ANNOTATION_SKIP}: the operator only observes)` : '';
          topologyCondition = { type: 'TopologyReady', status: 'True', reason: 'Synced', message: `${spec.source.name} takes writes; ${desc.replicasReady} replicas replicate from it${note}`, observedGeneration: gen };
        } else {
          condition('Wiring', desc.problems.join('; ') || 'wiring');
        }
      }
      if (phase === 'Ready' && !ready) phase = desc.problems.some((x) => x.includes('unreachable')) ? 'Degraded' : 'Wiring';
      conditions = setCondition(conditions, topologyCondition as Condition);
      const degraded = [
        ...desc.problems.filter((x) => x.includes('unreachable')),
        ...(sdesc?.problems.filter((x) => x.includes('unreachable')) ?? []),
        ...(fresh.topology.kind === 'source-down' ? [fresh.topology.message] : []),
      ];
      conditions = setCondition(conditions, degraded.length
        ? { type: 'Degraded', status: 'True', reason: fresh.topology.kind === 'source-down' ? 'SourceDown' : 'NodesUnreachable', message: degraded.join('; '), observedGeneration: gen }
        : { type: 'Degraded', status: 'False', reason: 'AsExpected', message: '', observedGeneration: gen });
      if (sdesc) {
        conditions = setCondition(conditions, sdesc.ready
          ? { type: 'SentinelReady', status: 'True', reason: 'Monitoring', message: `${sdesc.sentinelsReady} Sentinels watch ${spec.source.name} as "${masterName}" and know each other`, observedGeneration: gen }
          : { type: 'SentinelReady', status: 'False', reason: 'NotMonitoring', message: sdesc.problems.join('; '), observedGeneration: gen });
      } else {
        conditions = conditions.filter((c) => c.type !== 'SentinelReady');
      }
      const source = fresh.topology.kind === 'wait' ? rr.status?.source ?? '' : active?.name ?? '';
      const next: Status = {
        ...status, ready, phase, source, replicasReady: desc.replicasReady, topology: desc.topology, conditions,
        readwriteService: svc.readwrite, readonlyService: svc.readonly,
        ...(sdesc ? { sentinels: sdesc.sentinels, sentinelsReady: sdesc.sentinelsReady } : {}),
      };
      if (!sdesc) { delete next.sentinels; delete next.sentinelsReady; }
      if (!steady && skip) next.ready = false;
      remember(await writeStatus(d, rr, next));
      ctx.log.debug({ ready, phase, topology: fresh.topology.kind, steps: steps.done.length }, 'reconciled');
      return { requeueAfterMs: ready ? requeueMs : Math.min(requeueMs, RETRY_MS * 2) };
    } finally {
      closeAll(seen);
    }
  };
}

// ---- observation ----

async function observeAll(
  nodes: ResolvedNode[], sentinels: ResolvedNode[], aliases: (n: ResolvedNode) => string[], admin: Credentials, sentinelCred: Credentials, masterName: string,
): Promise<Observed> {
  const links = new Map<string, Link>();
  const states = await Promise.all(nodes.map(async (n): Promise<NodeState> => {
    const base = { name: n.name, host: n.host, port: n.port, aliases: aliases(n), isolated: n.isolated };
    if (!n.host) return { ...base, reachable: false, error: n.problem ?? 'no address' };
    let link: Link | undefined;
    try {
      link = await Link.open({ host: n.host, port: n.port }, admin);
      const repl = parseReplication(await link.text('INFO', 'replication'));
      const cfg = toMap(await link.call('CONFIG', 'GET', 'min-replicas-to-write', 'replica-priority'));
      links.set(`node/${n.name}`, link);
      const priority = cfg.get('replica-priority');
      return { ...base, reachable: true, repl, minReplicasToWrite: Number(cfg.get('min-replicas-to-write') ?? 0), ...(priority === undefined ? {} : { priority: Number(priority) }) };
    } catch (err) {
      link?.close();
      return { ...base, reachable: false, error: errorText(err) };
    }
  }));
  const sstates = await Promise.all(sentinels.map(async (n): Promise<SentinelState> => {
    const base = { name: n.name, host: n.host, port: n.port };
    if (!n.host) return { ...base, reachable: false, error: n.problem ?? 'no address' };
    let link: Link | undefined;
    try {
      link = await Link.open({ host: n.host, port: n.port }, sentinelCred);
      links.set(`sentinel/${n.name}`, link);
      try {
        const master = await link.call('SENTINEL', 'MASTER', masterName);
        const replicas = await link.call('SENTINEL', 'REPLICAS', masterName);
        return { ...base, reachable: true, master: parseSentinelMaster(master as never, replicas as never) };
      } catch (err) {
        if (/no such master/i.test(errorText(err))) return { ...base, reachable: true };
        throw err;
      }
    } catch (err) {
      link?.close();
      links.delete(`sentinel/${n.name}`);
      return { ...base, reachable: false, error: errorText(err) };
    }
  }));
  return { nodes: states, sentinels: sstates, links };
}

function closeAll(o: Observed): void {
  for (const l of o.links.values()) l.close();
  o.links.clear();
}

function toMap(reply: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (Array.isArray(reply)) for (let i = 0; i + 1 < reply.length; i += 2) out.set(String(reply[i]), String(reply[i + 1]));
  return out;
}

async function call(o: Observed, node: string, command: string, ...args: (string | number)[]): Promise<unknown> {
  const link = o.links.get(`node/${node}`);
  if (!link) throw new Error(`${node} is not connected`);
  return link.call(command, ...args);
}

async function sentinelCall(o: Observed, sentinel: string, ...args: (string | number)[]): Promise<unknown> {
  const link = o.links.get(`sentinel/${sentinel}`);
  if (!link) throw new Error(`Sentinel ${sentinel} is not connected`);
  return link.call('SENTINEL', ...args);
}

/** The names a unit's server may be reported by: its address and its pod's DNS names (replica-announce-ip). */
function aliasesOf(n: ResolvedNode, ns: string, pods: Store<KubeObject>): string[] {
  const out = [n.host];
  if (!n.unit) return out;
  const pod = pods.get(`${ns}/${n.unit}`) as (KubeObject & { spec?: { hostname?: string; subdomain?: string } }) | undefined;
  const host = pod?.spec?.hostname ?? n.unit;
  const sub = pod?.spec?.subdomain;
  if (sub) out.push(`${host}.${sub}.${ns}.svc.cluster.local`, `${host}.${sub}.${ns}.svc`, `${host}.${sub}.${ns}`, `${host}.${sub}`);
  return out;
}

// ---- actions ----

/** Every other server replicates from the source, isolated ones from nobody; every Sentinel watches the source. */
async function converge(
  o: Observed, p: Plan, repl: Credentials, admin: Credentials, masterName: string, settings: SentinelSettings | undefined, steps: StepLog,
): Promise<boolean> {
  const active = o.nodes.find((n) => n.name === p.active);
  if (!active) return false;
  const protectedSource = !!o.links.get(`node/${active.name}`)?.authenticated;
  let acted = false;
  for (const w of p.wiring) {
    if (w.do === 'detach') {
      await call(o, w.node, 'REPLICAOF', 'NO', 'ONE');
      await steps.push(`isolated ${w.node}: it replicates from nobody and leaves both Services`, 'redis-isolated');
    } else {
      if (protectedSource) await ensureMasterAuth(o, w.node, repl);
      await call(o, w.node, 'REPLICAOF', active.host, active.port);
      await steps.push(`pointed ${w.node} at ${active.name} (${active.host}:${active.port})`, 'redis-replica-pointed');
    }
    acted = true;
  }
  if (!settings) return acted;
  // The admin account lets the Sentinels into the servers; sent only when the servers ask for a password.
  const auth: (string | number)[] = protectedSource
    ? [...(admin.username && admin.username !== 'default' ? ['auth-user', admin.username] : []), 'auth-pass', admin.password ?? '']
    : [];
  for (const a of p.sentinel) {
    const s = a.sentinel;
    if (a.do === 'remonitor' || a.do === 'remove') {
      await sentinelCall(o, s, 'REMOVE', masterName);
      if (a.do === 'remove') { await steps.push(`Sentinel ${s} stopped watching "${masterName}"`); acted = true; continue; }
    }
    if (a.do === 'monitor' || a.do === 'remonitor') {
      await sentinelCall(o, s, 'MONITOR', masterName, active.host, active.port, settings.quorum);
      await sentinelCall(o, s, 'SET', masterName, 'down-after-milliseconds', settings.downAfterMs, 'failover-timeout', settings.failoverTimeoutMs, 'parallel-syncs', settings.parallelSyncs, ...auth);
      await steps.push(`Sentinel ${s} watches ${active.name} (${active.host}:${active.port}) as "${masterName}", quorum ${settings.quorum}, down after ${settings.downAfterMs} ms`, 'redis-sentinel-monitor');
    } else if (a.do === 'set') {
      await sentinelCall(o, s, 'SET', masterName, ...a.changes.flat(), ...auth);
      await steps.push(`Sentinel ${s}: ${a.changes.map(([k, v]) => `${k} ${v}`).join(', ')} for "${masterName}"`);
    } else if (a.do === 'reset') {
      await sentinelCall(o, s, 'RESET', masterName);
      await steps.push(`Sentinel ${s} forgot the replicas of "${masterName}" it knew (an isolated server was among them)`);
    }
    acted = true;
  }
  return acted;
}

/** A replica of a password-protected source needs masteruser/masterauth; set live only when they differ. */
async function ensureMasterAuth(o: Observed, node: string, repl: Credentials): Promise<void> {
  const cur = toMap(await call(o, node, 'CONFIG', 'GET', 'masteruser', 'masterauth'));
  const user = repl.username ?? '';
  const pass = repl.password ?? '';
  if (cur.get('masteruser') === user && cur.get('masterauth') === pass) return;
  await call(o, node, 'CONFIG', 'SET', 'masteruser', user, 'masterauth', pass);
}

type SwitchResult = { ok: true } | { ok: false; message: string };

/**
 * The switchover itself, in one pass, each step guarding the next:
 *   1. every Sentinel stops watching the old source (none fails over in the middle or pulls the roles back);
 *   2. the attempt is recorded in status (a restarted operator knows it was made and where it stopped);
 *   3. fence: CLIENT PAUSE WRITE on the old source. The pause has a deadline, so an operator that dies here leaves
 *      a source that takes writes again on its own;
 *   4. catch-up: the new source's own replication offset (its INFO, polled every few ms) reaches the old source's,
 *      which no longer moves. Past the timeout the pause is lifted and the attempt reported;
 *   5. the old source becomes a replica of the new one first (fenced for good, no moment with two masters), then
 *      the new one is promoted (REPLICAOF NO ONE), then the pause is lifted: writes that waited fail with READONLY
 *      and clients move to the new source.
 * This waits inside the worker, at most the catch-up timeout, on purpose: spreading the fenced window over several
 * passes would only lengthen it.
 */
async function switchOver(
  d: RedisReplicationDeps, rr: RedisReplication, status: Status, o: Observed, input: Parameters<typeof plan>[0],
  from: string, to: string, masterName: string, timeoutMs: number, steps: StepLog,
  remember: (o: RedisReplication | undefined) => void,
): Promise<SwitchResult> {
  const removals = sentinelsToRemove(input);
  for (const r of removals) await sentinelCall(o, r.sentinel, 'REMOVE', masterName);
  if (removals.length) await steps.push(`switchover ${from} -> ${to}: Sentinels ${removals.map((r) => r.sentinel).join(', ')} stopped watching "${masterName}" until it is done`, 'redis-sentinels-unmonitored', 'SwitchingOver');
  status.switchover = { from, to, issuedAt: new Date().toISOString() };
  remember(await writeStatus(d, rr, { ...status, phase: 'SwitchingOver' }));
  const target = o.nodes.find((n) => n.name === to) as NodeState;
  const pauseMs = timeoutMs + 2000;
  await call(o, from, 'CLIENT', 'PAUSE', pauseMs, 'WRITE');
  const offset = parseReplication(String(await call(o, from, 'INFO', 'replication'))).offset;
  await steps.push(`switchover ${from} -> ${to}: ${from} fenced (writes paused, at most ${pauseMs} ms) at offset ${offset}`, 'redis-switchover-fenced', 'SwitchingOver');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = parseReplication(String(await call(o, to, 'INFO', 'replication')));
    if (r.role === 'slave' && r.offset >= offset) break;
    if (Date.now() > deadline) {
      await call(o, from, 'CLIENT', 'UNPAUSE');
      return { ok: false, message: `spec.source: ${to} reached offset ${r.offset} of ${from}'s ${offset} within ${timeoutMs} ms (spec.switchover.catchUpTimeoutMilliseconds); ${from} takes writes again` };
    }
    await new Promise((res) => setTimeout(res, 2));
  }
  await call(o, from, 'REPLICAOF', target.host, target.port);
  await steps.push(`switchover ${from} -> ${to}: ${to} has ${from}'s offset ${offset}; ${from} is a replica of ${to} now`, 'redis-switchover-demoted', 'SwitchingOver');
  await call(o, to, 'REPLICAOF', 'NO', 'ONE');
  await steps.push(`switchover ${from} -> ${to}: ${to} promoted, it takes writes`, 'redis-switchover-promoted', 'SwitchingOver');
  await call(o, from, 'CLIENT', 'UNPAUSE');
  return { ok: true };
}

/** status.requestedFailover as the decisions take it. */
function heldOf(h: NonNullable<Status['requestedFailover']>): Held {
  return {
    id: h.id ?? '', candidate: h.candidate ?? '', priorities: h.priorities ?? {},
    ...(h.sentinel ? { sentinel: h.sentinel } : {}), ...(h.firedAt ? { firedAt: Date.parse(h.firedAt) } : {}),
  };
}

const heldStatus = (h: Held): Status['requestedFailover'] => ({
  id: h.id, candidate: h.candidate, priorities: h.priorities,
  ...(h.sentinel ? { sentinel: h.sentinel } : {}), ...(h.firedAt !== undefined ? { firedAt: new Date(h.firedAt).toISOString() } : {}),
});

/**
 * One step of a spec.failover.request (request.ts decides which). What a restarted operator must know is written to
 * status before the step is taken: the priorities before they are held, the Sentinel asked before it is asked (so it
 * is never asked twice for one id).
 */
async function carryOut(
  d: RedisReplicationDeps, rr: RedisReplication, status: Status, o: Observed, r: RequestDecision, masterName: string, steps: StepLog,
  remember: (o: RedisReplication | undefined) => void,
): Promise<boolean> {
  const setPriorities = async (set: { node: string; priority: number }[]) => {
    for (const x of set) await call(o, x.node, 'CONFIG', 'SET', 'replica-priority', x.priority);
  };
  switch (r.kind) {
    case 'none': case 'wait': return false;
    case 'answer':
      status.failoverRequest = { id: r.id, outcome: r.outcome, message: r.message, time: new Date().toISOString() };
      await d.events.record(rr, r.outcome === 'Done' ? 'Normal' : 'Warning', r.outcome === 'Done' ? 'FailoverDone' : 'FailoverRefused', `failover request ${r.id}: ${r.message}`);
      return true;
    case 'restore':
      await setPriorities(r.set);
      if (r.left) status.requestedFailover = heldStatus(r.left);
      else delete status.requestedFailover;
      if (r.set.length) await steps.push(`replica-priority put back: ${r.set.map((x) => `${x.node} ${x.priority}`).join(', ')}`, 'redis-priorities-restored');
      return r.set.length > 0;
    case 'hold':
      status.requestedFailover = heldStatus(r.held);
      remember(await writeStatus(d, rr, { ...status, phase: 'FailingOver' }));
      await setPriorities(r.set);
      if (r.set.length) await steps.push(`failover request ${r.held.id}: ${r.message}`, 'redis-priorities-held', 'FailingOver');
      return r.set.length > 0;
    case 'fire': {
      const firedAt = Date.now();
      status.requestedFailover = heldStatus({ ...r.held, sentinel: r.sentinel, firedAt });
      remember(await writeStatus(d, rr, { ...status, phase: 'FailingOver' }));
      crashPoint('redis-failover-request-noted');
      try {
        await sentinelCall(o, r.sentinel, 'FAILOVER', masterName);
      } catch (err) {
        const message = `Sentinel ${r.sentinel} refused SENTINEL FAILOVER to ${r.held.candidate}: ${errorText(err)}`;
        status.failoverRequest = { id: r.held.id, outcome: 'Refused', message, time: new Date().toISOString() };
        await d.events.record(rr, 'Warning', 'FailoverRefused', `failover request ${r.held.id}: ${message}`);
        return true;
      }
      await steps.push(`failover request ${r.held.id}: ${r.message}`, 'redis-failover-requested', 'FailingOver');
      return true;
    }
  }
}

/** Makes the node Sentinel promoted spec.source and the former source a replica, with a note of what happened. */
async function recordFailover(
  d: RedisReplicationDeps, rr: RedisReplication, nodes: NodeState[], from: string, to: string, request?: { id: string; fired: boolean },
): Promise<RedisReplication | undefined> {
  const spec = rr.spec;
  const promoted = (spec.replicas ?? []).find((r) => r.name === to);
  if (!promoted) return undefined;
  const { isolated: _i, ...sourceRef } = promoted;
  const replicas = [...(spec.replicas ?? []).filter((r) => r.name !== to), { ...spec.source }];
  const old = nodes.find((n) => n.name === from);
  const why = old?.reachable ? `${from} answered the operator but not them` : `${from} unreachable`;
  const note: Failover = {
    time: new Date().toISOString(), from, to, by: 'Sentinel',
    reason: request?.fired ? `failover requested (${request.id}): the Sentinels were asked to promote ${to} (${why})` : `a majority of the Sentinels elected ${to} (${why})`,
    ...(request ? { request: request.id } : {}),
  };
  const updated = await d.client.patch<RedisReplication>(RedisReplicationResource, rr.metadata.name ?? '', {
    metadata: { annotations: { [ANNOTATION_FAILOVER]: JSON.stringify(note) } },
    spec: { source: sourceRef, replicas },
  }, 'merge', { namespace: rr.metadata.namespace });
  crashPoint('redis-failover-recorded');
  return updated;
}

function failoverFromAnnotation(rr: RedisReplication): Failover | undefined {
  const raw = rr.metadata.annotations?.[ANNOTATION_FAILOVER];
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as Failover;
    return typeof v.to === 'string' && typeof v.from === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Writes status when it changed; fields it no longer has are removed (a merge patch keeps what it does not name). */
function writeStatus(d: RedisReplicationDeps, rr: RedisReplication, status: Status): Promise<RedisReplication | undefined> {
  return patchStatus(d.client, RedisReplicationResource, rr, status);
}
