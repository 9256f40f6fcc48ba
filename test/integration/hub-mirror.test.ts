// The mirror against a real member cluster: server-side apply as upm-hub of a service's objects, no write once the
// member holds them, only the labelled objects cached, and drift (an object edited or deleted on the member) told
// apart from a change the hub wants, then put back. The member's own objects stay out of its caches.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MysqlReplicationResource } from '../../lib/api/compose.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { MANAGED_LABEL, MANAGED_VALUE, PROJECT_LABEL, SERVICE_KIND_LABEL, SERVICE_NAME_LABEL } from '../../controllers/services/contract.ts';
import { Mirror, type MemberMirror, type Step } from '../../controllers/services/mirror.ts';
import { client, uniqueName } from '../env.ts';
import { installEngine } from '../unit-operator.ts';

const CLUSTER = 'member1';

describe('the mirror on a member cluster', () => {
  const ns = uniqueName('mirror');
  let c: KubeClient;
  let mirror: Mirror;
  let m: MemberMirror;
  const seen: string[] = [];
  const labels = { [MANAGED_LABEL]: MANAGED_VALUE, [PROJECT_LABEL]: ns, [SERVICE_KIND_LABEL]: 'mysqlservice', [SERVICE_NAME_LABEL]: 'db' };
  /** A stand-in for a desired function: the namespace, a Secret and a MysqlReplication. */
  const desired = (downAfterSeconds = 3, extra: Record<string, unknown> = {}): KubeObject[] => [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { [MANAGED_LABEL]: MANAGED_VALUE, [PROJECT_LABEL]: ns } } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db-settings', namespace: ns, labels }, stringData: { mode: 'semisync' } } as KubeObject,
    {
      apiVersion: 'compose.upm.io/v1alpha1', kind: 'MysqlReplication', metadata: { name: 'db', namespace: ns, labels },
      spec: { engine: 'mariadb', secretName: 'db-credentials', source: { name: 'db-0', unit: 'db-0' }, replicas: [{ name: 'db-1', unit: 'db-1' }], failover: { downAfterSeconds, ...extra } },
    } as KubeObject,
  ];
  const mr = () => c.get<KubeObject & { spec: { failover?: Record<string, unknown> } }>(MysqlReplicationResource, 'db', ns);
  /** The plan once the mirror's cache shows what the member holds (its resourceVersion). */
  const planWhenCaught = async (want: KubeObject[], rv: string): Promise<Step[]> => {
    await waitFor('the mirror to see the member', () => m.get(want[2] as KubeObject)?.metadata.resourceVersion === rv, { timeoutMs: 10_000, intervalMs: 50 });
    return m.plan(want);
  };

  beforeAll(async () => {
    c = await client(CLUSTER);
    await installEngine(CLUSTER);
    const told: string[] = [];
    mirror = new Mirror({
      onEvent: (cluster, o) => { if (cluster === CLUSTER && o.metadata.namespace === ns) seen.push(`${o.kind}/${o.metadata.name}`); },
      onSynced: (cluster) => told.push(cluster),
    });
    m = mirror.member(CLUSTER, c, 'v1');
    await waitFor('the member mirrored', () => m.synced, { timeoutMs: 30_000, intervalMs: 100 });
    // The controller learns it once, as soon as every cache is filled (what brings a member's first service on).
    await waitFor('told the member is synced', () => told.length > 0, { timeoutMs: 5_000, intervalMs: 20 });
    expect(told).toEqual([CLUSTER]);
  });
  afterAll(async () => {
    await mirror?.close();
    await c?.delete(Resources.namespaces, ns).catch(() => undefined);
    await c?.close();
  });

  it('creates the objects in order as upm-hub, then writes nothing while the member holds them', async () => {
    const steps = m.plan(desired());
    expect(steps.map((s) => `${s.action} ${s.object.kind}`)).toEqual(['create Namespace', 'create Secret', 'create MysqlReplication']);
    await m.apply(steps);
    const got = await c.request<KubeObject & { metadata: { managedFields?: { manager: string; operation: string }[] } }>('GET', `/apis/compose.upm.io/v1alpha1/namespaces/${ns}/mysqlreplications/db`);
    expect(got.metadata.labels).toMatchObject(labels);
    expect(got.metadata.managedFields?.filter((f) => f.manager === 'upm-hub').map((f) => f.operation)).toEqual(['Apply']);
    // Right after the write the cache may lag; the mirror's own write stands in for it, so nothing is written twice.
    expect(m.plan(desired())).toEqual([]);
    expect(await planWhenCaught(desired(), got.metadata.resourceVersion ?? '')).toEqual([]);
    await m.apply(m.plan(desired()));
    expect((await mr()).metadata.resourceVersion).toBe(got.metadata.resourceVersion);
    expect(Buffer.from((await c.get<KubeObject & { data: Record<string, string> }>(Resources.secrets, 'db-settings', ns)).data.mode ?? '', 'base64').toString()).toBe('semisync');
  });

  it("caches only what the hub labelled, never the member's own objects", async () => {
    await c.create(Resources.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'own', namespace: ns } } as KubeObject);
    await c.create(Resources.configMaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'own', namespace: ns, labels } } as KubeObject);
    await new Promise((r) => setTimeout(r, 1000));
    expect(m.objectsIn(ns).map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(['MysqlReplication/db', 'Secret/db-settings']);
    expect(m.objectsOf({ kind: 'mysqlservice', namespace: ns, name: 'db' })).toHaveLength(2);
    expect(seen).not.toContain('Secret/own');
  });

  it('tells an edit on the member (drift) from a change the hub wants, and puts it back', async () => {
    const edited = await c.patch<KubeObject>(MysqlReplicationResource, 'db', { spec: { failover: { downAfterSeconds: 30 } } }, 'merge', { namespace: ns });
    const drift = await planWhenCaught(desired(), edited.metadata.resourceVersion ?? '');
    expect(drift.map((s) => [s.action, s.why])).toEqual([['restore', 'spec.failover.downAfterSeconds changed on the member']]);
    await m.apply(drift);
    expect((await mr()).spec.failover?.downAfterSeconds).toBe(3);

    const wanted = m.plan(desired(5));
    expect(wanted.map((s) => [s.action, s.why])).toEqual([['update', 'spec.failover.downAfterSeconds differs']]);
    await m.apply(wanted);
    expect((await mr()).spec.failover?.downAfterSeconds).toBe(5);
  });

  it('puts back an object deleted on the member, and drops a field the hub no longer sets', async () => {
    await m.apply(m.plan(desired(5, { maxLostTransactions: 10 })));
    expect((await mr()).spec.failover?.maxLostTransactions).toBe(10);
    await c.delete(MysqlReplicationResource, 'db', ns);
    await waitFor('the mirror to see the deletion', () => !m.get(desired()[2] as KubeObject), { timeoutMs: 10_000, intervalMs: 50 });
    const back = m.plan(desired(5, { maxLostTransactions: 10 }));
    expect(back.map((s) => [s.action, s.why])).toEqual([['restore', 'deleted on the member']]);
    await m.apply(back);
    expect((await mr()).spec.failover).toMatchObject({ downAfterSeconds: 5, maxLostTransactions: 10 });
    const dropped = m.plan(desired(5));
    expect(dropped.map((s) => s.action)).toEqual(['update']);
    await m.apply(dropped);
    const failover = (await mr()).spec.failover;
    expect(failover?.downAfterSeconds).toBe(5);
    expect(failover).not.toHaveProperty('maxLostTransactions');
  });

  it('stops watching a member it no longer mirrors', async () => {
    await mirror.retain([]);
    expect(mirror.clusters()).toEqual([]);
    const before = seen.length;
    await c.patch(MysqlReplicationResource, 'db', { spec: { failover: { downAfterSeconds: 9 } } }, 'merge', { namespace: ns });
    await new Promise((r) => setTimeout(r, 1500));
    expect(seen.length).toBe(before);
  });
});
