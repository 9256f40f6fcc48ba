// The informer keeps its cache equal to the server's truth across a kill -9 of the API server, changes made while
// it was cut off (through a second API server of the same cluster, as in an HA control plane), etcd compaction
// and the resulting 410 Gone; and it resumes a normally ended watch from its resourceVersion without relisting.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { binariesAt } from '../../hack/local/binaries.ts';
import { LocalCluster } from '../../hack/local/cluster.ts';
import { compactEtcd } from '../../hack/local/etcd.ts';
import { Informer } from '../../lib/informer.ts';
import { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { describeLocal, testState, uniqueName } from '../env.ts';

type ConfigMap = KubeObject & { data?: Record<string, string> };
const cm = (ns: string, name: string, v = '1'): ConfigMap => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data: { v } });

/** The informer's cache equals a fresh LIST: same keys, same resourceVersions. */
async function cacheMatchesServer(inf: Informer<ConfigMap>, c: KubeClient, ns: string): Promise<boolean> {
  const truth = await c.list<ConfigMap>(Resources.configMaps, { namespace: ns });
  if (truth.items.length !== inf.size) return false;
  return truth.items.every((o) => inf.get(`${ns}/${o.metadata.name}`)?.metadata.resourceVersion === o.metadata.resourceVersion);
}

describeLocal('informer against a real API server', () => {
  let dir: string;
  let cluster: LocalCluster;
  let admin: KubeClient;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'upm-informer-'));
    const state = testState();
    // A cluster of its own (API server only, on the shared etcd), so killing its API server disturbs no other suite.
    cluster = await LocalCluster.start({
      name: uniqueName('informer'), dir, etcdUrl: state.etcdUrl, bins: binariesAt(state.binDir), nodes: 0,
      components: { controllerManager: false, scheduler: false, kwok: false },
    });
    admin = await cluster.client();
  }, 120_000);

  afterAll(async () => {
    await admin?.close();
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('survives kill -9 of the API server, changes made meanwhile, compaction and 410 Gone', async () => {
    const ns = uniqueName('inf');
    await admin.create(Resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    for (let i = 0; i < 20; i++) await admin.create(Resources.configMaps, cm(ns, `cm-${i}`));

    const watcherClient = await cluster.client();
    const inf = new Informer<ConfigMap>(watcherClient, Resources.configMaps, { namespace: ns });
    const deleted: string[] = [];
    inf.addHandler({ onDelete: (o) => deleted.push(o.metadata.name ?? '') });
    const stop = new AbortController();
    const running = inf.run(stop.signal);
    try {
      await inf.waitForSync();
      expect(inf.size).toBe(20);

      // A second API server keeps the cluster writable while the informer's server is dead.
      const second = await cluster.startSecondApiserver();
      const other = await KubeClient.fromKubeconfig(second.kubeconfig);
      await cluster.killApiserver();
      for (let i = 20; i < 25; i++) await other.create(Resources.configMaps, cm(ns, `cm-${i}`));
      for (let i = 0; i < 3; i++) await other.patch(Resources.configMaps, `cm-${i}`, { data: { v: '2' } }, 'merge', { namespace: ns });
      for (let i = 16; i < 20; i++) await other.delete(Resources.configMaps, `cm-${i}`, ns);
      // Expire every resourceVersion the informer has seen, in etcd itself.
      await compactEtcd(testState().etcdUrl);
      await other.close();

      await cluster.startApiserver();
      await waitFor('cache equals server after restart', () => cacheMatchesServer(inf, admin, ns), { timeoutMs: 60_000, intervalMs: 200 });
      expect(inf.stats.failures).toBeGreaterThan(0); // it saw the outage
      expect(inf.stats.gone).toBeGreaterThan(0); // and the expired resourceVersion
      expect(inf.stats.lists).toBeGreaterThanOrEqual(2); // so it relisted
      expect(deleted.sort()).toEqual(['cm-16', 'cm-17', 'cm-18', 'cm-19']); // deletions it never saw as events
      expect(inf.get(`${ns}/cm-0`)?.data?.v).toBe('2');

      // And it is watching again: a new change arrives without another list.
      const lists = inf.stats.lists;
      await admin.create(Resources.configMaps, cm(ns, 'after-restart'));
      await waitFor('new object seen', () => inf.get(`${ns}/after-restart`) !== undefined, { timeoutMs: 10_000 });
      expect(inf.stats.lists).toBe(lists);
    } finally {
      stop.abort();
      await running;
      await watcherClient.close();
    }
  }, 180_000);

  it('resumes a watch the server ended from its resourceVersion, without relisting', async () => {
    const ns = uniqueName('resume');
    await admin.create(Resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const watcherClient = await cluster.client();
    // The server ends each watch after 1-2 s; every reconnect must carry on where the last one stopped.
    const inf = new Informer<ConfigMap>(watcherClient, Resources.configMaps, { namespace: ns, watchTimeoutSeconds: 1 });
    const stop = new AbortController();
    const running = inf.run(stop.signal);
    try {
      await inf.waitForSync();
      for (let i = 0; i < 6; i++) {
        await admin.create(Resources.configMaps, cm(ns, `r-${i}`));
        await new Promise((r) => setTimeout(r, 700));
      }
      await waitFor('all seen', () => cacheMatchesServer(inf, admin, ns), { timeoutMs: 10_000 });
      expect(inf.stats.watches).toBeGreaterThanOrEqual(3);
      expect(inf.stats.lists).toBe(1);
      expect(inf.stats.gone).toBe(0);
    } finally {
      stop.abort();
      await running;
      await watcherClient.close();
    }
  }, 60_000);
});
