// What the end-to-end tests of Operations share: an Operation of a hub service as a project editor writes it, its
// reading back, `kubectl wait` for its Succeeded condition (a timeout carries its status and the service's), and its
// steps as `name:phase`.
import type { OperationStatus } from '../lib/operations/types.ts';
import { kubectlAs } from './hub.ts';
import type { HubProject } from './hub-member.ts';

export interface Op { metadata: { name: string; uid?: string }; spec: Record<string, unknown>; status?: OperationStatus }

export function operationsOf(p: HubProject, target: { kind: string; name: string }) {
  const project = p.project;
  const getOp = async (name: string): Promise<Op> => JSON.parse(await p.as(['get', 'operation', name, '-n', project, '-o', 'json'])) as Op;
  return {
    operation: (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'upm.io/v1alpha1', kind: 'Operation', metadata: { name, namespace: project }, spec: { target, ...spec } }),
    getOp,
    steps: (o: Op) => (o.status?.steps ?? []).map((s) => `${s.name}:${s.phase}`),
    waitSucceeded: async (name: string, seconds: number): Promise<Op> => {
      const r = await kubectlAs(p.kc, ['wait', '--for=condition=Succeeded', `operation/${name}`, '-n', project, `--timeout=${seconds}s`], undefined, (seconds + 30) * 1000);
      if (r.code !== 0) throw new Error(`operation ${name} did not succeed: ${r.stderr}; status ${JSON.stringify((await getOp(name)).status)}; service ${JSON.stringify((await p.hubObject(target.kind.toLowerCase(), target.name)).status)}`);
      return getOp(name);
    },
  };
}
