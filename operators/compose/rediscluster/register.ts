// Wires the RedisCluster controller into the Compose Operator: its caches and what wakes it.
import { RedisClusterResource, type RedisCluster } from '../../../lib/api/compose.upm.io.generated.ts';
import { Resources } from '../../../lib/kube/resources.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import { keyOf, specChanged, unitStatusChanged, type ComposeContext } from '../common/context.ts';
import { KIND_LABEL, redisClusterReconciler } from './controller.ts';

export function registerRedisCluster(ctx: ComposeContext): void {
  const { manager, namespace } = ctx;
  const clusters = manager.informer<RedisCluster>(RedisClusterResource, { namespace });
  const services = manager.informer<KubeObject>(Resources.services, { namespace, labelSelector: KIND_LABEL });
  const inNamespace = (ns: string | undefined) => clusters.list().filter((rc) => rc.metadata.namespace === ns);
  /** The RedisClusters that name a unit (its address or health changed). */
  const byUnit = (o: KubeObject) => inNamespace(o.metadata.namespace)
    .filter((rc) => rc.spec.shards.some((s) => s.members.some((m) => m.unit === o.metadata.name))).map(keyOf);
  const { reconcile } = redisClusterReconciler({ client: ctx.client, events: ctx.events, clusters, units: ctx.units, pods: ctx.pods, services, secrets: ctx.secrets });
  manager.controller({ name: 'rediscluster', concurrency: ctx.concurrency, reconcile })
    .watch(clusters, undefined, specChanged)
    .watch(ctx.units, byUnit, unitStatusChanged)
    .watch(ctx.secrets, (s) => inNamespace(s.metadata.namespace).filter((rc) => rc.spec.secretName === s.metadata.name).map(keyOf))
    .watch(services, (s) => { const n = s.metadata.labels?.[KIND_LABEL]; return n ? [`${s.metadata.namespace}/${n}`] : []; });
}
