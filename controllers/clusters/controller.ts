// The clusters controller (hub): a heartbeat for every member Cluster. Each period it probes the member through
// the kubeconfig its spec.credentials names (controllers/clusters/probe.ts) and records what it saw: the Ready
// condition, phase, version, node count and the last heartbeat, with an Event whenever Ready changes; and, once an
// inventory period, what the member offers services (its zones, node groups and storage classes, lib/inventory.ts).
// The member is never flooded: one probe in flight per member, one per period (backing off while it does not
// answer), none for a change of the Cluster's spec, and a status write only when something changed or once a report
// period.
import type { ClusterRecord } from '../../lib/api/internal.upm.io.generated.ts';
import { ClusterRecordResource } from '../../lib/api/internal.upm.io.generated.ts';
import type { Condition } from '../../lib/conditions.ts';
import type { ReconcileResult, Reconciler } from '../../lib/controller.ts';
import type { EventRecorder } from '../../lib/events.ts';
import type { Store } from '../../lib/informer.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import type { MemberClients } from '../../lib/kube/member-clients.ts';
import { inventoryOf } from '../../lib/inventory.ts';
import { mergePatch } from '../../lib/mergepatch.ts';
import { HEARTBEAT_REASONS, inventoryDue, nextStatus, probeCondition, probeDue, probeInterval, type ClusterStatus, type Pace, type ProbeResult, type ProbeState } from './health.ts';
import { probeMember } from './probe.ts';
import { asPublic } from '../public.ts';

export interface ClustersDeps {
  client: KubeClient;
  events: EventRecorder;
  clusters: Store<ClusterRecord>;
  members: MemberClients;
  /** The namespace of the credentials Secrets. */
  namespace: string;
  pace: Pace;
  /** The heartbeat time is recorded at least this often while the member answers. */
  reportMs: number;
  /** The inventory is read at least this often while the member answers. */
  inventoryMs: number;
  /** Each request of a probe. */
  timeoutMs: number;
  /** The heartbeat request (probeMember): with the inventory when it is due; `now` stamps when the member answered. */
  probe?: (client: KubeClient, timeoutMs: number, opts: { inventory: boolean; now: () => Date }) => Promise<ProbeResult>;
}

export function clustersReconciler(d: ClustersDeps): Reconciler {
  const probes = new Map<string, ProbeState>();
  const probe = d.probe ?? probeMember;

  // Every reading of time (due probes, heartbeats, condition transitions) comes from the controller's clock.
  return async (name, ctx): Promise<ReconcileResult> => {
    const now = () => ctx.clock.now();
    const stored = d.clusters.get(name);
    if (!stored || stored.metadata.deletionTimestamp) {
      probes.delete(name);
      d.members.retain(d.clusters.list().map((c) => c.spec?.credentials));
      return;
    }
    const cluster = asPublic(stored, 'Cluster');
    const gen = cluster.metadata.generation;
    const status = cluster.status as ClusterStatus | undefined;
    const member = await d.members.resolve(cluster.spec?.credentials);
    if ('reason' in member) {
      probes.delete(name);
      const ready = status?.conditions?.find((c) => c.type === 'Ready');
      // Without credentials the hub has nothing to say; a Ready condition someone else reports stays theirs.
      if (member.reason === 'NoCredentials' && ready?.reason && !HEARTBEAT_REASONS.has(ready.reason)) return;
      await record(d, cluster, status, { type: 'Ready', status: 'Unknown', reason: member.reason, message: member.message }, undefined, gen, now());
      return; // a new or changed Secret, or a change of spec.credentials, brings the cluster back
    }

    const state = probes.get(name);
    const wait = probeDue(state, member.secretVersion, now().getTime(), d.pace);
    if (wait > 0) {
      // No probe for a spec change: the member's health did not change with it; observedGeneration does.
      if (status?.observedGeneration !== gen && status?.conditions?.some((c) => c.type === 'Ready')) {
        const ready = status.conditions.find((c) => c.type === 'Ready') as Condition;
        await record(d, cluster, status, ready, undefined, gen, now());
      }
      return { requeueAfterMs: wait };
    }
    const started = now().getTime();
    const inventory = inventoryDue(state, member.secretVersion, !!inventoryOf(status), started, d.inventoryMs);
    const answer = await probe(member.client, d.timeoutMs, { inventory, now });
    // A heartbeat without the inventory reads only /readyz: the version and node count stay what was last read.
    const result = answer.outcome === 'ok' && !answer.inventory
      ? { ...answer, version: answer.version ?? status?.kubernetesVersion, nodes: answer.nodes ?? status?.nodes } : answer;
    const failures = result.outcome === 'unreachable' ? (state?.failures ?? 0) + 1 : 0;
    const inventoryAt = result.inventory ? started : state?.credentials === member.secretVersion ? state.inventoryAt : undefined;
    probes.set(name, { lastAt: started, failures, credentials: member.secretVersion, inventoryAt });
    const secret = `Secret ${d.namespace}/${cluster.spec?.credentials?.secretName ?? ''}`;
    await record(d, cluster, status, probeCondition(result, secret), result, gen, now());
    return { requeueAfterMs: probeInterval(failures, d.pace) };
  };
}

async function record(d: ClustersDeps, cluster: ClusterRecord, current: ClusterStatus | undefined, cond: Omit<Condition, 'lastTransitionTime'>, probe: ProbeResult | undefined, gen: number | undefined, now: Date): Promise<void> {
  const { status, write } = nextStatus(current, cond, probe, gen, now, d.reportMs);
  if (!write) return;
  // Only what changed (a field the member no longer has, such as its region, is removed).
  await d.client.patch(ClusterRecordResource, cluster.metadata.name ?? '', { status: mergePatch(current ?? {}, status) ?? {} }, 'merge', { subresource: 'status' });
  const before = current?.conditions?.find((c) => c.type === 'Ready');
  if (before?.status === cond.status && before.reason === cond.reason) return;
  if (cond.status === 'True') await d.events.record(cluster, 'Normal', 'ClusterReady', cond.message ?? '');
  else await d.events.record(cluster, 'Warning', cond.reason ?? 'ClusterNotReady', cond.message ?? '');
}
