// 100 UnitSets x 10 units (1,000 pods with a PVC each) in one member cluster: time from the first create to every
// UnitSet Ready, units per second, the Unit Operator's peak RSS, and CPU seconds per process so the bottleneck
// (operator or control plane) is visible. Goal: all Ready in 120 s or less, operator RSS under 300 MB.
import { spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { UnitSet } from '../lib/api/unit.upm.io.generated.ts';
import { UnitSetResource } from '../lib/api/unit.upm.io.generated.ts';
import { KubeClient } from '../lib/kube/client.ts';
import { Resources } from '../lib/kube/resources.ts';
import type { KubeObject } from '../lib/kube/types.ts';
import { request } from 'undici';
import { waitFor } from '../lib/wait.ts';
import { freePort } from '../hack/local/ports.ts';
import { installEngine, OPERATOR_NODE_FLAGS as DEPLOYMENT_NODE_FLAGS } from '../hack/local/engine.ts';
import { LocalSystem } from '../hack/local/system.ts';

const OPERATOR_NODE_FLAGS = process.env.BENCH_OPERATOR_NODE_FLAGS?.split(' ').filter(Boolean) ?? DEPLOYMENT_NODE_FLAGS;
const SETS = Number(process.env.BENCH_UNITSETS ?? 100);
const UNITS = Number(process.env.BENCH_UNITS ?? 10);
const root = join(import.meta.dirname, '..');

function procStatus(pid: number, field: string): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return line ? Number(line.split(/\s+/)[1]) / 1024 : 0;
}
/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const dir = await mkdtemp(join(tmpdir(), 'upm-bench-scale-'));
const sys = await LocalSystem.start(join(dir, 'system'), [{ name: 'member1', role: 'member', nodes: 3 }]);
try {
  const cluster = sys.cluster('member1');
  await installEngine(sys.bins.kubectl, cluster.kubeconfig);
  const c = await KubeClient.fromKubeconfig(cluster.kubeconfig);
  const ns = 'bench';
  await c.create(Resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const log = openSync(join(dir, 'operator.log'), 'a');
  const healthPort = await freePort();
  // Heap limits as the Deployment sets them (config/unit-operator/deployment.yaml): without them V8 grows lazily
  // towards a quarter of the machine's memory.
  const op = spawn(process.execPath, [...OPERATOR_NODE_FLAGS, join(root, 'operators/unit/main.ts'), '--kubeconfig', cluster.kubeconfig, '--health-port', String(healthPort), '--agents', 'off'], { stdio: ['ignore', log, log], env: { ...process.env, UPM_LOG_LEVEL: 'warn' } });
  await waitFor('engine catalog', () => c.get(Resources.configMaps, 'upm-engine-catalog', 'upm-system').then(() => true), { timeoutMs: 30_000 });
  await waitFor('service account', () => c.get(Resources.serviceAccounts, 'default', ns).then(() => true), { timeoutMs: 30_000 });

  const cpuBefore = new Map(sys.processes.map((p) => [p.name, cpuSeconds(p.pid ?? 0)]));
  const opCpuBefore = cpuSeconds(op.pid ?? 0);
  const t0 = performance.now();
  for (let i = 0; i < SETS; i += 10) {
    await Promise.all(Array.from({ length: Math.min(10, SETS - i) }, (_, j) => c.create<UnitSet>(UnitSetResource, {
      apiVersion: 'unit.upm.io/v1alpha1', kind: 'UnitSet',
      metadata: { name: `db-${i + j}`, namespace: ns },
      spec: {
        engine: 'mariadb', version: '10.11', units: UNITS,
        resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '256Mi' } },
        storage: [{ name: 'data', size: '1Gi', mountPath: '/var/lib/mysql' }],
      },
    })));
  }
  const created = performance.now();
  let peakRss = 0;
  let readySets = 0;
  await waitFor('all UnitSets Ready', async () => {
    peakRss = Math.max(peakRss, procStatus(op.pid ?? 0, 'VmHWM'));
    const list = await c.list<UnitSet>(UnitSetResource, { namespace: ns });
    readySets = list.items.filter((u) => u.status?.phase === 'Ready' && u.status.readyUnits === UNITS).length;
    return readySets === SETS;
  }, { timeoutMs: 600_000, intervalMs: 500 }).catch((err: unknown) => { console.log(`  NOT all Ready: ${readySets}/${SETS} sets (${String(err)})`); });
  const secs = (performance.now() - t0) / 1000;
  peakRss = Math.max(peakRss, procStatus(op.pid ?? 0, 'VmHWM'));
  const opCpu = cpuSeconds(op.pid ?? 0) - opCpuBefore;
  const cpu = new Map<string, number>();
  for (const p of sys.processes) {
    const component = p.name.split('/').pop() as string;
    cpu.set(component, (cpu.get(component) ?? 0) + cpuSeconds(p.pid ?? 0) - (cpuBefore.get(p.name) ?? 0));
  }
  const pods = (await c.list<KubeObject>(Resources.pods, { namespace: ns })).items.length;
  // The operator's own API traffic, from its rest_client_requests_total metric.
  const metrics = await (await request(`http://127.0.0.1:${healthPort}/metrics`)).body.text();
  const byMethod = new Map<string, number>();
  for (const m of metrics.matchAll(/^rest_client_requests_total\{method="(\w+)",code="(\d+)"\} (\d+)/gm)) {
    const key = m[2] === '200' || m[2] === '201' ? (m[1] as string) : `${m[1]} ${m[2]}`;
    byMethod.set(key, (byMethod.get(key) ?? 0) + Number(m[3]));
  }
  console.log(`unit operator at scale: ${SETS} UnitSets x ${UNITS} units (${SETS * UNITS} pods, one PVC each), one member cluster, 2 cores`);
  console.log(`  creates sent in            ${((created - t0) / 1000).toFixed(1)} s`);
  console.log(`  all Ready after            ${secs.toFixed(1)} s   (goal 120 s)`);
  console.log(`  throughput                 ${(readySets * UNITS / secs).toFixed(1)} units/s (${pods} pods exist)`);
  console.log(`  operator peak RSS          ${peakRss.toFixed(0)} MiB   (goal < 300 MiB; node ${OPERATOR_NODE_FLAGS.join(' ')})`);
  const heap = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(metrics)?.[1] ?? 0) / 1024 ** 2;
  console.log(`  operator heap at the end   ${heap('nodejs_heap_size_used_bytes').toFixed(0)} MiB used of ${heap('nodejs_heap_size_total_bytes').toFixed(0)} MiB`);
  console.log(`  operator API requests      ${[...byMethod].sort().map(([k, v]) => `${k} ${v}`).join(', ')}`);
  // The API server's own view: requests by verb and resource, from every client (operator, KWOK, scheduler, KCM).
  const apiMetrics = await c.request<string>('GET', '/metrics').catch(() => '');
  const apiText = typeof apiMetrics === 'string' ? apiMetrics : '';
  const byResource = new Map<string, number>();
  for (const m of apiText.matchAll(/^apiserver_request_total\{([^}]*)\} (\d+)/gm)) {
    const l = Object.fromEntries([...(m[1] as string).matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (l.verb === 'WATCH' || l.verb === 'LIST' || l.verb === 'GET') continue;
    const k = `${l.verb} ${l.resource}${l.subresource ? `/${l.subresource}` : ''}`;
    byResource.set(k, (byResource.get(k) ?? 0) + Number(m[2]));
  }
  console.log(`  API server writes by verb and resource (all clients, whole run):`);
  for (const [k, v] of [...byResource].sort((a, b) => b[1] - a[1]).slice(0, 14)) console.log(`    ${k.padEnd(40)} ${v}`);
  console.log(`  CPU seconds during the run (where the time went):`);
  console.log(`    ${'unit-operator'.padEnd(26)} ${opCpu.toFixed(1)}`);
  for (const [k, v] of [...cpu].sort((a, b) => b[1] - a[1])) console.log(`    ${k.padEnd(26)} ${v.toFixed(1)}`);
  op.kill('SIGTERM');
  await c.close();
} finally {
  await sys.stop();
  await rm(dir, { recursive: true, force: true });
}
