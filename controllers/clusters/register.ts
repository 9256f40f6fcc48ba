// Wires the clusters controller into a manager: Clusters (storage CRD) and the Secrets of upm-system that hold
// their kubeconfigs. A Cluster is reconciled when it is added, its spec changes or it goes away, and when the
// Secret it names appears, changes or disappears; otherwise its own heartbeat requeues it.
import type { ClusterRecord } from '../../lib/api/internal.upm.io.generated.ts';
import { ClusterRecordResource } from '../../lib/api/internal.upm.io.generated.ts';
import type { EventRecorder } from '../../lib/events.ts';
import { MemberClients, type Secret } from '../../lib/kube/member-clients.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { Manager } from '../../lib/manager.ts';
import { clustersReconciler } from './controller.ts';
import type { Pace } from './health.ts';

export interface ClustersOptions {
  namespace?: string;
  pace?: Partial<Pace>;
  reportMs?: number;
  inventoryMs?: number;
  timeoutMs?: number;
}

export function registerClusters(manager: Manager, events: EventRecorder, opts: ClustersOptions = {}): MemberClients {
  const namespace = opts.namespace ?? 'upm-system';
  const clusters = manager.informer<ClusterRecord>(ClusterRecordResource);
  const secrets = manager.informer<Secret>(Resources.secrets, { namespace });
  const members = new MemberClients(secrets, namespace);
  const periodMs = opts.pace?.periodMs ?? 10_000;
  const pace: Pace = { periodMs, maxBackoffMs: opts.pace?.maxBackoffMs ?? 6 * periodMs, minSpacingMs: opts.pace?.minSpacingMs ?? 1000 };
  const users = (s: Secret) => clusters.list().filter((c) => c.spec?.credentials?.secretName === s.metadata.name).map((c) => c.metadata.name ?? '');
  manager.controller({
    name: 'clusters',
    concurrency: 4,
    reconcile: clustersReconciler({ client: manager.client, events, clusters, members, namespace, pace, reportMs: opts.reportMs ?? 60_000, inventoryMs: opts.inventoryMs ?? 60_000, timeoutMs: opts.timeoutMs ?? 5000 }),
  })
    .watch(clusters, undefined, (a, b) => a.metadata.generation !== b.metadata.generation || !!b.metadata.deletionTimestamp)
    .watch(secrets, users, (a, b) => a.metadata.resourceVersion !== b.metadata.resourceVersion);
  return members;
}
