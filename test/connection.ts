// A hub service's connection Secret as its project's editor reads it with kubectl, once the service's status names it.
import type { KubeObject } from '../lib/kube/types.ts';
import type { HubProject } from './hub-member.ts';

/** The keys of `<service>-connection`, decoded (host, port, user, password: what the kind hands out). */
export async function connectionOf(p: HubProject, kind: string, service: string): Promise<Record<string, string>> {
  const name = `${service}-connection`;
  await p.hubReaches(kind, service, 'the connection Secret in the status', (s) => s.connectionSecret === name, 60_000);
  const s = JSON.parse(await p.as(['get', 'secret', name, '-n', p.project, '-o', 'json'])) as KubeObject & { data?: Record<string, string> };
  return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}
