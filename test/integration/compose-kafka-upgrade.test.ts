// KafkaCluster upgraded in place from real Kafka 3.9 to Kafka 4.1 brokers (KRaft, both from Maven Central): three
// combined broker-controllers at 3.9 take 1,000 messages with acks=all into a topic with replication factor 3 and
// min.insync.replicas 2; spec.version 3.9 -> 4.1 makes the operator restart them one at a time on the 4.1 jars (a
// pod watch sees every state: never more than one broker down; the metadata log: no ISR below 2); each broker's own
// start-up log then names Kafka 4.1.1, the metadata.version stays at 3.9-IV0 until it is raised on purpose
// (kafka-features upgrade), and every one of the 1,000 messages is read back at its offset; more are produced and
// read back after.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { kafkaTool } from '../../agent/engines/kafka.ts';
import { KAFKA4_VERSION, KAFKA_VERSION } from '../../agent/engines/jvm.ts';
import type { KafkaCluster } from '../../lib/api/compose.upm.io.generated.ts';
import { KafkaClusterResource } from '../../lib/api/compose.upm.io.generated.ts';
import type { Unit, UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { AckedProducer, verify, writeClientConfig } from '../kafka-load.ts';
import { metadataRecords, replay } from '../kafka-metadata.ts';
import { kubectlOk } from '../kubectl.ts';
import { useUnitOperator } from '../unit-operator.ts';
import { watchPodsDown } from '../watch-states.ts';

const CLUSTER = 'member1';
const NAME = 'up';
const UNITS = [0, 1, 2].map((o) => `${NAME}-${o}`);
type Secret = KubeObject & { data?: Record<string, string> };
type Pvc = KubeObject & { spec?: { volumeName?: string } };
const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');
const manifest = (ns: string, spec: Record<string, unknown>) => JSON.stringify({ apiVersion: 'compose.upm.io/v1alpha1', kind: 'KafkaCluster', metadata: { name: NAME, namespace: ns }, spec });

describe('KafkaCluster upgraded in place from Kafka 3.9 to 4.1', () => {
  const f = useUnitOperator(CLUSTER, 'ckup', { engines: true, compose: true });
  let c: KubeClient;
  let ns: string;
  let scratch: string;
  beforeAll(async () => { c = f.client; ns = f.ns; scratch = await mkdtemp(join(tmpdir(), 'upm-ckup-')); });
  afterAll(async () => { await rm(scratch, { recursive: true, force: true }); });

  const kfk = () => c.get<KafkaCluster>(KafkaClusterResource, NAME, ns);
  const waitReady = (what: string, extra: (k: KafkaCluster) => boolean | Promise<boolean>) => waitFor(what, async () => {
    const k = await kfk();
    return k.status?.observedGeneration === k.metadata.generation && k.status?.ready === true && k.status?.phase === 'Ready' && await extra(k) ? k : undefined;
  }, { timeoutMs: 900_000, intervalMs: 500 });
  const addresses = async () => (await c.list<Unit>(UnitResource, { namespace: ns, labelSelector: `unit.upm.io/unitset=${NAME}` })).items
    .filter((u) => u.status?.podIP).map((u) => `${u.status?.podIP}:9092`);
  /** The Kafka release each unit's running engine names in its own start-up log ("Kafka version: x.y.z"). */
  const engineVersions = async () => Promise.all(UNITS.map(async (u) => {
    const pod = await c.get<KubeObject>(Resources.pods, u, ns);
    const log = await readFile(join(f.dir, 'runtime', 'pods', pod.metadata.uid ?? '', 'kafka.log'), 'utf8').catch(() => '');
    return [...log.matchAll(/Kafka version: (\S+)/g)].at(-1)?.[1];
  }));

  it('moves 3 brokers from 3.9 to 4.1 one at a time, losing none of 1,000 acknowledged messages', async () => {
    const t0 = Date.now();
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], manifest(ns, { version: '3.9', brokers: 3, resources: { limits: { cpu: '500m', memory: '512Mi' } } }));
    await waitReady('a healthy 3.9 cluster of 3', (x) => x.status?.brokersReady === '3/3');
    process.stdout.write(`kafka upgrade: 3.9 cluster of 3 ready in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    expect(await engineVersions()).toEqual([KAFKA_VERSION, KAFKA_VERSION, KAFKA_VERSION]);

    const secret = await c.get<Secret>(Resources.secrets, `${NAME}-credentials`, ns);
    const auth = { username: b64(secret.data?.['admin-username']), password: b64(secret.data?.['admin-password']) };
    const clientConfig = await writeClientConfig(join(scratch, 'client.properties'), auth);
    const bootstrap = async () => (await addresses()).join(',');
    const tool = async (main: string, args: string[], version?: string) => kafkaTool(NAME, main, ['--bootstrap-server', await bootstrap(), '--command-config', clientConfig, ...args], { timeoutMs: 120_000, ...(version ? { version } : {}) });
    const metadataVersion = async (version?: string) => /Feature: metadata\.version\s.*FinalizedVersionLevel: (\S+)/.exec(await tool('org.apache.kafka.tools.FeatureCommand', ['describe'], version))?.[1];
    // A 3.9 cluster is formatted at the newest metadata.version 3.9 has, which 4.1 runs as it is.
    expect(await metadataVersion()).toBe('3.9-IV0');

    await tool('org.apache.kafka.tools.TopicCommand', ['--create', '--topic', 'orders', '--partitions', '3', '--replication-factor', '3', '--config', 'min.insync.replicas=2']);
    const before = new AckedProducer({ bootstrap: await addresses(), ...auth, topic: 'orders', partitions: 3, total: 1000, batch: 50, ratePerSecond: 100_000 });
    before.unpace();
    before.start();
    await before.finished();
    expect(before.acked.size).toBe(1000);

    // Every state of the pods from here on: which units have no Ready pod at each moment, and when each was down.
    const pods = new Map(await Promise.all(UNITS.map(async (u) => [u, (await c.get<KubeObject>(Resources.pods, u, ns)).metadata.uid ?? ''] as const)));
    const watch = await watchPodsDown(c, { namespace: ns, labelSelector: `unit.upm.io/unitset=${NAME}` }, UNITS);
    const upgradeStart = Date.now();
    await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'kfk', NAME, '--type', 'merge', '-p', JSON.stringify({ spec: { version: '4.1' } })]);
    const done = await waitReady('every unit on 4.1 and the roll over', async (x) => {
      const us = await c.get<UnitSet>(UnitSetResource, NAME, ns);
      const units = (await c.list<Unit>(UnitResource, { namespace: ns, labelSelector: `unit.upm.io/unitset=${NAME}` })).items;
      return x.status?.brokersReady === '3/3' && !x.status.restart && us.spec.version === '4.1' && units.length === 3 && units.every((u) => u.spec.version === '4.1')
        && (us.status?.outdated ?? []).length === 0 && !watch.downNow;
    });
    const upgradeEnd = Date.now();
    const upgradeSeconds = (upgradeEnd - upgradeStart) / 1000;
    await watch.stop();
    for (const [u, uid] of pods) expect((await c.get<KubeObject>(Resources.pods, u, ns)).metadata.uid).not.toBe(uid);
    expect(watch.maxDown).toBe(1);
    expect([...watch.spans.keys()].sort()).toEqual(UNITS);
    expect(done.status?.lastRestart?.units?.slice().sort()).toEqual(UNITS);
    process.stdout.write(`kafka upgrade: 3.9 -> 4.1 in ${upgradeSeconds.toFixed(1)} s (operator: ${done.status?.lastRestart?.seconds} s); each broker down ${UNITS.map((u) => `${u} ${((watch.spans.get(u) ?? 0) / 1000).toFixed(1)} s`).join(', ')}; at most ${watch.maxDown} down at once\n`);

    // Kafka's own account of the roll, from the metadata log (read before the metadata.version is raised, by 3.9's
    // decoder): each restart shrank the ISR of the topic's partitions, never below min.insync.replicas.
    const pvc = await c.get<Pvc>(Resources.persistentVolumeClaims, `${NAME}-0-data`, ns);
    const rolling = replay(await metadataRecords(join(f.dir, 'runtime', 'volumes', pvc.spec?.volumeName ?? '', 'logs'))).transitions
      .filter((t) => t.partition.startsWith('orders-') && t.at >= upgradeStart && t.at <= upgradeEnd);
    expect(rolling.filter((t) => t.state.isr.length === 2).length).toBeGreaterThanOrEqual(3);
    expect(rolling.filter((t) => t.state.isr.length < 2).map((t) => `${new Date(t.at).toISOString()} ${t.partition} ISR ${t.state.isr.join(',')}`)).toEqual([]);

    // Each broker's running engine is Kafka 4.1.1, by its own account; the cluster's metadata.version is unchanged.
    expect(await engineVersions()).toEqual([KAFKA4_VERSION, KAFKA4_VERSION, KAFKA4_VERSION]);
    expect(await metadataVersion(KAFKA4_VERSION)).toBe('3.9-IV0');

    // Every message produced on 3.9 is read back at its offset on 4.1.
    const v = await verify(before.acked, 'orders', await bootstrap(), clientConfig);
    process.stdout.write(`kafka upgrade: ${v.acked} acknowledged on 3.9, ${v.consumed} consumed on 4.1, ${v.missing.length} missing\n`);
    expect(v.missing).toEqual([]);
    expect(v.misplaced).toEqual([]);
    expect(v.consumed).toBe(1000);

    // Raising the metadata.version is a step of its own (it cannot be undone): to 4.1's once every broker runs 4.1.
    await tool('org.apache.kafka.tools.FeatureCommand', ['upgrade', '--release-version', '4.1'], KAFKA4_VERSION);
    const raised = await metadataVersion(KAFKA4_VERSION);
    expect(raised).toMatch(/^4\.1-IV\d+$/);
    process.stdout.write(`kafka upgrade: ${rolling.length} ISR/leader changes of the topic during the roll, smallest ISR ${Math.min(...rolling.map((t) => t.state.isr.length))}; metadata.version 3.9-IV0 -> ${raised}\n`);

    // The upgraded cluster takes more writes (acks=all, min.insync.replicas 2) and serves them back.
    const after = new AckedProducer({ bootstrap: await addresses(), ...auth, topic: 'orders', partitions: 3, total: 500, batch: 50, ratePerSecond: 100_000 });
    after.unpace();
    after.start();
    await after.finished();
    expect(after.acked.size).toBe(500);
    const v2 = await verify(after.acked, 'orders', await bootstrap(), clientConfig, KAFKA4_VERSION);
    expect(v2.missing).toEqual([]);
    expect(v2.misplaced).toEqual([]);
    expect(v2.consumed).toBe(1500);
  }, 1_500_000);
});
