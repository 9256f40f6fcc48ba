// Locates the control-plane binaries built by hack/build-binaries.sh (building them on first use).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Binaries {
  dir: string;
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubectl: string;
  kwok: string;
  stages: string;
}

const hackDir = dirname(dirname(fileURLToPath(import.meta.url)));

/** The binaries in UPM_BIN_DIR, or wherever hack/build-binaries.sh puts them (building them if needed). */
export function binaries(): Binaries {
  return binariesAt(process.env.UPM_BIN_DIR ?? execFileSync('bash', [join(hackDir, 'build-binaries.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim());
}

export function binariesAt(dir: string): Binaries {
  const b: Binaries = {
    dir,
    etcd: join(dir, 'etcd'),
    kubeApiserver: join(dir, 'kube-apiserver'),
    kubeControllerManager: join(dir, 'kube-controller-manager'),
    kubeScheduler: join(dir, 'kube-scheduler'),
    kubectl: join(dir, 'kubectl'),
    kwok: join(dir, 'kwok'),
    stages: join(dir, 'stages'),
  };
  for (const [k, path] of Object.entries(b)) {
    if (k !== 'dir' && !existsSync(path)) throw new Error(`missing ${path}: run hack/build-binaries.sh`);
  }
  return b;
}
