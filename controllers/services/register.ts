// Wires the services controller into a manager. Sources: the storage records of each service kind (a new spec, a
// deletion, a change of finalizers), the Clusters (Ready flipping, a new spec: the services placed there), and the
// mirror's member informers (any change to what the hub wrote there, or its removal: that service, or every service
// of the project for its Namespace). The services of a Cluster, and a project's services there, are found through
// indexes (controller.ts SERVICE_INDEXES), not a scan.
import type { ClusterRecord } from '../../lib/api/internal.upm.io.generated.ts';
import {
  ClusterRecordResource, ElasticsearchServiceRecordResource, KafkaServiceRecordResource, MysqlServiceRecordResource,
  RedisClusterServiceRecordResource, RedisServiceRecordResource, ZookeeperServiceRecordResource,
} from '../../lib/api/internal.upm.io.generated.ts';
import type { EventRecorder } from '../../lib/events.ts';
import type { Informer } from '../../lib/informer.ts';
import type { MemberClients } from '../../lib/kube/member-clients.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import type { Manager } from '../../lib/manager.ts';
import { onUpdate, resourceVersionChanged } from '../../lib/predicates.ts';
import { PROJECT_LABEL, type HubService } from './contract.ts';
import { CLUSTER_INDEX, PROJECT_CLUSTER_INDEX, projectOn, SERVICE_INDEXES, serviceKey, servicesReconciler, type ServiceKind } from './controller.ts';
import { DESIRED } from './desired/index.ts';
import { Resources, type ResourceType } from '../../lib/kube/resources.ts';
import { MIRRORED_RESOURCES, Mirror, serviceOf } from './mirror.ts';
import { serviceStatus } from './status.ts';

const STORAGE: Record<string, ResourceType> = {
  MysqlService: MysqlServiceRecordResource, RedisService: RedisServiceRecordResource, RedisClusterService: RedisClusterServiceRecordResource,
  ZookeeperService: ZookeeperServiceRecordResource, KafkaService: KafkaServiceRecordResource, ElasticsearchService: ElasticsearchServiceRecordResource,
};

/** The kinds the controller drives, each with its storage and its desired function. */
export const SERVICE_KINDS: ServiceKind[] = Object.entries(DESIRED).map(([kind, desired]) => {
  const storage = STORAGE[kind];
  if (!storage) throw new Error(`${kind}: no storage resource`);
  return { kind, label: kind.toLowerCase(), storage, desired };
});

/** A burst of member events (ten units turning Ready) is one reconcile of their service. */
const COALESCE_MS = 200;

const sameFinalizers = (a: KubeObject, b: KubeObject) => (a.metadata.finalizers ?? []).join() === (b.metadata.finalizers ?? []).join();
const readyOf = (c: ClusterRecord) => { const r = c.status?.conditions?.find((x) => x.type === 'Ready'); return `${r?.status}/${r?.reason}`; };

export function registerServices(manager: Manager, events: EventRecorder, members: MemberClients, kinds: ServiceKind[] = SERVICE_KINDS): Mirror {
  const clusters = manager.informer<ClusterRecord>(ClusterRecordResource);
  const services = new Map<string, Informer<HubService>>();
  for (const k of kinds) {
    const inf = manager.informer<HubService>(k.storage);
    for (const [name, fn] of Object.entries(SERVICE_INDEXES)) if (!inf.hasIndex(name)) inf.addIndex(name, fn);
    services.set(k.label, inf);
  }
  const indexed = (index: string, value: string) => kinds.flatMap((k) => (services.get(k.label)?.byIndex(index, value) ?? []).map((s) => serviceKey(k.label, s)));
  const onCluster = (cluster: string) => indexed(CLUSTER_INDEX, cluster);

  let enqueue: (key: string) => void = () => undefined;
  const mirror = new Mirror({
    logger: manager.log,
    // A member's caches just filled: its services were waiting for them (a first service there measured 2.7 s, the
    // retry's delay, where the mirror needs a fraction of that).
    onSynced: (cluster) => { for (const key of onCluster(cluster)) enqueue(key); },
    onEvent: (cluster, obj) => {
      const svc = serviceOf(obj);
      if (svc) {
        const key = serviceKey(svc.kind, { metadata: { namespace: svc.namespace, name: svc.name } });
        if (services.get(svc.kind)?.get(`${svc.namespace}/${svc.name}`)?.spec?.placement?.cluster === cluster) enqueue(key);
        return;
      }
      // The project's Namespace: every service of the project on that member.
      const project = obj.metadata.labels?.[PROJECT_LABEL];
      if (obj.kind === 'Namespace' && project) for (const key of indexed(PROJECT_CLUSTER_INDEX, projectOn(project, cluster))) enqueue(key);
    },
  });

  // Keys are `<kind label>/<namespace>/<name>` over several storage kinds: every source is a watches().
  let builder = manager.build('services');
  for (const k of kinds) {
    builder = builder.watches(services.get(k.label) as Informer<HubService>, (s) => [serviceKey(k.label, s)],
      { predicate: onUpdate((a, b) => a.metadata.generation !== b.metadata.generation || !!a.metadata.deletionTimestamp !== !!b.metadata.deletionTimestamp || !sameFinalizers(a, b)) });
  }
  const controller = builder
    .watches(clusters, (c) => onCluster(c.metadata.name ?? ''),
      { predicate: onUpdate((a, b) => a.metadata.generation !== b.metadata.generation || readyOf(a) !== readyOf(b) || !!b.metadata.deletionTimestamp) })
    // The members' credentials: a service reconciled before this cache filled would find its Cluster's Secret missing
    // and wait for nothing (a restarted process left a service unreachable with its Cluster Ready); a new Secret
    // moves its Cluster's services.
    .watches(manager.informer<KubeObject>(Resources.secrets, { namespace: members.namespace }),
      (s) => clusters.list().filter((c) => c.spec?.credentials?.secretName === s.metadata.name).flatMap((c) => onCluster(c.metadata.name ?? '')),
      { predicate: resourceVersionChanged })
    .withConcurrency(4)
    .complete(servicesReconciler({ client: manager.client, events, kinds, services, clusters, members, mirror, status: serviceStatus }, MIRRORED_RESOURCES.map((r) => r.kind)));
  enqueue = (key) => controller.queue.addAfter(key, COALESCE_MS);
  return mirror;
}
