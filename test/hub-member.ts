// A project of a suite's own whose services the hub drives onto member1: the project (with the given members) created
// by the admin on the hub, the engine layer on member1 (the engine runtime, the Unit and Compose Operators) watching
// the project's namespace there, which the hub creates. The hub's status is read with the real kubectl as the editor.
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from '@jest/globals';
import type { KubeClient } from '../lib/kube/client.ts';
import { Resources } from '../lib/kube/resources.ts';
import type { KubeObject } from '../lib/kube/types.ts';
import { newLogger } from '../lib/log.ts';
import { waitFor } from '../lib/wait.ts';
import { EngineRuntime } from '../hack/local/runtime.ts';
import type { ServiceStatus } from '../controllers/services/contract.ts';
import { client, kubeconfig, uniqueName } from './env.ts';
import { closeAgents, kubectlAs, kubectlOkAs, userKubeconfig } from './hub.ts';
import { installEngine, startComposeOperator, startUnitOperator, waitForCatalog, type OperatorFixture } from './unit-operator.ts';

export const MEMBER = 'member1';
export type HubObject = KubeObject & { spec: Record<string, unknown>; status?: ServiceStatus };

export interface HubProject {
  readonly project: string;
  /** The project's editor (the user who creates services). */
  readonly editor: string;
  /** The editor's kubeconfig. */
  kc: string;
  /** member1, as its admin. */
  member: KubeClient;
  /** The suite's scratch directory (operator logs, the engine runtime). */
  dir: string;
  /** The engine layer's fixture on member1, for helpers such as mysqlSuite. */
  fixture: OperatorFixture;
  /** kubectl as the editor against the hub; fails on a non-zero exit. */
  as: (args: string[], input?: string) => Promise<string>;
  /** A service as the hub has it. */
  hubObject: (kind: string, name: string) => Promise<HubObject>;
  /** Waits for a service's status on the hub; on a timeout the error carries the last status. */
  hubReaches: (kind: string, name: string, what: string, test: (s: ServiceStatus) => boolean, timeoutMs: number) => Promise<ServiceStatus>;
}

/** Registers the suite's beforeAll/afterAll; the returned object is filled in by beforeAll. */
export function useHubProject(prefix: string, members: { name: string; role: 'admin' | 'editor' | 'viewer' }[] = []): HubProject {
  const project = uniqueName(prefix);
  const editor = `ed-${project}`;
  let runtime: EngineRuntime | undefined;
  const procs: ChildProcess[] = [];
  const p: HubProject = {
    project, editor, kc: '', member: undefined as unknown as KubeClient, dir: '', fixture: {} as OperatorFixture,
    as: (args, input) => kubectlOkAs(p.kc, args, input),
    hubObject: async (kind, name) => JSON.parse(await p.as(['get', kind, name, '-n', project, '-o', 'json'])) as HubObject,
    hubReaches: async (kind, name, what, test, timeoutMs) => {
      try {
        return await waitFor(what, async () => { const s = (await p.hubObject(kind, name)).status ?? {}; return test(s) ? s : undefined; }, { timeoutMs, intervalMs: 1000 });
      } catch (err) {
        throw new Error(`${(err as Error).message}; hub status ${JSON.stringify((await p.hubObject(kind, name)).status)}`, { cause: err });
      }
    },
  };

  beforeAll(async () => {
    p.member = await client(MEMBER);
    p.dir = await mkdtemp(join(tmpdir(), `upm-${prefix}-`));
    await installEngine(MEMBER);
    p.kc = await userKubeconfig(editor);
    await kubectlOkAs(undefined, ['create', '-f', '-'], JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: project }, spec: { members: [{ name: editor, role: 'editor' }, ...members] } }));
    await waitFor('the editor bound', async () => (await kubectlAs(p.kc, ['auth', 'can-i', 'create', 'mysqlservices.upm.io', '-n', project])).stdout.trim() === 'yes', { timeoutMs: 30_000, intervalMs: 250 });
    // The engine layer on member1, watching the project's namespace (which the hub creates there).
    runtime = await EngineRuntime.start({ cluster: MEMBER, kubeconfig: kubeconfig(MEMBER), dir: join(p.dir, 'runtime'), namespace: project, log: newLogger({ suite: prefix }).child({}, { level: 'warn' }) });
    procs.push(startUnitOperator(MEMBER, project, join(p.dir, 'unit-operator.log'), true));
    procs.push(startComposeOperator(MEMBER, project, join(p.dir, 'compose-operator.log')));
    await waitForCatalog(p.member);
    Object.assign(p.fixture, { client: p.member, ns: project, dir: p.dir });
  }, 120_000);

  afterAll(async () => {
    await kubectlAs(undefined, ['delete', 'project', project, '--wait=false', '--ignore-not-found']);
    for (const c of procs) c.kill('SIGKILL');
    await runtime?.stop();
    await p.member?.delete(Resources.namespaces, project).catch(() => undefined);
    await p.member?.close();
    if (process.env.UPM_KEEP_TEST_DIR) process.stdout.write(`${prefix} logs: ${p.dir}\n`);
    else if (p.dir) await rm(p.dir, { recursive: true, force: true });
    await closeAgents();
  });
  return p;
}
