// KafkaCluster on real Kafka 3.9 brokers in KRaft mode (one per simulated pod, run by the engine runtime): formation
// of three combined broker-controllers (cluster ID from the UnitSet, node.id from the ordinal, one static quorum of
// three voters); then 100,000 messages produced with acks=all into a topic with replication factor 3 and
// min.insync.replicas 2 while the cluster is rolled broker by broker and scaled 3 -> 4 -> 3 (a scale-in refused
// first, with nothing changed, while a topic needs four replicas), every acknowledged message read back at its offset
// with Kafka's own console consumer; a kill -9 of the active controller under load; bad specs refused at the API.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Admin } from '@platformatic/kafka';
import { kafkaTool } from '../../agent/engines/kafka.ts';
import type { KafkaCluster } from '../../lib/api/compose.upm.io.generated.ts';
import { KafkaClusterResource } from '../../lib/api/compose.upm.io.generated.ts';
import type { Unit, UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { unitSetId } from '../../lib/engineconfig.ts';
import { AckedProducer, latencyPercentiles, verify, writeClientConfig } from '../kafka-load.ts';
import { metadataRecords, replay } from '../kafka-metadata.ts';
import { kubectl, kubectlOk } from '../kubectl.ts';
import { useUnitOperator } from '../unit-operator.ts';

const CLUSTER = 'member1';
const NAME = 'ev';
const MESSAGES = 100_000;
type Secret = KubeObject & { data?: Record<string, string> };
type Pvc = KubeObject & { spec?: { volumeName?: string } };
type Event = KubeObject & { reason?: string; message?: string; type?: string; involvedObject?: { name?: string; kind?: string }; firstTimestamp?: string };
type ConfigMap = KubeObject & { data?: Record<string, string> };
const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

const manifest = (ns: string, spec: Record<string, unknown>) => JSON.stringify({ apiVersion: 'compose.upm.io/v1alpha1', kind: 'KafkaCluster', metadata: { name: NAME, namespace: ns }, spec });
const SPEC = { brokers: 3, resources: { limits: { cpu: '500m', memory: '512Mi' } }, rebalance: { onScaleOut: true } };

describe('KafkaCluster on real Kafka 3.9 (KRaft)', () => {
  const f = useUnitOperator(CLUSTER, 'ckafka', { engines: true, compose: true });
  let c: KubeClient;
  let ns: string;
  let scratch: string;
  let auth: { username: string; password: string };
  let clientConfig: string;
  let admin: Admin | undefined;
  beforeAll(async () => { c = f.client; ns = f.ns; scratch = await mkdtemp(join(tmpdir(), 'upm-ckafka-')); });
  afterAll(async () => { await admin?.close().catch(() => undefined); await rm(scratch, { recursive: true, force: true }); });

  const kfk = () => c.get<KafkaCluster>(KafkaClusterResource, NAME, ns);
  const unitSet = () => c.get<UnitSet>(UnitSetResource, NAME, ns);
  const unit = (u: string) => c.get<Unit>(UnitResource, u, ns);
  /** Settled for the current spec, and whatever else the caller asks. */
  const waitReady = (what: string, extra: (k: KafkaCluster) => boolean = () => true, timeoutMs = 600_000) => waitFor(what, async () => {
    const k = await kfk();
    return k.status?.observedGeneration === k.metadata.generation && k.status?.ready === true && k.status?.phase === 'Ready' && extra(k) ? k : undefined;
  }, { timeoutMs, intervalMs: 500 }).catch(async (err: unknown) => { await explain(); throw err; });
  async function explain(): Promise<void> {
    const k = await kfk();
    process.stdout.write(`${JSON.stringify({ phase: k.status?.phase, conditions: k.status?.conditions, restart: k.status?.restart, reassignment: k.status?.reassignment, nodes: k.status?.nodes }, null, 1)}\n`);
    for (const e of (await events()).slice(-20)) process.stdout.write(`  ${e.reason}: ${e.message}\n`);
  }
  const events = async () => (await c.list<Event>(Resources.events, { namespace: ns })).items
    .filter((e) => e.involvedObject?.kind === 'KafkaCluster').sort((a, b) => (a.firstTimestamp ?? '').localeCompare(b.firstTimestamp ?? '') || (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''));
  const addresses = async () => (await c.list<Unit>(UnitResource, { namespace: ns, labelSelector: `unit.upm.io/unitset=${NAME}` })).items
    .filter((u) => u.status?.podIP).map((u) => `${u.status?.podIP}:9092`);
  const bootstrap = async () => (await addresses())[0] ?? '';
  const tool = async (main: string, args: string[]) => kafkaTool(NAME, main, ['--bootstrap-server', await bootstrap(), '--command-config', clientConfig, ...args], { timeoutMs: 120_000 });
  const createTopic = (topic: string, partitions: number, rf: number) => tool('org.apache.kafka.tools.TopicCommand', ['--create', '--topic', topic, '--partitions', String(partitions), '--replication-factor', String(rf), '--config', 'min.insync.replicas=2']);
  /** Every partition of every topic (internal ones too), as the cluster's metadata says now. */
  const assignment = async (): Promise<Map<string, { replicas: number[]; isr: number[] }>> => {
    admin ??= new Admin({ clientId: 'upm-test', bootstrapBrokers: await addresses(), sasl: { mechanism: 'PLAIN', ...auth }, retries: 5, timeout: 10_000 });
    const topics = await admin.listTopics({ includeInternals: true });
    const md = await admin.metadata({ topics, forceUpdate: true });
    const out = new Map<string, { replicas: number[]; isr: number[] }>();
    for (const [t, tm] of md.topics) tm.partitions.forEach((p, i) => out.set(`${t}-${i}`, { replicas: [...p.replicas], isr: [...p.isr] }));
    return out;
  };
  /**
   * The metadata log of the cluster as `unit`'s volume holds it, replayed: every state of every partition and every broker
   * leaving service, as the controller recorded them (see ../kafka-metadata.ts). Polling the metadata could miss a
   * short dip between two samples; the log cannot.
   */
  const history = async (u = `${NAME}-0`) => {
    const pvc = await c.get<Pvc>(Resources.persistentVolumeClaims, `${u}-data`, ns);
    return replay(await metadataRecords(join(f.dir, 'runtime', 'volumes', pvc.spec?.volumeName ?? '', 'logs')));
  };

  it('refuses bad specs at the API, naming the field', async () => {
    const refused = async (spec: Record<string, unknown>, message: RegExp) => {
      const r = await kubectl(CLUSTER, ['create', '--dry-run=server', '-f', '-'], manifest(ns, spec));
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(message);
    };
    await refused({ ...SPEC, brokers: 2 }, /spec\.brokers: with combined roles the first spec\.controllers brokers are the controllers/);
    await refused({ ...SPEC, controllers: 4 }, /spec\.controllers: Unsupported value: 4/);
    await refused({ ...SPEC, parameters: { 'upm.quorum.units': '1' } }, /spec\.parameters: upm\.\* keys are set by the KafkaCluster itself/);
    await refused({ ...SPEC, parameters: { 'min.insync.replicas': '4' } }, /spec\.brokers: fewer brokers than spec\.parameters\[min\.insync\.replicas\]/);
    await refused({ ...SPEC, brokers: 0 }, /spec\.brokers: Invalid value: 0: spec\.brokers in body should be greater than or equal to 1/);
    expect((await c.list(KafkaClusterResource, { namespace: ns })).items).toHaveLength(0);
  });

  it('forms a cluster of three brokers that are also the three controllers: cluster ID from the UnitSet, node.id from the ordinal', async () => {
    const t0 = Date.now();
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], manifest(ns, SPEC));
    const k = await waitReady('a healthy cluster of 3', (x) => x.status?.brokersReady === '3/3');
    process.stdout.write(`kafka: healthy cluster of 3 in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    const us = await unitSet();
    expect(us.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'KafkaCluster', name: NAME, uid: k.metadata.uid, controller: true });
    expect(us.spec).toMatchObject({ engine: 'kafka', version: '3.9', units: 3, updateStrategy: { type: 'Managed' }, parameters: { 'upm.quorum.units': '3', 'upm.quorum.roles': 'combined' } });
    const clusterId = unitSetId(us.metadata.uid ?? '');
    expect(k.status?.clusterId).toBe(clusterId);
    expect(k.status?.nodes?.map((n) => [n.unit, n.id, n.roles, n.state])).toEqual([0, 1, 2].map((o) => [`${NAME}-${o}`, o + 1, ['broker', 'controller'], 'Running']));
    expect(k.status?.quorum?.map((q) => q.id)).toEqual([1, 2, 3]);
    expect(k.status?.quorum?.filter((q) => q.role === 'Leader')).toHaveLength(1);
    expect(k.status?.activeController?.unit).toBe(`${NAME}-${(k.status?.activeController?.id ?? 0) - 1}`);
    expect(k.status).toMatchObject({ underReplicatedPartitions: 0, offlinePartitions: 0, bootstrapService: `${NAME}-bootstrap`, selector: `unit.upm.io/unitset=${NAME}` });
    // Each unit's storage was formatted once, for this cluster, as its own node.
    for (const o of [0, 1, 2]) {
      const pvc = await c.get<Pvc>(Resources.persistentVolumeClaims, `${NAME}-${o}-data`, ns);
      const meta = await readFile(join(f.dir, 'runtime', 'volumes', pvc.spec?.volumeName ?? '', 'logs', 'meta.properties'), 'utf8');
      expect(meta).toContain(`cluster.id=${clusterId}`);
      expect(meta).toContain(`node.id=${o + 1}`);
    }
    // kubectl: the short name, the printer columns, the categories.
    const table = await kubectlOk(CLUSTER, ['-n', ns, 'get', 'kfk']);
    expect(table).toMatch(new RegExp(`^${NAME}\\s+3/3\\s+${k.status?.activeController?.unit}\\s+0\\s+true\\s+Ready\\s`, 'm'));
    expect(await kubectlOk(CLUSTER, ['-n', ns, 'get', 'compose', '-o', 'name'])).toContain(`kafkacluster.compose.upm.io/${NAME}`);
    const shortNames = (await kubectlOk(CLUSTER, ['api-resources', '--no-headers'])).split('\n').map((l) => l.trim().split(/\s+/)).filter((cols) => cols[1]?.split(',').includes('kfk'));
    expect(shortNames).toHaveLength(1);

    const secret = await c.get<Secret>(Resources.secrets, `${NAME}-credentials`, ns);
    auth = { username: b64(secret.data?.['admin-username']), password: b64(secret.data?.['admin-password']) };
    clientConfig = join(scratch, 'client.properties');
    await writeClientConfig(clientConfig, auth);
  }, 660_000);

  it('loses no acknowledged message of 100,000 (acks=all, RF 3, min.insync.replicas 2) through a rolling restart and a scale 3 -> 4 -> 3', async () => {
    await createTopic('payments', 6, 3);
    const producer = new AckedProducer({ bootstrap: await addresses(), ...auth, topic: 'payments', partitions: 6, total: MESSAGES, batch: 50, ratePerSecond: 300 });
    producer.start();
    await waitFor('the producer running', () => producer.acked.size >= 1000, { timeoutMs: 60_000, intervalMs: 200 });

    // 1. Rolling restart: every unit once, broker by broker, the active controller last; never below min.insync.replicas.
    const before = await kfk();
    const pods = new Map(await Promise.all([0, 1, 2].map(async (o) => [`${NAME}-${o}`, (await c.get<KubeObject>(Resources.pods, `${NAME}-${o}`, ns)).metadata.uid ?? ''] as const)));
    const restartedAt = new Date().toISOString();
    const rollStart = Date.now();
    const ackedBeforeRoll = producer.acked.size;
    await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'kfk', NAME, '--type', 'merge', '-p', JSON.stringify({ spec: { restartedAt } })]);
    const rolled = await waitReady('the rolling restart done', (x) => x.status?.lastRestart?.restartedAt === restartedAt);
    const rollEnd = Date.now();
    // First the property, independently of the operator, from the cluster's own metadata log: every ISR change of the
    // topic during the roll (each restart shrinks the ISR by the broker going down), none below min.insync.replicas.
    const rolling = (await history()).transitions.filter((t) => t.partition.startsWith('payments-') && t.at >= rollStart && t.at <= rollEnd);
    process.stdout.write(`kafka: metadata log during the roll: ${rolling.length} partition changes of payments, smallest ISR ${Math.min(...rolling.map((t) => t.state.isr.length))}\n`);
    expect(rolling.filter((t) => t.state.isr.length === 2).length).toBeGreaterThanOrEqual(3);
    expect(rolling.filter((t) => t.state.isr.length < 2).map((t) => `${new Date(t.at).toISOString()} ${t.partition} ISR ${t.state.isr.join(',')}`)).toEqual([]);
    expect(producer.acked.size).toBeGreaterThan(ackedBeforeRoll);
    for (const [u, uid] of pods) expect((await c.get<KubeObject>(Resources.pods, u, ns)).metadata.uid).not.toBe(uid);
    expect(rolled.status?.lastRestart?.units?.slice().sort()).toEqual([...pods.keys()]);
    const restarts = (await events()).filter((e) => e.reason === 'RestartingUnit' && Date.parse(e.firstTimestamp ?? '') >= rollStart - 1000);
    expect(restarts).toHaveLength(3);
    expect(restarts.at(-1)?.message).toMatch(/the active controller, last/);
    for (const e of restarts.slice(0, 2)) expect(e.message).not.toMatch(/active controller/);
    const rollLatency = latencyPercentiles(producer.latencies, rollStart, rollEnd);
    process.stdout.write(`kafka: rolling restart ${rolled.status?.lastRestart?.seconds} s; producer p99 during it ${rollLatency.p99.toFixed(0)} ms (p50 ${rollLatency.p50.toFixed(0)}, max ${rollLatency.max.toFixed(0)}, ${rollLatency.n} batches); active controller before ${before.status?.activeController?.unit}\n`);

    // 2. Scale out to 4: the new broker joins without touching the others (the voters stay 1-3), partitions move onto it.
    const pids = await Promise.all([0, 1, 2].map(async (o) => (await unit(`${NAME}-${o}`)).status?.engine?.pid));
    const ackedBeforeOut = producer.acked.size;
    await kubectlOk(CLUSTER, ['-n', ns, 'scale', 'kfk', NAME, '--replicas=4']);
    const out = await waitReady('scaled out to 4 and rebalanced', (x) => x.status?.brokersReady === '4/4' && !!x.status.lastRebalance && (x.status.balancedBrokers ?? []).length === 4);
    expect(producer.acked.size).toBeGreaterThan(ackedBeforeOut);
    expect(await Promise.all([0, 1, 2].map(async (o) => (await unit(`${NAME}-${o}`)).status?.engine?.pid))).toEqual(pids);
    expect(out.status?.nodes?.find((n) => n.id === 4)).toMatchObject({ unit: `${NAME}-3`, roles: ['broker'], state: 'Running' });
    expect(out.status?.quorum?.map((q) => q.id)).toEqual([1, 2, 3]);
    const voters = (u: string) => c.get<ConfigMap>(Resources.configMaps, `${u}-config`, ns).then((cm) => /^controller\.quorum\.voters=.*$/m.exec(cm.data?.['server.properties'] ?? '')?.[0]);
    expect(await voters(`${NAME}-3`)).toBe(await voters(`${NAME}-0`));
    expect((await readFile(join(f.dir, 'runtime', 'volumes', (await c.get<Pvc>(Resources.persistentVolumeClaims, `${NAME}-3-data`, ns)).spec?.volumeName ?? '', 'logs', 'meta.properties'), 'utf8'))).toContain(`cluster.id=${out.status?.clusterId}`);
    const onFour = [...(await assignment())].filter(([, p]) => p.replicas.includes(4));
    expect(onFour.filter(([name]) => name.startsWith('payments-')).length).toBeGreaterThan(0);
    process.stdout.write(`kafka: rebalance onto broker 4 moved ${out.status?.lastRebalance?.partitionsMoved} partitions in ${out.status?.lastRebalance?.seconds} s\n`);

    // 3. A scale-in the topics cannot take (a topic with four replicas) is refused whole: nothing moves.
    await createTopic('wide', 1, 4);
    const placed = await assignment();
    await kubectlOk(CLUSTER, ['-n', ns, 'scale', 'kfk', NAME, '--replicas=3']);
    const refusal = await waitFor('the scale-in refused', async () => {
      const k = await kfk();
      const ready = k.status?.conditions?.find((x) => x.type === 'Ready');
      return k.status?.observedGeneration === k.metadata.generation && ready?.reason === 'ScaleInRefused' ? ready : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    expect(refusal.message).toBe('spec.brokers: 3 brokers cannot keep the replication factor: topic wide has replication factor 4; scale-in refused, nothing was changed');
    expect((await kfk()).status?.phase).toBe('Blocked');
    // The controller has decided on this generation (observedGeneration, its condition and its event): nothing moved.
    await waitFor('the refusal event', async () => (await events()).some((e) => e.type === 'Warning' && e.reason === 'ScaleInRefused' && e.message === refusal.message), { timeoutMs: 30_000, intervalMs: 250 });
    expect((await unitSet()).spec.units).toBe(4);
    const unchanged = await assignment();
    for (const [p, a] of placed) expect(unchanged.get(p)?.replicas).toEqual(a.replicas);

    // 4. Without that topic the scale-in goes ahead: broker 4 drained, everything in sync, then removed.
    await tool('org.apache.kafka.tools.TopicCommand', ['--delete', '--topic', 'wide']);
    const ackedBeforeIn = producer.acked.size;
    const drainStart = Date.now();
    const scaledIn = await waitReady('scaled in to 3', (x) => x.status?.brokersReady === '3/3' && x.status.lastScaleIn?.unregistered === true && (x.status.nodes ?? []).length === 3);
    expect(producer.acked.size).toBeGreaterThan(ackedBeforeIn);
    expect(scaledIn.status?.lastScaleIn).toMatchObject({ brokers: [4], heldPartitions: 0, unregistered: true });
    expect(scaledIn.status?.lastScaleIn?.partitionsMoved).toBeGreaterThan(0);
    await waitFor('unit ev-3 gone', () => unit(`${NAME}-3`).then(() => false, () => true), { timeoutMs: 60_000 });
    // No replica names broker 4 any more, and the metadata log shows broker 4 fenced or unregistered only once no
    // partition named it (and shows it leaving at all, so the check saw the scale-in).
    expect([...(await assignment())].filter(([, p]) => p.replicas.includes(4))).toEqual([]);
    const exits = (await history()).exits.filter((x) => x.broker === 4 && x.at >= drainStart);
    expect(exits.length).toBeGreaterThan(0);
    expect(exits.filter((x) => x.holding.length).map((x) => `${new Date(x.at).toISOString()} broker 4 ${x.how} holding ${x.holding.join(',')}`)).toEqual([]);
    const order = (await events()).map((e) => e.reason);
    expect(order.lastIndexOf('Draining')).toBeGreaterThanOrEqual(0);
    expect(order.lastIndexOf('Draining')).toBeLessThan(order.lastIndexOf('ScaledIn'));
    process.stdout.write(`kafka: scale-in drain of broker 4: ${scaledIn.status?.lastScaleIn?.partitionsMoved} partitions in ${scaledIn.status?.lastScaleIn?.drainSeconds} s\n`);

    // 5. The rest of the 100,000, then every acknowledged message read back at its offset.
    producer.unpace();
    await producer.finished();
    expect(producer.acked.size).toBe(MESSAGES);
    const v = await verify(producer.acked, 'payments', await bootstrap(), clientConfig);
    process.stdout.write(`kafka: ${v.acked} acknowledged, ${v.consumed} consumed, ${v.missing.length} missing, ${v.duplicates} duplicates; ${producer.failedSends} sends retried by the producer\n`);
    expect(v.missing).toEqual([]);
    expect(v.misplaced).toEqual([]);
    expect(v.consumed).toBeGreaterThanOrEqual(MESSAGES);
    // Over the whole test (roll, scale-out, refused and done scale-in, the rest of the load): never below min ISR.
    const all = (await history()).transitions.filter((t) => t.partition.startsWith('payments-'));
    expect(all.filter((t) => t.state.isr.length < 2).map((t) => `${new Date(t.at).toISOString()} ${t.partition} ISR ${t.state.isr.join(',')}`)).toEqual([]);
  }, 1_800_000);

  it('recovers from a kill -9 of the active controller under load, and status says what happened', async () => {
    await createTopic('orders', 3, 3);
    const producer = new AckedProducer({ bootstrap: await addresses(), ...auth, topic: 'orders', partitions: 3, total: 20_000, batch: 50, ratePerSecond: 400 });
    producer.start();
    await waitFor('the producer running', () => producer.acked.size >= 2000, { timeoutMs: 60_000, intervalMs: 200 });
    const k = await kfk();
    const victim = k.status?.activeController;
    expect(victim?.unit).toBeDefined();
    const u = await unit(victim?.unit ?? '');
    const pid = u.status?.engine?.pid ?? 0;
    expect(pid).toBeGreaterThan(0);
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    const recovered = await waitReady('recovered from the kill', (x) => x.status?.lastIncident?.unit === victim?.unit && !!x.status?.lastIncident?.inSyncAt, 300_000);
    const incident = recovered.status?.lastIncident;
    expect(incident).toMatchObject({ unit: victim?.unit, id: victim?.id, wasActiveController: true });
    expect(incident?.message).toMatch(/its engine exited unexpectedly and was restarted by its agent/);
    expect(Date.parse(incident?.detectedAt ?? '')).toBeGreaterThanOrEqual(killedAt - 1000);
    expect(Date.parse(incident?.recoveredAt ?? '')).toBeGreaterThanOrEqual(Date.parse(incident?.detectedAt ?? ''));
    expect(recovered.status?.lastControllerChange?.from).toBe(victim?.id);
    expect(recovered.status?.activeController?.id).not.toBe(victim?.id);
    expect((await unit(victim?.unit ?? '')).status?.engine?.restarts).toBeGreaterThanOrEqual(1);
    expect(recovered.status?.conditions?.find((x) => x.type === 'Degraded')?.status).toBe('False');
    const reasons = (await events()).filter((e) => Date.parse(e.firstTimestamp ?? '') >= killedAt - 1000).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['EngineCrashed', 'ControllerChanged', 'BrokerRecovered', 'InSync']));
    process.stdout.write(`kafka: kill -9 of ${victim?.unit}: serving again after ${((Date.parse(incident?.recoveredAt ?? '') - killedAt) / 1000).toFixed(1)} s, in sync after ${((Date.parse(incident?.inSyncAt ?? '') - killedAt) / 1000).toFixed(1)} s\n`);
    producer.unpace();
    await producer.finished();
    const v = await verify(producer.acked, 'orders', await bootstrap(), clientConfig);
    expect(v.missing).toEqual([]);
    expect(v.misplaced).toEqual([]);
    expect(v.acked).toBe(20_000);
  }, 900_000);
});
