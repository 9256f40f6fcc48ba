// What the end-to-end tests of Operations share: an Operation of a hub service as a project editor writes it, its
// server-side dry run (the plan), its reading back (one or all of the project's), `kubectl wait` for its Succeeded
// condition (a timeout carries its status and the service's), a poll for a phase, and its steps as `name:phase`.
import { parse } from 'yaml';
import type { OperationStatus } from '../lib/operations/types.ts';
import { waitFor } from '../lib/wait.ts';
import { kubectlAs } from './hub.ts';
import type { HubProject } from './hub-member.ts';

export interface Op { metadata: { name: string; uid?: string }; spec: Record<string, unknown>; status?: OperationStatus }

/** The phases an Operation ends in. */
export const TERMINAL_PHASES = ['Succeeded', 'Failed', 'Cancelled'];

export function operationsOf(p: HubProject, target: { kind: string; name: string }) {
  const project = p.project;
  const operation = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'upm.io/v1alpha1', kind: 'Operation', metadata: { name, namespace: project }, spec: { target, ...spec } });
  const getOp = async (name: string): Promise<Op> => JSON.parse(await p.as(['get', 'operation', name, '-n', project, '-o', 'json'])) as Op;
  return {
    operation,
    getOp,
    /** Every Operation of the project, of whatever service. */
    listOps: async (): Promise<Op[]> => (JSON.parse(await p.as(['get', 'operations', '-n', project, '-o', 'json'])) as { items: Op[] }).items,
    /** The Operation as a server-side dry run plans it (its steps, preconditions evaluated now); nothing is stored. */
    preview: async (name: string, spec: Record<string, unknown>): Promise<Op> => parse(await p.as(['create', '--dry-run=server', '-o', 'yaml', '-f', '-'], JSON.stringify(operation(name, spec)))) as Op,
    steps: (o: Op) => (o.status?.steps ?? []).map((s) => `${s.name}:${s.phase}`),
    /** Reads the Operation until its phase is one of `phases`, and returns it then. */
    waitPhase: (name: string, phases: string[], opts: { timeoutMs: number; intervalMs?: number }): Promise<Op> =>
      waitFor(`operation ${name} ${phases.join(' or ')}`, async () => { const o = await getOp(name); return phases.includes(o.status?.phase ?? '') ? o : undefined; }, opts),
    waitSucceeded: async (name: string, seconds: number): Promise<Op> => {
      const r = await kubectlAs(p.kc, ['wait', '--for=condition=Succeeded', `operation/${name}`, '-n', project, `--timeout=${seconds}s`], undefined, (seconds + 30) * 1000);
      if (r.code !== 0) throw new Error(`operation ${name} did not succeed: ${r.stderr}; status ${JSON.stringify((await getOp(name)).status)}; service ${JSON.stringify((await p.hubObject(target.kind.toLowerCase(), target.name)).status)}`);
      return getOp(name);
    },
  };
}
