// One local Kubernetes cluster as processes: kube-apiserver (own --etcd-prefix on the shared etcd),
// kube-controller-manager, kube-scheduler and KWOK, all on 127.0.0.1, plus fake Nodes whose podCIDR is a loopback
// range (so pod IPs are dialable on this machine). API aggregation is configured (front-proxy CA and client cert).
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { KubeClient } from '../../lib/kube/client.ts';
import { isAlreadyExists } from '../../lib/kube/errors.ts';
import { Resources, type ResourceType } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import type { Binaries } from './binaries.ts';
import { ensureClusterPki, ADMIN_USER, FRONT_PROXY_CLIENT_CN, type ClusterPki } from './pki.ts';
import { freePort } from './ports.ts';
import { ManagedProcess } from './process.ts';

export interface ClusterOptions {
  name: string;
  /** Working directory for this cluster: PKI, kubeconfig, component configs and logs. */
  dir: string;
  etcdUrl: string;
  bins: Binaries;
  /** Fake nodes to create (KWOK runs their pods). 0 with components.kwok=false gives a bare API server. */
  nodes?: number;
  /** Second octet of the nodes' loopback pod CIDRs: node i gets 127.<base>.<i+1>.0/24. */
  podCidrOctet?: number;
  components?: { controllerManager?: boolean; scheduler?: boolean; kwok?: boolean };
  apiserverArgs?: string[];
}

const SERVICE_CIDR = '10.96.0.0/16';
const SERVICE_IP = '10.96.0.1';
const ZONES = ['zone-a', 'zone-b', 'zone-c'];
const POD_READY_DELAY = `  delay:
    durationMilliseconds: 0
    durationFrom:
      expressionFrom: '.metadata.annotations["pod-ready.stage.kwok.x-k8s.io/delay"]'
`;
/**
 * KWOK's volume stages provision and bind claims but never resize them. This one plays the external resizer of the
 * kwok-volume class (it allows expansion): a bound claim asking for more than it has gets its volume's capacity
 * and then its own status.capacity raised to the request, as a CSI resizer of a volume without node expansion would.
 */
const PVC_RESIZE_STAGE = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pvc-resize
spec:
  resourceRef:
    apiGroup: v1
    kind: PersistentVolumeClaim
  selector:
    matchExpressions:
    - cel:
        expression: >-
          self.spec.storageClassName == 'kwok-volume'
    - cel:
        expression: >-
          !has(self.metadata.deletionTimestamp)
    - cel:
        expression: >-
          self.status.phase == 'Bound' && has(self.spec.volumeName) && has(self.status.capacity)
    - cel:
        expression: >-
          self.status.capacity.storage != self.spec.resources.requests.storage
  steps:
  - apply:
      type: merge
      template: |
        apiVersion: v1
        kind: PersistentVolume
        metadata:
          name: {{ .spec.volumeName | Quote }}
          annotations:
            pv.kubernetes.io/provisioned-by: kwok.x-k8s.io/volume
        spec:
          accessModes:
          {{ YAML .spec.accessModes 2 }}
          capacity:
            storage: {{ .spec.resources.requests.storage | Quote }}
          persistentVolumeReclaimPolicy: {{ default "Delete" .spec.reclaimPolicy | Quote }}
          storageClassName: {{ .spec.storageClassName | Quote }}
          volumeMode: {{ default "Filesystem" .spec.volumeMode | Quote }}
          claimRef:
            apiVersion: {{ .apiVersion | Quote }}
            kind: {{ .kind | Quote }}
            name: {{ .metadata.name | Quote }}
            namespace: {{ .metadata.namespace | Quote }}
            uid: {{ .metadata.uid | Quote }}
          hostPath:
            path: /tmp/kwok-local-path-provisioner/pvc-{{ .metadata.uid }}
            type: DirectoryOrCreate
  - patch:
      root: status
      subresource: status
      template: |
        capacity:
          storage: {{ .spec.resources.requests.storage | Quote }}
        allocatedResources:
          storage: {{ .spec.resources.requests.storage | Quote }}
`;

export class LocalCluster {
  readonly name: string;
  readonly kubeconfig: string;
  apiserver!: ManagedProcess;
  private others: ManagedProcess[] = [];
  private port = 0;
  private pki!: ClusterPki;
  private readonly opts: ClusterOptions;

  private constructor(opts: ClusterOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.kubeconfig = join(opts.dir, 'kubeconfig');
  }

  get server(): string { return `https://127.0.0.1:${this.port}`; }
  get processes(): ManagedProcess[] { return [this.apiserver, ...this.others].filter(Boolean); }
  get frontProxy(): { caCert: string; clientCert: string; clientKey: string; clientCn: string } {
    return { caCert: this.pki.frontProxyCaCert, clientCert: this.pki.frontProxyClientCert, clientKey: this.pki.frontProxyClientKey, clientCn: FRONT_PROXY_CLIENT_CN };
  }

  static async start(opts: ClusterOptions): Promise<LocalCluster> {
    const c = new LocalCluster(opts);
    await mkdir(join(opts.dir, 'logs'), { recursive: true });
    c.pki = await ensureClusterPki(join(opts.dir, 'pki'), SERVICE_IP);
    await c.startApiserver();
    await c.startComponents();
    await c.createFakeNodes();
    return c;
  }

  client(): Promise<KubeClient> {
    return KubeClient.fromKubeconfig(this.kubeconfig);
  }

  /** Starts kube-apiserver (on its previous port after a restart, so kubeconfigs stay valid) and waits for /readyz. */
  async startApiserver(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (!this.port || attempt > 1) this.port = await freePort();
      await this.writeKubeconfig();
      this.apiserver = ManagedProcess.start({
        name: `${this.name}/kube-apiserver`,
        command: this.opts.bins.kubeApiserver,
        args: this.apiserverArgs(this.port),
        logFile: join(this.opts.dir, 'logs', 'kube-apiserver.log'),
      });
      const client = await this.client();
      try {
        const proc = this.apiserver;
        await waitFor(`${this.name} kube-apiserver /readyz`, async () => {
          await client.request('GET', '/readyz', { timeoutMs: 5000 });
          return true;
        }, { timeoutMs: 90_000, intervalMs: 200, failFast: () => (proc.running ? undefined : `exited:\n${proc.tail()}`) });
        return;
      } catch (err) {
        await this.apiserver.stop();
        if (attempt >= 3) throw err;
      } finally {
        await client.close();
      }
    }
  }

  /**
   * A second kube-apiserver for the same cluster (same etcd prefix and PKI, another port), as in an HA control
   * plane. Returns a kubeconfig that points at it.
   */
  async startSecondApiserver(): Promise<{ kubeconfig: string; process: ManagedProcess }> {
    const port = await freePort();
    const kubeconfig = join(this.opts.dir, 'kubeconfig-2');
    const text = (await readFile(this.kubeconfig, 'utf8')).replace(this.server, `https://127.0.0.1:${port}`);
    await writeFile(kubeconfig, text, { mode: 0o600 });
    const proc = ManagedProcess.start({
      name: `${this.name}/kube-apiserver-2`,
      command: this.opts.bins.kubeApiserver,
      args: this.apiserverArgs(port),
      logFile: join(this.opts.dir, 'logs', 'kube-apiserver-2.log'),
    });
    this.others.push(proc);
    const client = await KubeClient.fromKubeconfig(kubeconfig);
    try {
      await waitFor(`${this.name} second kube-apiserver /readyz`, async () => {
        await client.request('GET', '/readyz', { timeoutMs: 5000 });
        return true;
      }, { timeoutMs: 90_000, intervalMs: 200, failFast: () => (proc.running ? undefined : `exited:\n${proc.tail()}`) });
    } finally {
      await client.close();
    }
    return { kubeconfig, process: proc };
  }

  /** kill -9 the API server, as a crash would. */
  async killApiserver(): Promise<void> {
    await this.apiserver.kill();
  }

  private apiserverArgs(port: number): string[] {
    const p = this.pki;
    return [
      `--etcd-servers=${this.opts.etcdUrl}`,
      // One etcd serves every cluster: the prefix keeps each cluster's keys apart (".registry" so that no cluster's
      // prefix is a string prefix of another's).
      `--etcd-prefix=/${this.name}.registry`,
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      // The advertise address is loopback, which Endpoints reject: do not reconcile the kubernetes Endpoints.
      '--endpoint-reconciler-type=none',
      `--tls-cert-file=${p.servingCert}`, `--tls-private-key-file=${p.servingKey}`,
      `--client-ca-file=${p.caCert}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${p.saPub}`, `--service-account-signing-key-file=${p.saKey}`,
      '--authorization-mode=Node,RBAC',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--allow-privileged=true',
      // API aggregation (extension API servers such as UPM's own).
      `--requestheader-client-ca-file=${p.frontProxyCaCert}`,
      `--requestheader-allowed-names=${FRONT_PROXY_CLIENT_CN}`,
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      '--requestheader-uid-headers=X-Remote-Uid',
      `--proxy-client-cert-file=${p.frontProxyClientCert}`, `--proxy-client-key-file=${p.frontProxyClientKey}`,
      '--profiling=false',
      ...(this.opts.apiserverArgs ?? []),
    ];
  }

  private async writeKubeconfig(): Promise<void> {
    const b64 = async (f: string) => Buffer.from(await readFile(f)).toString('base64');
    const cfg = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: this.name, cluster: { server: this.server, 'certificate-authority-data': await b64(this.pki.caCert) } }],
      users: [{ name: ADMIN_USER, user: { 'client-certificate-data': await b64(this.pki.adminCert), 'client-key-data': await b64(this.pki.adminKey) } }],
      contexts: [{ name: this.name, context: { cluster: this.name, user: ADMIN_USER } }],
      'current-context': this.name,
    };
    await writeFile(this.kubeconfig, stringify(cfg), { mode: 0o600 });
  }

  private async startComponents(): Promise<void> {
    const want = { controllerManager: true, scheduler: true, kwok: true, ...this.opts.components };
    const logs = (n: string) => join(this.opts.dir, 'logs', `${n}.log`);
    const start = (component: string, command: string, args: string[]) => {
      this.others.push(ManagedProcess.start({ name: `${this.name}/${component}`, command, args, logFile: logs(component) }));
    };
    if (want.controllerManager) {
      start('kube-controller-manager', this.opts.bins.kubeControllerManager, [
        `--kubeconfig=${this.kubeconfig}`,
        '--bind-address=127.0.0.1', '--secure-port=0', '--leader-elect=false',
        `--service-account-private-key-file=${this.pki.saKey}`, `--root-ca-file=${this.pki.caCert}`,
        '--use-service-account-credentials=true',
        `--cluster-signing-cert-file=${this.pki.caCert}`, `--cluster-signing-key-file=${this.pki.caKey}`,
        '--kube-api-qps=200', '--kube-api-burst=400',
        // Pod IPs are loopback addresses here, which Endpoints and EndpointSlices reject: those controllers could
        // only fail and retry (an Event per failure), burning CPU the tests and benchmarks need. Read pods by label.
        // KWOK's volume stages provision and bind claims; the PV binder would only race them for the same objects.
        '--controllers=*,-endpoints-controller,-endpointslice-controller,-endpointslice-mirroring-controller,-persistentvolume-binder-controller',
      ]);
    }
    if (want.scheduler) {
      const cfg = join(this.opts.dir, 'kube-scheduler.yaml');
      await writeFile(cfg, stringify({
        apiVersion: 'kubescheduler.config.k8s.io/v1',
        kind: 'KubeSchedulerConfiguration',
        clientConnection: { kubeconfig: this.kubeconfig, qps: 500, burst: 1000 },
        leaderElection: { leaderElect: false },
      }));
      start('kube-scheduler', this.opts.bins.kubeScheduler, [`--config=${cfg}`, '--bind-address=127.0.0.1', '--secure-port=0']);
    }
    if (want.kwok) {
      const stages = ['node/fast/node-initialize', 'node/heartbeat/node-heartbeat', 'pod/fast/pod-ready', 'pod/fast/pod-complete',
        'pod/fast/pod-delete', 'volume/fast/pvc-provision', 'volume/fast/pv-bind', 'volume/fast/pv-delete', 'volume/fast/pvc-delete'];
      const docs = await Promise.all(stages.map(async (s) => {
        const text = await readFile(join(this.opts.bins.stages, `${s}.yaml`), 'utf8');
        // Pods turn Ready at once, unless they ask for a delay (annotation pod-ready.stage.kwok.x-k8s.io/delay,
        // e.g. "2s"): tests use it to make readiness gating observable.
        return s === 'pod/fast/pod-ready' ? text.replace('\n  next:\n', `\n${POD_READY_DELAY}  next:\n`) : text;
      }));
      const cfg = join(this.opts.dir, 'kwok.yaml');
      await writeFile(cfg, [...docs, PVC_RESIZE_STAGE].map((d) => d.trim()).join('\n---\n') + '\n');
      start('kwok', this.opts.bins.kwok, [
        `--kubeconfig=${this.kubeconfig}`, `--config=${cfg}`,
        '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake', '--node-ip=127.0.0.1',
      ]);
    }
  }

  private async createFakeNodes(): Promise<void> {
    const count = this.opts.nodes ?? 3;
    const client = await this.client();
    try {
      if (count > 0) {
        await createIfMissing(client, Resources.storageClasses, {
          apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass',
          metadata: { name: 'kwok-volume', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
          provisioner: 'kwok.x-k8s.io/volume', reclaimPolicy: 'Delete', volumeBindingMode: 'Immediate', allowVolumeExpansion: true,
        } as KubeObject);
      }
      const octet = this.opts.podCidrOctet ?? 200;
      await Promise.all(Array.from({ length: count }, (_, i) => {
        const name = `${this.name}-node-${i}`;
        const cidr = `127.${octet}.${i + 1}.0/24`;
        return createIfMissing(client, Resources.nodes, {
          apiVersion: 'v1', kind: 'Node',
          metadata: {
            name,
            annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
            labels: {
              type: 'kwok', 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64',
              'topology.kubernetes.io/region': 'local', 'topology.kubernetes.io/zone': ZONES[i % ZONES.length] as string,
            },
          },
          spec: { podCIDR: cidr, podCIDRs: [cidr] },
          status: {
            capacity: { cpu: '256', memory: '1Ti', pods: '500', 'ephemeral-storage': '10Ti' },
            allocatable: { cpu: '256', memory: '1Ti', pods: '500', 'ephemeral-storage': '10Ti' },
          },
        } as KubeObject);
      }));
    } finally {
      await client.close();
    }
  }

  /** Resolves when every fake node reports Ready (KWOK is animating them). */
  async waitForNodesReady(timeoutMs = 60_000): Promise<void> {
    const count = this.opts.nodes ?? 3;
    if (count === 0) return;
    const client = await this.client();
    try {
      await waitFor(`${this.name} nodes Ready`, async () => {
        const nodes = await client.list<KubeObject & { status?: { conditions?: { type: string; status: string }[] } }>(Resources.nodes);
        const ready = nodes.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
        return ready.length >= count;
      }, { timeoutMs, intervalMs: 200 });
    } finally {
      await client.close();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.others.map((p) => p.stop()));
    await this.apiserver?.stop();
  }
}

async function createIfMissing(client: KubeClient, rt: ResourceType, obj: KubeObject): Promise<void> {
  try {
    await client.create(rt, obj);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}
