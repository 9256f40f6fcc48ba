// An Upgrade of a Kafka service run by the hub, end to end on real engines from Maven Central: a project editor
// creates a KafkaService of 3 brokers at 3.9 with kubectl against the hub, 1,000 messages go in with acks=all to a
// topic of replication factor 3 and min.insync.replicas 2, then an Operation {type: Upgrade, version 4.1}: its dry
// run's plan first, then the real one, which sets the service's version and waits for the roll. A pod watch on
// member1 sees every state of the roll (never more than one broker down); after it the hub reports 4.1 and Ready,
// each broker's own start-up log names Kafka 4.1.1, and every message is read back at its offset. Then a Restart naming
// one broker that is not the active controller: its engine process is replaced, the others' run on, every message kept.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { Admin } from '@platformatic/kafka';
import { KAFKA4_VERSION, KAFKA_VERSION } from '../../agent/engines/jvm.ts';
import { KafkaClusterResource } from '../../lib/api/compose.upm.io.generated.ts';
import { UnitResource, UnitSetResource, type Unit, type UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { pidOf, running, watchEngineRestarts } from '../engine-restarts.ts';
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

describeHub('Upgrade of a Kafka service from 3.9 to 4.1, and a Restart of one broker, run by the hub', () => {
  const p = useHubProject('hubkup');
  const { operation, preview, steps, waitSucceeded } = operationsOf(p, { kind: 'KafkaService', name: NAME });
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

  it('restarts one broker only when the Restart names it (not the active controller): its engine restarts once, the others run on, every message kept', async () => {
    const svc0 = await p.hubObject('kafkaservice', NAME);
    const active = svc0.status?.units?.find((u) => (u.role ?? '').split(',').includes('active-controller'))?.name;
    const broker = UNITS.find((u) => u !== active) ?? '';
    const others = UNITS.filter((u) => u !== broker);
    const spec = { type: 'Restart', restart: { servers: [broker] } };
    const plan = await preview('restart-one', spec);
    expect(plan.status?.steps?.[0]?.message).toContain(`servers: 1 of 3 (${others.join(', ')} left alone)`);
    expect(plan.status?.steps?.[1]?.description).toBe(`ask the member to restart only ${broker} once in the engine's order among them (${broker}: the active controller last if among them; the others are left alone)`);

    const engines = await watchEngineRestarts(p.member, p.project, NAME);
    await p.as(['create', '-f', '-'], JSON.stringify(operation('restart-one', spec)));
    const o = await waitSucceeded('restart-one', 600);
    const seen = await engines.stop();
    expect(steps(o)).toEqual(['check:Succeeded', 'request-restart:Succeeded', 'wait-restarted:Succeeded']);
    const id = o.metadata.uid ?? '';
    const svc = await p.hubObject('kafkaservice', NAME);
    expect(svc.spec.restart).toEqual({ id, servers: [broker] });
    expect(svc.status?.restart).toMatchObject({ id, phase: 'Complete', done: [broker] });
    // The KafkaCluster passed it to its UnitSet as spec.restart (no new revision for the others) and reports it.
    const kc = await p.member.get<KubeObject & { status?: { unitRestart?: Record<string, unknown> } }>(KafkaClusterResource, NAME, p.project);
    expect(kc.status?.unitRestart).toMatchObject({ id, phase: 'Complete', order: [broker], done: [broker] });
    const us = await p.member.get<UnitSet>(UnitSetResource, NAME, p.project);
    expect(us.spec.restart).toEqual({ id, order: [broker], units: [broker] });
    // The engines: the broker's process was replaced (its first one is gone), the others kept theirs throughout.
    process.stdout.write(`kafka engines while restarting ${broker} (active controller ${active ?? '?'}): ${JSON.stringify(Object.fromEntries(seen))}\n`);
    expect(seen.get(broker)?.length).toBeGreaterThanOrEqual(2);
    expect(running(pidOf(seen.get(broker)?.[0]))).toBe(false);
    for (const u of others) {
      expect(`${u}: ${seen.get(u)?.length}`).toBe(`${u}: 1`);
      expect(running(pidOf(seen.get(u)?.[0]))).toBe(true);
    }
    const units = await p.member.list<Unit>(UnitResource, { namespace: p.project, labelSelector: `unit.upm.io/unitset=${NAME}` });
    for (const u of units.items) expect(`${u.metadata.name}: ${u.status?.lastRestartId === id}`).toBe(`${u.metadata.name}: ${u.metadata.name === broker}`);
    // Every message, read back through the restarted broker.
    const st = await p.hubReaches('kafkaservice', NAME, 'the service Ready', (s) => s.phase === 'Ready', 120_000);
    const rw = st.endpoints?.find((e) => e.role === 'readwrite');
    const addr = units.items.find((u) => u.metadata.name === broker)?.status?.podIP ?? '';
    expect(rw?.addresses).toContain(addr);
    const v = await verify(producer?.acked ?? new Map(), 'orders', `${addr}:${rw?.port ?? 9092}`, await writeClientConfig(join(scratch, 'kafka.properties'), auth), KAFKA4_VERSION);
    expect(v).toMatchObject({ acked: MESSAGES, missing: [], misplaced: [] });
  }, 900_000);
});
