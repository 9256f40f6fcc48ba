// The Kustomize layouts the README gives for installing the operators into a member cluster: each builds, and the
// real API server accepts every object in it (server-side dry run, after the CRDs it needs are established).
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { kubectl, kubectlOk } from '../kubectl.ts';
import { installEngine } from '../unit-operator.ts';

const CLUSTER = 'member2';
const root = join(import.meta.dirname, '..', '..');

describe('install with Kustomize', () => {
  beforeAll(async () => { await installEngine(CLUSTER); });

  it.each(['config/unit-operator', 'config/compose-operator'])('%s is accepted by the API server', async (dir) => {
    const built = await kubectlOk(CLUSTER, ['kustomize', join(root, dir)]);
    const kinds = [...built.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]);
    expect(kinds).toEqual(expect.arrayContaining(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Deployment']));
    const r = await kubectl(CLUSTER, ['apply', '--server-side', '--dry-run=server', '-k', join(root, dir)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/deployment\.apps\/upm-\w+-operator serverside-applied \(server dry run\)/);
  });

  it("grants the Compose Operator's service account what its kinds do, and no more than that on pods", async () => {
    await kubectlOk(CLUSTER, ['apply', '--server-side', '-f', join(root, 'config', 'compose-operator', 'rbac.yaml')]);
    const can = async (verb: string, resource: string) =>
      (await kubectl(CLUSTER, ['auth', 'can-i', verb, resource, '--as=system:serviceaccount:upm-system:upm-compose-operator'])).stdout.trim();
    const needed: [string, string][] = [
      ['list', 'enginetemplates.unit.upm.io'], ['watch', 'enginetemplates.unit.upm.io'], ['watch', 'units.unit.upm.io'],
      ['create', 'unitsets.unit.upm.io'], ['patch', 'unitsets.unit.upm.io'], ['delete', 'unitsets.unit.upm.io'],
      ['create', 'secrets'], ['get', 'configmaps'], ['patch', 'pods'], ['create', 'services'],
      ['patch', 'zookeeperensembles.compose.upm.io/status'], ['patch', 'kafkaclusters.compose.upm.io/status'], ['patch', 'elasticsearchclusters.compose.upm.io/status'],
    ];
    for (const [verb, resource] of needed) expect(`${verb} ${resource}: ${await can(verb, resource)}`).toBe(`${verb} ${resource}: yes`);
    for (const verb of ['create', 'delete']) expect(`${verb} pods: ${await can(verb, 'pods')}`).toBe(`${verb} pods: no`);
  });
});
