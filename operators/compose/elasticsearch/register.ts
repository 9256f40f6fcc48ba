// Wires the ElasticsearchCluster controller into the Compose Operator: its caches and what wakes it.
import { ElasticsearchClusterResource, type ElasticsearchCluster } from '../../../lib/api/compose.upm.io.generated.ts';
import { EngineTemplateResource, UnitSetResource, type EngineTemplate, type Unit, type UnitSet } from '../../../lib/api/unit.upm.io.generated.ts';
import { Resources } from '../../../lib/kube/resources.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import { keyOf, specChanged, unitStatusChanged, type ComposeContext } from '../common/context.ts';
import { elasticsearchReconciler } from './controller.ts';
import { LABEL_CLUSTER } from './unitsets.ts';

/** The cluster an object of one of its node sets belongs to (UnitSets, units and pods carry the label). */
const byLabel = (o: KubeObject): string[] => {
  const name = o.metadata.labels?.[LABEL_CLUSTER];
  return name ? [`${o.metadata.namespace}/${name}`] : [];
};

/** What the UnitSet tells the planner: its size, the update order annotation and its outdated and updating units. */
const unitSetChanged = (a: UnitSet, b: UnitSet): boolean =>
  a.metadata.generation !== b.metadata.generation || JSON.stringify(a.metadata.annotations) !== JSON.stringify(b.metadata.annotations)
  || JSON.stringify([a.status?.outdated, a.status?.updating, a.status?.phase]) !== JSON.stringify([b.status?.outdated, b.status?.updating, b.status?.phase]);

export function registerElasticsearchCluster(ctx: ComposeContext): void {
  const { manager, namespace } = ctx;
  const clusters = manager.informer<ElasticsearchCluster>(ElasticsearchClusterResource, { namespace });
  const unitSets = manager.informer<UnitSet>(UnitSetResource, { namespace, labelSelector: LABEL_CLUSTER });
  const services = manager.informer<KubeObject>(Resources.services, { namespace, labelSelector: LABEL_CLUSTER });
  const templates = manager.informer<EngineTemplate>(EngineTemplateResource);
  const inNamespace = (ns: string | undefined) => clusters.list().filter((c) => c.metadata.namespace === ns);
  const { reconcile } = elasticsearchReconciler({ client: ctx.client, events: ctx.events, clusters, unitSets, units: ctx.units, pods: ctx.pods, services, secrets: ctx.secrets, templates });
  manager.controller({ name: 'elasticsearchcluster', concurrency: ctx.concurrency, reconcile })
    .watch(clusters, undefined, specChanged)
    .watch(unitSets, byLabel, unitSetChanged)
    .watch(ctx.units, (u: Unit) => byLabel(u), unitStatusChanged)
    .watch(ctx.secrets, (s) => inNamespace(s.metadata.namespace).filter((c) => (c.spec.secretName ?? `${c.metadata.name}-credentials`) === s.metadata.name).map(keyOf))
    .watch(services, byLabel);
}
