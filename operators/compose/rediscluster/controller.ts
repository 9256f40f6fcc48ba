// RedisCluster controller. Each pass reads every node (CLUSTER NODES and a little INFO), asks plan.nextStep for the
// one next safe step toward the spec, carries it out, and records status and an Event. While work remains it comes
// back at once; while gossip has not converged, shortly; once settled, at a health-polling interval. The cluster
// itself is the record of progress (slot owners, IMPORTING/MIGRATING marks, node ids), so a pass killed anywhere is
// finished by the next one, which reads the same state again. The one step whose effect is not visible at once, a
// CLUSTER FAILOVER that hands a shard back to its first member, is written to status before it is asked for.
//
// Failover is Redis Cluster's own: when a master fails, its replica is promoted by the other masters' vote. The
// operator records that (status.masters, status.lastFailover, a Warning event) and, once the former master is a
// caught-up replica again, asks it to take the shard back (CLUSTER FAILOVER: the master pauses writes, the replica
// reaches its exact offset, then switches; nothing acknowledged is lost). The spec names each shard's master so that
// masters stay where their author placed them (spread over hosts and zones); failures would otherwise pile masters
// up on whichever nodes happened to survive. spec.failback: false keeps whichever member Redis promoted.
import type { RedisCluster, RedisClusterStatus } from '../../../lib/api/compose.upm.io.generated.ts';
import { RedisClusterResource } from '../../../lib/api/compose.upm.io.generated.ts';
import type { Unit } from '../../../lib/api/unit.upm.io.generated.ts';
import { setCondition, type Condition } from '../../../lib/conditions.ts';
import type { ReconcileContext, ReconcileResult } from '../../../lib/controller.ts';
import type { EventRecorder } from '../../../lib/events.ts';
import type { Store } from '../../../lib/informer.ts';
import type { KubeClient } from '../../../lib/kube/client.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import { ANNOTATION_SKIP, b64, type Secret } from '../common/context.ts';
import { resolveNode } from '../common/nodes.ts';
import { Sessions } from '../common/sessions.ts';
import { patchStatus } from '../common/status.ts';
import { MutationCache } from '../../../lib/mutationcache.ts';
import { ensureRoleServices, labelPods, LABEL_ROLE, type Role } from '../common/roles.ts';
import { ClusterAdmin, describeSlots } from './admin.ts';
import { done, nextStep, type ClusterSpec, type Observation, type Step } from './plan.ts';
import { describeCluster, type ClusterDescription, type ResolvedMember } from './status.ts';

export const KIND_LABEL = 'compose.upm.io/rediscluster';
const REDIS_PORT = 6379;
const HEALTH_INTERVAL_MS = 10_000;
const AGREEMENT_RETRY_MS = 200;
const DEGRADED_RETRY_MS = 2000;
/** Settled but not healthy yet (replicas syncing, a flag clearing): soon. */
const SETTLING_RETRY_MS = 500;
/** A requested CLUSTER FAILOVER finishes or gives up within Redis' manual-failover timeout (5 s); not asked again before this. */
const FAILBACK_GRACE_MS = 10_000;

type Status = RedisClusterStatus;
type Pod = KubeObject & { spec?: { nodeName?: string } };
type Phase = NonNullable<Status['phase']>;

export interface RedisClusterDeps {
  client: KubeClient;
  events: EventRecorder;
  clusters: Store<RedisCluster>;
  units: Store<Unit>;
  pods: Store<KubeObject>;
  services: Store<KubeObject>;
  secrets: Store<Secret>;
}

type Action = Exclude<Step, { kind: 'done' | 'waitForAgreement' | 'blocked' }>;

const EVENT_REASON: Record<Action['kind'], string> = {
  configure: 'Configured',
  meet: 'MeetingNodes',
  replicate: 'Replicating',
  addSlots: 'AssignedSlots',
  migrateSlots: 'MigratedSlots',
  fixOpenSlots: 'ResumedMigration',
  forget: 'ForgotNode',
  failover: 'FailingBack',
};

export function redisClusterReconciler(d: RedisClusterDeps) {
  const sessions = new Sessions<ClusterAdmin>();
  const placementWarned = new Map<string, string>();
  // The object as this controller last wrote it: a pass that comes right after a write may see a cache that has not
  // caught up yet, and must not act on a status (a requested failback, reshard counters) older than its own.
  // Read-your-own-writes: a pass right after this controller's own status write must see it.
  const cache = new MutationCache(d.clusters);

  const sessionFor = (key: string, username: string, password: string): Promise<ClusterAdmin> => sessions.get(key, `${username}\u0000${password}`, () => new ClusterAdmin({ username, password }));
  const drop = async (key: string): Promise<void> => {
    placementWarned.delete(key);
    cache.forget(key);
    await sessions.drop(key);
  };

  async function reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    const rc = cache.get(key);
    if (!rc || rc.metadata.deletionTimestamp) { await drop(key); return; }
    let current = rc;
    const save = async (st: Status) => { current = await writeStatus(d, current, st); cache.mutated(current); };
    const ns = rc.metadata.namespace ?? '';
    const spec = rc.spec;
    const gen = rc.metadata.generation;
    const prev: Status = rc.status ?? {};
    const status: Status = { ...prev, observedGeneration: gen };
    let conditions = prev.conditions as Condition[] | undefined;
    const condition = (type: string, ok: boolean, reason: string, message: string) => {
      conditions = setCondition(conditions, { type, status: ok ? 'True' : 'False', reason, message, observedGeneration: gen });
    };
    const warnOnce = async (reason: string, message: string) => {
      const was = prev.conditions?.find((c) => c.type === 'TopologyReady');
      if (was?.reason !== reason || was.message !== message) await d.events.record(rc, 'Warning', reason, message);
    };

    // Credentials: the admin account of the units (the template names it "default").
    const secret = d.secrets.get(`${ns}/${spec.secretName}`);
    const password = b64(secret?.data?.['admin-password']);
    if (!secret || !password) {
      const message = !secret ? `spec.secretName: Secret "${spec.secretName}" not found in ${ns}` : `spec.secretName: Secret "${spec.secretName}" has no admin-password`;
      const reason = !secret ? 'SecretNotFound' : 'SecretIncomplete';
      await warnOnce(reason, message);
      condition('TopologyReady', false, reason, message);
      await save({ ...status, ready: false, phase: 'Failed', conditions });
      return { requeueAfterMs: HEALTH_INTERVAL_MS };
    }
    const username = b64(secret.data?.['admin-username']) || 'default';

    // Members: a unit's address is its pod's; a unit without one is reported, not guessed.
    const members: ResolvedMember[] = spec.shards.flatMap((shard, si) => shard.members.map((m, mi) => {
      const r = resolveNode(m, ns, d.units, REDIS_PORT);
      const field = `spec.shards[${si}].members[${mi}]`;
      const node = m.unit ? (d.pods.get(`${ns}/${m.unit}`) as Pod | undefined)?.spec?.nodeName : undefined;
      return { name: m.name, shard: shard.name, field, ...(m.unit ? { unit: m.unit } : {}), ...(node ? { node } : {}), host: r.host, port: r.port, ...(r.problem ? { problem: r.problem } : {}) };
    }));
    // A replica on its master's Kubernetes node does not survive that node: said (once per placement), not refused.
    const crowded = members.flatMap((m) => {
      const first = members.find((x) => x.shard === m.shard);
      return first && first !== m && m.node && m.node === first.node ? [`${m.field} (${m.name}) runs on node ${m.node}, as its shard's master ${first.name} does: losing that node loses shard ${m.shard}`] : [];
    });
    if (crowded.join() !== placementWarned.get(key)) {
      placementWarned.set(key, crowded.join());
      for (const w of crowded) await d.events.record(rc, 'Warning', 'ReplicaOnMastersNode', w);
    }
    const unresolved = members.filter((m) => m.problem);
    const clusterSpec: ClusterSpec = {
      shards: spec.shards.map((shard) => ({ name: shard.name, members: members.filter((m) => m.shard === shard.name && !m.problem).map((m) => ({ name: m.name, host: m.host, port: m.port })) })).filter((s) => s.members.length),
    };

    const admin = await sessionFor(key, username, password);
    const t0 = performance.now();
    const observed: Observation = clusterSpec.shards.length ? await admin.observe(clusterSpec) : { views: [] };
    let step: Step = unresolved.length
      ? { kind: 'blocked', reason: unresolved.map((m) => `${m.field}.unit: ${m.problem}`).join('; '), field: `${unresolved[0]!.field}.unit` }
      : nextStep(clusterSpec, observed, { batchSlots: spec.migration?.batchSlots, failback: spec.failback !== false });
    const t1 = performance.now();
    const view = describeCluster(members, observed);
    const skip = rc.metadata.annotations?.[ANNOTATION_SKIP] === 'true';
    const now = new Date().toISOString();

    // What Redis did by itself: a master change that the operator did not ask for is a failover.
    for (const [shard, master] of Object.entries(view.masters)) {
      const before = prev.masters?.[shard];
      if (!before || before === master) continue;
      if (prev.failback?.shard === shard && prev.failback.node === master) {
        await d.events.record(rc, 'Normal', 'FailedBack', `shard ${shard}: ${master} is its master again (took over from ${before})`);
      } else {
        status.lastFailover = { shard, from: before, to: master, time: now };
        await d.events.record(rc, 'Warning', 'MasterChanged', `shard ${shard}: Redis Cluster promoted ${master} (${before} was the master)`);
      }
    }
    if (status.failback && view.masters[status.failback.shard ?? ''] === status.failback.node) delete status.failback;

    // A failback asked for a moment ago is still running: do not ask twice.
    if (step.kind === 'failover' && status.failback?.shard === step.shard && status.failback.node === step.node.name
      && Date.now() - Date.parse(status.failback.requestedAt ?? '') < FAILBACK_GRACE_MS) {
      step = { kind: 'waitForAgreement', reason: `${step.node.name} is taking shard ${step.shard} back` };
    }

    const t2 = performance.now();
    let applied = '';
    let failure = '';
    if (!skip && actionable(step)) {
      try {
        if (step.kind === 'failover') {
          // Recorded first: a restarted operator then waits for this failover instead of asking again.
          status.failback = { shard: step.shard, node: step.node.name ?? step.node.id, requestedAt: now };
          await save({ ...status, conditions });
        }
        const r = await admin.applyStep(step, { batchKeys: spec.migration?.batchKeys, timeoutMs: spec.migration?.timeoutMillis });
        applied = r.detail;
        status.lastChange = { time: now, step: r.detail };
        if (step.kind === 'migrateSlots' || step.kind === 'fixOpenSlots') {
          const m = status.migration;
          status.migration = {
            reason: step.kind === 'fixOpenSlots' ? 'Resume' : step.reason === 'drain' ? 'Drain' : 'Rebalance',
            from: step.from.name ?? step.from.id, to: step.to.name ?? step.to.id, slots: describeSlots(step.slots),
            slotsMoved: (m?.slotsMoved ?? 0) + (r.slots ?? 0), slotsLeft: step.kind === 'migrateSlots' ? Math.max(0, step.remaining - (r.slots ?? 0)) : m?.slotsLeft ?? 0,
            keysMoved: (m?.keysMoved ?? 0) + (r.keys ?? 0), startedAt: m?.startedAt ?? now,
          };
          if (!m) await d.events.record(rc, 'Normal', 'Resharding', step.kind === 'migrateSlots' ? `moving ${step.remaining} slots with their keys (${step.reason === 'drain' ? 'draining nodes that left the spec' : 'evening out the shards'})` : 'finishing an interrupted migration');
        }
        await d.events.record(rc, 'Normal', EVENT_REASON[step.kind], r.detail);
      } catch (err) {
        failure = err instanceof Error ? err.message : String(err);
        await d.events.record(rc, 'Warning', 'StepFailed', `${step.kind}: ${failure}`);
      }
    }
    // A reshard is over once the plan is done or moves on to another kind of step (waiting for gossip, or blocked on
    // an unreachable node, it is only paused).
    const reshardOver = step === done || (actionable(step) && step.kind !== 'migrateSlots' && step.kind !== 'fixOpenSlots');
    if (status.migration && reshardOver && !failure) {
      const m = status.migration;
      const seconds = Math.max(0.001, (Date.now() - Date.parse(m.startedAt ?? now)) / 1000);
      status.lastReshard = { slots: m.slotsMoved ?? 0, keys: m.keysMoved ?? 0, seconds: Math.round(seconds * 100) / 100, keysPerSecond: Math.round((m.keysMoved ?? 0) / seconds), finishedAt: now };
      delete status.migration;
      await d.events.record(rc, 'Normal', 'Resharded', `moved ${m.slotsMoved} slots and ${m.keysMoved} keys in ${seconds.toFixed(1)} s (${status.lastReshard.keysPerSecond} keys/s)`);
    }

    const t3 = performance.now();
    // Pods by role and the Service that selects the masters.
    const roles = podRoles(members, view, d.pods, ns, rc.metadata.name ?? '');
    await labelPods(d.client, d.pods, ns, KIND_LABEL, rc.metadata.name ?? '', roles);
    const svc = await ensureRoleServices(d.client, d.services, rc, KIND_LABEL, { name: 'redis', port: REDIS_PORT }, spec.service?.type ?? 'ClusterIP', false);

    const settled = step.kind === 'done' && !applied && !failure;
    const healthy = view.problems.length === 0;
    const phase = phaseOf(step, view, prev.phase, healthy, failure);
    const ready = settled && healthy;
    const blockedMessage = step.kind === 'blocked' ? blockedText(step) : '';
    if (failure) condition('TopologyReady', false, 'StepFailed', `${step.kind}: ${failure}`);
    else if (step.kind === 'blocked') {
      const reason = step.errors ? 'InvalidSpec' : unresolved.length ? 'NodesNotResolved' : /not reachable/.test(step.reason) ? 'NodesUnreachable' : 'Blocked';
      await warnOnce(reason, blockedMessage);
      condition('TopologyReady', false, reason, blockedMessage);
    } else if (ready) {
      condition('TopologyReady', true, 'Synced', `${view.shards} shards, ${view.slotsAssigned}/16384 slots, ${Object.values(view.topology).filter((t) => t.role === 'Replica' && t.ready).length} replicas in sync`);
    } else {
      condition('TopologyReady', false, 'Converging', step.kind === 'waitForAgreement' ? step.reason : applied || 'in progress');
    }
    condition('Degraded', !healthy, healthy ? 'AsExpected' : 'NodesNotReady', view.problems.join('; '));
    if (skip) condition('Progressing', false, 'ReconcileSkipped', `${ANNOTATION_SKIP}=true: the cluster is observed, not changed${actionable(step) ? `; next step: ${intent(step)}` : ''}`);
    else if (settled || step.kind === 'blocked') condition('Progressing', false, settled ? 'Settled' : 'Blocked', settled ? 'nothing to do' : blockedMessage);
    else condition('Progressing', true, phase, applied || (step.kind === 'waitForAgreement' ? step.reason : failure));

    await save({
      ...status, ready, phase, shards: view.shards, slots: `${view.slotsAssigned}/16384`, slotsAssigned: view.slotsAssigned,
      masters: lastKnownMasters(spec.shards.map((x) => x.name), prev.masters, view.masters), topology: view.topology, leaving: view.leaving, readwriteService: svc.readwrite, conditions,
    });
    const ms = (a: number, b: number) => Math.round(b - a);
    ctx.log.debug({ step: step.kind, applied, phase, ms: { observe: ms(t0, t1), plan: ms(t1, t2), apply: ms(t2, t3), record: ms(t3, performance.now()) } }, 'reconciled');

    if (failure) throw new Error(`${step.kind}: ${failure}`);
    if (skip) return { requeueAfterMs: HEALTH_INTERVAL_MS };
    if (applied) return { requeueAfterMs: 0 };
    if (step.kind === 'waitForAgreement') return { requeueAfterMs: AGREEMENT_RETRY_MS };
    if (step.kind === 'blocked') return { requeueAfterMs: step.errors ? HEALTH_INTERVAL_MS : DEGRADED_RETRY_MS };
    return { requeueAfterMs: healthy ? HEALTH_INTERVAL_MS : SETTLING_RETRY_MS };
  }

  return { reconcile, close: async () => { await Promise.all(sessions.keys().map(drop)); } };
}

/** Each shard's master now, or the last one seen while the shard has none (its master down, no replica promoted yet). */
function lastKnownMasters(shards: string[], before: Record<string, string> | undefined, now: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of shards) {
    const m = now[s] ?? before?.[s];
    if (m) out[s] = m;
  }
  return out;
}

/** What a step is about to do, for status while it waits (skip-reconcile) or failed. */
function intent(step: Action): string {
  const name = (n: { name?: string; id: string }) => n.name ?? n.id;
  switch (step.kind) {
    case 'configure': return `set ${step.settings.map((x) => `${x.parameter} ${x.value} on ${x.node.host}:${x.node.port}`).join(', ')}`;
    case 'meet': return `introduce ${step.pairs.map((p) => `${name(p.node)} to ${name(p.target)}`).join(', ')}`;
    case 'replicate': return `make ${step.pairs.map((p) => `${name(p.node)} replicate ${name(p.master)}`).join(', ')}`;
    case 'addSlots': return `assign ${step.assignments.map((a) => `${a.ranges.map(([x, y]) => (x === y ? `${x}` : `${x}-${y}`)).join(', ')} to ${name(a.node)}`).join('; ')}`;
    case 'migrateSlots': return `move slots ${describeSlots(step.slots)} from ${name(step.from)} to ${name(step.to)} (${step.remaining} slots to move)`;
    case 'fixOpenSlots': return `finish the interrupted migration of slot ${describeSlots(step.slots)} from ${name(step.from)} to ${name(step.to)}`;
    case 'forget': return `forget node ${step.node.id} on ${step.on.length} nodes${step.reset ? ' and reset it' : ''}`;
    case 'failover': return `hand shard ${step.shard} back to ${name(step.node)}`;
  }
}

const actionable = (s: Step): s is Action => s !== done && s.kind !== 'waitForAgreement' && s.kind !== 'blocked';

function blockedText(step: Extract<Step, { kind: 'blocked' }>): string {
  if (step.errors?.length) return step.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
  return step.field && !step.reason.includes(step.field) ? `${step.field}: ${step.reason}` : step.reason;
}

function phaseOf(step: Step, view: ClusterDescription, previous: Phase | undefined, healthy: boolean, failure: string): Phase {
  if (step.kind === 'blocked') return step.errors ? 'Failed' : /not reachable/.test(step.reason) ? 'Degraded' : 'Blocked';
  switch (step.kind) {
    case 'configure': case 'meet': case 'replicate': case 'addSlots':
      return view.slotsAssigned < 16384 ? 'Forming' : 'Joining';
    case 'migrateSlots': case 'fixOpenSlots': return 'Resharding';
    case 'forget': return 'Removing';
    case 'failover': return 'FailingBack';
    case 'waitForAgreement':
      return previous && ['Forming', 'Joining', 'Resharding', 'Removing', 'FailingBack'].includes(previous) ? previous : 'Converging';
    default:
      return failure || !healthy ? 'Degraded' : 'Ready';
  }
}

/**
 * Masters holding slots take "source", replicas in sync "replica"; anything else, and former members' pods, "none".
 * A pod another RedisCluster labelled first stays its own (two objects naming one unit must not fight over it).
 */
function podRoles(members: readonly ResolvedMember[], view: ClusterDescription, pods: Store<KubeObject>, ns: string, owner: string): Map<string, Role> {
  const roles = new Map<string, Role>();
  for (const m of members) {
    if (!m.unit) continue;
    const labelled = pods.get(`${ns}/${m.unit}`)?.metadata.labels?.[KIND_LABEL];
    if (labelled && labelled !== owner) continue;
    const t = view.topology[m.name];
    roles.set(m.unit, t?.ready && t.role === 'Master' ? 'source' : t?.ready && t.role === 'Replica' ? 'replica' : 'none');
  }
  for (const p of pods.list()) {
    const unit = p.metadata.name ?? '';
    if (p.metadata.namespace === ns && p.metadata.labels?.[KIND_LABEL] === owner && p.metadata.labels[LABEL_ROLE] !== 'none' && !roles.has(unit)) roles.set(unit, 'none');
  }
  return roles;
}

/** Writes what changed; returns the object as it is now. */
async function writeStatus(d: RedisClusterDeps, rc: RedisCluster, status: Status): Promise<RedisCluster> {
  return (await patchStatus(d.client, RedisClusterResource, rc, status)) ?? rc;
}

