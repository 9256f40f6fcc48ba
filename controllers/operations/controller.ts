// The operations controller (hub): carries out each Operation step by step. A reconcile reads the world (the
// Operation, its service's record and status, its Cluster, the other Operations of that service; for a switchover
// the member's compose object), asks the pure planner (lib/operations) what comes next, makes that step's effect
// unless it is already there (a merge patch of the hub service's spec, or of the member's compose object: the hub
// never connects to an engine), and records the status with an optimistic-concurrency update, a step's Running
// record (with what it chose) before its effect, so a process killed in between never makes it anew differently. Steps that only
// check or complete follow on in the same reconcile; nothing waits in a worker: a step that waits is looked at
// again when its service changes, or after the planner's delay. Events are emitted in the background: the status
// write and the effect of a step never wait on them.
import type { ClusterRecord } from '../../lib/api/internal.upm.io.generated.ts';
import { OperationRecordResource } from '../../lib/api/internal.upm.io.generated.ts';
import { MysqlReplicationResource, RedisReplicationResource } from '../../lib/api/compose.upm.io.generated.ts';
import type { ReconcileContext, ReconcileResult, Reconciler } from '../../lib/controller.ts';
import type { EventRecorder } from '../../lib/events.ts';
import { storageClassesOffered } from '../../lib/inventory.ts';
import type { Store } from '../../lib/informer.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { isNotFound } from '../../lib/kube/errors.ts';
import type { MemberClients } from '../../lib/kube/member-clients.ts';
import type { ResourceType } from '../../lib/kube/resources.ts';
import { objectKey, type KubeObject } from '../../lib/kube/types.ts';
import { canonicalJson } from '../../lib/mergepatch.ts';
import { MutationCache } from '../../lib/mutationcache.ts';
import { crashPoint } from '../../lib/crashpoint.ts';
import { backoffMs, isTerminal, plan, waitsFor } from '../../lib/operations/plan.ts';
import { operationStatus } from '../../lib/operations/status.ts';
import type { Decision, Effect, Operation, OperationStatus, ServiceView, World } from '../../lib/operations/types.ts';
import type { EngineTemplateInfo } from '../../lib/templates.ts';
import { asPublic } from '../public.ts';
import type { ServiceKind } from '../services/controller.ts';
import { transitions } from './events.ts';

/** The field manager of the hub's writes to a member's compose object (a switchover's spec.source). */
export const OPERATIONS_FIELD_MANAGER = 'upm-hub-operations';
/** Steps that follow on at once (a check, a completion) are taken in one reconcile, up to this many. */
const MAX_STEPS_PER_RECONCILE = 8;

export interface OperationsDeps {
  client: KubeClient;
  events: EventRecorder;
  operations: Store<Operation> & { byIndex(name: string, value: string): Operation[] };
  kinds: ServiceKind[];
  services: Map<string, Store<ServiceView>>;
  clusters: Store<ClusterRecord>;
  members: Pick<MemberClients, 'resolve'>;
  templates: ReadonlyMap<string, EngineTemplateInfo>;
  /** The Operations as this process last wrote them, over the informer's copies (shared with the event mappers). */
  written: MutationCache<Operation>;
  /** Puts a key back in the controller's queue: one set aside while another Operation of its service was reconciled. */
  wake: (key: string) => void;
}

/** The index of Operations that are not finished, by their service (`<kind>/<namespace>/<name>`). */
export const BY_TARGET = 'target';
export const targetKey = (kind: string, namespace: string, name: string): string => `${kind}/${namespace}/${name}`;
export const targetOf = (op: Operation): string => targetKey(op.spec?.target?.kind ?? '', op.metadata.namespace ?? '', op.spec?.target?.name ?? '');

/** The member compose objects a step may read or patch (a switchover's spec.source), by kind. */
const COMPOSE: Readonly<Record<string, ResourceType>> = { MysqlReplication: MysqlReplicationResource, RedisReplication: RedisReplicationResource };
const composeResource = (kind: string): ResourceType => {
  const r = COMPOSE[kind];
  if (!r) throw new Error(`no compose resource ${kind}`);
  return r;
};
/** The compose object a switchover of this service kind works through. */
const SWITCHOVER_COMPOSE: Readonly<Record<string, string>> = { MysqlService: 'MysqlReplication', RedisService: 'RedisReplication' };

const ready = (c: ClusterRecord) => c.status?.conditions?.find((x) => x.type === 'Ready');

export function operationsReconciler(d: OperationsDeps): Reconciler {
  const kinds = new Map(d.kinds.map((k) => [k.kind, k]));
  // Whether an Operation may start is decided from the other Operations of its service: two workers deciding at
  // once, or one reading a cache that has not seen this process's last write (the one ahead started or ended),
  // would start two. So the Operations of one service are reconciled one at a time, over this process's own writes.
  // A key whose service is being reconciled is set aside, not waited for (a worker waiting on one service serves no
  // other: with a burst of Operations on a few services every worker would wait on the same one), and put back in
  // the queue when that reconcile ends.
  const written = d.written;
  const busy = new Map<string, Set<string>>();
  const oneAtATime = async <T>(target: string, key: string, fn: () => Promise<T>): Promise<T | undefined> => {
    const aside = busy.get(target);
    if (aside) { aside.add(key); return undefined; }
    const mine = new Set<string>();
    busy.set(target, mine);
    try { return await fn(); } finally {
      busy.delete(target);
      for (const k of mine) d.wake(k);
    }
  };

  const memberClient = async (svc: ServiceView | undefined): Promise<KubeClient> => {
    const name = (svc?.spec.placement as { cluster?: string } | undefined)?.cluster ?? '';
    const m = await d.members.resolve(d.clusters.get(name)?.spec.credentials);
    if ('reason' in m) throw new Error(`cluster ${name}: ${m.message}`);
    return m.client;
  };

  /** The member's compose object of a switchover's or failover's service, or undefined when it cannot be read now. */
  const composeOf = async (op: Operation, svc: ServiceView | undefined): Promise<World['compose']> => {
    const kind = SWITCHOVER_COMPOSE[op.spec.target.kind];
    if ((op.spec.type !== 'Switchover' && op.spec.type !== 'Failover') || !svc || !kind) return undefined;
    try {
      return await (await memberClient(svc)).get(composeResource(kind), op.spec.target.name, op.metadata.namespace);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      return undefined; // unreachable member: the step's precondition waits for it
    }
  };

  const worldOf = async (op: Operation, now: Date, queueOnly = false): Promise<World> => {
    const service = d.services.get(op.spec.target.kind)?.get(`${op.metadata.namespace ?? ''}/${op.spec.target.name}`);
    const clusterName = (service?.spec.placement as { cluster?: string } | undefined)?.cluster ?? '';
    const c = d.clusters.get(clusterName);
    const r = c ? ready(c) : undefined;
    const others = d.operations.byIndex(BY_TARGET, targetOf(op)).map((o) => written.get(objectKey(o)) ?? o);
    // One that waits in the queue looks at nothing on the member (a read there per queued Operation and event).
    const queued = queueOnly || (!op.status?.startTime && !!waitsFor(op, others));
    return {
      service, templates: d.templates, now,
      cluster: c ? { name: clusterName, ready: r?.status === 'True', ...(r?.status !== 'True' && r?.message ? { message: r.message } : {}), ...storageClassesOffered(c.spec, c.status) } : undefined,
      others,
      compose: queued ? undefined : await composeOf(op, service),
    };
  };

  const act = async (op: Operation, effect: Effect, w: World): Promise<void> => {
    const svc = w.service;
    if (!svc) throw new Error('the service is gone');
    if (effect.on === 'service') {
      const kind = kinds.get(op.spec.target.kind);
      if (!kind) throw new Error(`no storage for ${op.spec.target.kind}`);
      await d.client.patch(kind.storage, op.spec.target.name, { spec: effect.patch }, 'merge', { namespace: op.metadata.namespace });
      return;
    }
    const member = await memberClient(svc);
    await member.patch(composeResource(effect.kind), effect.name, effect.patch, 'merge', { namespace: op.metadata.namespace, fieldManager: OPERATIONS_FIELD_MANAGER });
  };

  /** One step forward: plan, and the status it leads to; whether to go on at once. An effect is left to the caller. */
  const advance = async (op: Operation, now: Date, queueOnly: boolean): Promise<{ status?: OperationStatus; decision: Decision; more: boolean; w: World }> => {
    const w = await worldOf(op, now, queueOnly);
    const decision = plan(op, w);
    if (decision.kind === 'done') return { decision, more: false, w };
    const more = decision.kind === 'complete' || (decision.kind === 'run' && !decision.effect);
    return { status: operationStatus(op, decision, w), decision, more, w };
  };

  return async (key: string, ctx: ReconcileContext): Promise<ReconcileResult> => {
    const first = written.get(key);
    if (!first || isTerminal(first) || !first.spec?.target) return;
    // One that only records its place in the queue starts nothing, so it takes no turn of its service: the one that
    // may start is never set aside behind a burst of those. Anything else it turns out to be is done in turn.
    if (!first.status?.startTime) {
      const r = await reconcile(key, ctx, true);
      if (r !== NOT_QUEUED) return r;
    }
    return oneAtATime(targetOf(first), key, () => reconcile(key, ctx, false));
  };

  /**
   * Plans and carries out what comes next for one Operation. queueOnly: only if that is to wait in the queue (its
   * status says for which one), else nothing is done and NOT_QUEUED returned.
   */
  async function reconcile(key: string, ctx: ReconcileContext, queueOnly: true): Promise<ReconcileResult | typeof NOT_QUEUED>;
  async function reconcile(key: string, ctx: ReconcileContext, queueOnly: false): Promise<ReconcileResult>;
  async function reconcile(key: string, ctx: ReconcileContext, queueOnly: boolean): Promise<ReconcileResult | typeof NOT_QUEUED> {
    let stored = written.get(key);
    if (!stored || isTerminal(stored) || !stored.spec?.target) return;
    let op: Operation = stored;
    let last: Decision = { kind: 'done' };
    let service: ServiceView | undefined;
    /** Writes the status so far (optimistic concurrency: a stale copy is refused) and tells its steps as Events (sent in the background). */
    const commit = async () => {
      if (!stored || canonicalJson(op.status ?? {}) === canonicalJson(stored.status ?? {})) return;
      const saved = written.mutated(await d.client.updateStatus<Operation>(OperationRecordResource, { ...op, apiVersion: 'internal.upm.io/v1alpha1', kind: 'OperationRecord' } as KubeObject as Operation));
      const pubOp = asPublic(stored, 'Operation');
      const pubSvc = service ? asPublic(service, op.spec.target.kind) : undefined;
      for (const e of transitions(stored, op)) {
        d.events.emit(pubOp, e.type, e.reason, e.message);
        if (pubSvc) d.events.emit(pubSvc, e.type, e.reason, `Operation ${op.metadata.name ?? ''}: ${e.message}`);
      }
      stored = { ...op, metadata: { ...op.metadata, resourceVersion: saved?.metadata.resourceVersion } };
      op = stored;
    };
    for (let i = 0; i < MAX_STEPS_PER_RECONCILE; i++) {
      const before = op;
      const r = await advance(op, ctx.clock.now(), queueOnly);
      if (queueOnly && r.decision.kind !== 'queue') return NOT_QUEUED;
      last = r.decision;
      service = r.w.service;
      if (!r.status) break;
      op = { ...op, status: r.status };
      const run = r.decision;
      if (run.kind === 'run' && run.effect) {
        // The step is recorded Running, with its attempt and what it chose (a switchover's candidate), before the
        // effect is made: a process killed between the two finds it there and checks the effect, never choosing
        // anew; a copy of the Operation gone stale is refused here, before anything changes.
        await commit();
        crashPoint('operations-step-recorded');
        try {
          await act(op, run.effect, r.w);
          crashPoint('operations-effect-made');
        } catch (err) {
          const attempts = (before.status?.steps?.find((s) => s.name === run.step)?.attempts ?? 0) + 1;
          last = { kind: 'retry', step: run.step, message: (err as Error).message.slice(0, 300), afterMs: backoffMs(attempts) };
          op = { ...op, status: operationStatus(before, last, r.w) };
        }
      }
      if (!r.more) break;
    }
    await commit();
    return requeue(last);
  }
}

/** A reconcile asked only to record a place in the queue found the Operation is not to wait there. */
const NOT_QUEUED = Symbol('not queued');

function requeue(d: Decision): ReconcileResult {
  switch (d.kind) {
    case 'wait': case 'run': case 'retry': return { requeueAfterMs: Math.max(100, d.afterMs) };
    case 'complete': return { requeueAfterMs: 100 };
    // Queued ones wake when the one ahead starts or ends (a watch); the delay is a safety net. Finished ones rest.
    case 'queue': return { requeueAfterMs: 30_000 };
    default: return undefined;
  }
}
