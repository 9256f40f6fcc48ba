// Puts the engine layer on a member cluster of the local system: CRDs, engine templates and the admission policy
// (kubectl apply -k), then the Unit Operator as a supervised process watching every namespace.
import { execFile } from 'node:child_process';
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
  await k('wait', '--for=condition=Established', '--timeout=60s', 'crd/unitsets.unit.upm.io', 'crd/units.unit.upm.io', 'crd/enginetemplates.unit.upm.io');
  await k('apply', '--server-side', '--force-conflicts', '-k', join(root, 'config/local/member'));
}

export async function startUnitOperator(cluster: LocalCluster, dir: string): Promise<{ process: ManagedProcess; healthPort: number }> {
  const healthPort = await freePort();
  const proc = ManagedProcess.start({
    name: `${cluster.name}/unit-operator`,
    command: process.execPath,
    args: [...OPERATOR_NODE_FLAGS, join(root, 'operators/unit/main.ts'), '--kubeconfig', cluster.kubeconfig, '--health-port', String(healthPort)],
    logFile: join(dir, 'logs', 'unit-operator.log'),
  });
  return { process: proc, healthPort };
}
