// Wires the ProxysqlSync controller into the Compose Operator: what wakes a sync is its own spec, a change in the
// topology of the MysqlReplication it names (not every GTID advance), its Secrets, and the units of its nodes.
import { MysqlReplicationResource, ProxysqlSyncResource, type MysqlReplication, type ProxysqlSync } from '../../../lib/api/compose.upm.io.generated.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import { keyOf, specChanged, unitStatusChanged, type ComposeContext } from '../common/context.ts';
import { proxysqlSyncReconciler } from './controller.ts';
import { topologyOf } from './topology.ts';

/** What a sync reads of a MysqlReplication: its derived topology (without the lag, which moves all the time and
 * routes nothing) and its Secret's name. */
function replicationView(mr: MysqlReplication): string {
  const { topology, ...rest } = topologyOf(mr);
  const nodes = topology && { ...topology, replicas: topology.replicas.map(({ lagSeconds: _lag, ...r }) => r) };
  return JSON.stringify([nodes, rest, mr.spec.secretName, mr.spec.engine]);
}

export function registerProxysqlSync(ctx: ComposeContext): void {
  const { manager, namespace } = ctx;
  const syncs = manager.informer<ProxysqlSync>(ProxysqlSyncResource, { namespace });
  const replications = manager.informer<MysqlReplication>(MysqlReplicationResource, { namespace });
  const inNamespace = (o: KubeObject) => syncs.list().filter((ps) => ps.metadata.namespace === o.metadata.namespace);
  const byReplication = (mr: MysqlReplication) => inNamespace(mr).filter((ps) => ps.spec.mysqlReplication === mr.metadata.name).map(keyOf);
  const bySecret = (s: KubeObject) => inNamespace(s).filter((ps) => {
    const name = s.metadata.name;
    if (ps.spec.secretName === name || ps.spec.mysqlSecretName === name) return true;
    return !ps.spec.mysqlSecretName && replications.get(`${ps.metadata.namespace}/${ps.spec.mysqlReplication}`)?.spec.secretName === name;
  }).map(keyOf);
  const byUnit = (u: KubeObject) => inNamespace(u).filter((ps) => ps.spec.proxysql.some((n) => n.unit === u.metadata.name)).map(keyOf);
  manager.controller({
    name: 'proxysqlsync',
    concurrency: ctx.concurrency,
    reconcile: proxysqlSyncReconciler({ client: ctx.client, events: ctx.events, syncs, replications, units: ctx.units, secrets: ctx.secrets }),
  })
    .watch(syncs, undefined, specChanged)
    .watch(replications, byReplication, (a, b) => replicationView(a) !== replicationView(b))
    .watch(ctx.secrets, bySecret)
    .watch(ctx.units, byUnit, unitStatusChanged);
}
