// Kafka (KRaft) and OpenSearch behind simulated pods: the Unit Operator renders each unit's config from the
// template, the agent starts the real engine (Maven Central jars) on the pod's loopback address, and the units of a
// UnitSet of three find each other by their DNS names and form one cluster.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { kafkaTool } from '../../agent/engines/kafka.ts';
import type { Unit, UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { unitSetId } from '../../lib/engineconfig.ts';
import { listening } from '../engine-harness.ts';
import { accountOf, searchHttp, type SearchAccount } from '../search-http.ts';
import { kubectlOk } from '../kubectl.ts';
import { useUnitOperator } from '../unit-operator.ts';

const CLUSTER = 'member2';
type Pod = KubeObject & { status?: { podIP?: string } };
type Secret = KubeObject & { data?: Record<string, string> };
type ConfigMap = KubeObject & { data?: Record<string, string> };
type Pvc = KubeObject & { spec?: { volumeName?: string } };

const unitSet = (ns: string, name: string, engine: string, version: string, storage: string, parameters: Record<string, string> = {}) => `
apiVersion: unit.upm.io/v1alpha1
kind: UnitSet
metadata: { name: ${name}, namespace: ${ns} }
spec:
  engine: ${engine}
  version: "${version}"
  units: 3
  resources: { limits: { cpu: 500m, memory: 512Mi } }
  storage: [{ name: data, size: 1Gi, mountPath: ${storage} }]
  parameters: ${JSON.stringify(parameters)}
`;

describe('Kafka and OpenSearch units on real engines', () => {
  const f = useUnitOperator(CLUSTER, 'kfos', { engines: true });
  // The longest waits inside these tests: a UnitSet to Ready, one Kafka CLI tool, one OpenSearch HTTP call. Each
  // test's jest timeout is the sum of the waits it can make, so a slow engine fails on its own message.
  const READY_MS = 240_000;
  const TOOL_MS = 90_000;
  const HTTP_MS = 60_000;
  let c: KubeClient;
  let ns: string;
  let scratch: string;
  beforeAll(async () => { c = f.client; ns = f.ns; scratch = await mkdtemp(join(tmpdir(), 'upm-kfos-clients-')); });
  afterAll(async () => { await rm(scratch, { recursive: true, force: true }); });

  const waitReady = (name: string) => waitFor(`UnitSet ${name} Ready`, async () => {
    const us = await c.get<UnitSet>(UnitSetResource, name, ns);
    return us.status?.phase === 'Ready' && us.status.readyUnits === 3;
  }, { timeoutMs: READY_MS, intervalMs: 500 });
  const ips = (name: string) => Promise.all([0, 1, 2].map(async (o) => (await c.get<Pod>(Resources.pods, `${name}-${o}`, ns)).status?.podIP ?? ''));
  const units = async (name: string) => (await c.list<Unit>(UnitResource, { namespace: ns, labelSelector: `unit.upm.io/unitset=${name}` })).items
    .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  const pids = async (name: string) => (await units(name)).map((u) => u.status?.engine?.pid ?? 0);
  /** Every engine process of the UnitSet listens on its own unit's address, and only there (ports as given). */
  const expectListeners = async (name: string, ports: number[]) => {
    const [addrs, ps] = [await ips(name), await pids(name)];
    for (const [i, pid] of ps.entries()) expect(listening(pid)).toEqual(ports.map((p) => `${addrs[i]}:${p}`).sort());
  };
  /** Where the engine runtime keeps a unit's volume (one directory per bound PersistentVolume). */
  const volumeDir = async (claim: string) => join(f.dir, 'runtime', 'volumes', (await c.get<Pvc>(Resources.persistentVolumeClaims, claim, ns)).spec?.volumeName ?? '');

  describe('Kafka 3.9 (KRaft, combined roles)', () => {
    let addrs: string[];
    let auth: string;
    const tool = (main: string, args: string[], input?: string) => kafkaTool('kf', main, args, { timeoutMs: TOOL_MS, ...(input === undefined ? {} : { input }) });

    beforeAll(async () => {
      await kubectlOk(CLUSTER, ['apply', '-f', '-'], unitSet(ns, 'kf', 'kafka', '3.9', '/var/lib/kafka/data'));
      await waitReady('kf');
      addrs = await ips('kf');
      // The admin account of the UnitSet's credentials Secret, as a SASL/PLAIN client.
      const secret = await c.get<Secret>(Resources.secrets, 'kf-credentials', ns);
      const decode = (k: string) => Buffer.from(secret.data?.[k] ?? '', 'base64').toString();
      auth = join(scratch, 'kafka-client.properties');
      await writeFile(auth, [
        'security.protocol=SASL_PLAINTEXT', 'sasl.mechanism=PLAIN',
        `sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="${decode('admin-username')}" password="${decode('admin-password')}";`,
      ].join('\n'), { mode: 0o600 });
    }, READY_MS + 60_000);

    it('forms a KRaft quorum of three voters with one leader, under the cluster ID derived from the UnitSet', async () => {
      expect(new Set(addrs).size).toBe(3);
      await expectListeners('kf', [9092, 9093]);
      const us = await c.get<UnitSet>(UnitSetResource, 'kf', ns);
      const rendered = (await c.get<ConfigMap>(Resources.configMaps, 'kf-0-config', ns)).data?.['server.properties'] ?? '';
      expect(rendered).toContain(`#upm:cluster-id=${unitSetId(us.metadata.uid ?? '')}`);
      const status = await tool('org.apache.kafka.tools.MetadataQuorumCommand', ['--bootstrap-server', `${addrs[0]}:9092`, '--command-config', auth, 'describe', '--status']);
      expect(status).toContain(`ClusterId:              ${unitSetId(us.metadata.uid ?? '')}`);
      for (const [i, a] of addrs.entries()) expect(status).toContain(`{"id": ${i + 1}, "directoryId": null, "endpoints": ["CONTROLLER://${a}:9093"]}`);
      const replication = await tool('org.apache.kafka.tools.MetadataQuorumCommand', ['--bootstrap-server', `${addrs[2]}:9092`, '--command-config', auth, 'describe', '--replication']);
      const roles = replication.split('\n').slice(1).filter(Boolean).map((l) => l.trim().split(/\s+/).at(-1));
      expect(roles.sort()).toEqual(['Follower', 'Follower', 'Leader']);
    }, 2 * TOOL_MS + 30_000);

    it('replicates a topic over all three brokers: produced with acks=all on one, consumed from another', async () => {
      await tool('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', `${addrs[0]}:9092`, '--command-config', auth,
        '--create', '--topic', 'payments', '--partitions', '1', '--replication-factor', '3', '--config', 'min.insync.replicas=2']);
      const described = await waitFor('three in-sync replicas', async () => {
        const d = await tool('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', `${addrs[1]}:9092`, '--command-config', auth, '--describe', '--topic', 'payments']);
        return /Isr: [1-3],[1-3],[1-3]\b/.test(d) ? d : undefined;
      }, { timeoutMs: 60_000, intervalMs: 1000 });
      expect(described).toMatch(/ReplicationFactor: 3/);
      await tool('kafka.tools.ConsoleProducer', ['--bootstrap-server', `${addrs[1]}:9092`, '--producer.config', auth, '--producer-property', 'acks=all', '--topic', 'payments'], 'p-1\np-2\np-3\n');
      const got = await tool('org.apache.kafka.tools.consumer.ConsoleConsumer', ['--bootstrap-server', `${addrs[2]}:9092`, '--consumer.config', auth,
        '--topic', 'payments', '--partition', '0', '--offset', 'earliest', '--max-messages', '3', '--timeout-ms', '60000']);
      expect(got.trim().split('\n')).toEqual(['p-1', 'p-2', 'p-3']);
    }, 4 * TOOL_MS + 60_000 + 30_000);

    it('applies a dynamic parameter to every broker without restarting one', async () => {
      const before = await pids('kf');
      await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'us', 'kf', '--type', 'merge', '-p', '{"spec":{"parameters":{"num.io.threads":"4"}}}']);
      for (const [i, a] of addrs.entries()) {
        await waitFor(`num.io.threads=4 on broker ${i + 1}`, async () => {
          const d = await tool('kafka.admin.ConfigCommand', ['--bootstrap-server', `${a}:9092`, '--command-config', auth, '--entity-type', 'brokers', '--entity-name', String(i + 1), '--describe']);
          return d.includes('num.io.threads=4 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:num.io.threads=4');
        }, { timeoutMs: 90_000, intervalMs: 2000 });
      }
      await waitReady('kf');
      expect(await pids('kf')).toEqual(before);
    }, 3 * (90_000 + TOOL_MS) + READY_MS + 30_000);

    it('keeps the storage and the cluster of a replaced unit: it rejoins without being formatted again', async () => {
      const meta = join(await volumeDir('kf-1-data'), 'logs', 'meta.properties');
      const [before, formatted] = [await readFile(meta, 'utf8'), (await stat(meta)).mtimeMs];
      expect(before).toContain('node.id=2');
      const oldUid = (await c.get<Pod>(Resources.pods, 'kf-1', ns)).metadata.uid;
      await kubectlOk(CLUSTER, ['-n', ns, 'delete', 'pod', 'kf-1', '--wait=false']);
      await waitFor('kf-1 back on a new pod', async () => {
        const pod = await c.get<Pod>(Resources.pods, 'kf-1', ns).catch(() => undefined);
        const u = await c.get<Unit>(UnitResource, 'kf-1', ns);
        return !!pod && pod.metadata.uid !== oldUid && u.status?.phase === 'Ready';
      }, { timeoutMs: 120_000, intervalMs: 500 });
      expect(await readFile(meta, 'utf8')).toBe(before);
      expect((await stat(meta)).mtimeMs).toBe(formatted);
      const got = await tool('org.apache.kafka.tools.consumer.ConsoleConsumer', ['--bootstrap-server', `${addrs[1]}:9092`, '--consumer.config', auth,
        '--topic', 'payments', '--partition', '0', '--offset', 'earliest', '--max-messages', '3', '--timeout-ms', '60000']);
      expect(got.trim().split('\n')).toEqual(['p-1', 'p-2', 'p-3']);
      const status = await tool('org.apache.kafka.tools.MetadataQuorumCommand', ['--bootstrap-server', `${addrs[1]}:9092`, '--command-config', auth, 'describe', '--status']);
      expect(status.match(/"id": [1-3], "directoryId"/g)).toHaveLength(3);
      // Frees the machine for the next cluster.
      await kubectlOk(CLUSTER, ['-n', ns, 'delete', 'us', 'kf', '--wait=false']);
    }, 120_000 + 2 * TOOL_MS + 30_000);
  });

  describe('OpenSearch 2.19 (the local stand-in for Elasticsearch)', () => {
    let addrs: string[];
    // The platform's admin account of the UnitSet's credentials Secret: the security plugin refuses anonymous calls.
    let admin: SearchAccount;
    const http = <T>(addr: string, method: string, path: string, body?: unknown): Promise<T> => searchHttp<T>(`${addr}:9200`, method, path, body, HTTP_MS, admin);

    beforeAll(async () => {
      await kubectlOk(CLUSTER, ['apply', '-f', '-'], unitSet(ns, 'search', 'opensearch', '2.19', '/usr/share/opensearch/data'));
      await waitReady('search');
      addrs = await ips('search');
      admin = accountOf((await c.get<KubeObject & { data?: Record<string, string> }>(Resources.secrets, 'search-credentials', ns)).data, 'admin');
    }, READY_MS + 60_000);

    it('forms one green cluster of three nodes with one elected cluster manager', async () => {
      const health = await http<{ status: string; number_of_nodes: number; cluster_name: string }>(addrs[0] ?? '', 'GET', '/_cluster/health?wait_for_status=green&wait_for_nodes=3&timeout=60s');
      expect(health).toMatchObject({ status: 'green', number_of_nodes: 3, cluster_name: 'search' });
      await expectListeners('search', [9200, 9300]);
      const nodes = await http<{ name: string; ip: string; cluster_manager: string }[]>(addrs[1] ?? '', 'GET', '/_cat/nodes?format=json&h=name,ip,cluster_manager');
      expect(nodes.map((n) => n.name).sort()).toEqual(['search-0', 'search-1', 'search-2']);
      expect(nodes.map((n) => n.ip).sort()).toEqual([...addrs].sort());
      expect(nodes.filter((n) => n.cluster_manager === '*')).toHaveLength(1);
    }, 2 * HTTP_MS + 30_000);

    it('indexes documents with two replicas, counts them on every node, and stays green', async () => {
      await http(addrs[0] ?? '', 'PUT', '/orders', { settings: { number_of_shards: 2, number_of_replicas: 2 } });
      const bulk = Array.from({ length: 200 }, (_, i) => `{"index":{"_id":"${i}"}}\n{"item":"item-${i}","qty":${i % 7}}\n`).join('');
      const r = await http<{ errors: boolean; items: unknown[] }>(addrs[1] ?? '', 'POST', '/orders/_bulk?refresh=true', bulk);
      expect(r.errors).toBe(false);
      expect(r.items).toHaveLength(200);
      for (const a of addrs) expect(await http(a, 'GET', '/orders/_count')).toMatchObject({ count: 200 });
      const health = await http<{ status: string; active_shards: number }>(addrs[2] ?? '', 'GET', '/_cluster/health/orders?wait_for_status=green&timeout=60s');
      expect(health).toMatchObject({ status: 'green', active_shards: 6 });
    }, 6 * HTTP_MS + 30_000);

    it('applies a dynamic parameter as a cluster setting without restarting a node', async () => {
      const before = await pids('search');
      await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'us', 'search', '--type', 'merge', '-p', '{"spec":{"parameters":{"search.max_buckets":"20000"}}}']);
      await waitFor('search.max_buckets in the cluster settings', async () => {
        const s = await http<{ persistent: Record<string, string> }>(addrs[2] ?? '', 'GET', '/_cluster/settings?flat_settings=true');
        return s.persistent['search.max_buckets'] === '20000';
      }, { timeoutMs: 60_000, intervalMs: 500 });
      await waitReady('search');
      expect(await pids('search')).toEqual(before);
    }, 60_000 + READY_MS + 30_000);

    it('restarts a replaced unit without the initial cluster-manager nodes: it rejoins the cluster it has served in', async () => {
      expect((await c.get<ConfigMap>(Resources.configMaps, 'search-2-config', ns)).data?.['opensearch.yml']).toMatch(/^cluster\.initial_cluster_manager_nodes:\n {2}- search-0\n {2}- search-1\n {2}- search-2$/m);
      const oldUid = (await c.get<Pod>(Resources.pods, 'search-2', ns)).metadata.uid;
      await kubectlOk(CLUSTER, ['-n', ns, 'delete', 'pod', 'search-2', '--wait=false']);
      let uid = '';
      await waitFor('search-2 back on a new pod', async () => {
        const pod = await c.get<Pod>(Resources.pods, 'search-2', ns).catch(() => undefined);
        uid = pod?.metadata.uid ?? '';
        return !!pod && uid !== oldUid && (await c.get<Unit>(UnitResource, 'search-2', ns)).status?.phase === 'Ready';
      }, { timeoutMs: 120_000, intervalMs: 500 });
      const effective = await readFile(join(f.dir, 'runtime', 'pods', uid, 'opensearch', 'config', 'opensearch.yml'), 'utf8');
      expect(effective).not.toContain('cluster.initial_cluster_manager_nodes');
      expect(effective).toContain('discovery.seed_hosts:');
      const health = await http(addrs[0] ?? '', 'GET', '/_cluster/health?wait_for_status=green&wait_for_nodes=3&timeout=60s');
      expect(health).toMatchObject({ status: 'green', number_of_nodes: 3 });
      expect(await http(addrs[2] ?? '', 'GET', '/orders/_count')).toMatchObject({ count: 200 });
    }, 120_000 + 3 * HTTP_MS + 30_000);
  });
});
