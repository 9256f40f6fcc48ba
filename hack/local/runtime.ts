// The engine runtime of a local member cluster: what a kubelet and a CNI plugin do for data pods, with real engine
// processes instead of containers. KWOK marks pods Running without running anything; for every pod with a unit
// agent container this runtime
//   - gives the pod a stable loopback address (status.podIP; see addresses.ts),
//   - starts the unit agent on <podIP>:2214 with the pod's environment (Secrets resolved as a kubelet would),
//     and the agent starts the real engine when the operator says so,
//   - keeps the engine's data in a directory per PersistentVolume, so a new pod of the same unit finds it again,
//   - reports the engine's truth in the pod's status (Ready, the main container's readiness and restarts),
//   - stops the agent and its engine when the pod goes away.
// Engines with no local binary are reported in the pod's status and events, not faked.
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from '../../agent/agent.ts';
import { AGENT_CONTAINER, AGENT_PORT, CREDENTIALS_ENV_PREFIX, ENV_AGENT_TOKEN, ENV_ENGINE, type AgentStatus } from '../../agent/api.ts';
import { driverFor } from '../../agent/engines/index.ts';
import { EngineNotRunnable } from '../../agent/engines/types.ts';
import { AgentServer } from '../../agent/server.ts';
import { Controller, type ReconcileResult } from '../../lib/controller.ts';
import { EventRecorder } from '../../lib/events.ts';
import { Informer } from '../../lib/informer.ts';
import { KubeClient } from '../../lib/kube/client.ts';
import { isNotFound } from '../../lib/kube/errors.ts';
import { Resources } from '../../lib/kube/resources.ts';
import { splitKey, type KubeObject } from '../../lib/kube/types.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import { resolveLocal, stableAddress } from './addresses.ts';

const reaper = join(dirname(fileURLToPath(import.meta.url)), 'reaper.sh');

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; fieldRef?: { fieldPath: string } };
}
interface Container { name: string; env?: EnvVar[]; envFrom?: { prefix?: string; secretRef?: { name: string } }[]; ports?: { name?: string; containerPort: number }[] }
interface Condition { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }
interface ContainerStatus { name: string; ready?: boolean; restartCount?: number; started?: boolean; state?: Record<string, unknown>; image?: string; [k: string]: unknown }
export interface RuntimePod extends KubeObject {
  spec?: { nodeName?: string; containers?: Container[]; volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[] };
  status?: { phase?: string; podIP?: string; podIPs?: { ip: string }[]; conditions?: Condition[]; containerStatuses?: ContainerStatus[] };
}
type Secret = KubeObject & { data?: Record<string, string> };
type Pvc = KubeObject & { spec?: { volumeName?: string }; status?: { phase?: string } };

export interface RuntimeOptions {
  /** Cluster name: part of every stable address, so clusters never share one. */
  cluster: string;
  kubeconfig: string;
  /** Where volumes, pod scratch space and backups live. */
  dir: string;
  /** Only pods of this namespace (default: all). Tests scope their runtime to their namespace. */
  namespace?: string;
  log?: Logger;
}

interface Hosted { uid: string; address: string; agent: Agent; server: AgentServer; main: string; notRunnable?: string; closing?: Promise<void> }

export class EngineRuntime {
  private readonly o: RuntimeOptions;
  private readonly log: Logger;
  private readonly hosted = new Map<string, Hosted>();
  private readonly listeners = new Set<(pod: string, status: AgentStatus) => void>();
  private readonly addressInUse = new Map<string, string>();
  private readonly abort = new AbortController();
  private client!: KubeClient;
  private pods!: Informer<RuntimePod>;
  private events!: EventRecorder;
  private running: Promise<unknown> = Promise.resolve();

  private constructor(o: RuntimeOptions) {
    this.o = o;
    this.log = (o.log ?? silentLogger).child({ component: 'engine-runtime', cluster: o.cluster });
  }

  static async start(o: RuntimeOptions): Promise<EngineRuntime> {
    const r = new EngineRuntime(o);
    r.client = await KubeClient.fromKubeconfig(o.kubeconfig);
    r.events = new EventRecorder(r.client, 'upm-engine-runtime', r.log);
    r.pods = new Informer<RuntimePod>(r.client, Resources.pods, { ...(o.namespace ? { namespace: o.namespace } : {}), logger: r.log });
    const controller = new Controller({ name: `engine-runtime-${o.cluster}`, reconcile: (key) => r.reconcile(key), concurrency: 4, logger: r.log });
    controller.watch(r.pods);
    r.controller = controller;
    const signal = r.abort.signal;
    r.running = Promise.all([r.pods.run(signal), controller.run(signal)]);
    await r.pods.waitForSync(signal);
    return r;
  }

  private controller!: Controller;

  /** Stops every agent and engine (gracefully, in parallel), then the watches. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all([...this.hosted.keys()].map((k) => this.release(k)));
    await this.running.catch(() => undefined);
    await this.client.close();
  }

  /** The agents' statuses, by pod key: for tests and the run command's summary. */
  statuses(): Record<string, AgentStatus> {
    return Object.fromEntries([...this.hosted].map(([k, h]) => [k, h.agent.status()]));
  }

  /**
   * Calls `listener` with each agent's status as it changes (pod key, status), synchronously: a test that counts
   * engine starts with it cannot miss one, as sampling could. Returns the unsubscribe.
   */
  onAgentChange(listener: (pod: string, status: AgentStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async reconcile(key: string): Promise<ReconcileResult> {
    const pod = this.pods.get(key);
    const cur = this.hosted.get(key);
    const agentContainer = pod?.spec?.containers?.find((c) => c.name === AGENT_CONTAINER);
    const live = pod && !pod.metadata.deletionTimestamp && pod.spec?.nodeName && pod.status?.phase === 'Running' && agentContainer;
    if (!live) {
      if (cur) await this.release(key);
      return;
    }
    if (cur && cur.uid !== pod.metadata.uid) await this.release(key); // a new pod of the same unit
    const { namespace, name } = splitKey(key) as { namespace: string; name: string };
    const address = stableAddress(this.o.cluster, namespace, name);
    const owner = this.addressInUse.get(address);
    if (owner && owner !== key) {
      await this.events.record(pod, 'Warning', 'AddressConflict', `stable address ${address} is already used by pod ${owner}; rename one of them`);
      return;
    }
    let h = this.hosted.get(key);
    if (!h) {
      const started = await this.host(pod, agentContainer, address);
      if ('retryMs' in started) return { requeueAfterMs: started.retryMs };
      h = started;
    }
    await this.syncPodStatus(pod, h);
  }

  /** Starts the agent of a pod; asks to be retried when something it needs (a Secret, a bound claim) is not there yet. */
  private async host(pod: RuntimePod, container: Container, address: string): Promise<Hosted | { retryMs: number }> {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    let env: Record<string, string>;
    try {
      env = await this.resolveEnv(pod, container, address);
    } catch (err) {
      this.log.info({ pod: key, err: (err as Error).message }, 'agent environment not resolvable yet');
      return { retryMs: 1000 };
    }
    const dataDir = await this.dataDir(pod);
    if (!dataDir) return { retryMs: 500 };
    const engine = env[ENV_ENGINE] ?? '';
    const token = env[ENV_AGENT_TOKEN] ?? '';
    if (!token) {
      await this.events.record(pod, 'Warning', 'AgentTokenMissing', `container ${AGENT_CONTAINER} has no ${ENV_AGENT_TOKEN}: the agent refuses to serve without one`);
      return { retryMs: 5000 };
    }
    const credentials = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith(CREDENTIALS_ENV_PREFIX)).map(([k, v]) => [k.slice(CREDENTIALS_ENV_PREFIX.length), v]));
    let driver: ReturnType<typeof driverFor> | { notRunnable: string };
    try {
      driver = driverFor(engine);
    } catch (err) {
      if (!(err instanceof EngineNotRunnable)) throw err;
      driver = { notRunnable: err.message };
      await this.events.record(pod, 'Warning', 'EngineNotRunnable', err.message);
    }
    const runDir = join(this.o.dir, 'pods', pod.metadata.uid ?? 'unknown');
    await rm(runDir, { recursive: true, force: true });
    await mkdir(runDir, { recursive: true });
    const log = this.log.child({ pod: key, engine });
    const agent = new Agent({
      pod: pod.metadata.name ?? '', podUID: pod.metadata.uid ?? '', engine, driver,
      env: { unit: pod.metadata.name ?? '', address, dataDir, runDir, credentials, resolve: (host) => resolveLocal(this.o.cluster, host) },
      backupRoot: join(this.o.dir, 'backups'),
      log,
      wrap: (spec, pidFile) => ({ command: reaper, args: [pidFile, spec.command, ...spec.args] }),
    });
    const server = new AgentServer(agent, token, log);
    const port = container.ports?.find((p) => p.name === 'agent')?.containerPort ?? AGENT_PORT;
    try {
      await server.listen(address, port);
    } catch (err) {
      await agent.close();
      this.log.warn({ pod: key, err: (err as Error).message }, 'agent address busy; retrying');
      return { retryMs: 500 };
    }
    agent.on('change', (st: AgentStatus) => {
      this.controller.enqueue(key);
      for (const l of this.listeners) l(key, st);
    });
    const main = pod.spec?.containers?.find((c) => c.name !== AGENT_CONTAINER)?.name ?? '';
    const h: Hosted = { uid: pod.metadata.uid ?? '', address, agent, server, main, ...('notRunnable' in driver ? { notRunnable: driver.notRunnable } : {}) };
    this.hosted.set(key, h);
    this.addressInUse.set(address, key);
    log.info({ address, port, dataDir }, 'agent serving');
    return h;
  }

  private async release(key: string): Promise<void> {
    const h = this.hosted.get(key);
    if (!h) return;
    h.closing ??= (async () => {
      await h.server.close();
      await h.agent.close();
      await rm(join(this.o.dir, 'pods', h.uid), { recursive: true, force: true });
      this.log.info({ pod: key }, 'agent and engine stopped');
    })();
    await h.closing;
    if (this.hosted.get(key) === h) this.hosted.delete(key);
    if (this.addressInUse.get(h.address) === key) this.addressInUse.delete(h.address);
  }

  /** The container's environment as a kubelet builds it: literal values, Secret keys, envFrom and field refs. */
  private async resolveEnv(pod: RuntimePod, c: Container, address: string): Promise<Record<string, string>> {
    const ns = pod.metadata.namespace ?? '';
    const secrets = new Map<string, Secret>();
    const secret = async (name: string): Promise<Secret> => {
      let s = secrets.get(name);
      if (!s) { s = await this.client.get<Secret>(Resources.secrets, name, ns); secrets.set(name, s); }
      return s;
    };
    const env: Record<string, string> = {};
    for (const from of c.envFrom ?? []) {
      if (!from.secretRef) continue;
      for (const [k, v] of Object.entries((await secret(from.secretRef.name)).data ?? {})) env[`${from.prefix ?? ''}${k}`] = Buffer.from(v, 'base64').toString('utf8');
    }
    const fields: Record<string, string> = {
      'metadata.name': pod.metadata.name ?? '', 'metadata.namespace': ns, 'metadata.uid': pod.metadata.uid ?? '', 'status.podIP': address,
    };
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom?.fieldRef) env[e.name] = fields[e.valueFrom.fieldRef.fieldPath] ?? '';
      else if (e.valueFrom?.secretKeyRef) {
        const ref = e.valueFrom.secretKeyRef;
        const s = await secret(ref.name).catch((err: unknown) => { if (ref.optional && isNotFound(err)) return undefined; throw err; });
        const v = s?.data?.[ref.key];
        if (v === undefined && !ref.optional) throw new Error(`Secret ${ns}/${ref.name} has no key ${ref.key}`);
        if (v !== undefined) env[e.name] = Buffer.from(v, 'base64').toString('utf8');
      }
    }
    return env;
  }

  /** The engine's data directory: one per bound PersistentVolume (survives pods), else per pod (emptyDir). */
  private async dataDir(pod: RuntimePod): Promise<string | undefined> {
    const vols = pod.spec?.volumes ?? [];
    const claim = (vols.find((v) => v.name === 'data') ?? vols.find((v) => v.persistentVolumeClaim))?.persistentVolumeClaim?.claimName;
    if (!claim) return join(this.o.dir, 'pods', pod.metadata.uid ?? 'unknown', 'emptydir-data');
    const pvc = await this.client.get<Pvc>(Resources.persistentVolumeClaims, claim, pod.metadata.namespace).catch(() => undefined);
    const pv = pvc?.spec?.volumeName;
    if (!pv || pvc.status?.phase !== 'Bound') return undefined;
    return join(this.o.dir, 'volumes', pv);
  }

  /** Writes the engine's truth into the pod status, as a kubelet reports containers and readiness. */
  private async syncPodStatus(pod: RuntimePod, h: Hosted): Promise<void> {
    const st = h.agent.status();
    const ready = st.state === 'Running' && st.ready;
    const reason = h.notRunnable ? 'EngineNotRunnable' : ready ? '' : `Engine${st.state}`;
    const message = h.notRunnable ?? (ready ? '' : st.message);
    const now = new Date().toISOString();
    const conditions = (pod.status?.conditions ?? []).map((c) => {
      if (c.type !== 'Ready' && c.type !== 'ContainersReady') return c;
      const status = ready ? 'True' : 'False';
      const next: Condition = { type: c.type, status, ...(reason ? { reason } : {}), ...(message ? { message } : {}), lastTransitionTime: c.status === status ? c.lastTransitionTime ?? now : now };
      return next;
    });
    const containerStatuses = (pod.status?.containerStatuses ?? []).map((c) => {
      if (c.name !== h.main) return c;
      const state = st.state === 'Running' || st.state === 'Starting'
        ? { running: { startedAt: st.startedAt ?? now } }
        : { waiting: { reason: h.notRunnable ? 'EngineNotRunnable' : `Engine${st.state}`, message: st.message } };
      return { ...c, ready, started: st.state === 'Running', restartCount: st.restarts, state };
    });
    const want = { podIP: h.address, podIPs: [{ ip: h.address }], conditions, containerStatuses };
    const have = { podIP: pod.status?.podIP, podIPs: pod.status?.podIPs, conditions: pod.status?.conditions, containerStatuses: pod.status?.containerStatuses };
    if (JSON.stringify(strip(want)) === JSON.stringify(strip(have))) return;
    await this.client.patch(Resources.pods, pod.metadata.name ?? '', { status: want }, 'merge', { namespace: pod.metadata.namespace, subresource: 'status' })
      .catch((err: unknown) => { if (!isNotFound(err)) throw err; });
  }
}

/** Compares statuses without transition times (they only move when the status does). */
function strip(s: unknown): unknown {
  return JSON.parse(JSON.stringify(s, (k, v: unknown) => (k === 'lastTransitionTime' || k === 'startedAt' ? undefined : v)));
}
