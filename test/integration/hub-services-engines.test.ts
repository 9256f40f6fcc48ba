// The last three kinds the hub drives onto member1, each created by a project editor with the real kubectl and run
// by the engine layer there on real engines, as in hub-services: a KafkaService of 3 brokers (KRaft, the first three
// also the controllers) taking 1,000 messages with acks=all through its bootstrap endpoint, every one read back at
// the offset its acknowledgement gave, all as the application account of its connection Secret, which Kafka's
// authorizer refuses deleting a topic, altering a broker setting and creating an ACL; an ElasticsearchService of the OpenSearch distribution, 3 nodes, indexing 100
// documents and searching them as the application account of its connection Secret, which the security plugin
// refuses cluster settings and its own API (and anonymous requests everything); a MysqlService of MariaDB with a source and 2 replicas in semisync and ProxySQL sync
// on, rows written through the readwrite endpoint read on every replica, and the hub saying that its ProxySQL units
// cannot run here (no ProxySQL server exists in any registry this machine can use) while the database serves.
// Kafka is deleted through the hub once shown, so the others have the machine's cores; OpenSearch is deleted while
// the database runs on (the project's namespace on member1 stays for it), then the database (the namespace goes).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { AclOperations, AclPermissionTypes, Admin, ConfigResourceTypes, IncrementalAlterConfigOperationTypes, ResourcePatternTypes, ResourceTypes } from '@platformatic/kafka';
import { ElasticsearchClusterResource, KafkaClusterResource, type KafkaCluster } from '../../lib/api/compose.upm.io.generated.ts';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { UnitResource, type Unit } from '../../lib/api/unit.upm.io.generated.ts';
import type { Condition } from '../../lib/conditions.ts';
import { isNotFound } from '../../lib/kube/errors.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import type { Endpoint, ServiceStatus } from '../../controllers/services/contract.ts';
import { describeHub, kubectlAs } from '../hub.ts';
import { MEMBER, useHubProject } from '../hub-member.ts';
import { AckedProducer, verify, writeClientConfig } from '../kafka-load.ts';
import { b64, SQL_CONNECT_TIMEOUT_MS } from '../mysql.ts';
import { searchHttp, statusOf } from '../search-http.ts';

type Secret = KubeObject & { data?: Record<string, string> };
const svc = (kind: string, name: string, ns: string, spec: Record<string, unknown>) =>
  JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind, metadata: { name, namespace: ns }, spec: { placement: { cluster: MEMBER }, ...spec } });
// The JVMs' heaps are half the memory limit, capped at 256 MB by the agent: two cores are shared by many suites.
const JVM_RESOURCES = { cpu: '500m', memory: '512Mi' };
const MESSAGES = 1000;
const DOCUMENTS = 100;

describeHub('Kafka, OpenSearch and MariaDB with ProxySQL driven by the hub onto member1', () => {
  const p = useHubProject('hubeng');
  let scratch = '';
  beforeAll(async () => { scratch = await mkdtemp(join(tmpdir(), 'upm-hubeng-clients-')); });
  afterAll(async () => { if (scratch) await rm(scratch, { recursive: true, force: true }); });

  /** Creates the service as the editor and waits for Ready on the hub; prints the time it took. */
  const createReady = async (kind: string, name: string, spec: Record<string, unknown>, timeoutMs: number): Promise<ServiceStatus> => {
    const created = await p.as(['create', '-f', '-'], svc(kind, name, p.project, spec));
    expect(created.trim()).toBe(`${kind.toLowerCase()}.upm.io/${name} created`);
    const t0 = Date.now();
    const st = await p.hubReaches(kind.toLowerCase(), name, `the ${kind} Ready`, (s) => s.phase === 'Ready', timeoutMs);
    process.stdout.write(`${kind} Ready after ${Date.now() - t0} ms\n`);
    // Ready for the spec as it is: the status is of this generation, and its conditions say so.
    const hub = await p.hubObject(kind.toLowerCase(), name);
    expect(st.observedGeneration).toBe(hub.metadata.generation);
    const cond = (type: string) => (st.conditions as Condition[] | undefined)?.find((c) => c.type === type);
    expect(cond('Ready')).toMatchObject({ status: 'True', reason: 'AllReady', observedGeneration: hub.metadata.generation });
    expect(cond('Progressing')).toMatchObject({ status: 'False', reason: 'Complete' });
    expect(cond('Degraded')).toMatchObject({ status: 'False' });
    expect(st.version).toBe(spec.version);
    return st;
  };
  const endpoint = (st: ServiceStatus, role: string): Endpoint => {
    const e = st.endpoints?.find((x) => x.role === role);
    if (!e) throw new Error(`no ${role} endpoint in ${JSON.stringify(st.endpoints)}`);
    return e;
  };
  /** The admin account of a UnitSet's credentials Secret on member1. */
  const memberAccount = async (secret: string) => {
    const s = await p.member.get<Secret>(Resources.secrets, secret, p.project);
    return { username: b64(s.data?.['admin-username']), password: b64(s.data?.['admin-password']) };
  };
  /** A Secret of the project on the hub as the editor reads it with kubectl, decoded. */
  const connection = async (name: string): Promise<Record<string, string>> => {
    const s = JSON.parse(await p.as(['get', 'secret', name, '-n', p.project, '-o', 'json'])) as Secret;
    return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, b64(v)]));
  };
  /** The Kafka error names (apiId) a refused call carried, however deep the client wrapped them; [] if it succeeded. */
  const kafkaRefusal = async (call: Promise<unknown>): Promise<string[]> => {
    const err = await call.then(() => undefined, (e: unknown) => e);
    const ids: string[] = [];
    const walk = (e: unknown, depth: number) => {
      if (!e || typeof e !== 'object' || depth > 5) return;
      const x = e as { apiId?: unknown; errors?: unknown; cause?: unknown };
      if (typeof x.apiId === 'string') ids.push(x.apiId);
      if (Array.isArray(x.errors)) for (const i of x.errors) walk(i, depth + 1);
      walk(x.cause, depth + 1);
    };
    walk(err, 0);
    if (err && !ids.length) throw err; // refused for another reason than Kafka's: shown as it is
    return ids;
  };
  /**
   * Deletes the service through the hub. The project's namespace on member1 goes with its last service there (and
   * is gone before the next service needs it again); while another service of the project is there, it stays.
   */
  const remove = async (kind: string, name: string, last: boolean) => {
    await p.as(['delete', kind, name, '-n', p.project, '--timeout=180s']);
    expect((await kubectlAs(p.kc, ['get', kind, name, '-n', p.project])).stderr).toContain('NotFound');
    const ns = () => p.member.get<KubeObject>(Resources.namespaces, p.project).catch((err: unknown) => { if (isNotFound(err)) return undefined; throw err; });
    if (last) await waitFor('the namespace gone from member1', async () => !(await ns()), { timeoutMs: 120_000, intervalMs: 500 });
    else expect((await ns())?.metadata.deletionTimestamp).toBeUndefined();
  };

  it('runs the KafkaService of 3 brokers: Ready with its bootstrap endpoint, 1,000 messages produced and consumed through it by the connection Secret\'s application account, which may not administer', async () => {
    const st = await createReady('KafkaService', 'events', { version: '3.9', topology: { brokers: 3 }, resources: JVM_RESOURCES, storage: { size: '1Gi' } }, 480_000);
    expect(st.ready).toBe('3/3');
    const rw = endpoint(st, 'readwrite');
    expect(rw).toMatchObject({ name: 'events-bootstrap', port: 9092 });
    expect(rw.addresses).toHaveLength(3);
    expect(st.endpoints).toHaveLength(1);
    // Every broker is one of the three KRaft controllers; one of them is active, and the status names it.
    expect(st.units?.map((u) => [u.name, u.ready])).toEqual([['events-0', true], ['events-1', true], ['events-2', true]]);
    for (const u of st.units ?? []) expect(u.role).toMatch(/^broker,controller(,active-controller)?$/);
    const active = st.units?.filter((u) => u.role?.endsWith(',active-controller')) ?? [];
    expect(active).toHaveLength(1);
    expect(st.controller).toBe(active[0]?.name);

    // The connection Secret, as the editor reads it on the hub: the application account, never the admin.
    const c = await p.hubReaches('kafkaservice', 'events', 'the connection Secret in the status', (s) => s.connectionSecret === 'events-connection', 60_000).then(() => connection('events-connection'));
    expect(c).toMatchObject({ host: `events-bootstrap.${p.project}.svc`, port: '9092', user: 'upm_app' });
    expect(c.password).not.toBe((await memberAccount('events-credentials')).password);
    // Its ACLs are the Compose Operator's on member1 (granted on a pass after the brokers answer).
    const granted = await waitFor('the application account\'s ACLs granted', async () => {
      const kc = await p.member.get<KafkaCluster>(KafkaClusterResource, 'events', p.project);
      return kc.status?.conditions?.find((x) => x.type === 'AppAccount' && x.status === 'True');
    }, { timeoutMs: 60_000, intervalMs: 1000 });
    expect(granted.message).toContain('upm_app');
    const auth = { username: c.user ?? '', password: c.password ?? '' };
    const bootstrap = rw.addresses.map((a) => `${a}:${rw.port}`);
    const admin = new Admin({ clientId: 'upm-hub-test', bootstrapBrokers: bootstrap, sasl: { mechanism: 'PLAIN', ...auth }, retries: 5, timeout: 10_000 });
    try {
      await admin.createTopics({ topics: ['orders'], partitions: 3, replicas: 3, configs: [{ name: 'min.insync.replicas', value: '2' }] });
    } finally { await admin.close(); }
    const producer = new AckedProducer({ bootstrap, ...auth, topic: 'orders', partitions: 3, total: MESSAGES, batch: 50, ratePerSecond: 10_000 });
    producer.unpace();
    producer.start();
    await producer.finished();
    expect(producer.acked.size).toBe(MESSAGES);
    // Read back from another broker than the first, with Kafka's own console consumer: each message at its offset.
    const v = await verify(producer.acked, 'orders', bootstrap[1] ?? '', await writeClientConfig(join(scratch, 'kafka.properties'), auth));
    expect(v).toMatchObject({ acked: MESSAGES, missing: [], misplaced: [] });
    expect(v.consumed).toBeGreaterThanOrEqual(MESSAGES);

    // Administration is refused with Kafka's authorization errors, and the topic is still there.
    const app = new Admin({ clientId: 'upm-hub-test-app', bootstrapBrokers: bootstrap, sasl: { mechanism: 'PLAIN', ...auth }, retries: 0, timeout: 10_000 });
    try {
      expect(await kafkaRefusal(app.deleteTopics({ topics: ['orders'] }))).toContain('TOPIC_AUTHORIZATION_FAILED');
      expect(await kafkaRefusal(app.incrementalAlterConfigs({
        resources: [{ resourceType: ConfigResourceTypes.BROKER, resourceName: '1', configs: [{ name: 'log.retention.bytes', configOperation: IncrementalAlterConfigOperationTypes.SET, value: '1' }] }],
      }))).toContain('CLUSTER_AUTHORIZATION_FAILED');
      expect(await kafkaRefusal(app.createAcls({
        creations: [{ resourceType: ResourceTypes.CLUSTER, resourceName: 'kafka-cluster', resourcePatternType: ResourcePatternTypes.LITERAL, principal: `User:${auth.username}`, host: '*', operation: AclOperations.ALL, permissionType: AclPermissionTypes.ALLOW }],
      }))).toContain('CLUSTER_AUTHORIZATION_FAILED');
      expect(await app.listTopics()).toContain('orders');
    } finally { await app.close(); }
    await remove('kafkaservice', 'events', true);
  }, 900_000);

  it('runs the ElasticsearchService of the OpenSearch distribution, 3 nodes: Ready with its endpoint, 100 documents indexed and searched', async () => {
    const st = await createReady('ElasticsearchService', 'search', {
      distribution: 'opensearch', version: '2.19', topology: { dataNodes: 3 }, resources: JVM_RESOURCES, storage: { size: '1Gi' },
    }, 480_000);
    expect(st).toMatchObject({ ready: '3/3', health: 'green' });
    const rw = endpoint(st, 'readwrite');
    expect(rw).toMatchObject({ name: 'search-readwrite', port: 9200 });
    expect(rw.addresses).toHaveLength(3);
    expect(st.endpoints).toHaveLength(1);
    // Three master-eligible data nodes, one of them the elected cluster manager.
    expect(st.units?.map((u) => [u.name, u.ready])).toEqual([['search-nodes-0', true], ['search-nodes-1', true], ['search-nodes-2', true]]);
    for (const u of st.units ?? []) expect(u.role).toMatch(/^cluster_manager,data,ingest(,elected)?$/);
    expect(st.units?.filter((u) => u.role?.endsWith(',elected'))).toHaveLength(1);

    // The connection Secret, as the editor reads it on the hub: the application account, never the admin. The
    // security plugin's role for it is the Compose Operator's on member1 (made on a pass after the nodes answer).
    const c = await p.hubReaches('elasticsearchservice', 'search', 'the connection Secret in the status', (s) => s.connectionSecret === 'search-connection', 60_000).then(() => connection('search-connection'));
    expect(c).toMatchObject({ host: `search-readwrite.${p.project}.svc`, port: '9200', user: 'upm_app' });
    expect(c.password).toBeTruthy();
    expect(c.password).not.toBe((await memberAccount('search-credentials')).password);
    await waitFor('the application account granted', async () => {
      const esc = await p.member.get<KubeObject & { status?: { conditions?: Condition[] } }>(ElasticsearchClusterResource, 'search', p.project);
      return esc.status?.conditions?.find((x) => x.type === 'AppAccount' && x.status === 'True');
    }, { timeoutMs: 120_000, intervalMs: 1000 });
    const app = { user: c.user ?? '', password: c.password ?? '' };
    const as = <T>(address: string, method: string, path: string, body?: unknown) => searchHttp<T>(address, method, path, body, 60_000, app);

    const [first = '', second = '', third = ''] = rw.addresses.map((a) => `${a}:${rw.port}`);
    await as(first, 'PUT', '/orders', { settings: { number_of_shards: 2, number_of_replicas: 1 } });
    const bulk = Array.from({ length: DOCUMENTS }, (_, i) => `{"index":{"_id":"${i}"}}\n{"item":"item-${i}","qty":${i % 7}}\n`).join('');
    const r = await as<{ errors: boolean; items: unknown[] }>(second, 'POST', '/orders/_bulk?refresh=true', bulk);
    expect(r.errors).toBe(false);
    expect(r.items).toHaveLength(DOCUMENTS);
    // Searched through every node the endpoint names: all of them, and a query that matches some.
    for (const a of [first, second, third]) {
      const all = await as<{ hits: { total: { value: number } } }>(a, 'POST', '/orders/_search', { size: 0, track_total_hits: true });
      expect(`${a}: ${all.hits.total.value}`).toBe(`${a}: ${DOCUMENTS}`);
    }
    const some = await as<{ hits: { total: { value: number }; hits: { _id: string; _source: { qty: number } }[] } }>(third, 'POST', '/orders/_search', { size: DOCUMENTS, query: { term: { qty: 3 } } });
    const ids = Array.from({ length: DOCUMENTS }, (_, i) => i).filter((i) => i % 7 === 3).map(String);
    expect(some.hits.total.value).toBe(ids.length);
    expect(some.hits.hits.map((h) => h._id).sort()).toEqual([...ids].sort());
    // The account administers nothing: cluster settings and the security API are refused, and so is anyone anonymous.
    expect(await statusOf(as(first, 'PUT', '/_cluster/settings', { persistent: { 'search.max_buckets': 100 } }))).toBe(403);
    expect(await statusOf(as(first, 'GET', '/_plugins/_security/api/internalusers'))).toBe(403);
    expect(await statusOf(searchHttp(first, 'GET', '/orders/_count'))).toBe(401);
  }, 900_000);

  it('runs the MysqlService of MariaDB, a source and 2 semisync replicas with ProxySQL sync on: Ready, rows on every replica, and its ProxySQL units reported as unable to run here', async () => {
    const st = await createReady('MysqlService', 'db', {
      engine: 'mariadb', version: '10.11', topology: { mode: 'semisync', replicas: 3 }, options: { proxysql: { enabled: true, replicas: 1 } },
      resources: { cpu: '1', memory: '256Mi' }, storage: { size: '1Gi' },
    }, 300_000);
    expect(st).toMatchObject({ ready: '3/3', source: 'db-0' });
    const rw = endpoint(st, 'readwrite');
    const ro = endpoint(st, 'readonly');
    expect(rw).toMatchObject({ name: 'db-readwrite', port: 3306 });
    expect(rw.addresses).toHaveLength(1);
    expect(ro).toMatchObject({ name: 'db-readonly', port: 3306 });
    expect(ro.addresses).toHaveLength(2);
    expect(st.units?.map((u) => [u.name, u.role, u.ready])).toEqual([['db-0', 'source', true], ['db-1', 'replica', true], ['db-2', 'replica', true], ['db-proxysql-0', 'proxysql', false]]);
    // The hub says why its ProxySQL unit does not run (in the words of the unit on member1), and that the database
    // does not need it: Ready says so too, for a reader of that condition alone.
    const unit = await p.member.get<Unit>(UnitResource, 'db-proxysql-0', p.project);
    expect(unit.status).toMatchObject({ phase: 'NotRunnable', engine: { state: 'NotRunnable' } });
    const why = unit.status?.engine?.message ?? '';
    expect(why).toMatch(/proxysql/i);
    const cond = (type: string) => (st.conditions as Condition[] | undefined)?.find((c) => c.type === type);
    process.stdout.write(`Ready: ${cond('Ready')?.message}\nProxySQLReady: ${cond('ProxySQLReady')?.message}\n`);
    expect(cond('ProxySQLReady')).toMatchObject({
      status: 'False', reason: 'NotRunnable',
      message: `ProxySQL unit db-proxysql-0 cannot run on this cluster (${why}); ProxysqlSync db computes and reports its desired state only; clients use db-readwrite`,
    });
    expect(cond('Ready')?.message).toBe('3/3 servers ready; ProxySQL does not run on this cluster (condition ProxySQLReady)');

    const auth = await memberAccount('db-credentials');
    const sql = async (address: string, statement: string): Promise<RowDataPacket[]> => {
      const conn = await createConnection({ host: address, port: 3306, user: auth.username, password: auth.password, connectTimeout: SQL_CONNECT_TIMEOUT_MS });
      try { return (await conn.query<RowDataPacket[]>(statement))[0]; } finally { await conn.end(); }
    };
    const source = rw.addresses[0] ?? '';
    // Semisync: the source waits for a replica's acknowledgement, and both replicas are its semisync clients.
    const semi = Object.fromEntries((await sql(source, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_%'")).map((r) => [String(r.Variable_name), String(r.Value)]));
    expect(semi).toMatchObject({ Rpl_semi_sync_master_status: 'ON', Rpl_semi_sync_master_clients: '2' });
    await sql(source, 'CREATE DATABASE shop');
    await sql(source, 'CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(32))');
    await sql(source, `INSERT INTO shop.orders (id, item) VALUES ${Array.from({ length: 100 }, (_, i) => `(${i}, 'item-${i}')`).join(', ')}`);
    const yes = Number(Object.fromEntries((await sql(source, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_yes_tx'")).map((r) => [String(r.Variable_name), String(r.Value)])).Rpl_semi_sync_master_yes_tx);
    expect(yes).toBeGreaterThanOrEqual(3);
    for (const replica of ro.addresses) {
      await waitFor(`the rows on ${replica}`, async () => Number((await sql(replica, 'SELECT COUNT(*) AS n FROM shop.orders'))[0]?.n) === 100, { timeoutMs: 30_000, intervalMs: 250 });
      expect(Number((await sql(replica, 'SELECT @@global.read_only AS ro'))[0]?.ro)).toBe(1);
    }
    // The OpenSearch service goes first: the namespace stays for the database, which serves on; then the database.
    await remove('elasticsearchservice', 'search', false);
    expect(Number((await sql(ro.addresses[0] ?? '', 'SELECT COUNT(*) AS n FROM shop.orders'))[0]?.n)).toBe(100);
    expect((await p.hubObject('mysqlservice', 'db')).status?.phase).toBe('Ready');
    await remove('mysqlservice', 'db', true);
  }, 600_000);
});
