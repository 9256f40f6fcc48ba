// Tenancy through the public API, with the real kubectl as users authenticated by client certificates: each user
// sees only the projects they belong to (others' are 404), project roles become RBAC in the project's namespace
// (a viewer cannot create), only a project's admins change it, and OperationLogs record who did what, visible to
// the project's members only.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { waitFor } from '../../lib/wait.ts';
import { uniqueName } from '../env.ts';
import { closeAgents, describeHub, kubectlAs, kubectlOkAs, kubectlStream, userKubeconfig } from '../hub.ts';

const yaml = (o: unknown) => JSON.stringify(o);

describeHub('projects, roles and OperationLogs for two users', () => {
  const suffix = uniqueName('t').slice(2);
  const [alice, bob, carol, dave] = ['alice', 'bob', 'carol', 'dave'].map((u) => `${u}-${suffix}`) as [string, string, string, string];
  const team = `${suffix}-devs`;
  const pa = uniqueName('pa');
  const pb = uniqueName('pb');
  const cluster = uniqueName('member');
  const kc: Record<string, string> = {};
  const as = (u: string, args: string[], input?: string) => kubectlAs(kc[u], args, input);
  const ok = (u: string, args: string[], input?: string) => kubectlOkAs(kc[u], args, input);
  const admin = (args: string[], input?: string) => kubectlOkAs(undefined, args, input);
  const service = (ns: string, name: string) => yaml({ apiVersion: 'upm.io/v1alpha1', kind: 'MysqlService', metadata: { name, namespace: ns }, spec: { version: '8.0', placement: { cluster } } });
  const ready = (p: string) => waitFor(`project ${p} Ready`, async () => (await admin(['get', 'project', p, '-o', 'jsonpath={.status.phase}'])) === 'Ready', { timeoutMs: 30_000, intervalMs: 200 });

  beforeAll(async () => {
    kc[alice] = await userKubeconfig(alice);
    kc[bob] = await userKubeconfig(bob);
    kc[carol] = await userKubeconfig(carol, [team]);
    kc[dave] = await userKubeconfig(dave);
    await admin(['apply', '-f', '-'], yaml({ apiVersion: 'upm.io/v1alpha1', kind: 'Cluster', metadata: { name: cluster }, spec: {} }));
  });

  afterAll(async () => {
    await kubectlAs(undefined, ['delete', 'project', pa, pb, '--wait=false', '--ignore-not-found']);
    await kubectlAs(undefined, ['delete', 'cluster', cluster, '--wait=false', '--ignore-not-found']);
    await closeAgents();
  });

  it('makes the creator of a project its admin, and each user sees only their projects', async () => {
    expect(await ok(alice, ['create', '-f', '-'], yaml({ apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: pa }, spec: { members: [{ kind: 'Group', name: team, role: 'viewer' }] } }))).toContain('created');
    await ok(bob, ['create', '-f', '-'], yaml({ apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: pb } }));
    await ready(pa);
    await ready(pb);
    expect(await ok(alice, ['get', 'project', pa, '-o', 'jsonpath={.spec.members[?(@.role=="admin")].name}'])).toBe(alice);
    const aliceSees = await ok(alice, ['get', 'projects', '-o', 'name']);
    expect(aliceSees).toContain(`project.upm.io/${pa}`);
    expect(aliceSees).not.toContain(pb);
    const bobSees = await ok(bob, ['get', 'projects', '-o', 'name']);
    expect(bobSees).toContain(`project.upm.io/${pb}`);
    expect(bobSees).not.toContain(pa);
    // carol belongs through her group
    expect(await ok(carol, ['get', 'projects', '-o', 'name'])).toContain(pa);
    const adminSees = await admin(['get', 'projects', '-o', 'name']);
    expect(adminSees).toContain(pa);
    expect(adminSees).toContain(pb);
  });

  it("answers 404 for someone else's project, whatever the verb", async () => {
    const get = await as(dave, ['get', 'project', pa]);
    expect(get.stderr.trim()).toBe(`Error from server (NotFound): projects.upm.io "${pa}" not found`);
    expect((await as(bob, ['delete', 'project', pa])).stderr).toContain('NotFound');
    expect((await as(bob, ['patch', 'project', pa, '--type', 'merge', '-p', '{"spec":{"displayName":"mine"}}'])).stderr).toContain('NotFound');
    expect((await as(dave, ['get', 'projects', '--field-selector', `metadata.name=${pa}`, '-o', 'name'])).stdout).toBe('');
  });

  it('lets a viewer read and not create, and only admins change the project', async () => {
    await ok(alice, ['create', '-f', '-'], service(pa, 'db'));
    expect(await ok(carol, ['get', 'mysqlservices', '-n', pa, '-o', 'name'])).toBe('mysqlservice.upm.io/db\n');
    const create = await as(carol, ['create', '-f', '-'], service(pa, 'db2'));
    expect(create.stderr).toContain(`mysqlservices.upm.io is forbidden: User "${carol}" cannot create resource "mysqlservices" in API group "upm.io" in the namespace "${pa}"`);
    expect((await as(carol, ['auth', 'can-i', 'create', 'mysqlservices.upm.io', '-n', pa])).stdout.trim()).toBe('no');
    expect((await as(carol, ['auth', 'can-i', 'list', 'mysqlservices.upm.io', '-n', pa])).stdout.trim()).toBe('yes');
    expect((await as(alice, ['auth', 'can-i', 'create', 'mysqlservices.upm.io', '-n', pa])).stdout.trim()).toBe('yes');
    expect((await as(alice, ['auth', 'can-i', 'create', 'mysqlservices.upm.io', '-n', pb])).stdout.trim()).toBe('no');
    expect((await as(dave, ['get', 'mysqlservices', '-n', pa])).stderr).toContain('forbidden');
    const patch = await as(carol, ['patch', 'project', pa, '--type', 'merge', '-p', '{"spec":{"displayName":"viewer was here"}}']);
    expect(patch.stderr).toContain(`projects.upm.io "${pa}" is forbidden: User "${carol}" cannot patch resource "projects" in API group "upm.io" at the cluster scope: only the project's admins may patch it`);
    expect((await ok(alice, ['patch', 'project', pa, '--type', 'merge', '-p', '{"spec":{"displayName":"Team A"}}']))).toContain('patched');
  });

  it('authorizes a named object as RBAC does: resourceNames allow only the objects they name', async () => {
    const erin = `erin-${suffix}`;
    kc[erin] = await userKubeconfig(erin);
    await ok(alice, ['create', '-f', '-'], service(pa, 'db3'));
    await admin(['create', 'role', 'db-reader', '-n', pa, '--verb=get', '--resource=mysqlservices.upm.io', '--resource-name=db']);
    await admin(['create', 'rolebinding', 'db-reader', '-n', pa, '--role=db-reader', `--user=${erin}`]);
    // The server asks first whether erin may get every MysqlService (no), then about the one named.
    await waitFor('erin reads db', async () => (await as(erin, ['get', 'mysqlservice', 'db', '-n', pa, '-o', 'name'])).stdout === 'mysqlservice.upm.io/db\n', { timeoutMs: 15_000 });
    // erin is not a member of pa: an object her role does not name is not there for her (404), as for any outsider.
    expect((await as(erin, ['get', 'mysqlservice', 'db3', '-n', pa])).stderr.trim()).toBe('Error from server (NotFound): mysqlservices.upm.io "db3" not found');
    expect((await as(erin, ['get', 'mysqlservices', '-n', pa])).stderr).toContain('forbidden');
    // and one who may get them all gets any name
    expect(await ok(alice, ['get', 'mysqlservice', 'db3', '-n', pa, '-o', 'name'])).toBe('mysqlservice.upm.io/db3\n');
  });

  it('follows membership in watches: a project appears when the user is added and goes when removed', async () => {
    const w = kubectlStream(kc[dave], ['get', 'projects', '-w', '--output-watch-events']);
    try {
      await new Promise((r) => setTimeout(r, 1000));
      await ok(bob, ['patch', 'project', pb, '--type', 'json', '-p', yaml([{ op: 'add', path: '/spec/members/-', value: { name: dave, role: 'editor' } }])]);
      await waitFor('ADDED for dave', () => new RegExp(`ADDED\\s+${pb}\\s`).test(w.output()), { timeoutMs: 15_000 });
      await ready(pb);
      await waitFor('dave can create in pb', async () => (await as(dave, ['auth', 'can-i', 'create', 'mysqlservices.upm.io', '-n', pb])).stdout.trim() === 'yes', { timeoutMs: 15_000 });
      await ok(dave, ['create', '-f', '-'], service(pb, 'cache'));
      await ok(bob, ['patch', 'project', pb, '--type', 'merge', '-p', yaml({ spec: { members: [{ name: bob, role: 'admin' }] } })]);
      await waitFor('DELETED for dave', () => new RegExp(`DELETED\\s+${pb}\\s`).test(w.output()), { timeoutMs: 15_000 });
      expect(w.output()).not.toContain(pa);
    } finally {
      await w.stop();
    }
    expect((await as(dave, ['get', 'project', pb])).stderr).toContain('NotFound');
  });

  it('records who did what in OperationLogs, visible to the project members only', async () => {
    const logsOf = async (u: string | undefined, ns: string) => {
      const out = u ? await ok(u, ['get', 'operationlogs', '-n', ns, '-o', 'json']) : await admin(['get', 'operationlogs', '-n', ns, '-o', 'json']);
      return (JSON.parse(out) as { items: { spec: { user: string; verb: string; resource: string; name?: string; project?: string; result: { code: number } } }[] }).items.map((i) => i.spec);
    };
    await waitFor('logs of pa', async () => {
      const logs = await logsOf(alice, pa);
      // carol's create was refused by kube-apiserver's RBAC before it reached us: kube-apiserver's audit has it
      return logs.some((l) => l.user === alice && l.verb === 'create' && l.resource === 'mysqlservices' && l.name === 'db' && l.result.code === 201);
    }, { timeoutMs: 15_000 });
    // project-level records (cluster-scoped) live in upm-system; members see their project's only
    const projectLogs = (await logsOf(alice, 'upm-system')).filter((l) => l.resource === 'projects');
    expect(projectLogs.some((l) => l.project === pa && l.user === alice && l.verb === 'create')).toBe(true);
    expect(projectLogs.some((l) => l.user === carol && l.verb === 'patch' && l.result.code === 403)).toBe(true);
    expect(projectLogs.every((l) => l.project === pa)).toBe(true);
    const bobs = await logsOf(bob, pb);
    expect(bobs.some((l) => l.user === dave && l.name === 'cache')).toBe(true);
    expect((await logsOf(bob, pa)).length).toBe(0);
    const all = JSON.parse(await ok(carol, ['get', 'operationlogs', '-A', '-o', 'json'])) as { items: { spec: { project?: string } }[] };
    expect(all.items.length).toBeGreaterThan(0);
    expect(all.items.every((i) => i.spec.project === pa)).toBe(true);
    // read-only: nobody writes a log through the API
    const forge = await as(alice, ['create', '-n', pa, '-f', '-'], yaml({ apiVersion: 'upm.io/v1alpha1', kind: 'OperationLog', metadata: { name: 'forged' }, spec: { user: 'x', verb: 'x', resource: 'x', time: '2026-01-01T00:00:00Z', result: { code: 200 } } }));
    expect(forge.code).not.toBe(0);
    expect((await as(alice, ['get', 'oplog', 'forged', '-n', pa])).stderr).toContain('NotFound');
  });

  it("sees their own User and not others'", async () => {
    await admin(['apply', '-f', '-'], [alice, bob].map((u) => yaml({ apiVersion: 'upm.io/v1alpha1', kind: 'User', metadata: { name: u }, spec: { username: u, displayName: u.toUpperCase() } })).join('\n'));
    expect(await ok(alice, ['get', 'users', '-o', 'name'])).toBe(`user.upm.io/${alice}\n`);
    expect((await as(alice, ['get', 'user', bob])).stderr).toContain('NotFound');
    const dup = await kubectlAs(undefined, ['create', '-f', '-'], yaml({ apiVersion: 'upm.io/v1alpha1', kind: 'User', metadata: { name: `${alice}-2` }, spec: { username: alice } }));
    expect(dup.stderr).toContain(`spec.username: Duplicate value: "${alice}"`);
    await kubectlAs(undefined, ['delete', 'users', alice, bob]);
  });
});
