// The hub's Operations engine under load. One member, a bare kube-apiserver on the shared etcd with the unit.upm.io
// and compose.upm.io CRDs (as hub-fanout), registered with the hub; the hub's controllers run as their own process.
// No operator runs on the member: this bench plays them, writing what the Unit and Compose Operators would report
// for every object the hub puts there (each UnitSet's status and its Units, Ready, at the UnitSet's generation; each
// MysqlReplication's status Ready with the source its spec names), so the Operations' wait steps finish as they
// would on real engines, with no engine time in the figures.
// BENCH_SERVICES MysqlServices (default 50) each get BENCH_OPS / BENCH_SERVICES Operations (default 200 in all:
// Scale 3 -> 4, Reconfigure of a dynamic parameter, Switchover, Scale 4 -> 2, ...; the API refuses a Scale to the
// size a service has at the Operation's creation), created at once. Prints:
//   - from an Operation's creation (the request sent) to its first step running (seen by a watch on the hub's
//     Operation records): p50 / p99 / max, for Operations created one at a time on idle services, and for the first
//     Operation of each service in the burst (-op-0), and for the first of each service to run (the requests of a
//     service's Operations are in flight together: the API may store -op-1 first, the hub start it, and -op-0 then
//     rightly waits for it; the bench counts those) (goal p99 < 200 ms);
//   - the burst: all complete, the most Operations of one service running at once (a watch; goal 1), wall time;
//   - the hub controllers' CPU seconds per Operation (/proc/<pid>/stat, over the burst);
//   - where the burst's time goes in the hub controllers (their /metrics over the burst): by controller, the
//     reconciles, the wait of a key in the work queue, the reconcile's duration, the most keys queued and workers
//     busy at once; their API requests by method and code, and the requests' latency;
//   - their CPU over BENCH_IDLE_SECONDS (default 60) with BENCH_IDLE_SERVICES (default 1,000) settled services and no
//     Operation running (goal about 0), beside the same process before any service (its baseline) and an idle Node
//     process with the same heap flags; by thread, and what the controllers did in that window (their /metrics:
//     reconciles, queue adds, API requests). BENCH_CPU_PROF=1 adds the CPU profile of the burst and of the idle
//     window, self time by function.
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { MysqlReplicationResource, type MysqlReplication } from '../lib/api/compose.upm.io.generated.ts';
import { MysqlServiceRecordResource, OperationRecordResource } from '../lib/api/internal.upm.io.generated.ts';
import { UnitResource, UnitSetResource, type Unit, type UnitSet } from '../lib/api/unit.upm.io.generated.ts';
import { Informer } from '../lib/informer.ts';
import type { KubeClient } from '../lib/kube/client.ts';
import { isConflict, isNotFound } from '../lib/kube/errors.ts';
import type { Operation, ServiceView } from '../lib/operations/types.ts';
import { LocalCluster } from '../hack/local/cluster.ts';
import { OPERATOR_NODE_FLAGS } from '../hack/local/engine.ts';
import { LocalHub } from '../hack/local/hub.ts';
import { histogram, labelsOf, metricsDelta, readMetrics, type Samples } from '../hack/local/metrics.ts';
import { freePort } from '../hack/local/ports.ts';
import { LocalSystem } from '../hack/local/system.ts';
import { waitFor } from '../lib/wait.ts';

const run = promisify(execFile);
const SERVICES = Number(process.env.BENCH_SERVICES ?? 50);
const OPS = Number(process.env.BENCH_OPS ?? 200);
const PACED = Number(process.env.BENCH_PACED ?? 20);
const IDLE_SERVICES = Number(process.env.BENCH_IDLE_SERVICES ?? 1000);
const IDLE_S = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
const PROJECT = 'ops';
const MEMBER = 'opm';
const root = join(import.meta.dirname, '..');
const TICK = 100; // clock ticks per second of /proc/<pid>/stat

const progress = (msg: string) => process.stderr.write(`  [${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN; };
const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** user + system CPU seconds of a process so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK;
}
/** Busy and total CPU seconds of the whole machine so far (/proc/stat): every process, other work included. */
function machineSeconds(): { busy: number; total: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0) / TICK;
  return { busy: total - ((f[3] ?? 0) + (f[4] ?? 0)) / TICK, total };
}
/** The CPU seconds so far of each named process (a gone one counts 0). */
const cpuOf = (pids: Map<string, number[]>) => new Map([...pids].map(([k, ps]) => [k, ps.reduce((a, p) => { try { return a + cpuSeconds(p); } catch { return a; } }, 0)]));
/** The counters of the hub controllers' /metrics that say what they did: reconciles, queue adds, API requests. */
async function counters(port: number): Promise<Samples> {
  const all = await readMetrics(port);
  return new Map([...all].filter(([k]) => /^(controller_runtime_reconcile_total|workqueue_adds_total|workqueue_retries_total|rest_client_requests_total)\{/.test(k)));
}
/** Samples the hub controllers' queue depth and busy workers while `until` is pending: the most seen, by controller. */
async function peaks(port: number, until: Promise<unknown>): Promise<Map<string, { depth: number; active: number }>> {
  const out = new Map<string, { depth: number; active: number }>();
  let over = false;
  void until.finally(() => { over = true; });
  while (!over) {
    for (const [k, v] of await readMetrics(port)) {
      // The event loop's longest delay since the last scrape (prom-client resets its histogram at each).
      if (k.startsWith('nodejs_eventloop_lag_max_seconds')) { const p = out.get('event loop') ?? { depth: 0, active: 0 }; p.depth = Math.max(p.depth, v); out.set('event loop', p); }
      const which = k.startsWith('workqueue_depth{') ? 'depth' : k.startsWith('controller_runtime_active_workers{') ? 'active' : undefined;
      if (!which) continue;
      const l = labelsOf(k);
      const name = l.name ?? l.controller ?? '';
      const p = out.get(name) ?? { depth: 0, active: 0 };
      p[which] = Math.max(p[which], v);
      out.set(name, p);
    }
    await sleep(50);
  }
  return out;
}
/** Self time by function of a V8 CPU profile, counting only the samples between two monotonic instants (µs). */
function profileTop(file: string, fromUs: number, toUs: number, n: number): { total: number; top: [string, number][] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[]; startTime: number; samples: number[]; timeDeltas: number[] };
  const byId = new Map(p.nodes.map((x) => [x.id, x.callFrame]));
  const self = new Map<string, number>();
  let t = p.startTime; let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i + 1] ?? 0;
    t += p.timeDeltas[i] ?? 0;
    if (t < fromUs || t > toUs) return;
    const f = byId.get(id);
    const name = f ? `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules\/)?/, '')}:${f.lineNumber + 1}` : '?';
    if (name.startsWith('(idle)')) return;
    total += dt;
    self.set(name, (self.get(name) ?? 0) + dt);
  });
  return { total, top: [...self].sort((a, b) => b[1] - a[1]).slice(0, n) };
}
const nowUs = () => Number(process.hrtime.bigint() / 1000n);
/** CPU seconds so far of each thread of a process, by thread name ("main" for the JavaScript thread). */
function threadSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = Number(tid) === pid ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / TICK);
    } catch { /* the thread ended */ }
  }
  return out;
}
async function pool<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => { while (next < items.length) await fn(items[next++] as T); }));
}

/** The Unit and Compose Operators as the hub sees them: every UnitSet's Units Ready, every MysqlReplication Ready. */
function simulateOperators(c: KubeClient, signal: AbortSignal): { sync: () => Promise<void> } {
  const opts = { namespace: PROJECT };
  const sets = new Informer<UnitSet>(c, UnitSetResource, opts);
  const units = new Informer<Unit>(c, UnitResource, opts);
  const reps = new Informer<MysqlReplication>(c, MysqlReplicationResource, opts);
  const dirty = new Set<string>();
  const mark = (kind: string) => (o: { metadata: { name?: string } }) => { dirty.add(`${kind}/${o.metadata.name ?? ''}`); };
  sets.addHandler({ onAdd: mark('us'), onUpdate: (_, b) => mark('us')(b) });
  reps.addHandler({ onAdd: mark('mr'), onUpdate: (_, b) => mark('mr')(b) });
  const ip = (name: string) => { let h = 0; for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0; return `127.${(h >> 16) & 255}.${(h >> 8) & 255}.${(h & 254) + 1}`; };

  const unitSet = async (name: string) => {
    const us = sets.get(`${PROJECT}/${name}`);
    if (!us) return;
    const n = Number(us.spec.units ?? 1);
    const gen = us.metadata.generation ?? 0;
    const mine = units.list().filter((u) => u.metadata.labels?.['unit.upm.io/unitset'] === name);
    for (let i = 0; i < n; i++) {
      const un = `${name}-${i}`;
      if (mine.some((u) => u.metadata.name === un)) continue;
      const labels = { ...(us.metadata.labels ?? {}), 'unit.upm.io/unitset': name };
      const spec = us.spec as unknown as { engine?: string; version?: string; template?: unknown };
      const made = await c.create<Unit>(UnitResource, { apiVersion: 'unit.upm.io/v1alpha1', kind: 'Unit', metadata: { name: un, namespace: PROJECT, labels }, spec: { engine: spec.engine ?? 'mariadb', version: spec.version ?? '10.11', template: spec.template ?? {} } } as unknown as Unit);
      await c.updateStatus(UnitResource, { ...made, status: { phase: 'Ready', ready: true, podIP: ip(un), nodeName: 'node-0' } } as Unit);
    }
    for (const u of mine) if (Number(u.metadata.name?.slice(name.length + 1)) >= n) await c.delete(UnitResource, u.metadata.name ?? '', PROJECT).catch((e: unknown) => { if (!isNotFound(e)) throw e; });
    const s = us.status as Record<string, unknown> | undefined;
    if (s?.observedGeneration === gen && s.units === n && s.readyUnits === n) return;
    await c.updateStatus(UnitSetResource, { ...us, status: { observedGeneration: gen, units: n, readyUnits: n, updatedUnits: n, ready: `${n}/${n}`, phase: 'Ready' } } as UnitSet);
  };
  const replication = async (name: string) => {
    const mr = reps.get(`${PROJECT}/${name}`);
    if (!mr) return;
    const spec = mr.spec as unknown as { source?: { unit?: string }; replicas?: { unit?: string }[] };
    const source = spec.source?.unit ?? `${name}-0`;
    const all = [source, ...(spec.replicas ?? []).map((r) => r.unit ?? '')];
    const s = mr.status as Record<string, unknown> | undefined;
    const gen = mr.metadata.generation ?? 0;
    if (s?.observedGeneration === gen && s.source === source && Object.keys((s.topology ?? {}) as object).length === all.length) return;
    const topology = Object.fromEntries(all.map((u) => [u, { unit: u, host: ip(u), port: 3306, status: 'Healthy', ready: true, ...(u === source ? { role: 'Source' } : { role: 'Replica', lagSeconds: 0 }) }]));
    await c.updateStatus(MysqlReplicationResource, { ...mr, status: {
      observedGeneration: gen, ready: true, phase: 'Ready', source, readwriteService: `${name}-readwrite`, readonlyService: `${name}-readonly`, topology,
      conditions: [{ type: 'Ready', status: 'True', reason: 'AllReady', message: 'all ready', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }],
    } } as MysqlReplication);
  };
  const loop = async () => {
    while (!signal.aborted) {
      const batch = [...dirty];
      dirty.clear();
      await pool(batch, 8, async (k) => {
        const [kind, name] = k.split('/') as [string, string];
        try { await (kind === 'us' ? unitSet(name) : replication(name)); } catch (err) {
          if (!isConflict(err) && !isNotFound(err)) progress(`simulator: ${k}: ${(err as Error).message}`);
          dirty.add(k); // a stale copy: again with the next event or round
        }
      });
      await sleep(batch.length ? 20 : 50);
    }
  };
  return {
    sync: async () => {
      for (const inf of [sets, units, reps]) inf.run(signal).catch(() => undefined);
      await Promise.all([sets, units, reps].map((i) => i.waitForSync()));
      loop().catch((err: unknown) => progress(`simulator stopped: ${(err as Error).message}`));
    },
  };
}

const dir = await mkdtemp(join(tmpdir(), 'upm-bench-ops-'));
progress('starting the management cluster and a bare member API server');
const sys = await LocalSystem.start(join(dir, 'system'), [{ name: 'mgmt', role: 'management', nodes: 1 }]);
let member: LocalCluster | undefined;
let hub: LocalHub | undefined;
const clients: KubeClient[] = [];
const abort = new AbortController();
let bare: ReturnType<typeof spawn> | undefined;
try {
  member = await LocalCluster.start({ name: MEMBER, dir: join(dir, 'system', MEMBER), etcdUrl: sys.etcd.url, bins: sys.bins, nodes: 0, components: { controllerManager: false, scheduler: false, kwok: false } });
  await run(sys.bins.kubectl, ['--kubeconfig', member.kubeconfig, 'apply', '--server-side', '-k', join(root, 'crds')], { maxBuffer: 16 << 20 });
  progress('starting the hub and registering the member');
  const mgmt = sys.cluster('mgmt');
  const metricsPort = await freePort();
  // BENCH_CPU_PROF=1: a V8 CPU profile of the hub controllers, its samples of the burst and of the idle window summed by function.
  const profDir = join(dir, 'prof');
  hub = await LocalHub.start(sys.bins.kubectl, mgmt, join(dir, 'hub'), { members: [member], controllerHealthPort: metricsPort,
    controllerNodeFlags: process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-interval=500'] : [] });
  const pid = hub.processes[1]?.pid as number;
  const admin = await mgmt.client();
  const mc = await member.client();
  clients.push(admin, mc);
  await admin.request('POST', '/apis/upm.io/v1alpha1/projects', { body: { apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: PROJECT } } });
  await waitFor('the project namespace', async () => { try { await admin.request('GET', `/api/v1/namespaces/${PROJECT}`); return true; } catch { return false; } }, { timeoutMs: 30_000, intervalMs: 250 });
  await simulateOperators(mc, abort.signal).sync();
  // Node's own floor: an idle Node process with the same heap flags, doing nothing, measured over the idle window.
  bare = spawn(process.execPath, [...OPERATOR_NODE_FLAGS, '-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  // The baseline: the same process, the member registered, no service.
  await sleep(10_000);
  const base0 = cpuSeconds(pid);
  await sleep(IDLE_S * 1000);
  const baseCpu = cpuSeconds(pid) - base0;

  // The hub's records, watched: each service's status, each Operation's progress.
  const svcs = new Informer<ServiceView>(admin, MysqlServiceRecordResource, { namespace: PROJECT });
  svcs.run(abort.signal).catch(() => undefined);
  await svcs.waitForSync();
  const ops = new Informer<Operation>(admin, OperationRecordResource, { namespace: PROJECT });
  const created = new Map<string, number>();
  const firstStep = new Map<string, number>();
  /** When the watch first saw each Operation's record: the create's own share of the latency. */
  const stored = new Map<string, number>();
  const ended = new Map<string, string>();
  /** Operations seen waiting in their service's queue (status.waitingFor) at some point. */
  const queuedOnce = new Set<string>();
  const runningNow = new Map<string, Set<string>>();
  let mostAtOnce = 0;
  const onOp = (o: Operation) => {
    const name = o.metadata.name ?? '';
    const t = performance.now();
    if (!stored.has(name)) stored.set(name, t);
    if (!firstStep.has(name) && o.status?.steps?.some((s) => s.phase !== 'Pending')) firstStep.set(name, t);
    if (o.status?.waitingFor) queuedOnce.add(name);
    const svc = o.spec.target.name;
    const set = runningNow.get(svc) ?? new Set<string>();
    const phase = o.status?.phase ?? '';
    if (['Succeeded', 'Failed', 'Cancelled'].includes(phase)) { set.delete(name); if (!ended.has(name)) ended.set(name, phase); } else if (o.status?.startTime) set.add(name);
    runningNow.set(svc, set);
    mostAtOnce = Math.max(mostAtOnce, set.size);
  };
  ops.addHandler({ onAdd: onOp, onUpdate: (_, b) => onOp(b) });
  ops.run(abort.signal).catch(() => undefined);
  await ops.waitForSync();

  const createService = async (name: string) => {
    await admin.request('POST', `/apis/upm.io/v1alpha1/namespaces/${PROJECT}/mysqlservices`, { body: {
      apiVersion: 'upm.io/v1alpha1', kind: 'MysqlService', metadata: { name, namespace: PROJECT },
      spec: { engine: 'mariadb', version: '10.11', topology: { mode: 'async', replicas: 3 }, placement: { cluster: MEMBER }, resources: { cpu: '1', memory: '256Mi' }, storage: { size: '1Gi' } },
    } });
  };
  const settled = (names: string[]) => names.every((n) => { const s = svcs.get(`${PROJECT}/${n}`); return s?.status?.phase === 'Ready' && s.status.observedGeneration === s.metadata.generation; });
  const createOp = async (name: string, service: string, spec: Record<string, unknown>) => {
    created.set(name, performance.now());
    await admin.request('POST', `/apis/upm.io/v1alpha1/namespaces/${PROJECT}/operations`, { body: { apiVersion: 'upm.io/v1alpha1', kind: 'Operation', metadata: { name, namespace: PROJECT }, spec: { target: { kind: 'MysqlService', name: service }, ...spec } } });
  };

  const names = Array.from({ length: SERVICES }, (_, i) => `db-${i}`);
  progress(`creating ${SERVICES} MysqlServices and waiting until the hub reports each Ready`);
  await pool(names, 8, createService);
  await waitFor('every service Ready', async () => settled(names), { timeoutMs: 900_000, intervalMs: 500 });

  progress(`${PACED} Operations one at a time, each on an idle service`);
  const paced: number[] = [];
  for (let k = 0; k < PACED; k++) {
    const name = `paced-${k}`;
    const svc = names[k % names.length] as string;
    await waitFor('the service settled', async () => settled([svc]), { timeoutMs: 120_000, intervalMs: 100 });
    await createOp(name, svc, { type: 'Reconfigure', reconfigure: { parameters: { max_connections: String(200 + k) } } });
    await waitFor('the first step running', async () => firstStep.has(name), { timeoutMs: 60_000, intervalMs: 2 });
    paced.push((firstStep.get(name) as number) - (created.get(name) as number));
    await waitFor('the paced Operation done', async () => ended.has(name), { timeoutMs: 120_000, intervalMs: 50 });
  }
  await waitFor('every service settled', async () => settled(names), { timeoutMs: 300_000, intervalMs: 500 });

  const perService = Math.max(1, Math.round(OPS / SERVICES));
  const kinds = [
    { type: 'Scale', scale: { replicas: 4 } }, { type: 'Reconfigure', reconfigure: { parameters: { max_connections: '500' } } },
    { type: 'Switchover' }, { type: 'Scale', scale: { replicas: 2 } },
  ];
  const burst = names.flatMap((svc) => Array.from({ length: perService }, (_, j) => ({ name: `${svc}-op-${j}`, svc, spec: kinds[j % kinds.length] as Record<string, unknown> })));
  progress(`${burst.length} Operations across ${SERVICES} services, created at once (8 requests at a time)`);
  const cpu0 = cpuSeconds(pid);
  const pidsOf = (ps: { pid?: number }[]) => ps.map((x) => x.pid).filter((x): x is number => !!x);
  const procs = new Map<string, number[]>([
    ['hub controllers', [pid]], ['hub API server', pidsOf([hub.apiserver])], ['management kube-apiserver', pidsOf([mgmt.apiserver])],
    ['its other components', pidsOf(mgmt.processes.slice(1))], ['member kube-apiserver', pidsOf([member.apiserver])], ['etcd', pidsOf([sys.etcd.process])],
    ['the bench (clients, operators played)', [process.pid]],
  ]);
  const procs0 = cpuOf(procs);
  const machine0 = machineSeconds();
  const b0 = await readMetrics(metricsPort);
  const burstFrom = nowUs();
  const t0 = performance.now();
  const creating = pool(burst, 8, async (o) => createOp(o.name, o.svc, o.spec));
  // Queue depth and busy workers are gauges: sampled until the first Operation of every service ran a step.
  const burstPeaks = peaks(metricsPort, creating.then(() => waitFor('the first step of each service', async () => burst.every((o) => !o.name.endsWith('-op-0') || firstStep.has(o.name)), { timeoutMs: 1_800_000, intervalMs: 20 })));
  await creating;
  await waitFor('every Operation of the burst ended', async () => burst.every((o) => ended.has(o.name)), { timeoutMs: 1_800_000, intervalMs: 250 });
  const burstSeconds = (performance.now() - t0) / 1000;
  const burstTo = nowUs();
  const cpuPerOp = (cpuSeconds(pid) - cpu0) / burst.length;
  const burstWork = metricsDelta(b0, await readMetrics(metricsPort));
  const machine1 = machineSeconds();
  const burstCpu = [...cpuOf(procs)].map(([k, v]) => [k, v - (procs0.get(k) ?? 0)] as const);
  const peak = await burstPeaks;
  const phases: Record<string, number> = {};
  for (const o of burst) phases[ended.get(o.name) ?? '?'] = (phases[ended.get(o.name) ?? '?'] ?? 0) + 1;
  const firstOfEach = burst.filter((o) => o.name.endsWith('-op-0')).map((o) => (firstStep.get(o.name) as number) - (created.get(o.name) as number));
  // The requests of one service's Operations are in flight together, so the API may store -op-1 before -op-0 and
  // the hub start it: -op-0 then rightly waits for it. Also measured: the Operation of each service that ran first
  // (at most one runs at a time: the one that had none to wait for).
  const headOf = names.map((svc) => burst.filter((o) => o.svc === svc).sort((a, b) => (firstStep.get(a.name) as number) - (firstStep.get(b.name) as number))[0] as (typeof burst)[number]);
  const headLatency = headOf.map((o) => (firstStep.get(o.name) as number) - (created.get(o.name) as number));
  const firstStored = burst.filter((o) => o.name.endsWith('-op-0')).map((o) => (stored.get(o.name) as number) - (created.get(o.name) as number));

  const more = Array.from({ length: Math.max(0, IDLE_SERVICES - SERVICES) }, (_, i) => `idle-${i}`);
  progress(`${more.length} more services (${IDLE_SERVICES} in all), then ${IDLE_S} s with no Operation`);
  await pool(more, 8, createService);
  await waitFor('every service Ready', async () => settled([...names, ...more]), { timeoutMs: 1_800_000, intervalMs: 1000 });
  await sleep(15_000);
  const m0 = await counters(metricsPort);
  const idleFrom = nowUs();
  const idle0 = cpuSeconds(pid);
  const threads0 = threadSeconds(pid);
  const bare0 = cpuSeconds(bare.pid as number);
  await sleep(IDLE_S * 1000);
  const idleCpu = cpuSeconds(pid) - idle0;
  const bareCpu = cpuSeconds(bare.pid as number) - bare0;
  bare.kill();
  const idleThreads = [...threadSeconds(pid)].map(([k, v]) => [k, v - (threads0.get(k) ?? 0)] as const).filter(([, d]) => d > 0).sort((a, b) => b[1] - a[1]);
  const idleTo = nowUs();
  const idleWork = [...metricsDelta(m0, await counters(metricsPort))].filter(([, d]) => d > 0);

  console.log(`hub Operations: one bare member, the operators played by the bench (statuses written as they report), ${SERVICES} MysqlServices`);
  console.log(`burst: ${burst.length} Operations (${perService} per service: Scale, Reconfigure, Switchover, Scale), ended ${JSON.stringify(phases)} in ${burstSeconds.toFixed(1)} s; most running at once on one service: ${mostAtOnce} (goal 1)`);
  console.log('| figure | p50 | p99 | max | goal |');
  console.log('|---|---|---|---|---|');
  console.log(`| creation -> first step running, one at a time (${paced.length}) | ${fmt(pct(paced, 50))} | ${fmt(pct(paced, 99))} | ${fmt(Math.max(...paced))} | p99 < 200 ms |`);
  console.log(`| creation -> first step running, first of each service in the burst (${firstOfEach.length}) | ${fmt(pct(firstOfEach, 50))} | ${fmt(pct(firstOfEach, 99))} | ${fmt(Math.max(...firstOfEach))} | p99 < 200 ms |`);
  console.log(`| creation -> first step running, the first of each service to run (${headLatency.length}) | ${fmt(pct(headLatency, 50))} | ${fmt(pct(headLatency, 99))} | ${fmt(Math.max(...headLatency))} | p99 < 200 ms |`);
  console.log(`| of which the create until the watch sees the record, first of each service in the burst | ${fmt(pct(firstStored, 50))} | ${fmt(pct(firstStored, 99))} | ${fmt(Math.max(...firstStored))} | - |`);
  const overtaken = burst.filter((o) => o.name.endsWith('-op-0') && queuedOnce.has(o.name)).map((o) => o.name);
  console.log(`-op-0 that waited in the queue behind a sibling: ${overtaken.length}${overtaken.length ? ` (${overtaken.join(', ')})` : ''}`);
  console.log('| figure | value | goal |');
  console.log('|---|---|---|');
  console.log(`| hub controllers CPU per Operation (burst) | ${(cpuPerOp * 1000).toFixed(1)} ms | - |`);
  console.log(`| hub controllers CPU over ${IDLE_S} s idle, ${SERVICES + more.length} settled services | ${idleCpu.toFixed(2)} s (${((idleCpu / IDLE_S) * 100).toFixed(2)} % of a core) | about 0 |`);
  console.log(`| the same process over ${IDLE_S} s with no service (its baseline) | ${baseCpu.toFixed(2)} s (${((baseCpu / IDLE_S) * 100).toFixed(2)} % of a core) | - |`);
  console.log(`| an idle Node process with the same heap flags, same window | ${bareCpu.toFixed(2)} s (${((bareCpu / IDLE_S) * 100).toFixed(2)} % of a core) | - |`);
  console.log('the hub controllers in the burst (their /metrics; queue wait: from a key\'s add until a worker takes it; peaks sampled every 50 ms until each service\'s first step ran):');
  console.log('| controller | reconciles | queue wait p50 / p99 | reconcile p50 / p99 / mean | most queued | most busy workers |');
  console.log('|---|---|---|---|---|---|');
  const ctrls = [...new Set([...burstWork.keys()].filter((k) => k.startsWith('controller_runtime_reconcile_total{')).map((k) => labelsOf(k).controller ?? ''))].sort();
  const sec = (x: number) => fmt(x * 1000);
  for (const c of ctrls) {
    const w = histogram(burstWork, 'workqueue_queue_duration_seconds', { name: c });
    const r = histogram(burstWork, 'controller_runtime_reconcile_time_seconds', { controller: c });
    console.log(`| ${c} | ${r.count} | ${sec(w.p50)} / ${sec(w.p99)} | ${sec(r.p50)} / ${sec(r.p99)} / ${sec(r.sum / (r.count || 1))} | ${peak.get(c)?.depth ?? 0} | ${peak.get(c)?.active ?? 0} |`);
  }
  console.log(`the hub controllers' event loop, longest delay in a scrape window (50 ms apart) until each service's first step ran: ${fmt((peak.get('event loop')?.depth ?? NaN) * 1000)}`);
  const byMethod = new Map<string, number>();
  for (const [k, v] of burstWork) if (k.startsWith('rest_client_requests_total{')) { const l = labelsOf(k); byMethod.set(`${l.method} ${l.code}`, (byMethod.get(`${l.method} ${l.code}`) ?? 0) + v); }
  console.log(`API requests of the hub controllers in the burst: ${[...byMethod].map(([k, v]) => `${k} ${v}`).join(', ')} (${[...byMethod.values()].reduce((a, b) => a + b, 0)} in all)`);
  const lat = (m: string) => { const h = histogram(burstWork, 'rest_client_request_duration_seconds', { method: m }); return h.count ? `${m} ${sec(h.p50)} / ${sec(h.p99)}` : ''; };
  console.log(`their latency p50 / p99: ${['GET', 'PUT', 'PATCH', 'POST'].map(lat).filter(Boolean).join(', ')}`);
  const cores = (machine1.total - machine0.total) / burstSeconds;
  console.log(`CPU over the burst (${burstSeconds.toFixed(1)} s): ${burstCpu.map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')}; the machine: ${((machine1.busy - machine0.busy) / burstSeconds).toFixed(2)} of ${cores.toFixed(0)} cores busy (other work on it included)`);
  console.log(`hub controllers CPU in the idle window by thread: ${idleThreads.map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(', ') || 'none'}`);
  console.log(`work of the hub controllers in the ${IDLE_S} s idle window (counters of their /metrics that moved):`);
  for (const [k, d] of idleWork) console.log(`  ${k} +${d}`);
  if (!idleWork.length) console.log('  none');
  if (process.env.BENCH_CPU_PROF) {
    await hub.stop(); // the profile is written at exit
    const file = (await readdir(profDir)).find((f) => f.endsWith('.cpuprofile'));
    if (file) {
      for (const [what, from, to] of [['the burst', burstFrom, burstTo], ['the idle window', idleFrom, idleTo]] as const) {
        const { total, top } = profileTop(join(profDir, file), from, to, 20);
        console.log(`CPU profile of ${what}: ${(total / 1000).toFixed(0)} ms sampled; self time by function:`);
        for (const [f, us] of top) console.log(`  ${(us / 1000).toFixed(1).padStart(8)} ms  ${f}`);
      }
    } else console.log('CPU profile: none written');
  }
} finally {
  abort.abort();
  bare?.kill();
  for (const c of clients) await c.close().catch(() => undefined);
  await hub?.stop();
  await member?.stop();
  await sys.stop();
  if (process.env.BENCH_KEEP_DIR) console.log(`  logs kept in ${dir}`);
  else await rm(dir, { recursive: true, force: true });
}
