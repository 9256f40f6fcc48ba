// The hub on the local management cluster: the storage CRDs, the identities and roles (config/local/hub), a
// serving certificate for upm-apiserver.upm-system.svc (and localhost) from a CA of ours, the aggregated API
// server and the hub controllers as supervised processes running with their service accounts' tokens, an
// ExternalName Service pointing at localhost on the server's port, and the APIService v1alpha1.upm.io with our CA.
// Member clusters are then registered as any real cluster would be: an identity on the member that may impersonate
// (config/member-access), its token in a kubeconfig Secret in upm-system, and a Cluster through the public API.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import type { KubeClient } from '../../lib/kube/client.ts';
import { waitFor } from '../../lib/wait.ts';
import type { LocalCluster } from './cluster.ts';
import { OPERATOR_NODE_FLAGS } from './engine.ts';
import { createCA, issueCert } from './pki.ts';
import { freePort } from './ports.ts';
import { ManagedProcess } from './process.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
export const HUB_NAMESPACE = 'upm-system';
export const APISERVICE = 'v1alpha1.upm.io';
const SERVICE = 'upm-apiserver';

export interface HubState {
  /** The aggregated API server's port on 127.0.0.1 (reachable directly, without the front proxy). */
  port: number;
  /** The CA of its serving certificate (the APIService's caBundle). */
  caFile: string;
  logs: { apiserver: string; controllers: string };
  /** The member clusters registered as Clusters (each with the Secret <name>-kubeconfig). */
  members: string[];
  /** How often the server sends a watch a bookmark (its --bookmark-interval-seconds). */
  bookmarkIntervalSeconds: number;
  /** When the APIService became Available (ms since the epoch): the management cluster's controllers watch from then. */
  availableAt: number;
  /** The API server's process (for its memory: /proc/<pid>/status). */
  apiserverPid?: number;
}

interface Kubeconfig { clusters: { cluster: { server: string; 'certificate-authority-data': string } }[] }

/** The Kustomize layout, the CRDs, the certificates and the service-account kubeconfigs; idempotent. */
async function install(kubectl: string, cluster: LocalCluster, dir: string): Promise<{ cert: string; key: string; ca: string; kubeconfigs: Record<'apiserver' | 'controllers', string> }> {
  const k = (...args: string[]) => run(kubectl, ['--kubeconfig', cluster.kubeconfig, ...args], { maxBuffer: 16 << 20 });
  await mkdir(join(dir, 'pki'), { recursive: true, mode: 0o700 });
  const f = (n: string) => join(dir, 'pki', n);
  if (!existsSync(f('.complete'))) {
    const ca = await createCA('upm-apiserver-ca');
    const serving = await issueCert(ca, {
      commonName: 'upm-apiserver', usage: 'server', ips: ['127.0.0.1'],
      dnsNames: [`${SERVICE}.${HUB_NAMESPACE}.svc`, `${SERVICE}.${HUB_NAMESPACE}.svc.cluster.local`, 'localhost'],
    });
    await writeFile(f('ca.crt'), ca.certPem);
    await writeFile(f('tls.crt'), serving.certPem);
    await writeFile(f('tls.key'), serving.keyPem, { mode: 0o600 });
    await writeFile(f('.complete'), '');
  }
  await k('apply', '--server-side', '--force-conflicts', '-k', join(root, 'crds', 'hub'));
  const crds = readdirSync(join(root, 'crds', 'hub')).filter((f) => f.startsWith('internal.upm.io_') && f.endsWith('.yaml')).map((f) => `crd/${f.slice('internal.upm.io_'.length, -'.yaml'.length)}.internal.upm.io`);
  await k('wait', '--for=condition=Established', '--timeout=60s', ...crds);
  await k('apply', '--server-side', '--force-conflicts', '-k', join(root, 'config', 'local', 'hub'));
  // The processes authenticate as their service accounts, so the RBAC shipped for a real cluster is what they get.
  const admin = parse(await readFile(cluster.kubeconfig, 'utf8')) as Kubeconfig;
  const c = admin.clusters[0]?.cluster;
  if (!c) throw new Error(`${cluster.kubeconfig}: no cluster`);
  const kubeconfigs = { apiserver: join(dir, 'apiserver.kubeconfig'), controllers: join(dir, 'controllers.kubeconfig') };
  for (const [who, sa] of [['apiserver', 'upm-apiserver'], ['controllers', 'upm-hub-controllers']] as const) {
    const { stdout: token } = await k('create', 'token', sa, '-n', HUB_NAMESPACE, '--duration=8760h');
    await writeFile(kubeconfigs[who], stringify({
      apiVersion: 'v1', kind: 'Config',
      clusters: [{ name: cluster.name, cluster: { server: c.server, 'certificate-authority-data': c['certificate-authority-data'] } }],
      users: [{ name: sa, user: { token: token.trim() } }],
      contexts: [{ name: sa, context: { cluster: cluster.name, user: sa } }],
      'current-context': sa,
    }), { mode: 0o600 });
  }
  return { cert: f('tls.crt'), key: f('tls.key'), ca: f('ca.crt'), kubeconfigs };
}

export class LocalHub {
  readonly processes: ManagedProcess[];
  private readonly hubState: HubState;

  private constructor(processes: ManagedProcess[], state: HubState) {
    this.processes = processes;
    this.hubState = state;
  }

  /** Installs the hub into the management cluster, starts its processes and waits for the APIService to be Available. */
  static async start(kubectl: string, cluster: LocalCluster, dir: string, opts: { controllers?: boolean; members?: LocalCluster[]; bookmarkIntervalSeconds?: number; controllerHealthPort?: number; controllerNodeFlags?: string[] } = {}): Promise<LocalHub> {
    const files = await install(kubectl, cluster, dir);
    const bookmarkIntervalSeconds = opts.bookmarkIntervalSeconds ?? 60;
    const port = await freePort();
    const logs = { apiserver: join(dir, 'upm-apiserver.log'), controllers: join(dir, 'hub-controllers.log') };
    const apiserver = ManagedProcess.start({
      name: `${cluster.name}/upm-apiserver`, command: process.execPath, logFile: logs.apiserver,
      args: ['--max-old-space-size=512', join(root, 'apiserver', 'main.ts'), '--kubeconfig', files.kubeconfigs.apiserver, '--port', String(port),
        '--tls-cert-file', files.cert, '--tls-private-key-file', files.key, '--token-review', '--bookmark-interval-seconds', String(bookmarkIntervalSeconds)],
    });
    const processes = [apiserver];
    if (opts.controllers !== false) {
      processes.push(ManagedProcess.start({
        name: `${cluster.name}/hub-controllers`, command: process.execPath, logFile: logs.controllers, restartOnExit: true,
        // The heap limits of its Deployment: without them V8 keeps far more unused heap than the live objects need.
        // A bench may serve their metrics (a health port) or profile them (more node flags).
        args: [...OPERATOR_NODE_FLAGS, ...(opts.controllerNodeFlags ?? []), join(root, 'controllers', 'main.ts'), '--kubeconfig', files.kubeconfigs.controllers,
          ...(opts.controllerHealthPort ? ['--health-port', String(opts.controllerHealthPort)] : [])],
      }));
    }
    const hub = new LocalHub(processes, { port, caFile: files.ca, logs, members: (opts.members ?? []).map((m) => m.name), bookmarkIntervalSeconds, availableAt: 0 });
    try {
      const ca = Buffer.from(await readFile(files.ca)).toString('base64');
      const objects = [
        {
          apiVersion: 'v1', kind: 'Service', metadata: { name: SERVICE, namespace: HUB_NAMESPACE },
          spec: { type: 'ExternalName', externalName: 'localhost', ports: [{ name: 'https', port, protocol: 'TCP' }] },
        },
        {
          apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', metadata: { name: APISERVICE },
          spec: {
            group: 'upm.io', version: 'v1alpha1', service: { namespace: HUB_NAMESPACE, name: SERVICE, port },
            caBundle: ca, groupPriorityMinimum: 2000, versionPriority: 100,
          },
        },
      ];
      const client = await cluster.client();
      try {
        for (const o of objects) await applyObject(client, o);
        await waitForAvailable(client, apiserver);
        hub.hubState.availableAt = Date.now();
        hub.hubState.apiserverPid = apiserver.pid;
        for (const m of opts.members ?? []) await registerMember(kubectl, client, m);
        // As an administrator would before placing services: wait until the hub has read what each member offers.
        if (opts.controllers !== false) for (const m of opts.members ?? []) await waitForInventory(client, m.name, hub.processes[1] as ManagedProcess);
      } finally {
        await client.close();
      }
    } catch (err) {
      await hub.stop();
      throw err;
    }
    return hub;
  }

  state(): HubState { return this.hubState; }
  get apiserver(): ManagedProcess { return this.processes[0] as ManagedProcess; }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop()));
  }
}

/**
 * Registers a member cluster with the hub as an administrator would: the member grants the hub an identity
 * (config/member-access), whose token goes into a kubeconfig Secret in upm-system; the Cluster, created through the
 * public API, names that Secret. What the member offers (zones, node groups, storage classes) the hub reads itself.
 */
async function registerMember(kubectl: string, hub: KubeClient, member: LocalCluster): Promise<void> {
  const km = (...args: string[]) => run(kubectl, ['--kubeconfig', member.kubeconfig, ...args], { maxBuffer: 16 << 20 });
  await km('apply', '--server-side', '--force-conflicts', '-k', join(root, 'config', 'member-access'));
  const { stdout: token } = await km('create', 'token', 'upm-hub', '-n', HUB_NAMESPACE, '--duration=8760h');
  const admin = parse(await readFile(member.kubeconfig, 'utf8')) as Kubeconfig;
  const c = admin.clusters[0]?.cluster;
  if (!c) throw new Error(`${member.kubeconfig}: no cluster`);
  const kubeconfig = stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: member.name, cluster: { server: c.server, 'certificate-authority-data': c['certificate-authority-data'] } }],
    users: [{ name: 'upm-hub', user: { token: token.trim() } }],
    contexts: [{ name: member.name, context: { cluster: member.name, user: 'upm-hub' } }],
    'current-context': member.name,
  });
  const secretName = `${member.name}-kubeconfig`;
  await applyObject(hub, {
    apiVersion: 'v1', kind: 'Secret', metadata: { name: secretName, namespace: HUB_NAMESPACE, labels: { 'upm.io/cluster': member.name } },
    type: 'Opaque', data: { kubeconfig: Buffer.from(kubeconfig).toString('base64') },
  });
  await applyObject(hub, {
    apiVersion: 'upm.io/v1alpha1', kind: 'Cluster', metadata: { name: member.name },
    spec: { description: `local member cluster ${member.name}`, credentials: { secretName } },
  });
}

async function applyObject(client: KubeClient, obj: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: unknown }): Promise<void> {
  const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
  const plural = `${obj.kind.toLowerCase()}s`;
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const path = `${base}${obj.metadata.namespace ? `/namespaces/${obj.metadata.namespace}` : ''}/${plural}/${obj.metadata.name}`;
  await client.request('PATCH', path, { body: JSON.stringify(obj), contentType: 'application/apply-patch+yaml', query: { fieldManager: 'upm-local', force: true } });
}

async function waitForInventory(client: KubeClient, name: string, controllers: ManagedProcess): Promise<void> {
  await waitFor(`the inventory of Cluster ${name}`, async () => {
    const c = await client.request<{ status?: { zones?: string[]; storageClasses?: unknown[] } }>('GET', `/apis/upm.io/v1alpha1/clusters/${name}`);
    return !!c.status?.zones && !!c.status.storageClasses;
  }, { timeoutMs: 90_000, intervalMs: 250, failFast: () => (controllers.running ? undefined : `upm-hub-controllers exited:\n${controllers.tail()}`) });
}

async function waitForAvailable(client: KubeClient, apiserver: ManagedProcess): Promise<void> {
  await waitFor(`APIService ${APISERVICE} Available`, async () => {
    const a = await client.request<{ status?: { conditions?: { type: string; status: string }[] } }>('GET', `/apis/apiregistration.k8s.io/v1/apiservices/${APISERVICE}`);
    return a.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True') ?? false;
  }, { timeoutMs: 90_000, intervalMs: 250, failFast: () => (apiserver.running ? undefined : `upm-apiserver exited:\n${apiserver.tail()}`) });
}
