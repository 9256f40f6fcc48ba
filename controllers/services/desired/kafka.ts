// A KafkaService on its member: the project's namespace and the KafkaCluster "<name>" (KRaft), which makes its own
// UnitSet "<name>" and Service "<name>-bootstrap". Pure.
import type { ClusterRecord } from '../../../lib/api/internal.upm.io.generated.ts';
import type { KafkaCluster } from '../../../lib/api/compose.upm.io.generated.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import type { Desired, DesiredFn, HubService } from '../contract.ts';
import {
  basics, composeOwnedChecks, invalid, isRefusal, liveObject, memberObject, numAt, parametersOf, placementFields, restartedSome, composeStopped, projectNamespace, resourcesOf, specOf,
} from './common.ts';

export const KIND = 'KafkaService';

export const desiredKafka: DesiredFn = (svc: HubService, cluster: ClusterRecord, live: KubeObject[]): Desired => {
  const name = svc.metadata.name ?? '';
  const b = basics(svc, cluster, '-bootstrap', composeOwnedChecks(svc, 'KafkaCluster'));
  if (isRefusal(b)) return b;
  const { placement, storage } = b;
  const brokers = numAt(svc, ['topology', 'brokers'], 3);
  const dedicated = numAt(svc, ['topology', 'dedicatedControllers'], 0);
  const roles = dedicated > 0 ? 'Dedicated' : 'Combined';
  // The quorum's size and where it runs are fixed when the cluster is made: what the member has wins.
  const current = liveObject<KafkaCluster>(live, 'KafkaCluster', name)?.spec;
  if (current?.roles && current.roles !== roles) return invalid('spec.topology.dedicatedControllers', dedicated, `the KafkaCluster runs its controllers ${current.roles === 'Dedicated' ? 'on units of their own' : 'among the brokers'}, fixed when it was made`);
  const controllers = dedicated > 0 ? dedicated : current?.controllers ?? (brokers >= 3 ? 3 : 1);
  if (current?.controllers !== undefined && current.controllers !== controllers) return invalid('spec.topology.dedicatedControllers', dedicated, `the KafkaCluster's quorum has ${current.controllers} controllers, fixed when it was made`);
  if (roles === 'Combined' && brokers < controllers) return invalid('spec.topology.brokers', brokers, `the first ${controllers} brokers are the KRaft controllers (fixed when the cluster was made), so there must be at least ${controllers}`);
  const parameters = parametersOf(svc);
  const rf = specOf(svc, 'options', 'defaultReplicationFactor');
  if (typeof rf === 'number') parameters['default.replication.factor'] = String(rf);
  const resources = resourcesOf(svc);
  return {
    objects: [
      projectNamespace(svc),
      memberObject(svc, KIND, 'compose.upm.io/v1alpha1', 'KafkaCluster', name, {
        version: svc.spec.version, brokers, controllers, roles, ...(resources ? { resources } : {}), storage,
        ...(Object.keys(parameters).length ? { parameters } : {}),
        ...placementFields(placement),
        ...restartedSome(svc),
        ...composeStopped(svc),
      }),
    ],
  };
};
