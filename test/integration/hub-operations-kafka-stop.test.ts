// Stop and Start of a real Kafka cluster (KRaft, 3 brokers that are the controllers too), run by the hub: a project
// editor asks with kubectl against the hub. Stop stops every unit at once, in place; the KafkaCluster holds still
// (Stopped, not Degraded, no broker lost or controller change recorded, nothing reassigned) and the service shows
// Stopped. Start brings them back: Ready, every message acknowledged before the stop read back at its offset.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Admin } from '@platformatic/kafka';
import { KafkaClusterResource, type KafkaCluster } from '../../lib/api/compose.upm.io.generated.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { describeHub } from '../hub.ts';
import { MEMBER, useHubProject } from '../hub-member.ts';
import { AckedProducer, verify, writeClientConfig } from '../kafka-load.ts';
import { b64 } from '../mysql.ts';
import { stopStartOf, warningsOf } from '../stop-start.ts';

type Secret = KubeObject & { data?: Record<string, string> };
const NAME = 'events';
const MESSAGES = 500;

describeHub('Stop and Start of a Kafka service run by the hub', () => {
  const p = useHubProject('hubkstop');
  const { stopHeld, start } = stopStartOf(p, { kind: 'KafkaService', name: NAME });
  let scratch = '';
  beforeAll(async () => { scratch = await mkdtemp(join(tmpdir(), 'upm-hubkstop-')); });
  afterAll(async () => { if (scratch) await rm(scratch, { recursive: true, force: true }); });
  let producer: AckedProducer | undefined;
  let auth = { username: '', password: '' };
  let addresses: string[] = [];
  let warnings: string[] = [];

  it('has a KafkaService of 3 brokers Ready on member1, with messages acknowledged by all in-sync replicas', async () => {
    await p.as(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'upm.io/v1alpha1', kind: 'KafkaService', metadata: { name: NAME, namespace: p.project },
      spec: { version: '3.9', topology: { brokers: 3 }, placement: { cluster: MEMBER }, resources: { cpu: '500m', memory: '512Mi' }, storage: { size: '1Gi' } },
    }));
    const st = await p.hubReaches('kafkaservice', NAME, 'the service Ready with 3 brokers', (s) => s.phase === 'Ready' && s.ready === '3/3', 600_000);
    const s = await p.member.get<Secret>(Resources.secrets, `${NAME}-credentials`, p.project);
    auth = { username: b64(s.data?.['admin-username']), password: b64(s.data?.['admin-password']) };
    const rw = st.endpoints?.find((e) => e.role === 'readwrite');
    addresses = [...(rw?.addresses ?? [])].sort();
    expect(addresses).toHaveLength(3);
    const bootstrap = addresses.map((a) => `${a}:9092`);
    const admin = new Admin({ clientId: 'upm-hubkstop', bootstrapBrokers: bootstrap, sasl: { mechanism: 'PLAIN', ...auth }, retries: 5, timeout: 10_000 });
    try {
      await admin.createTopics({ topics: ['kept'], partitions: 3, replicas: 3, configs: [{ name: 'min.insync.replicas', value: '2' }] });
    } finally { await admin.close(); }
    producer = new AckedProducer({ bootstrap, ...auth, topic: 'kept', partitions: 3, total: MESSAGES, batch: 50, ratePerSecond: 10_000 });
    producer.unpace();
    producer.start();
    await producer.finished();
    expect(producer.acked.size).toBe(MESSAGES);
    warnings = await warningsOf(p, 'KafkaCluster', NAME);
  }, 720_000);

  it('stops every unit at once: the KafkaCluster holds still, the service shows Stopped', async () => {
    // Several of the KafkaCluster's health passes (stopHeld waits 12 s): it stays held, no broker taken for lost.
    const kc = await stopHeld({ seconds: 420, compose: KafkaClusterResource, composeKind: 'KafkaCluster', port: 9092, addresses, warnings }) as KafkaCluster;
    expect(kc.status?.nodes?.map((n) => n.state)).toEqual(['Stopped', 'Stopped', 'Stopped']);
    expect(kc.status?.restart).toBeUndefined();
    expect(kc.status?.reassignment).toBeUndefined();
  }, 480_000);

  it('starts them again: Ready, every acknowledged message read back at its offset, nothing reported lost', async () => {
    await start(600);
    const st = (await p.hubObject('kafkaservice', NAME)).status;
    expect(st).toMatchObject({ phase: 'Ready', ready: '3/3' });
    const kc = await p.member.get<KafkaCluster>(KafkaClusterResource, NAME, p.project);
    expect(kc.status).toMatchObject({ phase: 'Ready', underReplicatedPartitions: 0, offlinePartitions: 0 });
    const v = await verify(producer?.acked ?? new Map(), 'kept', `${addresses[0] ?? ''}:9092`, await writeClientConfig(join(scratch, 'kafka.properties'), auth));
    expect(v).toMatchObject({ acked: MESSAGES, missing: [], misplaced: [] });
    expect(await warningsOf(p, 'KafkaCluster', NAME)).toEqual(warnings);
  }, 900_000);
});
