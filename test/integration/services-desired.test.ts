// The services controller's pure parts against a real member: the desired objects of a MariaDB MysqlService (three
// servers, semisync, placed in two of the member's zones, which the hub read from its nodes) applied by server-side
// apply as upm-hub to member1, run by the real Unit and Compose Operators on real MariaDB servers; the status function
// on what the member then shows reaches Ready with endpoints, every server in one of the two zones; a row written
// through the readwrite endpoint is read on each readonly address; the service edited 3 -> 5 servers, desired again
// from the service and what the member holds, followed by the member and reported as 5 ready; a ZooKeeper service
// in the same two zones, through the ensemble's own UnitSet, Ready with each server's role and zone; a Redis service
// with Sentinel and a Redis Cluster service, a Kafka service and an OpenSearch service, each Ready with its endpoints.
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { beforeAll, describe, expect, it } from '@jest/globals';
import {
  ElasticsearchClusterResource, KafkaClusterResource, MysqlReplicationResource, RedisClusterResource, RedisReplicationResource, ZookeeperEnsembleResource,
} from '../../lib/api/compose.upm.io.generated.ts';
import type { ClusterRecord } from '../../lib/api/internal.upm.io.generated.ts';
import { UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import { readInventory, type StorageClassObject } from '../../lib/inventory.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { Resources, type ResourceType } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { FIELD_MANAGER, SERVICE_NAME_LABEL, UNIT_SELECTOR, type HubService, type ServiceStatus } from '../../controllers/services/contract.ts';
import { desiredElasticsearch } from '../../controllers/services/desired/elasticsearch.ts';
import { desiredKafka } from '../../controllers/services/desired/kafka.ts';
import { desiredMysql } from '../../controllers/services/desired/mysql.ts';
import { desiredRedis } from '../../controllers/services/desired/redis.ts';
import { desiredRedisCluster } from '../../controllers/services/desired/rediscluster.ts';
import { desiredZookeeper } from '../../controllers/services/desired/zookeeper.ts';
import { serviceStatus } from '../../controllers/services/status.ts';
import { useUnitOperator } from '../unit-operator.ts';
import { b64 } from '../mysql.ts';

const CLUSTER = 'member1';
const RESOURCE: Record<string, ResourceType> = {
   Namespace: Resources.namespaces, UnitSet: UnitSetResource, MysqlReplication: MysqlReplicationResource, ZookeeperEnsemble: ZookeeperEnsembleResource,
  RedisReplication: RedisReplicationResource, RedisCluster: RedisClusterResource, KafkaCluster: KafkaClusterResource, ElasticsearchCluster: ElasticsearchClusterResource,
};
type Secret = KubeObject & { data?: Record<string, string> };

describe('desired member objects and status of a MariaDB service on a real member', () => {
  const f = useUnitOperator(CLUSTER, 'sdesired', { engines: true, compose: true });
  let c: KubeClient;
  let cluster: ClusterRecord;
  let zones: string[];
  let svc: HubService;
  beforeAll(async () => {
    c = f.client;
    const nodes = (await c.list<KubeObject>(Resources.nodes)).items;
    const classes = (await c.list<StorageClassObject>(Resources.storageClasses)).items;
    // The Cluster as the hub's clusters controller records it: what it read from the member.
    cluster = { apiVersion: 'internal.upm.io/v1alpha1', kind: 'ClusterRecord', metadata: { name: CLUSTER }, spec: {}, status: readInventory(nodes, classes) };
    zones = (cluster.status?.zones ?? []).slice(0, 2);
    svc = {
      apiVersion: 'internal.upm.io/v1alpha1', kind: 'MysqlServiceRecord', metadata: { name: 'db', namespace: f.ns, generation: 1 },
      spec: {
        engine: 'mariadb', version: '10.11', topology: { mode: 'semisync', replicas: 3 }, resources: { cpu: '1', memory: '256Mi' },
        storage: { size: '1Gi' }, options: { parameters: { innodb_log_file_size: '16M', max_connections: '100' } },
        placement: { cluster: CLUSTER, zones }, deletionPolicy: 'Delete',
      },
    };
  });

  /** What the mirror's informers would hold: the service's objects by its label, its Units, the member's Nodes. */
  const observe = async (name = 'db') => {
    const sel = { namespace: f.ns, labelSelector: `${SERVICE_NAME_LABEL}=${name}` };
    const mirrored = ['UnitSet', 'MysqlReplication', 'ZookeeperEnsemble', 'RedisReplication', 'RedisCluster', 'KafkaCluster', 'ElasticsearchCluster'];
    const [units, nodes, ...lists] = await Promise.all([
      c.list<KubeObject>(UnitResource, { namespace: f.ns, labelSelector: `${UNIT_SELECTOR},${SERVICE_NAME_LABEL}=${name}` }), c.list<KubeObject>(Resources.nodes),
      ...mirrored.map((k) => c.list<KubeObject>(RESOURCE[k]!, sel)),
    ]);
    const kinds: [KubeObject[], string][] = [[units.items, 'Unit'], [nodes.items, 'Node'], ...lists.map((l, i): [KubeObject[], string] => [l.items, mirrored[i]!])];
    return kinds.flatMap(([items, kind]) => items.map((o) => ({ ...o, kind })));
  };
  /** Desired from the service and what the member holds, applied as the hub applies. */
  const applyDesired = async (service = svc, desired = desiredMysql) => {
    // A list may meet the compose CRDs still being set up (429): the informers would retry, so does this.
    const live = await waitFor('the member objects listed', () => observe(service.metadata.name).catch(() => undefined), { timeoutMs: 30_000, intervalMs: 500 });
    const d = desired(service, cluster, live);
    if (!('objects' in d)) throw new Error(`refused: ${d.refused.field}: ${d.refused.message}`);
    for (const o of d.objects) {
      const rt = RESOURCE[o.kind ?? ''];
      if (!rt) throw new Error(`no resource for ${o.kind}`);
      await c.patch(rt, o.metadata.name ?? '', o, 'apply', { namespace: rt.namespaced ? o.metadata.namespace : undefined, fieldManager: FIELD_MANAGER, force: true });
    }
    return d;
  };
  let last: ServiceStatus | undefined;
  const waitStatus = (what: string, ok: (s: ServiceStatus) => boolean, timeoutMs: number, service = svc, desired = desiredMysql) => waitFor(what, async () => {
    const objects = await observe(service.metadata.name).catch(() => undefined);
    if (!objects) return undefined;
    const s = serviceStatus({ ...service, ...(last ? { status: last } : {}) }, { reachable: true, objects, desired: desired(service, cluster, objects) }, new Date());
    last = s;
    return ok(s) ? s : undefined;
  }, { timeoutMs, intervalMs: 1000 }).catch((err: unknown) => { throw new Error(`${(err as Error).message}; last status ${JSON.stringify(last)}`, { cause: err }); });

  it('reaches Ready with endpoints, every server in the zones asked for, and replicates a row written through them', async () => {
    expect(zones).toHaveLength(2);
    await applyDesired();
    const s = await waitStatus('service Ready', (x) => x.phase === 'Ready', 240_000);
    expect(s).toMatchObject({ ready: '3/3', version: '10.11', source: 'db-0' });
    expect(s.units?.map((u) => [u.name, u.role, u.ready])).toEqual([['db-0', 'source', true], ['db-1', 'replica', true], ['db-2', 'replica', true]]);
    for (const u of s.units ?? []) expect(zones).toContain(u.zone);
    const rw = s.endpoints?.find((e) => e.role === 'readwrite');
    const ro = s.endpoints?.find((e) => e.role === 'readonly');
    expect(rw).toMatchObject({ name: 'db-readwrite', port: 3306 });
    expect(rw?.addresses).toHaveLength(1);
    expect(ro?.addresses).toHaveLength(2);

    const secret = await c.get<Secret>(Resources.secrets, 'db-credentials', f.ns);
    const auth = { user: b64(secret.data?.['admin-username']), password: b64(secret.data?.['admin-password']) };
    const conn = await createConnection({ host: rw?.addresses[0], port: rw?.port, ...auth, connectTimeout: 3000 });
    try {
      await conn.query('CREATE DATABASE IF NOT EXISTS shop');
      await conn.query('CREATE TABLE IF NOT EXISTS shop.orders (id INT PRIMARY KEY, item VARCHAR(32))');
      await conn.query("INSERT INTO shop.orders VALUES (1, 'tea')");
    } finally { await conn.end(); }
    for (const host of ro?.addresses ?? []) {
      const rows = await waitFor(`the row on ${host}`, async () => {
        const r = await createConnection({ host, port: 3306, ...auth, connectTimeout: 3000 });
        try { const [x] = await r.query<RowDataPacket[]>('SELECT item FROM shop.orders WHERE id = 1'); return x.length ? x : undefined; } catch { return undefined; } finally { await r.end(); }
      }, { timeoutMs: 20_000, intervalMs: 250 });
      expect(rows[0]?.item).toBe('tea');
    }
  }, 300_000);

  it('follows an edit of the service from 3 to 5 servers: the member scales, the status shows 5 ready', async () => {
    svc = { ...svc, metadata: { ...svc.metadata, generation: 2 }, spec: { ...svc.spec, topology: { mode: 'semisync', replicas: 5 } } };
    await applyDesired();
    const updating = await waitStatus('Updating', (x) => x.phase === 'Updating' || x.phase === 'Ready', 30_000);
    expect(updating.observedGeneration).toBe(2);
    const s = await waitStatus('5 ready', (x) => x.phase === 'Ready' && x.ready === '5/5', 300_000);
    expect(s.units?.filter((u) => u.role === 'replica')).toHaveLength(4);
    for (const u of s.units ?? []) expect(zones).toContain(u.zone);
    expect(s.endpoints?.find((e) => e.role === 'readonly')?.addresses).toHaveLength(4);
  }, 330_000);

  it('places a ZooKeeper service in the same two zones through the ensemble it asks for, and reports each server', async () => {
    last = undefined;
    const zk: HubService = {
      apiVersion: 'internal.upm.io/v1alpha1', kind: 'ZookeeperServiceRecord', metadata: { name: 'zk', namespace: f.ns, generation: 1 },
      spec: { version: '3.8', topology: { replicas: 3 }, resources: { cpu: '500m', memory: '256Mi' }, storage: { size: '1Gi' }, placement: { cluster: CLUSTER, zones }, deletionPolicy: 'Delete' },
    };
    await applyDesired(zk, desiredZookeeper);
    const s = await waitStatus('ZooKeeper Ready', (x) => x.phase === 'Ready', 240_000, zk, desiredZookeeper);
    expect(s).toMatchObject({ ready: '3/3', version: '3.8' });
    expect(s.units?.filter((u) => u.role === 'leader')).toHaveLength(1);
    // The ensemble's own UnitSet carried the placement and the service's labels on to its Units.
    for (const u of s.units ?? []) expect(zones).toContain(u.zone);
    expect(s.endpoints).toEqual([{ name: 'zk-client', role: 'readwrite', addresses: expect.arrayContaining([expect.any(String)]) as unknown as string[], port: 2181 }]);
    expect(s.endpoints?.[0]?.addresses).toHaveLength(3);
  }, 300_000);

  it('runs a Redis service with Sentinel and a Redis Cluster service from their desired objects, each Ready with its endpoints', async () => {
    last = undefined;
    const redis: HubService = {
      apiVersion: 'internal.upm.io/v1alpha1', kind: 'RedisServiceRecord', metadata: { name: 'rs', namespace: f.ns, generation: 1 },
      spec: { version: '7.2', topology: { mode: 'replication', replicas: 3 }, options: { sentinel: { enabled: true } }, resources: { cpu: '500m', memory: '256Mi' }, storage: { size: '1Gi' }, placement: { cluster: CLUSTER }, deletionPolicy: 'Delete' },
    };
    await applyDesired(redis, desiredRedis);
    const r = await waitStatus('Redis Ready', (x) => x.phase === 'Ready', 240_000, redis, desiredRedis);
    expect(r).toMatchObject({ ready: '3/3', master: 'rs-0' });
    expect(r.endpoints?.map((e) => [e.name, e.role, e.addresses.length, e.port])).toEqual([['rs-readwrite', 'readwrite', 1, 6379], ['rs-readonly', 'readonly', 2, 6379], ['rs-sentinel-headless', 'sentinel', 3, 26379]]);
    expect(r.units?.filter((u) => u.role === 'sentinel')).toHaveLength(3);

    last = undefined;
    const cluster3: HubService = {
      apiVersion: 'internal.upm.io/v1alpha1', kind: 'RedisClusterServiceRecord', metadata: { name: 'rc', namespace: f.ns, generation: 1 },
      spec: { version: '7.2', topology: { shards: 3, replicasPerShard: 0 }, resources: { cpu: '500m', memory: '256Mi' }, storage: { size: '1Gi' }, placement: { cluster: CLUSTER }, deletionPolicy: 'Delete' },
    };
    await applyDesired(cluster3, desiredRedisCluster);
    const rc = await waitStatus('Redis Cluster Ready', (x) => x.phase === 'Ready', 240_000, cluster3, desiredRedisCluster);
    expect(rc).toMatchObject({ ready: '3/3', slotsAssigned: 16384 });
    expect(rc.endpoints).toEqual([{ name: 'rc-readwrite', role: 'readwrite', addresses: expect.any(Array) as unknown as string[], port: 6379 }]);
    expect(rc.endpoints?.[0]?.addresses).toHaveLength(3);
  }, 540_000);

  // One broker and one node: the JVMs are heavy on a shared machine, and the shape of the objects is what is shown.
  it('runs a Kafka service and an OpenSearch service from their desired objects, each Ready with its endpoint', async () => {
    last = undefined;
    const kafka: HubService = {
      apiVersion: 'internal.upm.io/v1alpha1', kind: 'KafkaServiceRecord', metadata: { name: 'ev', namespace: f.ns, generation: 1 },
      spec: { version: '3.9', topology: { brokers: 1 }, resources: { cpu: '500m', memory: '512Mi' }, storage: { size: '1Gi' }, placement: { cluster: CLUSTER, zones }, deletionPolicy: 'Delete' },
    };
    await applyDesired(kafka, desiredKafka);
    const k = await waitStatus('Kafka Ready', (x) => x.phase === 'Ready', 300_000, kafka, desiredKafka);
    expect(k).toMatchObject({ ready: '1/1', version: '3.9', controller: 'ev-0' });
    expect(k.endpoints?.map((e) => [e.name, e.addresses.length, e.port])).toEqual([['ev-bootstrap', 1, 9092]]);
    expect(zones).toContain(k.units?.[0]?.zone);

    last = undefined;
    const search: HubService = {
      apiVersion: 'internal.upm.io/v1alpha1', kind: 'ElasticsearchServiceRecord', metadata: { name: 'logs', namespace: f.ns, generation: 1 },
      spec: { distribution: 'opensearch', version: '2.19', topology: { dataNodes: 1 }, resources: { cpu: '1', memory: '512Mi' }, storage: { size: '1Gi' }, placement: { cluster: CLUSTER }, deletionPolicy: 'Delete' },
    };
    await applyDesired(search, desiredElasticsearch);
    const e = await waitStatus('OpenSearch Ready', (x) => x.phase === 'Ready', 420_000, search, desiredElasticsearch);
    expect(e).toMatchObject({ ready: '1/1', version: '2.19', health: 'green' });
    expect(e.endpoints?.map((x) => [x.name, x.addresses.length, x.port])).toEqual([['logs-readwrite', 1, 9200]]);
    expect(e.units?.[0]).toMatchObject({ name: 'logs-nodes-0', ready: true });
    expect(e.units?.[0]?.node).toBeTruthy();
  }, 780_000);
});
