// Runs the Unit Operator as its own process against a test cluster, watching one namespace, as the suites need.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { KubeClient } from '../lib/kube/client.ts';
import { isNotFound } from '../lib/kube/errors.ts';
import { Resources } from '../lib/kube/resources.ts';
import { waitFor } from '../lib/wait.ts';
import { kubeconfig } from './env.ts';
import { kubectlOk } from './kubectl.ts';

const root = join(import.meta.dirname, '..');

/** Installs CRDs, engine templates and the admission policy (idempotent; server-side apply). */
export async function installEngine(cluster: string): Promise<void> {
  // CRDs first: objects of a kind can only be applied once its CRD is established.
  await kubectlOk(cluster, ['apply', '--server-side', '--force-conflicts', '-k', join(root, 'crds')]);
  await kubectlOk(cluster, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/unitsets.unit.upm.io', 'crd/units.unit.upm.io', 'crd/enginetemplates.unit.upm.io']);
  await kubectlOk(cluster, ['apply', '--server-side', '--force-conflicts', '-k', join(root, 'config/local/member')]);
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
