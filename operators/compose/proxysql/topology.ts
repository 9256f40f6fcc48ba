// The MySQL topology a ProxysqlSync routes to, read off a MysqlReplication's status (what the replication
// controller observed on the servers, not what its spec wishes):
//   - the writer is status.source, the node that takes writes now; while no node does (a failed source not yet
//     replaced), it is spec.source, kept in the writer hostgroup but not ready (OFFLINE_SOFT: no new connections);
//   - every other node is a reader, ready (ONLINE) when the replication controller calls it ready (read-only and
//     replicating from the source), otherwise OFFLINE_SOFT;
//   - left out of every hostgroup: isolated nodes (detached for maintenance, or a former source holding
//     transactions the new source never had), nodes without an address yet, and a writable node that is not the
//     source (the replication controller fences it; ProxySQL's monitor would otherwise make it a second writer).
import type { MysqlReplication } from '../../../lib/api/compose.upm.io.generated.ts';
import type { Topology, TopologyReplica } from './types.ts';

export interface LeftOut { name: string; reason: string }

export interface TopologyView {
  /** Absent when the status has no topology yet. */
  topology?: Topology;
  leftOut: LeftOut[];
  /** Why there is no topology. */
  problem?: string;
}

type StatusNode = NonNullable<NonNullable<MysqlReplication['status']>['topology']>[string];

export function topologyOf(mr: MysqlReplication): TopologyView {
  const nodes = mr.status?.topology ?? {};
  const name = mr.metadata.name ?? '';
  if (Object.keys(nodes).length === 0) return { leftOut: [], problem: `MysqlReplication "${name}" reports no topology yet` };
  const writer = mr.status?.source || mr.spec.source.name;
  const leftOut: LeftOut[] = [];
  const replicas: TopologyReplica[] = [];
  let source: Topology['source'];

  for (const nodeName of Object.keys(nodes).sort()) {
    const n = nodes[nodeName] as StatusNode;
    const host = n.host ?? '';
    const port = n.port ?? 3306;
    if (!host) {
      leftOut.push({ name: nodeName, reason: 'no address yet' });
      continue;
    }
    if (nodeName === writer) {
      source = { name: nodeName, host, port, ready: mr.status?.source === nodeName && n.ready === true && n.status === 'Healthy' };
      continue;
    }
    if (n.isolated === true) {
      leftOut.push({ name: nodeName, reason: 'isolated' });
      continue;
    }
    if (n.readOnly === false) {
      leftOut.push({ name: nodeName, reason: 'writable but not the source' });
      continue;
    }
    replicas.push({
      name: nodeName, host, port, ready: n.ready === true && n.status === 'Healthy',
      ...(n.lagSeconds !== undefined ? { lagSeconds: n.lagSeconds } : {}),
    });
  }
  return { topology: { mode: mr.spec.mode ?? 'async', ...(source ? { source } : {}), replicas }, leftOut };
}
