// Wires the RedisReplication controller into the Compose Operator: its caches, what wakes it (its objects, the
// units, pods and Secrets they name, their Services) and the Sentinels' own announcements (watch.ts).
import { RedisReplicationResource, type RedisReplication } from '../../../lib/api/compose.upm.io.generated.ts';
import { Resources } from '../../../lib/kube/resources.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import { keyOf, specChanged, unitStatusChanged, type ComposeContext } from '../common/context.ts';
import { KIND_LABEL, redisReplicationReconciler } from './controller.ts';
import { SentinelWatch } from './watch.ts';

export function registerRedisReplication(ctx: ComposeContext): void {
  const { manager, namespace } = ctx;
  const replications = manager.informer<RedisReplication>(RedisReplicationResource, { namespace });
  const services = manager.informer<KubeObject>(Resources.services, { namespace, labelSelector: KIND_LABEL });
  const inNamespace = (ns: string | undefined) => replications.list().filter((rr) => rr.metadata.namespace === ns);
  const units = (rr: RedisReplication) => [rr.spec.source, ...(rr.spec.replicas ?? []), ...(rr.spec.sentinel?.nodes ?? [])].map((n) => n.unit);
  /** The RedisReplications that name a unit (a server's or a Sentinel's restart may change their topology). */
  const byUnit = (o: KubeObject) => inNamespace(o.metadata.namespace).filter((rr) => units(rr).includes(o.metadata.name)).map(keyOf);
  const bySecret = (s: KubeObject) => inNamespace(s.metadata.namespace)
    .filter((rr) => rr.spec.secretName === s.metadata.name || rr.spec.sentinel?.secretName === s.metadata.name).map(keyOf);
  /** A pod's readiness is the engine's (the runtime or kubelet reports it before the Unit does): a returning former
   * source is re-pointed as soon as it answers. Label changes (ours) do not wake anything. */
  const podReady = (p: KubeObject) => {
    const st = (p as KubeObject & { status?: { podIP?: string; conditions?: { type: string; status: string }[] } }).status;
    return JSON.stringify([st?.podIP, st?.conditions?.find((x) => x.type === 'Ready')?.status]);
  };
  let wake: (key: string) => void = () => undefined;
  const watch = new SentinelWatch((key) => wake(key), manager.log.child({ controller: 'redisreplication' }));
  const controller = manager.controller({
    name: 'redisreplication',
    concurrency: ctx.concurrency,
    reconcile: redisReplicationReconciler({ client: ctx.client, events: ctx.events, replications, units: ctx.units, pods: ctx.pods, services, secrets: ctx.secrets, watch }),
  })
    .watch(replications, undefined, specChanged)
    .watch(ctx.units, byUnit, unitStatusChanged)
    .watch(ctx.pods, byUnit, (a, b) => podReady(a) !== podReady(b))
    .watch(ctx.secrets, bySecret)
    .watch(services, (s) => { const n = s.metadata.labels?.[KIND_LABEL]; return n ? [`${s.metadata.namespace}/${n}`] : []; });
  wake = (key) => controller.enqueue(key);
}
