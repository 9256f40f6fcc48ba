// A local member cluster with the whole engine layer for the compose benchmarks: control plane, CRDs and templates,
// the engine runtime (real engines behind the simulated pods), the Unit Operator and the Compose Operator, all
// watching one namespace. `stop()` tears everything down.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installEngine, OPERATOR_NODE_FLAGS } from '../../hack/local/engine.ts';
import { EngineRuntime } from '../../hack/local/runtime.ts';
import { LocalSystem } from '../../hack/local/system.ts';
import { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import { waitFor } from '../../lib/wait.ts';

const root = join(import.meta.dirname, '..', '..');

export interface ComposeBenchSystem {
  client: KubeClient;
  ns: string;
  kubeconfig: string;
  kubectl: string;
  dir: string;
  compose: ChildProcess;
  stop(): Promise<void>;
}

export async function startComposeBenchSystem(name: string): Promise<ComposeBenchSystem> {
  const dir = await mkdtemp(join(tmpdir(), `upm-bench-${name}-`));
  const sys = await LocalSystem.start(join(dir, 'system'), [{ name: 'member1', role: 'member', nodes: 3 }]);
  const cluster = sys.cluster('member1');
  await installEngine(sys.bins.kubectl, cluster.kubeconfig);
  const client = await KubeClient.fromKubeconfig(cluster.kubeconfig);
  const ns = 'bench';
  await client.create(Resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const runtime = await EngineRuntime.start({ cluster: 'member1', kubeconfig: cluster.kubeconfig, dir: join(dir, 'engines'), namespace: ns });
  const operator = (kind: 'unit' | 'compose', extra: string[]) => {
    const log = openSync(join(dir, `${kind}-operator.log`), 'a');
    return spawn(process.execPath, [...OPERATOR_NODE_FLAGS, join(root, `operators/${kind}/main.ts`), '--kubeconfig', cluster.kubeconfig, '--namespace', ns, ...extra],
      { stdio: ['ignore', log, log], env: { ...process.env, UPM_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info' } });
  };
  const unitOperator = operator('unit', ['--agents', 'on']);
  const compose = operator('compose', []);
  await waitFor('engine catalog', () => client.get(Resources.configMaps, 'upm-engine-catalog', 'upm-system').then(() => true), { timeoutMs: 30_000 });
  await waitFor('service account', () => client.get(Resources.serviceAccounts, 'default', ns).then(() => true), { timeoutMs: 30_000 });
  return {
    client, ns, kubeconfig: cluster.kubeconfig, kubectl: sys.bins.kubectl, dir, compose,
    async stop() {
      compose.kill('SIGKILL');
      await runtime.stop();
      unitOperator.kill('SIGKILL');
      await client.close();
      await sys.stop();
      if (!process.env.BENCH_KEEP_DIR) await rm(dir, { recursive: true, force: true });
      else console.log(`  logs kept in ${dir}`);
    },
  };
}

/** p50/p99/max of a list of numbers. */
export function percentiles(xs: number[]): { p50: number; p99: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1] ?? NaN };
}
