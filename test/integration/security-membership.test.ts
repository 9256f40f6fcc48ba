// A watch is authorized once, when it opens, through the RoleBinding the member's role became: a member removed
// from the project must stop receiving the project's changes on the watch they already hold.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { waitFor } from '../../lib/wait.ts';
import { uniqueName } from '../env.ts';
import { closeAgents, describeHub, kubectlAs, kubectlOkAs, kubectlStream, userKubeconfig } from '../hub.ts';

const yaml = (o: unknown) => JSON.stringify(o);

describeHub('a removed member and their open watch', () => {
  const suffix = uniqueName('m').slice(2);
  const [ann, ben] = ['ann', 'ben'].map((u) => `${u}-${suffix}`) as [string, string];
  const project = uniqueName('pm');
  const cluster = uniqueName('member');
  const kc: Record<string, string> = {};
  const ok = (u: string, args: string[], input?: string) => kubectlOkAs(kc[u], args, input);
  const service = (name: string) => yaml({ apiVersion: 'upm.io/v1alpha1', kind: 'MysqlService', metadata: { name, namespace: project }, spec: { version: '8.0', placement: { cluster } } });

  beforeAll(async () => {
    kc[ann] = await userKubeconfig(ann);
    kc[ben] = await userKubeconfig(ben);
    await kubectlOkAs(undefined, ['apply', '-f', '-'], yaml({ apiVersion: 'upm.io/v1alpha1', kind: 'Cluster', metadata: { name: cluster }, spec: {} }));
    await ok(ann, ['create', '-f', '-'], yaml({ apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: project }, spec: { members: [{ kind: 'User', name: ann, role: 'admin' }, { kind: 'User', name: ben, role: 'viewer' }] } }));
    await waitFor(`project ${project} Ready`, async () => (await kubectlOkAs(undefined, ['get', 'project', project, '-o', 'jsonpath={.status.phase}'])) === 'Ready', { timeoutMs: 30_000, intervalMs: 200 });
    // Ben's RoleBinding exists once he may list the project's services.
    await waitFor('ben may list', async () => (await kubectlAs(kc[ben], ['get', 'mysqlservices', '-n', project])).code === 0, { timeoutMs: 30_000, intervalMs: 300 });
  });

  afterAll(async () => {
    await kubectlAs(undefined, ['delete', 'project', project, '--wait=false', '--ignore-not-found']);
    await kubectlAs(undefined, ['delete', 'cluster', cluster, '--wait=false', '--ignore-not-found']);
    await closeAgents();
  });

  it('sends the project\'s changes to a member only while they are one', async () => {
    const before = uniqueName('before');
    const after = uniqueName('after');
    const watch = kubectlStream(kc[ben], ['get', 'mysqlservices', '-n', project, '-w', '-o', 'name']);
    try {
      await ok(ann, ['create', '-f', '-'], service(before));
      await waitFor('ben sees the first service', async () => watch.output().includes(before), { timeoutMs: 20_000, intervalMs: 100 });
      const members = JSON.stringify([{ kind: 'User', name: ann, role: 'admin' }]);
      await ok(ann, ['patch', 'project', project, '--type=json', '-p', `[{"op":"replace","path":"/spec/members","value":${members}}]`]);
      // The hub knows he is out once the project is a 404 to him.
      await waitFor('ben no longer sees the project', async () => (await kubectlAs(kc[ben], ['get', 'project', project])).code !== 0, { timeoutMs: 20_000, intervalMs: 100 });
      await ok(ann, ['create', '-f', '-'], service(after));
      // Ann reads through the same cache the watch is served from: once she sees it, the event was dispatched.
      await ok(ann, ['get', 'mysqlservice', after, '-n', project]);
      await new Promise((r) => setTimeout(r, 2000));
      expect(watch.output()).toContain(before);
      expect(watch.output()).not.toContain(after);
    } finally {
      await watch.stop();
    }
  }, 120_000);
});
