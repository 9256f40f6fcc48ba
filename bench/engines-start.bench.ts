// Time to a healthy cluster of three, and each engine process's memory, for the JVM engines the engine runtime runs:
// ZooKeeper (a leader and two followers), Kafka in KRaft mode (three voters and a leader; every broker serving) and
// OpenSearch (green with three nodes). One UnitSet at a time in one member cluster, through the Unit Operator and
// the engine runtime; the clock starts when the UnitSet is created. RSS is read from /proc for each engine pid (the
// agent reports it in the Unit's status) once the cluster is healthy, and again after a small workload.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answersApiVersions, kafkaTool } from '../agent/engines/kafka.ts';
import { tcpExchange } from '../agent/engines/util.ts';
import { stableAddress } from '../hack/local/addresses.ts';
import { installEngine, OPERATOR_NODE_FLAGS } from '../hack/local/engine.ts';
import { EngineRuntime } from '../hack/local/runtime.ts';
import { LocalSystem } from '../hack/local/system.ts';
import type { Unit, UnitSet } from '../lib/api/unit.upm.io.generated.ts';
import { UnitResource, UnitSetResource } from '../lib/api/unit.upm.io.generated.ts';
import { KubeClient } from '../lib/kube/client.ts';
import { Resources } from '../lib/kube/resources.ts';
import type { KubeObject } from '../lib/kube/types.ts';
import { waitFor } from '../lib/wait.ts';

const root = join(import.meta.dirname, '..');
const MEMORY = process.env.BENCH_ENGINE_MEMORY ?? '512Mi';
type Secret = KubeObject & { data?: Record<string, string> };

const rssMiB = (pid: number): number => {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
    return line ? Number(line.split(/\s+/)[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
};
const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };

interface Engine {
  name: string;
  engine: string;
  version: string;
  mountPath: string;
  /** When the cluster of three was seen healthy, as the engine itself says (undefined while it is not). */
  healthy(addrs: string[]): Promise<number | undefined>;
  /** A small workload, so that the second RSS reading shows a cluster that has served. */
  work(addrs: string[]): Promise<void>;
}

const dir = await mkdtemp(join(tmpdir(), 'upm-bench-engines-'));
const sys = await LocalSystem.start(join(dir, 'system'), [{ name: 'member1', role: 'member', nodes: 3 }]);
const results: string[] = [];
let runtime: EngineRuntime | undefined;
let op: ChildProcess | undefined;
let c: KubeClient | undefined;
try {
  const cluster = sys.cluster('member1');
  await installEngine(sys.bins.kubectl, cluster.kubeconfig);
  const client = await KubeClient.fromKubeconfig(cluster.kubeconfig);
  c = client;
  const ns = 'bench';
  await client.create(Resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  runtime = await EngineRuntime.start({ cluster: 'member1', kubeconfig: cluster.kubeconfig, dir: join(dir, 'engines'), namespace: ns });
  const log = openSync(join(dir, 'unit-operator.log'), 'a');
  op = spawn(process.execPath, [...OPERATOR_NODE_FLAGS, join(root, 'operators/unit/main.ts'), '--kubeconfig', cluster.kubeconfig, '--namespace', ns, '--agents', 'on'],
    { stdio: ['ignore', log, log], env: { ...process.env, UPM_LOG_LEVEL: 'info' } });
  await waitFor('engine catalog', () => client.get(Resources.configMaps, 'upm-engine-catalog', 'upm-system').then(() => true), { timeoutMs: 30_000 });
  await waitFor('service account', () => client.get(Resources.serviceAccounts, 'default', ns).then(() => true), { timeoutMs: 30_000 });

  const kafkaAuth = join(dir, 'kafka-client.properties');
  // OpenSearch's security plugin refuses anonymous calls: the admin account of the UnitSet's credentials Secret.
  let searchAuth: Record<string, string> = {};
  const engines: Engine[] = [
    {
      name: 'ZooKeeper 3.8', engine: 'zookeeper', version: '3.8', mountPath: '/data',
      async healthy(addrs) {
        const at = performance.now();
        const modes = await Promise.all(addrs.map((a) => tcpExchange(a, 2181, 'srvr', 1000).then((s) => /^Mode: (\w+)/m.exec(s)?.[1], () => undefined)));
        return modes.filter((m) => m === 'leader').length === 1 && modes.filter((m) => m === 'follower').length === 2 ? at : undefined;
      },
      async work(addrs) {
        for (const a of addrs) await tcpExchange(a, 2181, 'mntr', 2000);
      },
    },
    {
      name: 'Kafka 3.9.2 (KRaft)', engine: 'kafka', version: '3.9', mountPath: '/var/lib/kafka/data',
      async healthy(addrs) {
        // Every broker serves (they open only once the quorum has a leader and they have caught up), then the
        // quorum itself is asked: three voters and a leader. The time is the brokers' (the CLI takes a second).
        const at = performance.now();
        if (!(await Promise.all(addrs.map((a) => answersApiVersions(a, 9092, 1000)))).every(Boolean)) return undefined;
        const s = await kafkaTool('bench', 'org.apache.kafka.tools.MetadataQuorumCommand', ['--bootstrap-server', `${addrs[0]}:9092`, '--command-config', kafkaAuth, 'describe', '--status']).catch(() => '');
        return /LeaderId:\s+[1-3]\b/.test(s) && (s.match(/"id": [1-3], "directoryId"/g) ?? []).length === 3 ? at : undefined;
      },
      async work(addrs) {
        const bootstrap = ['--bootstrap-server', `${addrs[0]}:9092`];
        await kafkaTool('bench', 'org.apache.kafka.tools.TopicCommand', [...bootstrap, '--command-config', kafkaAuth, '--create', '--topic', 'bench', '--partitions', '3', '--replication-factor', '3']);
        await kafkaTool('bench', 'org.apache.kafka.tools.ProducerPerformance', ['--topic', 'bench', '--num-records', '20000', '--record-size', '100', '--throughput', '-1',
          '--producer-props', `bootstrap.servers=${addrs[0]}:9092`, 'acks=all', '--producer.config', kafkaAuth], { timeoutMs: 120_000 });
      },
    },
    {
      name: 'OpenSearch 2.19.4', engine: 'opensearch', version: '2.19', mountPath: '/usr/share/opensearch/data',
      async healthy(addrs) {
        const at = performance.now();
        try {
          const res = await fetch(`http://${addrs[0]}:9200/_cluster/health`, { signal: AbortSignal.timeout(2000), headers: searchAuth });
          const h = (await res.json()) as { status?: string; number_of_nodes?: number };
          return h.status === 'green' && h.number_of_nodes === 3 ? at : undefined;
        } catch {
          return undefined;
        }
      },
      async work(addrs) {
        const bulk = Array.from({ length: 2000 }, (_, i) => `{"index":{}}\n{"n":${i},"text":"document ${i}"}\n`).join('');
        await fetch(`http://${addrs[0]}:9200/bench`, { method: 'PUT', body: JSON.stringify({ settings: { number_of_shards: 3, number_of_replicas: 1 } }), headers: { ...searchAuth, 'content-type': 'application/json' } });
        const res = await fetch(`http://${addrs[1]}:9200/bench/_bulk?refresh=true`, { method: 'POST', body: bulk, headers: { ...searchAuth, 'content-type': 'application/x-ndjson' } });
        if (!res.ok) throw new Error(`bulk: ${res.status}`);
      },
    },
  ];

  results.push(`| engine | created -> healthy cluster of 3 | created -> UnitSet Ready | RSS per engine process when healthy (MiB) | after a small workload (MiB) |`);
  results.push('|---|---|---|---|---|');
  for (const e of engines) {
    const name = e.engine === 'opensearch' ? 'search' : e.engine === 'zookeeper' ? 'zk' : 'kf';
    const t0 = performance.now();
    await client.create<UnitSet>(UnitSetResource, {
      apiVersion: 'unit.upm.io/v1alpha1', kind: 'UnitSet', metadata: { name, namespace: ns },
      spec: { engine: e.engine, version: e.version, units: 3, resources: { limits: { cpu: '500m', memory: MEMORY } }, storage: [{ name: 'data', size: '1Gi', mountPath: e.mountPath }] },
    });
    // The engine runtime gives each pod a stable address derived from its name (what its DNS name resolves to).
    const addrs = [0, 1, 2].map((o) => stableAddress('member1', ns, `${name}-${o}`));
    if (e.engine === 'kafka') {
      const secret = await client.get<Secret>(Resources.secrets, `${name}-credentials`, ns);
      const v = (k: string) => Buffer.from(secret.data?.[k] ?? '', 'base64').toString();
      await writeFile(kafkaAuth, `security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="${v('admin-username')}" password="${v('admin-password')}";\n`, { mode: 0o600 });
    }
    if (e.engine === 'opensearch') {
      const secret = await waitFor(`${name} credentials`, () => client.get<Secret>(Resources.secrets, `${name}-credentials`, ns).catch(() => undefined), { timeoutMs: 60_000 });
      const v = (k: string) => Buffer.from(secret.data?.[k] ?? '', 'base64').toString();
      searchAuth = { authorization: `Basic ${Buffer.from(`${v('admin-username')}:${v('admin-password')}`).toString('base64')}` };
    }
    let readyAt = NaN;
    const ready = async () => {
      if (Number.isNaN(readyAt)) {
        const us = await client.get<UnitSet>(UnitSetResource, name, ns);
        if (us.status?.phase === 'Ready' && us.status.readyUnits === 3) readyAt = performance.now();
      }
    };
    const healthyAt = await waitFor(`${e.name} healthy`, async () => { await ready(); return e.healthy(addrs); }, { timeoutMs: 300_000, intervalMs: 250 }).catch(async (err: unknown) => {
      const units = (await client.list<Unit>(UnitResource, { namespace: ns, labelSelector: `unit.upm.io/unitset=${name}` })).items;
      for (const u of units) console.log(`  ${u.metadata.name}: ${u.status?.phase} ${JSON.stringify(u.status?.engine ?? {})}`);
      throw err;
    });
    await waitFor(`${name} Ready`, async () => { await ready(); return !Number.isNaN(readyAt); }, { timeoutMs: 120_000, intervalMs: 250 });
    const units = (await client.list<Unit>(UnitResource, { namespace: ns, labelSelector: `unit.upm.io/unitset=${name}` })).items;
    const pids = units.map((u) => u.status?.engine?.pid ?? 0);
    const rss1 = pids.map(rssMiB);
    await e.work(addrs);
    await new Promise((r) => setTimeout(r, 2000));
    const rss2 = pids.map(rssMiB);
    const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
    results.push(`| ${e.name} | ${((healthyAt - t0) / 1000).toFixed(1)} s | ${((readyAt - t0) / 1000).toFixed(1)} s | ${fmt(rss1)} | ${fmt(rss2)} |`);
    console.log(results.at(-1));
    // One cluster at a time: the next one's figures must not include this one's load.
    await client.delete(UnitSetResource, name, ns);
    await waitFor(`${name} engines stopped`, async () => pids.every((p) => !alive(p)), { timeoutMs: 120_000, intervalMs: 250 });
  }
  console.log(`\n3 units each, memory limit ${MEMORY} (heap: half of it, capped at 128 MiB for ZooKeeper and 256 MiB for Kafka and OpenSearch), 2-core machine:\n`);
  for (const r of results) console.log(r);
} finally {
  op?.kill('SIGKILL');
  await runtime?.stop();
  await c?.close();
  await sys.stop();
  if (!process.env.BENCH_KEEP_DIR) await rm(dir, { recursive: true, force: true });
  else console.log(`  logs kept in ${dir}`);
}
