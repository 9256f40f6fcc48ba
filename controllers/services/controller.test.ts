import { afterEach, describe, expect, it } from '@jest/globals';
import type { ClusterRecord } from '../../lib/api/internal.upm.io.generated.ts';
import { MysqlServiceRecordResource } from '../../lib/api/internal.upm.io.generated.ts';
import type { ReconcileContext } from '../../lib/controller.ts';
import type { EventRecorder } from '../../lib/events.ts';
import { Informer, type IndexedStore, type IndexFn } from '../../lib/informer.ts';
import { FakeApi } from '../../lib/kube/fake.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import type { MemberClients } from '../../lib/kube/member-clients.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { SERVICE_FINALIZER, type HubService } from './contract.ts';
import { CLUSTER_INDEX, PROJECT_CLUSTER_INDEX, SERVICE_INDEXES, servicesReconciler } from './controller.ts';
import { desiredMysql } from './desired/mysql.ts';
import { Mirror, MIRRORED_RESOURCES } from './mirror.ts';
import { serviceStatus } from './status.ts';

/** A cache of fixed objects that answers index queries as an Informer with the given indexes would. */
const store = <T extends KubeObject>(items: T[], indexes: Record<string, IndexFn<T>> = {}): IndexedStore<T> => {
  const m = new Map(items.map((o) => [o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name ?? '', o]));
  return {
    get: (k) => m.get(k), list: () => [...m.values()], keys: () => [...m.keys()], get size() { return m.size; },
    byIndex: (name, value) => [...m.values()].filter((o) => (indexes[name]?.(o) ?? []).includes(value)),
  };
};
const svc: HubService = {
  apiVersion: 'internal.upm.io/v1alpha1', kind: 'MysqlServiceRecord',
  metadata: { name: 'db', namespace: 'p', uid: 'u1', generation: 1, resourceVersion: '1' },
  spec: { engine: 'mariadb', version: '10.11', placement: { cluster: 'm1' } },
};
const cluster = (ready: 'True' | 'Unknown'): ClusterRecord => ({
  metadata: { name: 'm1' }, spec: { credentials: { secretName: 'm1-kubeconfig' } },
  status: { conditions: [{ type: 'Ready', status: ready, reason: ready === 'True' ? 'Healthy' : 'Unreachable', message: 'the member did not answer: timed out' }] },
});
const ctx = { key: 'mysqlservice/p/db' } as ReconcileContext;

describe('the services controller when a member is not there', () => {
  let mirror: Mirror | undefined;
  afterEach(async () => { await mirror?.close(); });

  function setup(c: ClusterRecord | undefined) {
    const patches: unknown[] = [];
    const current: HubService = structuredClone(svc);
    // The hub keeps what the controller writes, so a second pass finds its own status.
    const hub = {
      patch: async (_rt: unknown, _n: string, body: { status?: Record<string, unknown> }) => {
        patches.push(body);
        current.status = Object.fromEntries(Object.entries({ ...current.status, ...body.status }).filter(([, v]) => v !== null));
        return current;
      },
    } as unknown as KubeClient;
    // A member whose API never answers: every list fails as a refused connection would.
    const dead = { list: () => Promise.reject(new Error('connect ECONNREFUSED')), watch: () => { throw new Error('unreachable'); } } as unknown as KubeClient;
    mirror = new Mirror({ onEvent: () => undefined });
    const reconcile = servicesReconciler({
      client: hub, events: { record: async () => undefined } as unknown as EventRecorder,
      kinds: [{ kind: 'MysqlService', label: 'mysqlservice', storage: MysqlServiceRecordResource, desired: desiredMysql }],
      services: new Map([['mysqlservice', store([current], SERVICE_INDEXES)]]), clusters: store(c ? [c] : []),
      members: { resolve: async () => ({ client: dead, secretVersion: 'v1' }) } as unknown as Pick<MemberClients, 'resolve'>,
      mirror, status: serviceStatus, now: () => new Date('2026-01-01T00:00:00Z'),
    }, MIRRORED_RESOURCES.map((r) => r.kind));
    return { patches, reconcile };
  }

  it('leaves the service Pending, naming the Cluster, and waits for the Cluster to change rather than retrying', async () => {
    const { patches, reconcile } = setup(undefined);
    expect(await reconcile(ctx.key, ctx)).toBeUndefined();
    expect(patches[0]).toMatchObject({ status: { phase: 'Pending', conditions: expect.arrayContaining([expect.objectContaining({ type: 'Ready', status: 'False', message: 'spec.placement.cluster: Cluster "m1" not found' })]) } });
    const notReady = setup(cluster('Unknown'));
    expect(await notReady.reconcile(ctx.key, ctx)).toBeUndefined();
    expect(JSON.stringify(notReady.patches[0])).toContain('Cluster \\"m1\\" is not Ready: Unreachable: the member did not answer: timed out');
    expect(mirror?.clusters()).toEqual([]);
    // Nothing was written to a member, so nothing holds the service's deletion.
    expect([...patches, ...notReady.patches].some((p) => JSON.stringify(p).includes(SERVICE_FINALIZER))).toBe(false);
  });

  it('retries a member that does not answer with a doubling delay, never a hot loop, and writes the status once', async () => {
    const { patches, reconcile } = setup(cluster('True'));
    const delays: (number | undefined)[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await reconcile(ctx.key, ctx);
      delays.push(r ? r.requeueAfterMs : undefined);
    }
    expect(delays).toEqual([2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
    expect(patches).toHaveLength(1);
    expect(JSON.stringify(patches[0])).toContain('Cluster \\"m1\\": the member has not answered the hub\'s lists yet (13 of 13 kinds: Namespace, Secret, UnitSet, ...)');
    expect(mirror?.clusters()).toEqual(['m1']);
  });
});

describe('the services controller\'s indexes', () => {
  it('find, on a real informer, the services placed on a cluster and a project\'s services there, following deletions', async () => {
    const api = new FakeApi();
    const inf = new Informer<HubService>(api.client, MysqlServiceRecordResource);
    for (const [name, fn] of Object.entries(SERVICE_INDEXES)) inf.addIndex(name, fn);
    const stop = new AbortController();
    void inf.run(stop.signal);
    try {
      await inf.waitForSync();
      const on = (namespace: string, name: string, cluster: string): HubService => ({ ...structuredClone(svc), metadata: { namespace, name }, spec: { ...svc.spec, placement: { cluster } } });
      for (const x of [on('p', 'a', 'm1'), on('p', 'b', 'm2'), on('q', 'c', 'm1'), on('p', 'd', ''), on('p', 'e', 'm1')]) api.put(MysqlServiceRecordResource.plural, x);
      await waitFor('five cached', () => inf.size === 5);
      const names = (xs: HubService[]) => xs.map((x) => `${x.metadata.namespace}/${x.metadata.name}`).sort();
      expect(names(inf.byIndex(CLUSTER_INDEX, 'm1'))).toEqual(['p/a', 'p/e', 'q/c']);
      expect(names(inf.byIndex(PROJECT_CLUSTER_INDEX, 'p/m1'))).toEqual(['p/a', 'p/e']);
      expect(names(inf.byIndex(PROJECT_CLUSTER_INDEX, 'p/m2'))).toEqual(['p/b']);
      api.delete(MysqlServiceRecordResource.plural, 'p/e');
      await waitFor('four cached', () => inf.size === 4);
      expect(names(inf.byIndex(PROJECT_CLUSTER_INDEX, 'p/m1'))).toEqual(['p/a']);
      // A service placed nowhere is under no value.
      expect(Object.values(SERVICE_INDEXES).map((fn) => fn(on('p', 'd', '')))).toEqual([[], []]);
    } finally { stop.abort(); }
  });
});
