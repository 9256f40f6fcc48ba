// The Kustomize layout that installs the hub into a real management cluster (config/apiserver) builds, and the
// real API server accepts every object in it (server-side dry run, on a cluster without the hub).
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { kubectl, kubectlOk } from '../kubectl.ts';

const CLUSTER = 'member2';
const root = join(import.meta.dirname, '..', '..');

describe('install the hub with Kustomize', () => {
  it('config/apiserver is accepted by the API server', async () => {
    const built = await kubectlOk(CLUSTER, ['kustomize', join(root, 'config/apiserver')]);
    const kinds = [...built.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]);
    expect(kinds).toEqual(expect.arrayContaining(['CustomResourceDefinition', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'RoleBinding', 'Deployment', 'Service', 'APIService']));
    // A dry run creates no namespace: the namespaced objects need upm-system to exist (the engine layer has it too).
    await kubectlOk(CLUSTER, ['apply', '--server-side', '-f', join(root, 'config/apiserver/base/namespace.yaml')]);
    const r = await kubectl(CLUSTER, ['apply', '--server-side', '--dry-run=server', '-k', join(root, 'config/apiserver')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const o of ['apiservice.apiregistration.k8s.io/v1alpha1.upm.io', 'deployment.apps/upm-apiserver', 'deployment.apps/upm-hub-controllers', 'clusterrole.rbac.authorization.k8s.io/upm-project-viewer', 'rolebinding.rbac.authorization.k8s.io/upm-apiserver-auth-reader']) {
      expect(r.stdout).toContain(`${o} serverside-applied (server dry run)`);
    }
  });
});
