// The clusters controller (hub): the health and inventory of every member Cluster, from watches. Through the
// kubeconfig its spec.credentials names, the hub watches the member's API server identity Leases (renewed every 10 s:
// its liveness), its Nodes' metadata and its StorageClasses (its inventory: zones, node groups, storage classes,
// lib/inventory.ts), and reads its /version when those watches (re)connect (controllers/clusters/watch.ts). It asks
// the member nothing else: at steady state the hub's only traffic to a member is its watches. Each pass observes the
// watches, health.ts decides (Ready, and when to look again: a requeue, not a request), and the status is written
// only when something changed or once a report period; an Event whenever Ready changes. A change of the Cluster's
// spec changes observedGeneration only. A member whose Cluster or credentials go away is no longer watched.
import type { ClusterRecord } from '../../lib/api/internal.upm.io.generated.ts';
import { ClusterRecordResource } from '../../lib/api/internal.upm.io.generated.ts';
import type { Condition } from '../../lib/conditions.ts';
import type { ReconcileResult, Reconciler } from '../../lib/controller.ts';
import type { EventRecorder } from '../../lib/events.ts';
import type { Store } from '../../lib/informer.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import type { MemberClients } from '../../lib/kube/member-clients.ts';
import { mergePatch } from '../../lib/mergepatch.ts';
import { HEARTBEAT_REASONS, judge, nextStatus, observed, type Bounds, type ClusterStatus, type MemberFacts, type Observed } from './health.ts';
import { asPublic } from '../public.ts';

/** The member watches as the reconciler uses them (watch.ts MemberWatches; a fake in unit tests). */
export interface WatchSource {
  ensure(cluster: string, client: KubeClient, credentials: string): { facts(): MemberFacts; reconnect(): void };
  stop(cluster: string): void;
}

export interface ClustersDeps {
  client: KubeClient;
  events: EventRecorder;
  clusters: Store<ClusterRecord>;
  members: MemberClients;
  watches: WatchSource;
  /** The namespace of the credentials Secrets. */
  namespace: string;
  bounds: Bounds;
  /** The heartbeat time is recorded at least this often while the member is heard. */
  reportMs: number;
}

export function clustersReconciler(d: ClustersDeps): Reconciler {
  // Every reading of time (staleness, heartbeats, condition transitions) comes from the controller's clock.
  return async (name, ctx): Promise<ReconcileResult> => {
    const now = ctx.clock.now();
    const stored = d.clusters.get(name);
    if (!stored || stored.metadata.deletionTimestamp) {
      d.watches.stop(name);
      d.members.retain(d.clusters.list().map((c) => c.spec?.credentials));
      return;
    }
    const cluster = asPublic(stored, 'Cluster');
    const gen = cluster.metadata.generation;
    const status = cluster.status as ClusterStatus | undefined;
    const member = await d.members.resolve(cluster.spec?.credentials);
    if ('reason' in member) {
      d.watches.stop(name);
      const ready = status?.conditions?.find((c) => c.type === 'Ready');
      // Without credentials the hub has nothing to say; a Ready condition someone else reports stays theirs.
      if (member.reason === 'NoCredentials' && ready?.reason && !HEARTBEAT_REASONS.has(ready.reason)) return;
      await record(d, cluster, status, { type: 'Ready', status: 'Unknown', reason: member.reason, message: member.message }, undefined, gen, now);
      return; // a new or changed Secret, or a change of spec.credentials, brings the cluster back
    }

    const watch = d.watches.ensure(name, member.client, member.secretVersion);
    const facts = watch.facts();
    const verdict = judge(facts, now.getTime(), d.bounds, `Secret ${d.namespace}/${cluster.spec?.credentials?.secretName ?? ''}`);
    if (verdict.reconnect) watch.reconnect();
    // Nothing known yet (the first lists are under way): only a new generation is recorded, on the Ready there is.
    const cond = verdict.condition ?? status?.conditions?.find((c) => c.type === 'Ready');
    if (cond) await record(d, cluster, status, cond, verdict.condition ? observed(facts) : undefined, gen, now);
    return { requeueAfterMs: Math.max(1, verdict.recheckMs) };
  };
}

async function record(d: ClustersDeps, cluster: ClusterRecord, current: ClusterStatus | undefined, cond: Omit<Condition, 'lastTransitionTime'>, seen: Observed | undefined, gen: number | undefined, now: Date): Promise<void> {
  const { status, write } = nextStatus(current, cond, seen, gen, now, d.reportMs);
  if (!write) return;
  // Only what changed (a field the member no longer has, such as its region, is removed).
  await d.client.patch(ClusterRecordResource, cluster.metadata.name ?? '', { status: mergePatch(current ?? {}, status) ?? {} }, 'merge', { subresource: 'status' });
  const before = current?.conditions?.find((c) => c.type === 'Ready');
  if (before?.status === cond.status && before.reason === cond.reason) return;
  if (cond.status === 'True') await d.events.record(cluster, 'Normal', 'ClusterReady', cond.message ?? '');
  else await d.events.record(cluster, 'Warning', cond.reason ?? 'ClusterNotReady', cond.message ?? '');
}
