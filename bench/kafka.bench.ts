// KafkaCluster on real Kafka 3.9 (KRaft) brokers: time from the KafkaCluster's creation to a healthy cluster of 3
// (every broker live, no partition under-replicated, a quorum leader), each broker's RSS, the duration of a rolling
// restart and the producer's p99 latency during it (acks=all, a topic with replication factor 3 and
// min.insync.replicas 2, paced load), then 100,000 messages, a scale-out to 4 with the partitions spread onto the new
// broker, and the drain time of the scale-in back to 3 (every replica moved off broker 4 and in sync again).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { kafkaTool } from '../agent/engines/kafka.ts';
import { KafkaClusterResource, type KafkaCluster } from '../lib/api/compose.upm.io.generated.ts';
import { UnitResource, type Unit } from '../lib/api/unit.upm.io.generated.ts';
import { Resources } from '../lib/kube/resources.ts';
import type { KubeObject } from '../lib/kube/types.ts';
import { waitFor } from '../lib/wait.ts';
import { AckedProducer, latencyPercentiles, verify, writeClientConfig } from '../test/kafka-load.ts';
import { startComposeBenchSystem } from './lib/compose-system.ts';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100_000);
type Secret = KubeObject & { data?: Record<string, string> };
const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');
const rssMiB = (pid: number): number => Math.round(Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024);

const s = await startComposeBenchSystem('kafka');
const { client: c, ns } = s;
try {
  const kfk = () => c.get<KafkaCluster>(KafkaClusterResource, 'ev', ns);
  const settled = (what: string, extra: (k: KafkaCluster) => boolean = () => true) => waitFor(what, async () => {
    const k = await kfk();
    return k.status?.observedGeneration === k.metadata.generation && k.status?.ready === true && extra(k) ? k : undefined;
  }, { timeoutMs: 900_000, intervalMs: 100 });
  const units = async () => (await c.list<Unit>(UnitResource, { namespace: ns, labelSelector: 'unit.upm.io/unitset=ev' })).items;
  const addresses = async () => (await units()).filter((u) => u.status?.podIP).map((u) => `${u.status?.podIP}:9092`);
  const scale = (brokers: number) => c.patch(KafkaClusterResource, 'ev', { spec: { brokers } }, 'merge', { namespace: ns });

  const t0 = performance.now();
  await c.create(KafkaClusterResource, {
    apiVersion: 'compose.upm.io/v1alpha1', kind: 'KafkaCluster', metadata: { name: 'ev', namespace: ns },
    spec: { brokers: 3, resources: { limits: { cpu: '500m', memory: '512Mi' } }, rebalance: { onScaleOut: true } },
  } as KubeObject);
  await settled('a healthy cluster of 3', (k) => k.status?.brokersReady === '3/3');
  const formed = (performance.now() - t0) / 1000;
  const rss = (await units()).sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '')).map((u) => `${u.metadata.name} ${rssMiB(u.status?.engine?.pid ?? 0)} MiB`);
  console.log(`  healthy cluster of 3 (combined broker+controller): ${formed.toFixed(1)} s from creation`);
  console.log(`  broker RSS (256 MB heap cap): ${rss.join(', ')}`);

  const secret = await c.get<Secret>(Resources.secrets, 'ev-credentials', ns);
  const auth = { username: b64(secret.data?.['admin-username']), password: b64(secret.data?.['admin-password']) };
  const clientConfig = join(s.dir, 'client.properties');
  await writeClientConfig(clientConfig, auth);
  const bootstrap = (await addresses())[0] ?? '';
  await kafkaTool('bench', 'org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', bootstrap, '--command-config', clientConfig,
    '--create', '--topic', 'payments', '--partitions', '6', '--replication-factor', '3', '--config', 'min.insync.replicas=2'], { timeoutMs: 120_000 });

  // Rolling restart under a paced load.
  const producer = new AckedProducer({ bootstrap: await addresses(), ...auth, topic: 'payments', partitions: 6, total: MESSAGES, batch: 50, ratePerSecond: 300 });
  producer.start();
  await waitFor('the producer running', () => producer.acked.size >= 2000, { timeoutMs: 60_000 });
  const calm = latencyPercentiles(producer.latencies);
  const restartedAt = new Date().toISOString();
  const rollStart = Date.now();
  await c.patch(KafkaClusterResource, 'ev', { spec: { restartedAt } }, 'merge', { namespace: ns });
  const rolled = await settled('the rolling restart', (k) => k.status?.lastRestart?.restartedAt === restartedAt);
  const during = latencyPercentiles(producer.latencies, rollStart, Date.now());
  console.log(`  rolling restart of 3 brokers: ${rolled.status?.lastRestart?.seconds} s (${rolled.status?.lastRestart?.units?.join(' -> ')})`);
  console.log(`  producer latency, acks=all batches of 50: before p50 ${calm.p50.toFixed(0)} ms p99 ${calm.p99.toFixed(0)} ms; during the restart p50 ${during.p50.toFixed(0)} ms p99 ${during.p99.toFixed(0)} ms max ${during.max.toFixed(0)} ms (${during.n} batches)`);

  // 100,000 messages, spread onto a 4th broker, then drained off it.
  producer.unpace();
  await producer.finished();
  await scale(4);
  const out = await settled('scaled out to 4', (k) => k.status?.brokersReady === '4/4' && (k.status.balancedBrokers ?? []).length === 4);
  console.log(`  scale-out 3 -> 4: ${out.status?.lastRebalance?.partitionsMoved} partitions moved onto broker 4 in ${out.status?.lastRebalance?.seconds} s`);
  await scale(3);
  const inn = await settled('scaled in to 3', (k) => k.status?.brokersReady === '3/3' && k.status.lastScaleIn?.unregistered === true);
  console.log(`  scale-in 4 -> 3 with ${MESSAGES} messages in the topic: ${inn.status?.lastScaleIn?.partitionsMoved} partitions drained off broker 4 in ${inn.status?.lastScaleIn?.drainSeconds} s (held ${inn.status?.lastScaleIn?.heldPartitions} when removed)`);
  const v = await verify(producer.acked, 'payments', (await addresses())[0] ?? '', clientConfig);
  console.log(`  ${v.acked} acknowledged, ${v.consumed} consumed, ${v.missing.length} missing, ${v.misplaced.length} misplaced`);
} finally {
  await s.stop();
}
