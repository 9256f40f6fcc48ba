// The extension server, straight on its port as the front proxy reaches it, facing a tenant who probes it: a body
// nested deeper than any object is a 400 (never a 500 from a stack overflow), and creating a project tells a
// caller no more than that a name is not available: not that a project they cannot see holds it (dry run or not),
// nor that the management cluster has a namespace of that name.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import { waitFor } from '../../lib/wait.ts';
import { client, uniqueName } from '../env.ts';
import { asUser, describeHub, direct, frontProxyCert, MGMT, useProject, type ClientCert } from '../hub.ts';

const GV = '/apis/upm.io/v1alpha1';
const ADMIN = asUser('upm-admin', ['system:masters']);

/** `{"a":{"a":...}}` (or arrays) `depth` levels deep around `inner`. */
const nested = (depth: number, inner = '1', array = false) => (array ? '['.repeat(depth) + inner + ']'.repeat(depth) : '{"a":'.repeat(depth) + inner + '}'.repeat(depth));

describeHub('the extension server facing a probing tenant', () => {
  const project = useProject('secapi');
  const suffix = uniqueName('u').slice(2);
  const [owner, prober] = [`owner-${suffix}`, `prober-${suffix}`];
  let fp: ClientCert;
  let storage: KubeClient;
  const hiddenProject = uniqueName('hidden');
  const plainNamespace = uniqueName('infra');
  const json = (user: Record<string, string | string[]>) => ({ ...user, 'content-type': 'application/json' });
  const createProject = (user: string, name: string, dry = false) => direct('POST', `${GV}/projects${dry ? '?dryRun=All' : ''}`, {
    cert: fp, headers: json(asUser(user)), body: JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name } }),
  });

  beforeAll(async () => {
    fp = await frontProxyCert();
    storage = await client(MGMT);
    await storage.create(Resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: plainNamespace } });
    expect((await createProject(owner, hiddenProject)).status).toBe(201);
  });

  afterAll(async () => {
    await direct('DELETE', `${GV}/projects/${hiddenProject}`, { cert: fp, headers: ADMIN });
    await storage?.delete(Resources.namespaces, plainNamespace).catch(() => undefined);
    await storage?.close();
  });

  it('answers a body nested deeper than any object with 400, and stays up', async () => {
    const path = `${GV}/namespaces/${project}/mysqlservices`;
    const svc = (options: string) => `{"apiVersion":"upm.io/v1alpha1","kind":"MysqlService","metadata":{"name":"deep"},"spec":{"version":"8.0","placement":{"cluster":"member1"},"options":${options}}}`;
    for (const body of [svc(nested(100_000)), svc(`{"x":${nested(100_000, '1', true)}}`), svc(nested(200))]) {
      const r = await direct('POST', path, { cert: fp, headers: json(ADMIN), body });
      expect(r.status).toBe(400);
      expect(r.json()).toMatchObject({ kind: 'Status', reason: 'BadRequest', code: 400 });
      expect(String(r.json().message)).toContain('nested');
    }
    // A patch and a YAML body too.
    const patch = await direct('PATCH', `${path}/deep`, { cert: fp, headers: { ...ADMIN, 'content-type': 'application/merge-patch+json' }, body: `{"spec":${nested(100_000)}}` });
    expect(patch.status).toBe(400);
    const yaml = await direct('POST', path, { cert: fp, headers: { ...ADMIN, 'content-type': 'application/yaml' }, body: `apiVersion: upm.io/v1alpha1\nkind: MysqlService\nmetadata: {name: deep}\nspec: ${nested(5_000, '1', true)}\n` });
    expect(yaml.status).toBe(400);
    // An ordinary object still nests as deep as it needs.
    expect((await direct('POST', `${path}?dryRun=All`, { cert: fp, headers: json(ADMIN), body: svc('{"parameters":{"max_connections":"100"}}') })).status).toBe(201);
    expect((await direct('GET', '/healthz')).text).toBe('ok');
  });

  it("does not tell whether a project the caller cannot see holds a name, dry run or not", async () => {
    expect((await direct('GET', `${GV}/projects/${hiddenProject}`, { cert: fp, headers: asUser(prober) })).status).toBe(404);
    const answers = [];
    for (const dry of [true, false]) {
      const hidden = await createProject(prober, hiddenProject, dry);
      const namespace = await createProject(prober, plainNamespace, dry);
      for (const r of [hidden, namespace]) {
        expect(r.status).toBe(422);
        expect(r.json()).toMatchObject({ kind: 'Status', reason: 'Invalid', details: { causes: [expect.objectContaining({ field: 'metadata.name' })] } });
        expect(r.text).not.toMatch(/exist|namespace|project of|belongs/i);
      }
      // The two answers differ only by the name: a hidden project and a plain namespace look the same.
      answers.push(hidden.text.replaceAll(hiddenProject, 'NAME'), namespace.text.replaceAll(plainNamespace, 'NAME'));
    }
    expect(new Set(answers).size).toBe(1);
    // The owner, who sees the project, is told it exists, as Kubernetes says it.
    const own = await createProject(owner, hiddenProject, true);
    expect(own.status).toBe(409);
    expect(own.json()).toMatchObject({ reason: 'AlreadyExists' });
    // The prober still creates a free name.
    const free = uniqueName('free');
    expect((await createProject(prober, free, true)).status).toBe(201);
    await waitFor('nothing stored by the dry run', async () => (await direct('GET', `${GV}/projects/${free}`, { cert: fp, headers: ADMIN })).status === 404, { timeoutMs: 5_000 });
  });
});
