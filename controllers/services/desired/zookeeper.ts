// A ZookeeperService on its member: the project's namespace and the ZookeeperEnsemble "<name>", which makes its own
// UnitSet "<name>" (placed as the service asks) and Service "<name>-client". Pure.
import type { ClusterRecord } from '../../../lib/api/internal.upm.io.generated.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import type { Desired, DesiredFn, HubService } from '../contract.ts';
import { basics, composeOwnedChecks, invalid, isRefusal, memberObject, numAt, parametersOf, placementFields, restartedSome, composeStopped, projectNamespace, resourcesOf } from './common.ts';

export const KIND = 'ZookeeperService';

export const desiredZookeeper: DesiredFn = (svc: HubService, cluster: ClusterRecord, _live: KubeObject[]): Desired => {
  const name = svc.metadata.name ?? '';
  const b = basics(svc, cluster, '-headless', composeOwnedChecks(svc, 'ZookeeperEnsemble'));
  if (isRefusal(b)) return b;
  const { placement, storage } = b;
  const replicas = numAt(svc, ['topology', 'replicas'], 3);
  if (replicas < 3) return invalid('spec.topology.replicas', replicas, 'a ZookeeperEnsemble has at least 3 servers');
  const resources = resourcesOf(svc);
  const parameters = parametersOf(svc);
  return {
    objects: [
      projectNamespace(svc),
      memberObject(svc, KIND, 'compose.upm.io/v1alpha1', 'ZookeeperEnsemble', name, {
        version: svc.spec.version, replicas, ...(resources ? { resources } : {}), storage,
        ...(Object.keys(parameters).length ? { parameters } : {}),
        ...placementFields(placement),
        ...restartedSome(svc),
        ...composeStopped(svc),
      }),
    ],
  };
};
