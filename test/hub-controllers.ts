// The hub controllers as a test may crash them. The local system starts them again a second after they end on
// their own, as their Deployment would (hack/local/process.ts restartOnExit); a test kills the running process and
// waits for the next one, which may be started once with a different environment (a crash point).
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { waitFor } from '../lib/wait.ts';
import { hubState } from './hub.ts';

const pidFile = () => `${hubState().logs.controllers}.pid`;

/** The pid of the hub controllers now running, or 0 between a crash and the restart. */
export async function hubControllersPid(): Promise<number> {
  const pid = Number((await readFile(pidFile(), 'utf8').catch(() => '')).trim());
  return pid > 1 && existsSync(`/proc/${pid}`) ? pid : 0;
}

/** Waits until the hub controllers run again as another process than `pid`; returns the new pid. */
export function nextHubControllers(pid: number): Promise<number> {
  return waitFor('the hub controllers started again', async () => {
    const next = await hubControllersPid();
    return next && next !== pid ? next : undefined;
  }, { timeoutMs: 30_000, intervalMs: 100 });
}

/**
 * kill -9 of the hub controllers; returns the pid of the process started after it. `env` is the environment the
 * next process (only that one) starts with besides its own (undefined removes a variable), e.g. a crash point.
 */
export async function killHubControllers(env?: Record<string, string | undefined>): Promise<number> {
  const pid = await waitFor('the hub controllers running', hubControllersPid, { timeoutMs: 30_000, intervalMs: 100 });
  // Undefined does not survive JSON: removals are written as null.
  if (env) await writeFile(`${hubState().logs.controllers}.env`, JSON.stringify(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v ?? null]))));
  process.kill(pid, 'SIGKILL');
  return nextHubControllers(pid);
}
