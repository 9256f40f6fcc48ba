// Wires the clusters controller into a manager: Clusters (storage CRD) and the Secrets of upm-system that hold
// their kubeconfigs. A Cluster is reconciled when it is added, its spec changes or it goes away, and when the
// Secret it names appears, changes or disappears (found through an index of Clusters by Secret, not a scan); when
// its member's watches see something that matters (watch.ts); otherwise at the time its verdict says (a requeue).
import type { ClusterRecord } from '../../lib/api/internal.upm.io.generated.ts';
import { ClusterRecordResource } from '../../lib/api/internal.upm.io.generated.ts';
import type { EventRecorder } from '../../lib/events.ts';
import { MemberClients, type Secret } from '../../lib/kube/member-clients.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { Manager } from '../../lib/manager.ts';
import { deletionStarted, generationChanged, or, resourceVersionChanged } from '../../lib/predicates.ts';
import { clustersReconciler } from './controller.ts';
import type { Bounds } from './health.ts';
import { MemberWatch, MemberWatches } from './watch.ts';

export interface ClustersOptions {
  namespace?: string;
  /** Not Ready once nothing was heard from the member for this long (default 20 s: its Lease is renewed every 10 s). */
  staleMs?: number;
  /** The longest wait between two restarts of a member's silent watches. */
  maxReconnectMs?: number;
  reportMs?: number;
  /** Each request that is not a watch (/version). */
  timeoutMs?: number;
}

/** Clusters by the name of the Secret their spec.credentials names. */
const BY_SECRET = 'credentials-secret';

export function registerClusters(manager: Manager, events: EventRecorder, opts: ClustersOptions = {}): MemberClients {
  const namespace = opts.namespace ?? 'upm-system';
  const clusters = manager.informer<ClusterRecord>(ClusterRecordResource);
  const secrets = manager.informer<Secret>(Resources.secrets, { namespace });
  const members = new MemberClients(secrets, namespace);
  const staleMs = opts.staleMs ?? 20_000;
  const bounds: Bounds = { staleMs, maxReconnectMs: opts.maxReconnectMs ?? Math.max(staleMs, 60_000) };
  if (!clusters.hasIndex(BY_SECRET)) clusters.addIndex(BY_SECRET, (c) => (c.spec?.credentials?.secretName ? [c.spec.credentials.secretName] : []));
  let enqueue: (cluster: string) => void = () => undefined;
  const watches = new MemberWatches((cluster, client, credentials) => new MemberWatch(client, credentials, {
    now: () => manager.clock.now().getTime(), onChange: () => enqueue(cluster), staleMs, timeoutMs: opts.timeoutMs ?? 5000,
    log: manager.log.child({ member: cluster }),
  }));
  const controller = manager.build('clusters')
    .for(clusters, { predicate: or(generationChanged, deletionStarted) })
    .watches(secrets, (s) => clusters.indexKeys(BY_SECRET, s.metadata.name ?? ''), { predicate: resourceVersionChanged })
    .withConcurrency(4)
    .complete(clustersReconciler({ client: manager.client, events, clusters, members, watches, namespace, bounds, reportMs: opts.reportMs ?? 60_000 }));
  enqueue = (cluster) => controller.enqueue(cluster);
  return members;
}
