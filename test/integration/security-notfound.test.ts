// What a project's namespace tells someone outside the project, through the real kubectl (kube-apiserver, then the
// hub's API server) and straight to the hub's port: nothing. A named data service or Operation there is a 404
// with the body of one that does not exist, whether it exists or not, and in a namespace that does not exist at
// all; lists, watches and creates are the 403 RBAC gives in any namespace one has no role in, existing or not. A
// member with too small a role still gets 403, cluster admins see everything, and the outsider's refused requests
// are no part of the project's OperationLog.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { waitFor } from '../../lib/wait.ts';
import { uniqueName } from '../env.ts';
import { asUser, closeAgents, describeHub, direct, frontProxyCert, kubectlAs, kubectlOkAs, userKubeconfig } from '../hub.ts';

const json = (o: unknown) => JSON.stringify(o);
const GV = '/apis/upm.io/v1alpha1';
const NAMED = ['mysqlservices', 'redisservices', 'redisclusterservices', 'kafkaservices', 'zookeeperservices', 'elasticsearchservices', 'operations'];

describeHub('a project namespace seen from outside the project', () => {
  const project = uniqueName('nf');
  const elsewhere = uniqueName('nfo');
  const nowhere = uniqueName('nfx');
  const suffix = uniqueName('u').slice(2);
  const outsider = `out-${suffix}`;
  const viewer = `view-${suffix}`;
  const kc: Record<string, string> = {};
  const admin = (args: string[], input?: string) => kubectlOkAs(undefined, args, input);
  const as = (u: string, args: string[], input?: string) => kubectlAs(kc[u], args, input);
  const service = (ns: string, name: string) => json({ apiVersion: 'upm.io/v1alpha1', kind: 'MysqlService', metadata: { name, namespace: ns }, spec: { version: '8.0', placement: { cluster: 'member1' } } });

  beforeAll(async () => {
    kc[outsider] = await userKubeconfig(outsider);
    kc[viewer] = await userKubeconfig(viewer);
    await admin(['create', '-f', '-'], json({ apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: project }, spec: { members: [{ name: viewer, role: 'viewer' }] } }));
    // The outsider has a project of their own: a member of some project, not of this one.
    await kubectlOkAs(kc[outsider], ['create', '-f', '-'], json({ apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: elsewhere } }));
    await waitFor('the viewer bound', async () => (await as(viewer, ['auth', 'can-i', 'list', 'mysqlservices.upm.io', '-n', project])).stdout.trim() === 'yes', { timeoutMs: 30_000, intervalMs: 250 });
    await admin(['create', '-f', '-'], service(project, 'db'));
    await admin(['create', '-f', '-'], json({ apiVersion: 'upm.io/v1alpha1', kind: 'Operation', metadata: { name: 'restart', namespace: project }, spec: { type: 'Restart', target: { kind: 'MysqlService', name: 'db' } } }));
  }, 120_000);

  afterAll(async () => {
    await kubectlAs(undefined, ['delete', 'project', project, elsewhere, '--wait=false', '--ignore-not-found']);
    await closeAgents();
  });

  it('answers NotFound to an outsider for a named object, existing or not, in the project or in no namespace at all', async () => {
    const notFound = (plural: string, name: string) => `Error from server (NotFound): ${plural}.upm.io "${name}" not found`;
    for (const [ns, name] of [[project, 'db'], [project, 'missing'], [nowhere, 'db']] as const) {
      expect((await as(outsider, ['get', 'mysqlservice', name, '-n', ns])).stderr.trim()).toBe(notFound('mysqlservices', name));
      expect((await as(outsider, ['delete', 'mysqlservice', name, '-n', ns])).stderr.trim()).toBe(notFound('mysqlservices', name));
      expect((await as(outsider, ['patch', 'mysqlservice', name, '-n', ns, '--type', 'merge', '-p', '{"spec":{"version":"8.4"}}'])).stderr.trim()).toBe(notFound('mysqlservices', name));
      const replaced = await as(outsider, ['replace', '-f', '-'], service(ns, name));
      expect(replaced.stderr).toContain('Error from server (NotFound)');
      expect(replaced.stderr).toContain(`mysqlservices.upm.io "${name}" not found`);
      expect((await as(outsider, ['patch', 'mysqlservice', name, '-n', ns, '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"phase":"Ready"}}'])).stderr.trim()).toBe(notFound('mysqlservices', name));
      expect((await as(outsider, ['get', '--raw', `${GV}/namespaces/${ns}/mysqlservices/${name}/status`])).stderr.trim()).toBe(notFound('mysqlservices', name));
    }
    for (const plural of NAMED) {
      const name = plural === 'operations' ? 'restart' : 'db';
      expect((await as(outsider, ['get', plural, name, '-n', project])).stderr.trim()).toBe(notFound(plural, name));
      expect((await as(outsider, ['delete', plural, name, '-n', project])).stderr.trim()).toBe(notFound(plural, name));
    }
    // Nothing was touched: the admin still sees both objects as they were.
    expect(await admin(['get', 'mysqlservice', 'db', '-n', project, '-o', 'jsonpath={.spec.version}'])).toBe('8.0');
    expect(await admin(['get', 'operation', 'restart', '-n', project, '-o', 'name'])).toBe('operation.upm.io/restart\n');
  });

  it('sends the same body for an object that exists and one that does not, as the front proxy would ask', async () => {
    const fp = await frontProxyCert();
    const headers = asUser(outsider, ['system:authenticated']);
    for (const plural of NAMED) {
      const existing = plural === 'operations' ? 'restart' : 'db';
      const there = await direct('GET', `${GV}/namespaces/${project}/${plural}/${existing}`, { cert: fp, headers });
      const absent = await direct('GET', `${GV}/namespaces/${nowhere}/${plural}/${existing}`, { cert: fp, headers });
      expect(there.status).toBe(404);
      expect(there.text).toBe(absent.text);
      expect(there.json()).toEqual({
        kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'NotFound', code: 404,
        message: `${plural}.upm.io "${existing}" not found`, details: { name: existing, group: 'upm.io', kind: plural },
      });
    }
  });

  it('answers lists, watches and creates in the project as in a namespace that does not exist: forbidden', async () => {
    const same = async (args: (ns: string) => string[], input?: (ns: string) => string) => {
      const inProject = await as(outsider, args(project), input?.(project));
      const inNowhere = await as(outsider, args(nowhere), input?.(nowhere));
      expect(inProject.stderr).toContain('(Forbidden)');
      expect(inProject.stderr.replaceAll(project, 'NS')).toBe(inNowhere.stderr.replaceAll(nowhere, 'NS'));
      expect(inProject.stdout).toBe('');
    };
    await same((ns) => ['get', 'mysqlservices', '-n', ns]);
    await same((ns) => ['get', 'operations', '-n', ns, '--field-selector', 'metadata.name=restart']);
    await same((ns) => ['get', '--raw', `${GV}/namespaces/${ns}/mysqlservices?watch=1&timeoutSeconds=1`]);
    await same(() => ['create', '-f', '-'], (ns) => service(ns, 'intruder'));
    await same((ns) => ['delete', 'mysqlservices', '--all', '-n', ns]);
  });

  it('still says forbidden to a member whose role does not allow the verb, and lets cluster admins see everything', async () => {
    expect(await kubectlOkAs(kc[viewer], ['get', 'mysqlservice', 'db', '-n', project, '-o', 'name'])).toBe('mysqlservice.upm.io/db\n');
    const del = await as(viewer, ['delete', 'mysqlservice', 'db', '-n', project]);
    expect(del.stderr).toContain(`Error from server (Forbidden): mysqlservices.upm.io "db" is forbidden: User "${viewer}" cannot delete resource "mysqlservices" in API group "upm.io" in the namespace "${project}"`);
    expect((await as(viewer, ['get', 'mysqlservice', 'missing', '-n', project])).stderr.trim()).toBe('Error from server (NotFound): mysqlservices.upm.io "missing" not found');
    expect(await admin(['get', 'mysqlservice', 'db', '-n', project, '-o', 'name'])).toBe('mysqlservice.upm.io/db\n');
    // kubectl itself looks the namespace up after a 404 and names it when it may read it (the admin may; outsiders may not).
    expect((await kubectlAs(undefined, ['get', 'mysqlservice', 'db', '-n', nowhere])).stderr.trim()).toBe(`Error from server (NotFound): namespaces "${nowhere}" not found`);
  });

  it("keeps the outsider's refused requests out of the project's OperationLog, and records the member's", async () => {
    const logs = async () => (JSON.parse(await admin(['get', 'operationlogs', '-n', project, '-o', 'json'])) as { items: { spec: { user: string; verb: string; result: { code: number } } }[] }).items.map((i) => i.spec);
    await waitFor("the viewer's refused delete recorded", async () => (await logs()).some((l) => l.user === viewer && l.verb === 'delete' && l.result.code === 403), { timeoutMs: 15_000 });
    expect((await logs()).filter((l) => l.user === outsider)).toEqual([]);
  });
});
