// Runs the Unit Operator as its own process against a test cluster, watching one namespace, as the suites need.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from '@jest/globals';
import { AGENT_PORT } from '../agent/api.ts';
import { AgentClient } from '../agent/client.ts';
import { readUnitAgentToken } from '../agent/tokens.ts';
import type { Unit } from '../lib/api/unit.upm.io.generated.ts';
import { UnitResource } from '../lib/api/unit.upm.io.generated.ts';
import { KubeClient } from '../lib/kube/client.ts';
import { isNotFound } from '../lib/kube/errors.ts';
import { Resources } from '../lib/kube/resources.ts';
import { waitFor } from '../lib/wait.ts';
import { installEngine as installEngineWith } from '../hack/local/engine.ts';
import { EngineRuntime } from '../hack/local/runtime.ts';
import { newLogger } from '../lib/log.ts';
import { client, kubeconfig, kubectlPath, uniqueName } from './env.ts';
import { killEngine } from './signals.ts';

const root = join(import.meta.dirname, '..');

/** Installs CRDs, engine templates and the admission policy (idempotent; server-side apply). */
export function installEngine(cluster: string): Promise<void> {
  return installEngineWith(kubectlPath(), kubeconfig(cluster));
}

export function startUnitOperator(cluster: string, namespace: string, logFile: string, agents = false, env: Record<string, string> = {}): ChildProcess {
  const out = openSync(logFile, 'a');
  const args = [join(root, 'operators/unit/main.ts'), '--kubeconfig', kubeconfig(cluster), '--namespace', namespace, '--agents', agents ? 'on' : 'off'];
  return spawn(process.execPath, args, {
    stdio: ['ignore', out, out],
    env: { ...process.env, UPM_LOG_LEVEL: 'debug', ...env },
  });
}

/** kill -9, and wait until the process is gone (at once when it already is). */
async function killAndWait(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await exited;
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
  /**
   * kill -9 the operator (as a crash would; nothing if it already died) and start a fresh one; `env` goes to the new
   * process (UPM_CRASH_AT=<point> makes it die at that point).
   */
  restart(env?: Record<string, string>): Promise<void>;
  /** With `engines`: the runtime running the real engine behind each of the namespace's data pods. */
  runtime?: EngineRuntime;
  /** With `compose`: the Compose Operator watching the namespace. */
  compose?: ChildProcess;
  /**
   * kill -9 the Compose Operator and start a fresh one; `env` goes to the new process (UPM_CRASH_AT=<point> makes
   * it die at that point, as kill -9 would).
   */
  restartCompose(env?: Record<string, string>): Promise<void>;
  /**
   * Replaces the Compose Operator with one that dies at `point` (UPM_CRASH_AT) and returns a wait for that death:
   * it fails if the process exits any other way or never gets there.
   */
  crashComposeAt(point: string): Promise<(timeoutMs: number) => Promise<void>>;
  /**
   * With `engines`: the unit's node is lost. Its engine is killed (kill -9) and stays down: the unit is handed off
   * (maintenance) and its agent told to leave the engine stopped. Returns the agent, to start the engine again.
   */
  loseEngine(unit: string): Promise<AgentClient>;
}

/** Runs the Compose Operator as its own process, watching one namespace. */
export function startComposeOperator(cluster: string, namespace: string, logFile: string, env: Record<string, string> = {}): ChildProcess {
  const out = openSync(logFile, 'a');
  return spawn(process.execPath, [join(root, 'operators/compose/main.ts'), '--kubeconfig', kubeconfig(cluster), '--namespace', namespace], {
    stdio: ['ignore', out, out],
    env: { ...process.env, UPM_LOG_LEVEL: 'debug', ...env },
  });
}

/**
 * Registers beforeAll/afterAll for a suite that drives a Unit Operator of its own: engine installed, a fresh
 * namespace, the operator watching only it (so suites run in parallel on one cluster), its log kept on request.
 */
export function useUnitOperator(cluster: string, prefix: string, opts: { engines?: boolean; compose?: boolean } = {}): OperatorFixture {
  const f = {} as OperatorFixture;
  let runs = 0;
  const start = (env?: Record<string, string>) => startUnitOperator(cluster, f.ns, join(f.dir, `operator-${++runs}.log`), !!opts.engines, env);
  beforeAll(async () => {
    f.client = await client(cluster);
    f.ns = uniqueName(prefix);
    f.dir = await mkdtemp(join(tmpdir(), `upm-${prefix}-`));
    await installEngine(cluster);
    await f.client.create(Resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: f.ns } });
    if (opts.engines) {
      f.runtime = await EngineRuntime.start({
        cluster, kubeconfig: kubeconfig(cluster), dir: join(f.dir, 'runtime'), namespace: f.ns,
        log: newLogger({ suite: prefix }).child({}, { level: process.env.UPM_KEEP_TEST_DIR ? 'info' : 'warn' }),
      });
    }
    f.operator = start();
    let composeRuns = 0;
    const startCompose = (env?: Record<string, string>) => startComposeOperator(cluster, f.ns, join(f.dir, `compose-${++composeRuns}.log`), env);
    if (opts.compose) f.compose = startCompose();
    f.restartCompose = async (env) => {
      if (f.compose) await killAndWait(f.compose);
      f.compose = startCompose(env);
    };
    f.crashComposeAt = async (point) => {
      await f.restartCompose({ UPM_CRASH_AT: point });
      const doomed = f.compose!;
      return async (timeoutMs) => {
        await waitFor(`the Compose Operator to die at ${point}`, () => doomed.signalCode === 'SIGKILL', {
          timeoutMs, intervalMs: 100,
          failFast: () => (doomed.exitCode !== null ? `it exited with code ${doomed.exitCode} instead` : undefined),
        });
      };
    };
    f.loseEngine = async (unit) => {
      await f.client.patch(UnitResource, unit, { metadata: { annotations: { 'unit.upm.io/maintenance': 'true' } } }, 'merge', { namespace: f.ns });
      const ip = (await f.client.get<Unit>(UnitResource, unit, f.ns)).status?.podIP ?? '';
      const agent = new AgentClient(ip, AGENT_PORT, await readUnitAgentToken(f.client, f.ns, unit));
      killEngine((await agent.status()).pid);
      await agent.stop();
      return agent;
    };
    f.restart = async (env) => {
      await killAndWait(f.operator);
      f.operator = start(env);
    };
    await waitForCatalog(f.client);
  });
  afterAll(async () => {
    f.compose?.kill('SIGKILL');
    await f.runtime?.stop();
    f.operator?.kill('SIGKILL');
    if (process.env.UPM_KEEP_TEST_DIR) process.stdout.write(`operator logs: ${f.dir}\n`);
    else if (f.dir) await rm(f.dir, { recursive: true, force: true });
    await f.client?.close();
  });
  return f;
}
