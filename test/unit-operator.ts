// Runs the Unit Operator as its own process against a test cluster, watching one namespace, as the suites need.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from '@jest/globals';
import { KubeClient } from '../lib/kube/client.ts';
import { isNotFound } from '../lib/kube/errors.ts';
import { Resources } from '../lib/kube/resources.ts';
import { waitFor } from '../lib/wait.ts';
import { installEngine as installEngineWith } from '../hack/local/engine.ts';
import { client, kubeconfig, kubectlPath, uniqueName } from './env.ts';

const root = join(import.meta.dirname, '..');

/** Installs CRDs, engine templates and the admission policy (idempotent; server-side apply). */
export function installEngine(cluster: string): Promise<void> {
  return installEngineWith(kubectlPath(), kubeconfig(cluster));
}

export function startUnitOperator(cluster: string, namespace: string, logFile: string): ChildProcess {
  const out = openSync(logFile, 'a');
  return spawn(process.execPath, [join(root, 'operators/unit/main.ts'), '--kubeconfig', kubeconfig(cluster), '--namespace', namespace], {
    stdio: ['ignore', out, out],
    env: { ...process.env, UPM_LOG_LEVEL: 'debug' },
  });
}

/** The admission policy only works once the operator has published the engine catalog. */
export async function waitForCatalog(client: KubeClient): Promise<void> {
  await waitFor('engine catalog', async () => {
    try {
      const cm = await client.get<{ metadata: object; data?: Record<string, string> }>(Resources.configMaps, 'upm-engine-catalog', 'upm-system');
      return Object.keys(cm.data ?? {}).length > 0;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }, { timeoutMs: 30_000 });
}

export interface OperatorFixture {
  client: KubeClient;
  /** The suite's own namespace, the only one its operator watches. */
  ns: string;
  dir: string;
  operator: ChildProcess;
  /** kill -9 the operator (as a crash would) and start a fresh one. */
  restart(): Promise<void>;
}

/**
 * Registers beforeAll/afterAll for a suite that drives a Unit Operator of its own: engine installed, a fresh
 * namespace, the operator watching only it (so suites run in parallel on one cluster), its log kept on request.
 */
export function useUnitOperator(cluster: string, prefix: string): OperatorFixture {
  const f = {} as OperatorFixture;
  let runs = 0;
  const start = () => startUnitOperator(cluster, f.ns, join(f.dir, `operator-${++runs}.log`));
  beforeAll(async () => {
    f.client = await client(cluster);
    f.ns = uniqueName(prefix);
    f.dir = await mkdtemp(join(tmpdir(), `upm-${prefix}-`));
    await installEngine(cluster);
    await f.client.create(Resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: f.ns } });
    f.operator = start();
    f.restart = async () => {
      f.operator.kill('SIGKILL');
      await new Promise((r) => f.operator.once('exit', r));
      f.operator = start();
    };
    await waitForCatalog(f.client);
  });
  afterAll(async () => {
    f.operator?.kill('SIGKILL');
    if (process.env.UPM_KEEP_TEST_DIR) process.stdout.write(`operator logs: ${f.dir}\n`);
    else if (f.dir) await rm(f.dir, { recursive: true, force: true });
    await f.client?.close();
  });
  return f;
}
