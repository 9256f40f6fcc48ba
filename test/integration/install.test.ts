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
});
