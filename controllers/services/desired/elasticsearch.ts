// An ElasticsearchService on its member: the project's namespace and the ElasticsearchCluster "<name>" (Elasticsearch
// or OpenSearch), which makes a UnitSet per node set ("<name>-<set>") and the Service "<name>-readwrite". Pure.
import type { ClusterRecord } from '../../../lib/api/internal.upm.io.generated.ts';
import type { ElasticsearchCluster } from '../../../lib/api/compose.upm.io.generated.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import type { Desired, DesiredFn, HubService } from '../contract.ts';
import { basics, checkName, composeOwnedChecks, isRefusal, liveObject, memberObject, numAt, parametersOf, placementFields, restartedAt, composeStopped, projectNamespace, resourcesOf, strAt } from './common.ts';

export const KIND = 'ElasticsearchService';
/** The ElasticsearchCluster's own limit (its units are "<name>-<set>-<ordinal>"). */
const NAME_MAX = 30;

export const desiredElasticsearch: DesiredFn = (svc: HubService, cluster: ClusterRecord, live: KubeObject[]): Desired => {
  const name = svc.metadata.name ?? '';
  const problem = checkName(svc, '', NAME_MAX);
  if (problem) return problem;
  const b = basics(svc, cluster, '', composeOwnedChecks(svc, 'ElasticsearchCluster'));
  if (isRefusal(b)) return b;
  const { placement, storage } = b;
  const engine = strAt(svc, ['distribution'], 'elasticsearch');
  const dataNodes = numAt(svc, ['topology', 'dataNodes'], 3);
  const masters = numAt(svc, ['topology', 'dedicatedMasters'], 0);
  const resources = resourcesOf(svc);
  const common = { ...(resources ? { resources } : {}), storage };
  type NodeSet = { name: string; units: number; roles?: string[] };
  const sets: NodeSet[] = masters > 0
    ? [{ name: 'masters', units: masters, roles: [engine === 'opensearch' ? 'cluster_manager' : 'master'] }, { name: 'data', units: dataNodes, roles: ['data', 'ingest'] }]
    : [{ name: 'nodes', units: dataNodes }];
  // Node sets' roles are fixed: a set the member has and the spec no longer wants is scaled to 0, never dropped.
  const current = (liveObject<ElasticsearchCluster>(live, 'ElasticsearchCluster', name)?.spec.nodeSets ?? []) as NodeSet[];
  for (const old of current) if (!sets.some((s) => s.name === old.name)) sets.push({ name: old.name, units: 0, ...(old.roles ? { roles: old.roles } : {}) });
  const parameters = parametersOf(svc);
  return {
    objects: [
      projectNamespace(svc),
      memberObject(svc, KIND, 'compose.upm.io/v1alpha1', 'ElasticsearchCluster', name, {
        engine, version: svc.spec.version, nodeSets: sets.map((s) => ({ ...s, ...common })),
        ...(Object.keys(parameters).length ? { parameters } : {}),
        ...placementFields(placement),
        ...restartedAt(svc),
        ...composeStopped(svc),
      }),
    ],
  };
};
