// The real kubectl (the one built with the control plane), for tests that must behave as a user would.
import { spawn } from 'node:child_process';
import { kubeconfig, kubectlPath } from './env.ts';

export interface KubectlResult { code: number; stdout: string; stderr: string }

export function kubectl(cluster: string, args: string[], input?: string): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(kubectlPath(), ['--kubeconfig', kubeconfig(cluster), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    // kubectl may exit before it reads its input (a command that takes none): its exit code says how it went.
    p.stdin.on('error', () => undefined);
    p.stdin.end(input ?? '');
  });
}

/** kubectl that must succeed. */
export async function kubectlOk(cluster: string, args: string[], input?: string): Promise<string> {
  const r = await kubectl(cluster, args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}
