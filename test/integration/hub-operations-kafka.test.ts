// An Upgrade of a Kafka service run by the hub, end to end on real engines from Maven Central: a project editor
// creates a KafkaService of 3 brokers at 3.9 with kubectl against the hub, 1,000 messages go in with acks=all to a
// topic of replication factor 3 and min.insync.replicas 2, then an Operation {type: Upgrade, version 4.1}: its dry
// run's plan first, then the real one, which sets the service's version and waits for the roll. A pod watch on
// member1 sees every state of the roll (never more than one broker down); after it the hub reports 4.1 and Ready,
// each broker's own start-up log names Kafka 4.1.1, and every message is read back at its offset.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { Admin } from '@platformatic/kafka';
import { KAFKA4_VERSION, KAFKA_VERSION } from '../../agent/engines/jvm.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { describeHub } from '../hub.ts';
import { MEMBER, useHubProject } from '../hub-member.ts';
import { AckedProducer, verify, writeClientConfig } from '../kafka-load.ts';
import { b64 } from '../mysql.ts';
import { operationsOf, type Op } from '../operations.ts';
import { watchPodsDown } from '../watch-states.ts';

type Secret = KubeObject & { data?: Record<string, string> };
const NAME = 'events';
const UNITS = [0, 1, 2].map((o) => `${NAME}-${o}`);
const MESSAGES = 1000;

describeHub('Upgrade of a Kafka service from 3.9 to 4.1 run by the hub', () => {
  const p = useHubProject('hubkup');
  const { operation, steps, waitSucceeded } = operationsOf(p, { kind: 'KafkaService', name: NAME });
  let scratch = '';
  beforeAll(async () => { scratch = await mkdtemp(join(tmpdir(), 'upm-hubkup-')); });
  afterAll(async () => { if (scratch) await rm(scratch, { recursive: true, force: true }); });

  /** The Kafka release each broker's running engine names in its own start-up log ("Kafka version: x.y.z"). */
  const engineVersions = async () => Promise.all(UNITS.map(async (u) => {
    const pod = await p.member.get<KubeObject>(Resources.pods, u, p.project);
    const log = await readFile(join(p.dir, 'runtime', 'pods', pod.metadata.uid ?? '', 'kafka.log'), 'utf8').catch(() => '');
    return [...log.matchAll(/Kafka version: (\S+)/g)].at(-1)?.[1];
  }));
  let producer: AckedProducer | undefined;
  let auth = { username: '', password: '' };

  it('has a KafkaService of 3 brokers at 3.9 Ready on member1, with 1,000 messages acknowledged by all in-sync replicas', async () => {
    await p.as(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'upm.io/v1alpha1', kind: 'KafkaService', metadata: { name: NAME, namespace: p.project },
      spec: { version: '3.9', topology: { brokers: 3 }, placement: { cluster: MEMBER }, resources: { cpu: '500m', memory: '512Mi' }, storage: { size: '1Gi' } },
    }));
    const t0 = Date.now();
    const st = await p.hubReaches('kafkaservice', NAME, 'the service Ready with 3 brokers', (s) => s.phase === 'Ready' && s.ready === '3/3', 600_000);
    process.stdout.write(`kafka 3.9 service of 3 Ready after ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    expect(st.version).toBe('3.9');
    expect(await engineVersions()).toEqual([KAFKA_VERSION, KAFKA_VERSION, KAFKA_VERSION]);
    const s = await p.member.get<Secret>(Resources.secrets, `${NAME}-credentials`, p.project);
    auth = { username: b64(s.data?.['admin-username']), password: b64(s.data?.['admin-password']) };
    const rw = st.endpoints?.find((e) => e.role === 'readwrite');
    const bootstrap = (rw?.addresses ?? []).map((a) => `${a}:${rw?.port ?? 9092}`);
    expect(bootstrap).toHaveLength(3);
    const admin = new Admin({ clientId: 'upm-hubkup', bootstrapBrokers: bootstrap, sasl: { mechanism: 'PLAIN', ...auth }, retries: 5, timeout: 10_000 });
    try {
      await admin.createTopics({ topics: ['orders'], partitions: 3, replicas: 3, configs: [{ name: 'min.insync.replicas', value: '2' }] });
    } finally { await admin.close(); }
    producer = new AckedProducer({ bootstrap, ...auth, topic: 'orders', partitions: 3, total: MESSAGES, batch: 50, ratePerSecond: 10_000 });
    producer.unpace();
    producer.start();
    await producer.finished();
    expect(producer.acked.size).toBe(MESSAGES);
  }, 720_000);

  it('upgrades to 4.1 as the dry run planned, one broker at a time, every message kept at its offset', async () => {
    const op = JSON.stringify(operation('upgrade', { type: 'Upgrade', upgrade: { version: '4.1' } }));
    const plan = parse(await p.as(['create', '--dry-run=server', '-o', 'yaml', '-f', '-'], op)) as Op;
    const planned = (plan.status?.steps ?? []).map((s) => s.name);
    process.stdout.write(`plan: ${JSON.stringify(plan.status?.steps)}\n`);
    expect(planned).toEqual(['check', 'set-version', 'wait-ready']);
    expect(JSON.stringify(plan.status?.steps?.[0])).toContain('template kafka-4.1: present');
    // The dry run changed nothing.
    expect((await p.hubObject('kafkaservice', NAME)).spec.version).toBe('3.9');

    // Every state of the brokers' pods from here on: which have no Ready pod at each moment, and for how long.
    const watch = await watchPodsDown(p.member, { namespace: p.project, labelSelector: `unit.upm.io/unitset=${NAME}` }, UNITS);
    const t0 = Date.now();
    await p.as(['create', '-f', '-'], op);
    const o = await waitSucceeded('upgrade', 1500);
    const seconds = (Date.now() - t0) / 1000;
    await watch.stop();
    process.stdout.write(`kafka upgrade 3.9 -> 4.1 through the hub: ${seconds.toFixed(1)} s; down per broker: ${UNITS.map((u) => `${u} ${((watch.spans.get(u) ?? 0) / 1000).toFixed(1)} s`).join(', ')}; steps ${JSON.stringify(o.status?.steps)}\n`);
    expect(steps(o)).toEqual(planned.map((n) => `${n}:Succeeded`));
    const svc = await p.hubObject('kafkaservice', NAME);
    expect(svc.spec.version).toBe('4.1');
    // The last step waited for phase Ready at 4.1; a loaded machine may then see a follower drop out of the ISR for a
    // moment (the compose kind says Degraded, UnderReplicated), so the service is read once it is Ready again.
    const st = await p.hubReaches('kafkaservice', NAME, 'the service Ready at 4.1', (s) => s.phase === 'Ready' && s.version === '4.1', 120_000);
    expect(st).toMatchObject({ version: '4.1', phase: 'Ready', ready: '3/3' });
    expect(await engineVersions()).toEqual([KAFKA4_VERSION, KAFKA4_VERSION, KAFKA4_VERSION]);
    expect(watch.maxDown).toBe(1);
    expect([...watch.spans.keys()].sort()).toEqual(UNITS);

    const rw = svc.status?.endpoints?.find((e) => e.role === 'readwrite');
    const v = await verify(producer?.acked ?? new Map(), 'orders', `${rw?.addresses[1] ?? ''}:${rw?.port ?? 9092}`, await writeClientConfig(join(scratch, 'kafka.properties'), auth), KAFKA4_VERSION);
    expect(v).toMatchObject({ acked: MESSAGES, missing: [], misplaced: [] });
    expect(v.consumed).toBeGreaterThanOrEqual(MESSAGES);
  }, 1_620_000);
});
