// A RedisService on its member: the project's namespace, a UnitSet "<name>" of Redis servers and the
// RedisReplication "<name>" over them (credentials: the UnitSet's "<name>-credentials"); with Sentinel enabled also a
// UnitSet "<name>-sentinel" of Redis Sentinels, which the RedisReplication registers the master with. Pure.
import type { ClusterRecord } from '../../../lib/api/internal.upm.io.generated.ts';
import type { RedisReplication } from '../../../lib/api/compose.upm.io.generated.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import type { Desired, DesiredFn, HubService } from '../contract.ts';
import {
  basics, invalid, isRefusal, liveObject, memberObject, numAt, parametersOf, projectNamespace, replicationMembers, resourcesOf, specOf, strAt, unitNames, unitSet,
} from './common.ts';

export const KIND = 'RedisService';
export const DATA_PATH = '/data';
const SENTINEL_RESOURCES = { limits: { cpu: '200m', memory: '64Mi' } };
const SENTINEL_STORAGE = '1Gi';

export const desiredRedis: DesiredFn = (svc: HubService, cluster: ClusterRecord, live: KubeObject[]): Desired => {
  const name = svc.metadata.name ?? '';
  const b = basics(svc, cluster, '-sentinel-headless');
  if (isRefusal(b)) return b;
  const { placement, storage } = b;

  const mode = strAt(svc, ['topology', 'mode'], 'replication');
  const wanted = mode === 'standalone' ? 1 : numAt(svc, ['topology', 'replicas'], 2);
  const members = replicationMembers(name, wanted, liveObject<RedisReplication>(live, 'RedisReplication', name));
  const sentinelOn = specOf(svc, 'options', 'sentinel', 'enabled') === true;
  if (sentinelOn && mode === 'standalone') return invalid('spec.options.sentinel.enabled', true, 'Sentinel needs replicas: set spec.topology.mode to replication');
  const sentinel = `${name}-sentinel`;
  const sentinels = numAt(svc, ['options', 'sentinel', 'replicas'], 3);
  const quorum = specOf(svc, 'options', 'sentinel', 'quorum');

  const objects: KubeObject[] = [
    projectNamespace(svc),
    unitSet(svc, KIND, { name, engine: 'redis', version: svc.spec.version, units: members.units, placement, mountPath: DATA_PATH, storage, resources: resourcesOf(svc), parameters: parametersOf(svc) }),
  ];
  if (sentinelOn) {
    objects.push(unitSet(svc, KIND, {
      name: sentinel, engine: 'redis-sentinel', version: svc.spec.version, units: sentinels, placement, mountPath: DATA_PATH,
      storage: { ...storage, size: SENTINEL_STORAGE }, resources: SENTINEL_RESOURCES,
    }));
  }
  objects.push(memberObject(svc, KIND, 'compose.upm.io/v1alpha1', 'RedisReplication', name, {
    secretName: `${name}-credentials`,
    source: { name: members.source, unit: members.source },
    replicas: members.replicas.map((u) => ({ name: u, unit: u })),
    ...(sentinelOn ? {
      sentinel: {
        secretName: `${sentinel}-credentials`,
        nodes: unitNames(sentinel, sentinels).map((u) => ({ name: u, unit: u })),
        ...(typeof quorum === 'number' ? { quorum } : {}),
      },
    } : {}),
  }));
  return { objects };
};
