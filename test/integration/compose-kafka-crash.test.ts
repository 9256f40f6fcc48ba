// KafkaCluster on real Kafka 3.9 brokers (KRaft) with the Compose Operator killed at each of its crash points, the
// next one started without: right after it named a unit for restart in a rolling restart, right after it asked for
// the reassignment that drains a leaving broker, and right after it shrank the UnitSet. Each time the next operator
// finishes the job, and the cluster and the members show each step taken once: every pod replaced once, the drain
// asked for once, the broker removed and its registration dropped once; every acknowledged message kept.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { kafkaTool } from '../../agent/engines/kafka.ts';
import type { KafkaCluster } from '../../lib/api/compose.upm.io.generated.ts';
import { KafkaClusterResource } from '../../lib/api/compose.upm.io.generated.ts';
import type { Unit, UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { KafkaAdmin } from '../../operators/compose/kafka/admin.ts';
import { ANNOTATION_UPDATE_NEXT } from '../../operators/unit/naming.ts';
import { AckedProducer, verify, writeClientConfig } from '../kafka-load.ts';
import { kubectlOk } from '../kubectl.ts';
import { useUnitOperator } from '../unit-operator.ts';

const CLUSTER = 'member1';
const NAME = 'ev';
const MESSAGES = 20_000;
const UNITS = [0, 1, 2, 3].map((o) => `${NAME}-${o}`);
type Secret = KubeObject & { data?: Record<string, string> };
type Event = KubeObject & { reason?: string; message?: string; count?: number; involvedObject?: { kind?: string } };
const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

describe('KafkaCluster with the Compose Operator killed at each crash point', () => {
  const f = useUnitOperator(CLUSTER, 'ckafkacrash', { engines: true, compose: true });
  let c: KubeClient;
  let ns: string;
  let scratch: string;
  let clientConfig: string;
  let kafka: KafkaAdmin;
  let producer: AckedProducer | undefined;
  beforeAll(async () => { c = f.client; ns = f.ns; scratch = await mkdtemp(join(tmpdir(), 'upm-ckafkacrash-')); });
  afterAll(async () => { await producer?.stop(); await kafka?.close(); await rm(scratch, { recursive: true, force: true }); });

  const kfk = () => c.get<KafkaCluster>(KafkaClusterResource, NAME, ns);
  const unitSet = () => c.get<UnitSet>(UnitSetResource, NAME, ns);
  const waitReady = (what: string, extra: (k: KafkaCluster) => boolean, timeoutMs = 600_000) => waitFor(what, async () => {
    const k = await kfk();
    return k.status?.observedGeneration === k.metadata.generation && k.status?.ready === true && k.status?.phase === 'Ready' && extra(k) ? k : undefined;
  }, { timeoutMs, intervalMs: 500 });
  /** The KafkaCluster's events with this reason, repeats folded into count. */
  const events = async (reason: string): Promise<{ message: string; count: number }[]> => (await c.list<Event>(Resources.events, { namespace: ns })).items
    .filter((e) => e.involvedObject?.kind === 'KafkaCluster' && e.reason === reason).map((e) => ({ message: e.message ?? '', count: e.count ?? 1 }));
  const times = async (reason: string) => (await events(reason)).reduce((n, e) => n + e.count, 0);
  const addresses = async () => (await c.list<Unit>(UnitResource, { namespace: ns, labelSelector: `unit.upm.io/unitset=${NAME}` })).items
    .filter((u) => u.status?.podIP).map((u) => `${u.status?.podIP}:9092`);
  /** The cluster as its own Admin API says, through the operator's client (any live broker). */
  const world = async () => { kafka.setAddresses(await addresses()); return kafka.observe(); };
  /** Every pod each unit had while sampling (a pod replaced twice shows three). */
  function podSampler(): { stop: () => Promise<Map<string, Set<string>>> } {
    const seen = new Map<string, Set<string>>();
    let running = true;
    const loop = (async () => {
      while (running) {
        for (const p of (await c.list<KubeObject>(Resources.pods, { namespace: ns, labelSelector: `unit.upm.io/unitset=${NAME}` }).catch(() => ({ items: [] as KubeObject[] }))).items) {
          const set = seen.get(p.metadata.name ?? '') ?? seen.set(p.metadata.name ?? '', new Set()).get(p.metadata.name ?? '')!;
          set.add(p.metadata.uid ?? '');
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    return { stop: async () => { running = false; await loop; return seen; } };
  }

  it('forms four brokers and takes a steady load', async () => {
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'compose.upm.io/v1alpha1', kind: 'KafkaCluster', metadata: { name: NAME, namespace: ns },
      spec: { brokers: 4, resources: { limits: { cpu: '500m', memory: '512Mi' } } },
    }));
    await waitReady('a healthy cluster of 4', (x) => x.status?.brokersReady === '4/4');
    const secret = await c.get<Secret>(Resources.secrets, `${NAME}-credentials`, ns);
    const auth = { username: b64(secret.data?.['admin-username']), password: b64(secret.data?.['admin-password']) };
    kafka = new KafkaAdmin(auth);
    clientConfig = join(scratch, 'client.properties');
    await writeClientConfig(clientConfig, auth);
    await kafkaTool(NAME, 'org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', (await addresses())[0]!, '--command-config', clientConfig,
      '--create', '--topic', 'payments', '--partitions', '8', '--replication-factor', '3', '--config', 'min.insync.replicas=2'], { timeoutMs: 120_000 });
    producer = new AckedProducer({ bootstrap: await addresses(), ...auth, topic: 'payments', partitions: 8, total: MESSAGES, batch: 50, ratePerSecond: 200 });
    producer.start();
    await waitFor('the producer running', () => producer!.acked.size >= 500, { timeoutMs: 60_000, intervalMs: 200 });
  }, 900_000);

  it('killed right after naming a unit for restart: the next operator goes on from that unit, each pod replaced once', async () => {
    const pods = podSampler();
    const started = Date.now();
    const died = await f.crashComposeAt('kafka-restart-named');
    const restartedAt = new Date().toISOString();
    await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'kfk', NAME, '--type', 'merge', '-p', JSON.stringify({ spec: { restartedAt } })]);
    await died(120_000);

    // At the kill: one unit named on the UnitSet, told once; nothing else named yet.
    const named = (await unitSet()).metadata.annotations?.[ANNOTATION_UPDATE_NEXT] ?? '';
    expect(UNITS).toContain(named);
    const told = await events('RestartingUnit');
    expect(told.map((e) => e.message.split(' ')[1])).toEqual([named]);
    // The rolling restart it is in is on record, so the next operator carries it on rather than starting another.
    const atKill = (await kfk()).status?.restart;
    expect(atKill).toMatchObject({ current: named, done: [] });
    process.stdout.write(`kafka: killed after naming ${named}; status.restart at the kill: ${JSON.stringify(atKill)}\n`);

    await f.restartCompose();
    const done = await waitReady('the rolling restart done', (x) => x.status?.lastRestart?.restartedAt === restartedAt);
    const seen = await pods.stop();
    // Every unit restarted once: named once, its pod replaced once (the one named before the kill not again).
    expect(done.status?.lastRestart?.units?.slice().sort()).toEqual(UNITS);
    const restarting = (await events('RestartingUnit')).map((e) => [e.message.split(' ')[1], e.count]);
    expect(restarting.map(([u]) => u).sort()).toEqual(UNITS);
    expect(restarting.every(([, n]) => n === 1)).toBe(true);
    expect(restarting[0]?.[0]).toBe(named);
    expect(await times('RollingRestart')).toBe(1);
    expect(done.status?.lastRestart?.restartedAt).toBe(atKill?.restartedAt);
    for (const u of UNITS) expect({ unit: u, pods: seen.get(u)?.size }).toEqual({ unit: u, pods: 2 });
    process.stdout.write(`kafka: rolling restart across the kill in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }, 900_000);

  it('killed right after asking for the drain, then right after shrinking the UnitSet: broker 4 drained, removed and unregistered once', async () => {
    const holding = (await world()).partitions.filter((p) => p.replicas.includes(4)).length;
    expect(holding).toBeGreaterThan(0);
    const drained = await f.crashComposeAt('kafka-reassigned');
    await kubectlOk(CLUSTER, ['-n', ns, 'scale', 'kfk', NAME, '--replicas=3']);
    await drained(120_000);
    // At the first kill: the drain of broker 4 announced in status and asked of the controller, the UnitSet untouched.
    const first = await kfk();
    expect(first.status?.reassignment).toMatchObject({ reason: 'Drain', brokers: [4], partitions: holding });
    expect(await times('Draining')).toBe(1);
    expect((await unitSet()).spec.units).toBe(4);
    const inFlight = (await world()).reassigning.length;
    process.stdout.write(`kafka: killed after asking to move ${holding} partitions off broker 4 (${inFlight} still moving)\n`);

    // The next operator waits for those moves (it does not ask again) and dies right after shrinking the UnitSet.
    const shrunk = await f.crashComposeAt('kafka-scaled-in');
    await shrunk(300_000);
    expect((await unitSet()).spec.units).toBe(3);
    expect(await times('Draining')).toBe(1);
    expect(await times('ScaledIn')).toBe(1);
    expect((await world()).partitions.filter((p) => p.replicas.includes(4))).toEqual([]);
    // The brokers to unregister once their units are gone are on record.
    const scaledIn = (await kfk()).status?.lastScaleIn;
    expect(scaledIn).toMatchObject({ brokers: [4], unregistered: false, partitionsMoved: holding });
    process.stdout.write(`kafka: killed after the scale-in; status.lastScaleIn at the kill: ${JSON.stringify(scaledIn)}\n`);

    await f.restartCompose();
    const done = await waitReady('scaled in to 3, broker 4 unregistered', (x) => x.status?.brokersReady === '3/3' && x.status.lastScaleIn?.unregistered === true && (x.status.nodes ?? []).length === 3);
    expect(done.status?.lastScaleIn).toMatchObject({ brokers: [4], heldPartitions: 0, unregistered: true, partitionsMoved: holding });
    expect(await times('Draining')).toBe(1);
    expect(await times('ScaledIn')).toBe(1);
    expect(await times('UnregisteredBrokers')).toBe(1);
    // The controller no longer knows broker 4: unregistering it again is refused as unknown.
    expect(await kafka.unregister(4)).toBe(false);
    expect((await world()).brokers).toEqual([1, 2, 3]);

    producer!.unpace();
    await producer!.finished();
    expect(producer!.acked.size).toBe(MESSAGES);
    const v = await verify(producer!.acked, 'payments', (await addresses())[0]!, clientConfig);
    expect(v.missing).toEqual([]);
    expect(v.misplaced).toEqual([]);
  }, 1_200_000);
});
