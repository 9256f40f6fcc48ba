// Wires the MysqlReplication controller into the Compose Operator: its caches and what wakes it.
import { MysqlReplicationResource, type MysqlReplication } from '../../../lib/api/compose.upm.io.generated.ts';
import { Resources } from '../../../lib/kube/resources.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import { keyOf, specChanged, unitStatusChanged, type ComposeContext } from '../common/context.ts';
import { KIND_LABEL, mysqlReplicationReconciler } from './controller.ts';

export function registerMysqlReplication(ctx: ComposeContext): void {
  const { manager, namespace } = ctx;
  const replications = manager.informer<MysqlReplication>(MysqlReplicationResource, { namespace });
  const services = manager.informer<KubeObject>(Resources.services, { namespace, labelSelector: KIND_LABEL });
  const inNamespace = (ns: string | undefined) => replications.list().filter((mr) => mr.metadata.namespace === ns);
  /** The MysqlReplications that name a unit (a unit's status change may change their topology). */
  const byUnit = (o: KubeObject) => inNamespace(o.metadata.namespace)
    .filter((mr) => [mr.spec.source, ...(mr.spec.replicas ?? [])].some((n) => n.unit === o.metadata.name)).map(keyOf);
  manager.controller({
    name: 'mysqlreplication',
    concurrency: ctx.concurrency,
    reconcile: mysqlReplicationReconciler({ client: ctx.client, events: ctx.events, replications, units: ctx.units, pods: ctx.pods, services, secrets: ctx.secrets }),
  })
    .watch(replications, undefined, specChanged)
    .watch(ctx.units, byUnit, unitStatusChanged)
    .watch(ctx.secrets, (s) => inNamespace(s.metadata.namespace).filter((mr) => mr.spec.secretName === s.metadata.name).map(keyOf))
    .watch(services, (s) => { const n = s.metadata.labels?.[KIND_LABEL]; return n ? [`${s.metadata.namespace}/${n}`] : []; });
}
