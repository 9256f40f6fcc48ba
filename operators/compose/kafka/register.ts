// Wires the KafkaCluster controller into the Compose Operator: its caches and what wakes it (its own spec, its
// UnitSet's status, its units' health, their pods' labels, the credentials Secret, its bootstrap Service).
import { KafkaClusterResource, type KafkaCluster } from '../../../lib/api/compose.upm.io.generated.ts';
import { UnitSetResource, type Unit, type UnitSet } from '../../../lib/api/unit.upm.io.generated.ts';
import { Resources } from '../../../lib/kube/resources.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import { LABEL_UNITSET, credentialsSecretName } from '../../unit/naming.ts';
import { keyOf, specChanged, type ComposeContext } from '../common/context.ts';
import { KIND_LABEL, kafkaClusterReconciler } from './controller.ts';

export function registerKafkaCluster(ctx: ComposeContext): void {
  const { manager, namespace } = ctx;
  const clusters = manager.informer<KafkaCluster>(KafkaClusterResource, { namespace });
  const unitSets = manager.informer<UnitSet>(UnitSetResource, { namespace });
  const services = manager.informer<KubeObject>(Resources.services, { namespace, labelSelector: KIND_LABEL });
  /** The KafkaCluster a UnitSet, unit or pod belongs to: the one named as the UnitSet, if there is one. */
  const owner = (ns: string | undefined, set: string | undefined) => (set && clusters.get(`${ns}/${set}`) ? [`${ns}/${set}`] : []);
  const { reconcile } = kafkaClusterReconciler({ client: ctx.client, events: ctx.events, clusters, unitSets, units: ctx.units, pods: ctx.pods, services, secrets: ctx.secrets });
  manager.controller({ name: 'kafkacluster', concurrency: ctx.concurrency, reconcile })
    .watch(clusters, undefined, specChanged)
    .watch(unitSets, (us) => owner(us.metadata.namespace, us.metadata.name), (a, b) => JSON.stringify([a.spec, a.status]) !== JSON.stringify([b.spec, b.status]))
    .watch(ctx.units, (u: Unit) => owner(u.metadata.namespace, u.metadata.labels?.[LABEL_UNITSET]),
      (a, b) => JSON.stringify([a.status?.phase, a.status?.podIP, a.status?.ready, a.status?.engine?.restarts, a.metadata.deletionTimestamp])
        !== JSON.stringify([b.status?.phase, b.status?.podIP, b.status?.ready, b.status?.engine?.restarts, b.metadata.deletionTimestamp]))
    .watch(ctx.pods, (p) => owner(p.metadata.namespace, p.metadata.labels?.[LABEL_UNITSET]), (a, b) => JSON.stringify(a.metadata.labels) !== JSON.stringify(b.metadata.labels))
    .watch(ctx.secrets, (s) => clusters.list().filter((kc) => kc.metadata.namespace === s.metadata.namespace && credentialsSecretName(kc.metadata.name ?? '') === s.metadata.name).map(keyOf))
    .watch(services, (s) => { const n = s.metadata.labels?.[KIND_LABEL]; return n ? [`${s.metadata.namespace}/${n}`] : []; });
}
