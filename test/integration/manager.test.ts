// A manager as a component runs it: shared informers, a controller, health and metrics endpoints; and the client's
// in-cluster mode, with a real ServiceAccount token whose RBAC the API server enforces.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { request } from 'undici';
import { parse } from 'yaml';
import { KubeClient } from '../../lib/kube/client.ts';
import { KubeApiError } from '../../lib/kube/errors.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { Manager } from '../../lib/manager.ts';
import { waitFor } from '../../lib/wait.ts';
import { client, kubeconfig, uniqueName } from '../env.ts';

describe('manager', () => {
  it('reconciles from a shared cache and exposes /healthz, /readyz and /metrics', async () => {
    const c = await client('member2');
    const ns = uniqueName('mgr');
    await c.create(Resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const manager = new Manager({ client: c, health: { port: 0 } });
    const cms = manager.informer<KubeObject>(Resources.configMaps, { namespace: ns });
    expect(manager.informer(Resources.configMaps, { namespace: ns })).toBe(cms); // one cache per type and scope
    const seen = new Set<string>();
    manager.controller({ name: 'probe', reconcile: async (key) => { if (cms.get(key)) seen.add(key); } }).watch(cms);
    const stop = new AbortController();
    const running = manager.run(stop.signal);
    try {
      await waitFor('ready', async () => manager.port && (await request(`http://127.0.0.1:${manager.port}/readyz`)).statusCode === 200);
      await c.create(Resources.configMaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: ns } } as KubeObject);
      await waitFor('reconciled', () => seen.has(`${ns}/x`));
      const metrics = await (await request(`http://127.0.0.1:${manager.port}/metrics`)).body.text();
      expect(metrics).toMatch(/controller_runtime_reconcile_total\{controller="probe",result="success"\} [1-9]/);
      expect(metrics).toMatch(/workqueue_adds_total\{name="probe"\} [1-9]/);
      expect(metrics).toContain('controller_runtime_reconcile_time_seconds_bucket');
    } finally {
      stop.abort();
      await expect(running).resolves.toBe('stopped');
      await c.delete(Resources.namespaces, ns);
      await c.close();
    }
  }, 2 * 60_000 + 30_000); // two waits of waitFor's default 60 s

  it('connects in-cluster with a ServiceAccount token, and the API server enforces its RBAC', async () => {
    const admin = await client('member2');
    const ns = uniqueName('sa');
    await admin.create(Resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await admin.create(Resources.serviceAccounts, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'reader', namespace: ns } });
    await admin.create({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', kind: 'RoleBinding', namespaced: true }, {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'reader-view', namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }],
    } as KubeObject);
    const tr = await admin.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${ns}/serviceaccounts/reader/token`, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } },
    });
    // Lay out what the kubelet mounts into a pod.
    const root = await mkdtemp(join(tmpdir(), 'upm-incluster-'));
    const saDir = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
    await mkdir(saDir, { recursive: true });
    const kc = parse(await readFile(kubeconfig('member2'), 'utf8')) as { clusters: { cluster: { server: string; 'certificate-authority-data': string } }[] };
    const cluster = kc.clusters[0]!.cluster;
    await writeFile(join(saDir, 'token'), tr.status.token);
    await writeFile(join(saDir, 'ca.crt'), Buffer.from(cluster['certificate-authority-data'], 'base64'));
    await writeFile(join(saDir, 'namespace'), ns);
    const url = new URL(cluster.server);
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    process.env.KUBERNETES_SERVICE_HOST = url.hostname;
    process.env.KUBERNETES_SERVICE_PORT = url.port;
    let pod: KubeClient | undefined;
    try {
      pod = await KubeClient.inCluster(root);
      const list = await pod.list(Resources.configMaps, { namespace: ns });
      expect(Array.isArray(list.items)).toBe(true);
      const denied = await pod.list(Resources.secrets, { namespace: 'kube-system' }).catch((e: unknown) => e);
      expect(denied).toBeInstanceOf(KubeApiError);
      expect((denied as KubeApiError).code).toBe(403);
      expect((denied as KubeApiError).reason).toBe('Forbidden');
    } finally {
      process.env.KUBERNETES_SERVICE_HOST = saved.host;
      process.env.KUBERNETES_SERVICE_PORT = saved.port;
      if (saved.host === undefined) delete process.env.KUBERNETES_SERVICE_HOST;
      if (saved.port === undefined) delete process.env.KUBERNETES_SERVICE_PORT;
      await pod?.close();
      await admin.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
