// Every refusal of the desired functions, word for word, for one input that provokes it: a user reads these on
// the hub service's status, so rewording one is a change to see here. Each names its field as Kubernetes' field errors
// do ("Invalid value: <value>: <why>", a string value quoted, a number or boolean bare; "Unsupported value: ...").
import { describe, expect, it } from '@jest/globals';
import type { ClusterRecord } from '../../../lib/api/internal.upm.io.generated.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import type { Desired } from '../contract.ts';
import { CLUSTER, service } from './fixtures.testing.ts';
import { desiredKafka } from './kafka.ts';
import { desiredMysql } from './mysql.ts';
import { desiredRedis } from './redis.ts';
import { desiredRedisCluster } from './rediscluster.ts';
import { desiredZookeeper } from './zookeeper.ts';

const refusal = (d: Desired) => ('refused' in d ? d.refused : undefined);
const maria = (spec: Record<string, unknown>, name = 'db') => service('MysqlService', name, { engine: 'mariadb', version: '10.11', topology: { mode: 'async', replicas: 3 }, ...spec });
const kafka = (spec: Record<string, unknown>) => service('KafkaService', 'ev', { version: '3.9', topology: { brokers: 3 }, ...spec });
const liveKafka = (spec: Record<string, unknown>) => [{ apiVersion: 'compose.upm.io/v1alpha1', kind: 'KafkaCluster', metadata: { name: 'ev' }, spec } as KubeObject];
const ungrouped: ClusterRecord = { ...CLUSTER, status: { ...CLUSTER.status, nodeGroups: [{ name: 'spread', zones: ['zone-a', 'zone-b'], nodeSelector: {}, nodes: 2 }] } };

const CASES: [string, () => Desired][] = [
  ['a name too long for the member objects', () => desiredMysql(maria({}, 'a'.repeat(60)), CLUSTER, [])],
  ['another cluster', () => desiredMysql(maria({ placement: { cluster: 'member2' } }), CLUSTER, [])],
  ['a zone the cluster lacks', () => desiredMysql(maria({ placement: { cluster: 'member1', zones: ['zone-a', 'zone-x'] } }), CLUSTER, [])],
  ['a node group the cluster lacks', () => desiredMysql(maria({ placement: { cluster: 'member1', nodeGroup: 'gpu' } }), CLUSTER, [])],
  ['a node group outside the zones', () => desiredMysql(maria({ placement: { cluster: 'member1', zones: ['zone-a'], nodeGroup: 'zone-b' } }), CLUSTER, [])],
  ['a node group that selects no nodes', () => desiredMysql(maria({ placement: { cluster: 'member1', nodeGroup: 'spread' } }), ungrouped, [])],
  ['a storage class the cluster lacks', () => desiredMysql(maria({ storage: { size: '10Gi', storageClassName: 'slow' } }), CLUSTER, [])],
  ['Retain on a compose kind', () => desiredZookeeper(service('ZookeeperService', 'zk', { version: '3.8', topology: { replicas: 3 }, deletionPolicy: 'Retain' }), CLUSTER, [])],
  ['dedicated controllers on a combined cluster', () => desiredKafka(kafka({ topology: { brokers: 3, dedicatedControllers: 3 } }), CLUSTER, liveKafka({ brokers: 3, controllers: 3, roles: 'Combined' }))],
  ['another quorum size', () => desiredKafka(kafka({ topology: { brokers: 6, dedicatedControllers: 5 } }), CLUSTER, liveKafka({ brokers: 6, controllers: 3, roles: 'Dedicated' }))],
  ['fewer brokers than controllers', () => desiredKafka(kafka({ topology: { brokers: 2 } }), CLUSTER, liveKafka({ brokers: 3, controllers: 3, roles: 'Combined' }))],
  ['semisync without a replica', () => desiredMysql(maria({ topology: { mode: 'semisync', replicas: 1 } }), CLUSTER, [])],
  ['Sentinel on a standalone Redis', () => desiredRedis(service('RedisService', 'cache', { version: '7.2', topology: { mode: 'standalone', replicas: 1 }, options: { sentinel: { enabled: true } } }), CLUSTER, [])],
  ['cluster-enabled no', () => desiredRedisCluster(service('RedisClusterService', 'rc', { version: '7.2', topology: { shards: 3, replicasPerShard: 1 }, options: { parameters: { 'cluster-enabled': 'no' } } }), CLUSTER, [])],
  ['one ZooKeeper server', () => desiredZookeeper(service('ZookeeperService', 'zk', { version: '3.8', topology: { replicas: 1 } }), CLUSTER, [])],
];
const EXPECTED: Record<string, { field: string; message: string }> = {
  'a name too long for the member objects': { field: 'metadata.name', message: "Invalid value: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": at most 45 characters: the member's objects are named after it (e.g. \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-proxysql-headless\", which must fit 63)" },
  'another cluster': { field: 'spec.placement.cluster', message: 'Invalid value: "member2": the desired objects were asked for Cluster "member1"' },
  'a zone the cluster lacks': { field: 'spec.placement.zones[1]', message: 'Unsupported value: "zone-x": the Cluster "member1" has the zones "zone-a", "zone-b", "zone-c"' },
  'a node group the cluster lacks': { field: 'spec.placement.nodeGroup', message: 'Unsupported value: "gpu": the Cluster "member1" has no such node group' },
  'a node group outside the zones': { field: 'spec.placement.nodeGroup', message: 'Invalid value: "zone-b": its nodes are in "zone-b", none of spec.placement.zones' },
  'a node group that selects no nodes': { field: 'spec.placement.nodeGroup', message: "Invalid value: \"spread\": the Cluster's node group selects no nodes (neither nodeSelector nor one zone)" },
  'a storage class the cluster lacks': { field: 'spec.storage.storageClassName', message: 'Unsupported value: "slow": the Cluster "member1" offers "fast", "kwok-volume"' },
  'Retain on a compose kind': { field: 'spec.deletionPolicy', message: 'Unsupported value: "Retain": a ZookeeperEnsemble deletes the volumes of its servers with it; only Delete is supported for this kind' },
  'dedicated controllers on a combined cluster': { field: 'spec.topology.dedicatedControllers', message: 'Invalid value: 3: the KafkaCluster runs its controllers among the brokers, fixed when it was made' },
  'another quorum size': { field: 'spec.topology.dedicatedControllers', message: "Invalid value: 5: the KafkaCluster's quorum has 3 controllers, fixed when it was made" },
  'fewer brokers than controllers': { field: 'spec.topology.brokers', message: 'Invalid value: 2: the first 3 brokers are the KRaft controllers (fixed when the cluster was made), so there must be at least 3' },
  'semisync without a replica': { field: 'spec.topology.replicas', message: 'Invalid value: 1: semisync needs a replica to acknowledge each commit' },
  'Sentinel on a standalone Redis': { field: 'spec.options.sentinel.enabled', message: 'Invalid value: true: Sentinel needs replicas: set spec.topology.mode to replication' },
  'cluster-enabled no': { field: 'spec.options.parameters[cluster-enabled]', message: "Invalid value: \"no\": a Redis Cluster's servers run with cluster-enabled yes" },
  'one ZooKeeper server': { field: 'spec.topology.replicas', message: 'Invalid value: 1: a ZookeeperEnsemble has at least 3 servers' },
};

describe('refusals of the desired functions', () => {
  it.each(CASES)('%s', (what, desired) => {
    expect(refusal(desired())).toEqual(EXPECTED[what]);
  });
});
