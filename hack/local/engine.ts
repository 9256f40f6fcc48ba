// Puts the engine layer on a member cluster of the local system: CRDs, engine templates and the admission policy
// (kubectl apply -k), then the Unit and Compose Operators as supervised processes watching every namespace.
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { LocalCluster } from './cluster.ts';
import { freePort } from './ports.ts';
import { ManagedProcess } from './process.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
/** Heap limits as in the operator's Deployment. */
export const OPERATOR_NODE_FLAGS = ['--max-old-space-size=160', '--max-semi-space-size=8'];

export async function installEngine(kubectl: string, kubeconfig: string): Promise<void> {
  const k = (...args: string[]) => run(kubectl, ['--kubeconfig', kubeconfig, ...args]);
  // CRDs first: objects of a kind can only be applied once its CRD is established.
  await k('apply', '--server-side', '--force-conflicts', '-k', join(root, 'crds'));
  // Files are named <group>_<plural>.yaml, so every CRD of the directory is waited for.
  const crds = readdirSync(join(root, 'crds')).filter((f) => f.endsWith('.yaml') && f.includes('_'))
    .map((f) => { const [group, plural] = f.slice(0, -'.yaml'.length).split('_'); return `crd/${plural}.${group}`; });
  await k('wait', '--for=condition=Established', '--timeout=60s', ...crds);
  await k('apply', '--server-side', '--force-conflicts', '-k', join(root, 'config/local/member'));
}

/** Starts one of the member cluster's operators (`unit` or `compose`) as a supervised process watching every namespace. */
export async function startOperator(kind: 'unit' | 'compose', cluster: LocalCluster, dir: string): Promise<{ process: ManagedProcess; healthPort: number }> {
  const healthPort = await freePort();
  const proc = ManagedProcess.start({
    name: `${cluster.name}/${kind}-operator`,
    command: process.execPath,
    args: [...OPERATOR_NODE_FLAGS, join(root, `operators/${kind}/main.ts`), '--kubeconfig', cluster.kubeconfig, '--health-port', String(healthPort)],
    logFile: join(dir, 'logs', `${kind}-operator.log`),
  });
  return { process: proc, healthPort };
}
