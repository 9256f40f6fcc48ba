// What integration tests know about the system under test: the state file written by global-setup.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from '@jest/globals';
import { KubeClient } from '../lib/kube/client.ts';
import type { HubState } from '../hack/local/hub.ts';
import type { SystemState } from '../hack/local/system.ts';

export interface TestState extends SystemState {
  external?: boolean;
  /** The hub on the management cluster (local system only), or why it failed to start. */
  hub?: HubState | { error: string };
}

let cached: TestState | undefined;

export function testState(): TestState {
  if (!cached) {
    const file = process.env.UPM_TEST_STATE;
    if (!file) throw new Error('UPM_TEST_STATE is not set: run the suites with `npm test`');
    cached = JSON.parse(readFileSync(file, 'utf8')) as TestState;
  }
  return cached;
}

/** True when the suites run against local processes they may kill and restart. */
export const controlsProcesses = (): boolean => !testState().external;

/** `describe` when `run`, else `describe.skip` with the reason in the suite's name, so a skip always says why. */
export function describeWhen(run: boolean, skipReason: string): (name: string, body: () => void) => void {
  return (name, body) => (run ? describe(name, body) : describe.skip(`${name} [skipped: ${skipReason}]`, body));
}

/** Suites that start, kill or restart local processes: skipped against an existing cluster (UPM_TEST_KUBECONFIG). */
export const describeLocal = (name: string, body: () => void): void =>
  describeWhen(controlsProcesses(), 'it starts, kills and restarts local processes; UPM_TEST_KUBECONFIG names an existing cluster')(name, body);

export function kubeconfig(cluster: string): string {
  const c = testState().clusters[cluster];
  if (!c) throw new Error(`no cluster ${cluster} in the test state`);
  return c.kubeconfig;
}

export function client(cluster: string): Promise<KubeClient> {
  return KubeClient.fromKubeconfig(kubeconfig(cluster));
}

export function kubectlPath(): string {
  const dir = testState().binDir || process.env.UPM_BIN_DIR;
  return dir ? join(dir, 'kubectl') : 'kubectl';
}

/** A DNS-1123 name unique to this run, so suites can share clusters and run in parallel. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}
