// The hub's identity on a member (config/member-access), as the local system registers member1: the member's RBAC
// answers `kubectl auth can-i` as that identity for what the hub reads and mirrors (allowed) and for everything else
// (denied), and real requests made as that identity show the admission policy holding its writes to what carries
// the hub's label, in namespaces that carry it, where RBAC cannot look at labels.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { uniqueName } from '../env.ts';
import { describeHub } from '../hub.ts';
import { kubectl, kubectlOk } from '../kubectl.ts';
import { installEngine } from '../unit-operator.ts';

const MEMBER = 'member1';
const HUB = 'system:serviceaccount:upm-system:upm-hub';
const MANAGED = { 'app.kubernetes.io/managed-by': 'upm-hub' };

const canI = async (...args: string[]) => (await kubectl(MEMBER, ['auth', 'can-i', `--as=${HUB}`, ...args])).stdout.trim();
/** kubectl on the member as the hub's identity: the member's admin impersonates it, so RBAC and admission see it. */
const asHub = (args: string[], input?: string) => kubectl(MEMBER, [`--as=${HUB}`, ...args], input);
/** What the hub's mirror does: server-side apply with its field manager. */
const hubApply = (obj: Record<string, unknown>) => asHub(['apply', '--server-side', '--field-manager=upm-hub', '-f', '-'], JSON.stringify(obj));
const secret = (name: string, namespace: string, labels: Record<string, string> = MANAGED) =>
  ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace, labels }, stringData: { password: 'not-a-real-one' } });

describeHub("the hub's identity on a member may write what it mirrors and no more", () => {
  const suffix = uniqueName('x').slice(2);
  const managed = `ma-hub-${suffix}`;
  const foreign = `ma-team-${suffix}`;

  beforeAll(async () => {
    // The unit.upm.io and compose.upm.io kinds, so kubectl resolves their names.
    await installEngine(MEMBER);
    // A namespace and a Secret the hub did not make (a team's).
    await kubectlOk(MEMBER, ['create', 'namespace', foreign]);
    await kubectlOk(MEMBER, ['create', 'secret', 'generic', 'team-db', '-n', foreign, '--from-literal=password=theirs']);
  }, 120_000);

  afterAll(async () => {
    await kubectl(MEMBER, ['delete', 'namespace', foreign, managed, '--ignore-not-found', '--wait=false']);
  }, 60_000);

  it('is allowed what the liveness and inventory watches, the proxy and the mirror need', async () => {
    const allowed: string[][] = [
      // The member's liveness: its API servers' identity Leases, watched in kube-system; its version.
      ['list', 'leases.coordination.k8s.io', '-n', 'kube-system'], ['watch', 'leases.coordination.k8s.io', '-n', 'kube-system'], ['get', '/version'],
      ['list', 'nodes'], ['watch', 'nodes'], ['list', 'storageclasses.storage.k8s.io'], ['watch', 'storageclasses.storage.k8s.io'],
      ['impersonate', 'users'], ['impersonate', 'groups'], ['impersonate', 'serviceaccounts'],
      ['create', 'namespaces'], ['patch', 'namespaces'], ['list', 'namespaces'],
      ['create', 'unitsets.unit.upm.io', '-n', managed], ['patch', 'unitsets.unit.upm.io', '-n', managed], ['delete', 'unitsets.unit.upm.io', '-n', managed],
      ['patch', 'mysqlreplications.compose.upm.io', '-n', managed], ['create', 'proxysqlsyncs.compose.upm.io', '-n', managed],
      ['create', 'redisreplications.compose.upm.io', '-n', managed], ['create', 'redisclusters.compose.upm.io', '-n', managed],
      ['create', 'zookeeperensembles.compose.upm.io', '-n', managed], ['create', 'kafkaclusters.compose.upm.io', '-n', managed],
      ['create', 'elasticsearchclusters.compose.upm.io', '-n', managed], ['watch', 'mysqlreplications.compose.upm.io', '-A'],
      ['create', 'secrets', '-n', managed], ['patch', 'secrets', '-n', managed], ['list', 'secrets', '-A'],
      ['list', 'units.unit.upm.io', '-A'], ['watch', 'services', '-A'], ['get', 'persistentvolumeclaims', '-n', managed],
    ];
    for (const a of allowed) expect(`${a.join(' ')}: ${await canI(...a)}`).toBe(`${a.join(' ')}: yes`);
  });

  it('is denied everything else: nodes, Leases elsewhere or written, pods, exec, RBAC, escalation, other workloads, updates outside apply', async () => {
    const denied: string[][] = [
      // Leases: read in kube-system only, and never written (a Lease written is a leader elected or an API server's
      // identity taken over).
      ['list', 'leases.coordination.k8s.io', '-A'], ['watch', 'leases.coordination.k8s.io', '-n', 'kube-node-lease'], ['list', 'leases.coordination.k8s.io', '-n', 'default'],
      ['update', 'leases.coordination.k8s.io', '-n', 'kube-system'], ['patch', 'leases.coordination.k8s.io', '-n', 'kube-system'],
      ['create', 'leases.coordination.k8s.io', '-n', 'kube-system'], ['delete', 'leases.coordination.k8s.io', '-n', 'kube-system'],
      ['delete', 'nodes'], ['patch', 'nodes'], ['create', 'nodes'],
      ['get', 'pods', '-n', managed], ['create', 'pods', '-n', managed], ['create', 'pods/exec', '-n', managed], ['get', 'pods', '--subresource=exec', '-n', managed],
      ['delete', 'pods', '-n', managed], ['create', 'deployments.apps', '-n', managed], ['list', 'configmaps', '-n', 'kube-system'],
      ['create', 'clusterrolebindings'], ['create', 'rolebindings', '-n', managed], ['create', 'clusterroles'],
      ['escalate', 'clusterroles'], ['bind', 'clusterroles'], ['create', 'serviceaccounts/token', '-n', 'kube-system'],
      ['update', 'secrets', '-n', managed], ['deletecollection', 'secrets', '-n', managed], ['deletecollection', 'namespaces'],
      ['delete', 'units.unit.upm.io', '-n', managed], ['patch', 'services', '-n', managed], ['delete', 'persistentvolumeclaims', '-n', managed],
      ['patch', 'storageclasses.storage.k8s.io'], ['create', 'validatingadmissionpolicies.admissionregistration.k8s.io'],
      ['delete', 'validatingadmissionpolicybindings.admissionregistration.k8s.io'], ['create', 'customresourcedefinitions.apiextensions.k8s.io'],
      ['get', '/metrics'], ['*', '*'],
    ];
    for (const d of denied) expect(`${d.join(' ')}: ${await canI(...d)}`).toBe(`${d.join(' ')}: no`);
  });

  it("refuses, at admission, the hub identity's writes to a Namespace or Secret without its label", async () => {
    // A namespace the hub did not make: it may neither label (take over) nor delete it.
    const label = await asHub(['label', 'namespace', foreign, 'upm.io/project=p']);
    expect(label.code).not.toBe(0);
    expect(label.stderr).toContain(`ValidatingAdmissionPolicy 'upm-hub-managed-only' with binding 'upm-hub-managed-only' denied request: the hub changes and deletes only what it made: Namespace ${foreign} is not labelled app.kubernetes.io/managed-by=upm-hub`);
    const takeOver = await hubApply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: foreign, labels: MANAGED } });
    expect(takeOver.stderr).toContain(`Namespace ${foreign} is not labelled app.kubernetes.io/managed-by=upm-hub`);
    expect((await asHub(['delete', 'namespace', foreign, '--wait=false'])).stderr).toContain(`Namespace ${foreign} is not labelled`);
    expect(await kubectlOk(MEMBER, ['get', 'namespace', foreign, '-o', 'jsonpath={.status.phase} {.metadata.labels}'])).toBe('Active {"kubernetes.io/metadata.name":"' + foreign + '"}');

    // Nor write Secrets there, nor in kube-system, even labelled.
    for (const ns of [foreign, 'kube-system']) {
      const r = await hubApply(secret(`hub-${suffix}`, ns));
      expect(r.stderr).toContain(`the hub writes only in namespaces labelled app.kubernetes.io/managed-by=upm-hub, not in ${ns}`);
    }
    const patch = await asHub(['patch', 'secret', 'team-db', '-n', foreign, '--type', 'merge', '-p', '{"stringData":{"password":"mine"}}']);
    expect(patch.stderr).toContain(`Secret ${foreign}/team-db is not labelled app.kubernetes.io/managed-by=upm-hub`);
    expect((await asHub(['delete', 'secret', 'team-db', '-n', foreign])).stderr).toContain(`Secret ${foreign}/team-db is not labelled`);
    expect(Buffer.from(await kubectlOk(MEMBER, ['get', 'secret', 'team-db', '-n', foreign, '-o', 'jsonpath={.data.password}']), 'base64').toString()).toBe('theirs');
  });

  it('lets the hub identity apply, change and delete what carries its label, in its namespaces', async () => {
    expect((await hubApply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: managed, labels: { ...MANAGED, 'upm.io/project': 'p' } } })).code).toBe(0);
    expect((await hubApply(secret('conn', managed))).code).toBe(0);
    expect((await hubApply({ ...secret('conn', managed), stringData: { password: 'rotated' } })).code).toBe(0);
    // Unlabelled, in its own namespace: refused on create, and a label it made may not be taken off.
    const bare = await hubApply(secret('bare', managed, {}));
    expect(bare.stderr).toContain(`metadata.labels: the hub writes only objects labelled app.kubernetes.io/managed-by=upm-hub, not Secret ${managed}/bare`);
    const strip = await asHub(['label', 'secret', 'conn', '-n', managed, 'app.kubernetes.io/managed-by-']);
    expect(strip.stderr).toContain(`not Secret ${managed}/conn`);
    // Someone else's Secret in the hub's namespace stays theirs.
    await kubectlOk(MEMBER, ['create', 'secret', 'generic', 'other', '-n', managed, '--from-literal=k=v']);
    expect((await asHub(['delete', 'secret', 'other', '-n', managed])).stderr).toContain(`Secret ${managed}/other is not labelled`);
    expect((await asHub(['delete', 'secret', 'conn', '-n', managed])).code).toBe(0);
    expect((await kubectl(MEMBER, ['get', 'secret', 'conn', '-n', managed])).stderr).toContain('NotFound');
    expect((await asHub(['delete', 'namespace', managed, '--wait=false'])).code).toBe(0);
  });
});
