// Runs the Unit Operator as its own process against a test cluster, watching one namespace, as the suites need.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { KubeClient } from '../lib/kube/client.ts';
import { isNotFound } from '../lib/kube/errors.ts';
import { Resources } from '../lib/kube/resources.ts';
import { waitFor } from '../lib/wait.ts';
import { installEngine as installEngineWith } from '../hack/local/engine.ts';
import { kubeconfig, kubectlPath } from './env.ts';

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
