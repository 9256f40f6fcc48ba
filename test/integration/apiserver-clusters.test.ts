// Member clusters through the public API, with the real kubectl against the real management cluster and the real
// member clusters: the local system registers member1 and member2 as an administrator would (an identity on the
// member that may impersonate, its kubeconfig in a Secret, a Cluster naming it); the hub reports their health from
// its watch of their API servers' identity Leases, names the field when the credentials are missing, unusable or
// refused, and asks a member nothing at steady state beyond its watches; it follows what each member offers (zones,
// node groups, storage classes) into the Cluster's status, which service placement is checked against; clusters/proxy forwards any request, watches included, to the member
// as the caller, so the member's RBAC decides, after the hub's own RBAC allowed the caller the proxy.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { parse, stringify } from 'yaml';
import { freePort } from '../../hack/local/ports.ts';
import { waitFor } from '../../lib/wait.ts';
import { testState, uniqueName } from '../env.ts';
import { asUser, closeAgents, describeHub, direct, frontProxyCert, hubState, kubectlAs, kubectlOkAs, kubectlStream, useProject, userKubeconfig } from '../hub.ts';
import { kubectl, kubectlOk } from '../kubectl.ts';

const k = (args: string[], input?: string) => kubectlAs(undefined, args, input);
const ok = (args: string[], input?: string) => kubectlOkAs(undefined, args, input);
const json = <T>(s: string) => JSON.parse(s) as T;
const GV = '/apis/upm.io/v1alpha1';
const proxyPath = (cluster: string, path = '') => `${GV}/clusters/${cluster}/proxy${path}`;

interface ClusterObj {
  spec: { credentials?: { secretName: string }; zones?: string[]; region?: string; nodeGroups?: { name: string; zone?: string }[]; storageClasses?: { name: string; default?: boolean }[] };
  status?: {
    phase?: string; kubernetesVersion?: string; nodes?: number; lastHeartbeatTime?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[];
    region?: string; zones?: string[]; nodeGroups?: { name: string; zones?: string[]; nodeSelector?: Record<string, string>; nodes?: number }[];
    storageClasses?: { name: string; provisioner?: string; default?: boolean; allowVolumeExpansion?: boolean; volumeBindingMode?: string }[];
  };
}
// How long a Cluster's Ready condition may take to follow a change (a heartbeat or two); tests that wait for it
// several times get a jest timeout of their sum.
const READY_MS = 45_000;
const ready = (c: ClusterObj) => c.status?.conditions?.find((x) => x.type === 'Ready');
const getCluster = async (name: string) => json<ClusterObj>(await ok(['get', 'cluster', name, '-o', 'json']));
const waitReady = (name: string, status: string, reason: string) => waitFor(`cluster ${name} Ready=${status} (${reason})`, async () => {
  const r = ready(await getCluster(name));
  return r?.status === status && r.reason === reason;
}, { timeoutMs: READY_MS, intervalMs: 300 });

// How often a member's API server renews its identity Lease (the hub hears it through its watch), the window of the
// steady-state test, and how many spec changes it makes.
const LEASE_RENEW_MS = 10_000;
const STEADY_MS = 2.5 * LEASE_RENEW_MS;
const SPEC_CHANGES = 15;
// A change on a member reaches its Cluster's status through a watch event: seconds, not an inventory period.
const INVENTORY_MS = 15_000;

/** A member's kube-apiserver's own request counters (apiserver_request_total), summed by verb and resource or path. */
async function memberRequests(member: string): Promise<Record<string, number>> {
  const text = await kubectlOk(member, ['get', '--raw', '/metrics']);
  const out: Record<string, number> = {};
  for (const l of text.split('\n')) {
    if (!l.startsWith('apiserver_request_total{')) continue;
    const label = (k: string) => new RegExp(`[{,]${k}="([^"]*)"`).exec(l)?.[1] ?? '';
    const key = `${label('verb')} ${label('resource') || label('subresource')}`;
    out[key] = (out[key] ?? 0) + Number(l.split(' ').at(-1));
  }
  return out;
}

describeHub('member clusters: registration, heartbeat and clusters/proxy', () => {
  const suffix = uniqueName('x').slice(2);
  const ns = `px-${suffix}`;
  const team = `px-team-${suffix}`;
  const [pia, nina, gil] = ['pia', 'nina', 'gil'].map((u) => `${u}-${suffix}`) as [string, string, string];
  const kc: Record<string, string> = {};
  const extra: string[] = [];
  const mgmt = () => testState().clusters.mgmt?.server ?? '';
  const project = useProject('inv');
  const fixedClass = `fixed-${suffix}`;

  beforeAll(async () => {
    kc[pia] = await userKubeconfig(pia, [team]);
    kc[nina] = await userKubeconfig(nina);
    kc[gil] = await userKubeconfig(gil);
    await kubectlOk('member1', ['create', 'namespace', ns]);
    await kubectlOk('member1', ['create', 'configmap', 'settings', '-n', ns, '--from-literal=color=blue']);
    // pia may use the proxy (the ClusterRole shipped for it); gil only GET on member1.
    await ok(['create', 'clusterrolebinding', `proxy-${pia}`, '--clusterrole=upm-cluster-proxy', `--user=${pia}`]);
    await ok(['create', 'clusterrole', `proxy-get-${gil}`, '--verb=get', '--resource=clusters.upm.io/proxy', '--resource-name=member1']);
    await ok(['create', 'clusterrolebinding', `proxy-get-${gil}`, `--clusterrole=proxy-get-${gil}`, `--user=${gil}`]);
  });

  afterAll(async () => {
    await kubectl('member2', ['delete', 'storageclass', fixedClass, '--ignore-not-found']);
    await k(['patch', 'cluster', 'member2', '--type', 'json', '-p', '[{"op":"remove","path":"/spec/zones"}]']);
    await kubectl('member1', ['delete', 'namespace', ns, '--wait=false']);
    await k(['delete', 'clusterrolebinding', `proxy-${pia}`, `proxy-get-${gil}`, '--ignore-not-found']);
    await k(['delete', 'clusterrole', `proxy-get-${gil}`, '--ignore-not-found']);
    for (const c of extra) {
      await k(['delete', 'cluster', c, '--ignore-not-found', '--wait=false']);
      await k(['delete', 'secret', `${c}-kubeconfig`, '-n', 'upm-system', '--ignore-not-found']);
    }
    await closeAgents();
  });

  it('registers the members with their credentials only, Ready from the watch of their API servers', async () => {
    expect(hubState().members).toEqual(['member1', 'member2']);
    for (const m of hubState().members) await waitReady(m, 'True', 'Healthy');
    const c = await getCluster('member1');
    expect(c.spec).toEqual({ description: 'local member cluster member1', credentials: { secretName: 'member1-kubeconfig', key: 'kubeconfig' } });
    expect(c.status).toMatchObject({ phase: 'Ready', nodes: 3, kubernetesVersion: expect.stringMatching(/^v1\.\d+\.\d+/) });
    expect(Date.now() - Date.parse(c.status?.lastHeartbeatTime ?? '')).toBeLessThan(120_000);
    expect(ready(c)?.message).toMatch(/^the member's API server is heard through the hub's watch \(v1\.\d+\.\d+, 3 nodes\)$/);
    // The credentials stay in the Secret: the Cluster only names it.
    expect(await ok(['get', 'cluster', 'member1', '-o', 'yaml'])).not.toMatch(/token|certificate-authority/);
    const table = await ok(['get', 'clusters', 'member1', 'member2']);
    expect(table.split('\n')[0]).toMatch(/^NAME\s+REGION\s+READY\s+VERSION\s+NODES\s+AGE$/);
    expect(table).toMatch(/member1\s+local\s+True\s+v1\.\d+\.\d+\s+3\s/);
    expect((await ok(['get', 'clusters', 'member1', '-o', 'wide'])).split('\n')[0]).toMatch(/HEARTBEAT\s+ZONES\s+NODE GROUPS\s+STORAGE CLASSES\s+AGE$/);
    expect(await ok(['describe', 'cluster', 'member2'])).toMatch(/Normal\s+ClusterReady\s+.*the member's API server is heard through the hub's watch/);
  }, 2 * READY_MS + 60_000);

  it('names the field when the credentials are missing, unusable or refused, and recovers when they are fixed', async () => {
    const name = uniqueName('mc');
    extra.push(name);
    const secret = `${name}-kubeconfig`;
    const good = parse(Buffer.from(await ok(['get', 'secret', 'member2-kubeconfig', '-n', 'upm-system', '-o', 'jsonpath={.data.kubeconfig}']), 'base64').toString()) as {
      clusters: { cluster: { server: string } }[]; users: { user: { token: string } }[];
    };
    const putSecret = (data: Record<string, string>) => ok(['apply', '--server-side', '--force-conflicts', '-f', '-'], JSON.stringify({
      apiVersion: 'v1', kind: 'Secret', metadata: { name: secret, namespace: 'upm-system' }, type: 'Opaque',
      data: Object.fromEntries(Object.entries(data).map(([key, v]) => [key, Buffer.from(v).toString('base64')])),
    }));
    const variant = (f: (c: typeof good) => void) => { const c = structuredClone(good); f(c); return stringify(c); };

    await ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'Cluster', metadata: { name }, spec: { region: 'local', credentials: { secretName: secret } } }));
    await waitReady(name, 'Unknown', 'CredentialsNotFound');
    expect(ready(await getCluster(name))?.message).toBe(`spec.credentials.secretName: Secret upm-system/${secret} not found`);

    await putSecret({ config: 'not here' });
    await waitReady(name, 'Unknown', 'CredentialsInvalid');
    expect(ready(await getCluster(name))?.message).toBe(`spec.credentials.key: Secret upm-system/${secret} has no key "kubeconfig"`);

    const closed = await freePort();
    await putSecret({ kubeconfig: variant((c) => { (c.clusters[0] as { cluster: { server: string } }).cluster.server = `https://127.0.0.1:${closed}`; }) });
    await waitReady(name, 'Unknown', 'Unreachable');
    expect(ready(await getCluster(name))?.message).toContain('ECONNREFUSED');

    await putSecret({ kubeconfig: variant((c) => { (c.users[0] as { user: { token: string } }).user.token = 'not-a-token'; }) });
    await waitReady(name, 'Unknown', 'CredentialsRejected');
    expect(ready(await getCluster(name))?.message).toBe(`spec.credentials.secretName: the member refused the kubeconfig in Secret upm-system/${secret}: 401 Unauthorized on the watch of its identity Leases (kube-system)`);

    await putSecret({ kubeconfig: stringify(good) });
    await waitReady(name, 'True', 'Healthy');
    const events = await ok(['describe', 'cluster', name]);
    for (const reason of ['CredentialsNotFound', 'CredentialsInvalid', 'Unreachable', 'CredentialsRejected', 'ClusterReady']) expect(events).toContain(reason);
    // It watches member2 too: gone before the next test counts the requests member2 answers.
    await ok(['delete', 'cluster', name]);
  }, 5 * READY_MS + 60_000);

  it('asks a member nothing at steady state beyond its watches, whatever happens to its Cluster', async () => {
    await waitReady('member2', 'True', 'Healthy');
    // What the hub used to ask every 10 s, and what it would ask if its watches were relisting. The member's counters
    // cannot tell who asked, and do not count /version: Leases and Nodes are left out, which its controller manager
    // and KWOK list again whenever their watches of those busy kinds restart (the fan-out bench counts the hub's own
    // requests, by user, from the members' audit logs).
    const asked = (r: Record<string, number>) => ['GET /readyz', 'LIST storageclasses'].map((k) => `${k}: ${r[k] ?? 0}`);
    const before = await memberRequests('member2');
    const started = Date.now();
    // Spec changes (a new generation each) do not change the member's health: nothing is asked of it for them.
    for (let i = 0; i < SPEC_CHANGES; i++) await ok(['patch', 'cluster', 'member2', '--type', 'merge', '-p', JSON.stringify({ spec: { description: `change ${i}` } })]);
    await new Promise((r) => setTimeout(r, Math.max(0, STEADY_MS - (Date.now() - started))));
    const after = await memberRequests('member2');
    expect(asked(after)).toEqual(asked(before));
    // ...while the hub keeps hearing it: its Leases' watch is open there, and the Cluster stays Ready, its heartbeat
    // recorded at least once a report period (60 s).
    const watching = (await kubectlOk('member2', ['get', '--raw', '/metrics'])).split('\n')
      .filter((l) => l.startsWith('apiserver_longrunning_requests{') && l.includes('resource="leases"') && l.includes('verb="WATCH"') && l.includes('scope="namespace"'));
    expect(watching.reduce((n, l) => n + Number(l.split(' ').at(-1)), 0)).toBeGreaterThanOrEqual(1);
    const c = json<{ status: { phase: string; observedGeneration: number; lastHeartbeatTime: string }; metadata: { generation: number } }>(await ok(['get', 'cluster', 'member2', '-o', 'json']));
    expect(c.status).toMatchObject({ phase: 'Ready', observedGeneration: c.metadata.generation });
    expect(Date.now() - Date.parse(c.status.lastHeartbeatTime)).toBeLessThan(60_000 + 2 * LEASE_RENEW_MS + 5000);
  }, READY_MS + STEADY_MS + 60_000);

  it("forwards any request to the member's API, the member's answers (errors included) as they are, and never redirects", async () => {
    const got = json<{ metadata: { name: string } }>(await ok(['get', '--raw', proxyPath('member1', `/api/v1/namespaces/${ns}`)]));
    expect(got.metadata.name).toBe(ns);
    // member2 has no such namespace: its own 404 comes back
    const other = await k(['get', '--raw', proxyPath('member2', `/api/v1/namespaces/${ns}`)]);
    expect(other.stderr).toContain(`Error from server (NotFound): namespaces "${ns}" not found`);
    // the member's root, not a redirect to /proxy/
    const root = json<{ paths: string[] }>(await ok(['get', '--raw', proxyPath('member1')]));
    expect(root.paths).toContain('/api/v1');
    // kubectl itself as a client of the member, through the hub: discovery, get, create, delete
    const viaHub = ['--server', `${mgmt()}${proxyPath('member1')}`];
    expect(await ok([...viaHub, 'get', 'configmap', 'settings', '-n', ns, '-o', 'jsonpath={.data.color}'])).toBe('blue');
    await ok([...viaHub, 'create', 'configmap', 'made-through-hub', '-n', ns, '--from-literal=a=b']);
    expect(await kubectlOk('member1', ['get', 'configmap', 'made-through-hub', '-n', ns, '-o', 'jsonpath={.data.a}'])).toBe('b');
    await ok([...viaHub, 'delete', 'configmap', 'made-through-hub', '-n', ns]);
  });

  it('streams watches through the proxy as events happen', async () => {
    const w = kubectlStream(undefined, ['--server', `${mgmt()}${proxyPath('member1')}`, 'get', 'configmaps', '-n', ns, '-w', '--output-watch-events']);
    try {
      await waitFor('the watch lists', () => w.output().includes('settings'), { timeoutMs: 20_000 });
      await kubectlOk('member1', ['create', 'configmap', 'watched', '-n', ns]);
      await waitFor('ADDED through the proxy', () => /ADDED\s+watched\s/.test(w.output()), { timeoutMs: 10_000 });
      await kubectlOk('member1', ['delete', 'configmap', 'watched', '-n', ns]);
      await waitFor('DELETED through the proxy', () => /DELETED\s+watched\s/.test(w.output()), { timeoutMs: 10_000 });
    } finally {
      await w.stop();
    }
    const started = Date.now();
    const raw = await ok(['get', '--raw', proxyPath('member1', `/api/v1/namespaces/${ns}/configmaps?watch=1&timeoutSeconds=2`)]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(raw.trim().split('\n').map((l) => json<{ type: string }>(l).type)).toContain('ADDED');
  });

  it("lets the member's RBAC decide: allowed by the hub, refused by the member until a RoleBinding there grants", async () => {
    const cms = proxyPath('member1', `/api/v1/namespaces/${ns}/configmaps`);
    const refused = await kubectlAs(kc[pia], ['get', '--raw', cms]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`configmaps is forbidden: User "${pia}" cannot list resource "configmaps" in API group "" in the namespace "${ns}"`);
    // Bound on the member to pia's group: the groups travel too.
    await kubectlOk('member1', ['create', 'rolebinding', 'team-view', '--clusterrole=view', `--group=${team}`, '-n', ns]);
    await waitFor('pia reads through the proxy', async () => (await kubectlAs(kc[pia], ['get', '--raw', cms])).code === 0, { timeoutMs: 15_000 });
    const list = json<{ items: { metadata: { name: string } }[] }>(await kubectlOkAs(kc[pia], ['get', '--raw', cms]));
    expect(list.items.map((i) => i.metadata.name)).toContain('settings');
    // Who the member thinks the caller is: pia, her group and system:authenticated, her extras.
    const who = json<{ status: { userInfo: { username: string; groups: string[]; extra?: Record<string, string[]> } } }>(
      await kubectlOkAs(kc[pia], ['--server', `${mgmt()}${proxyPath('member1')}`, 'auth', 'whoami', '-o', 'json']));
    expect(who.status.userInfo.username).toBe(pia);
    expect(who.status.userInfo.groups).toEqual(expect.arrayContaining([team, 'system:authenticated']));
    expect(Object.keys(who.status.userInfo.extra ?? {})).toContain('authentication.kubernetes.io/credential-id');
    // Impersonation headers of the caller's own never pass: straight to the extension server as the front proxy.
    const forged = await direct('POST', proxyPath('member1', '/apis/authentication.k8s.io/v1/selfsubjectreviews'), {
      cert: await frontProxyCert(),
      headers: { ...asUser(pia, [team]), 'impersonate-user': 'system:admin', 'impersonate-group': 'system:masters', 'content-type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }),
    });
    expect(forged.status).toBe(201);
    expect((forged.json().status as { userInfo: { username: string; groups: string[] } }).userInfo).toMatchObject({ username: pia, groups: [team, 'system:authenticated'] });
  });

  it('answers 403 from the hub to whom the hub does not allow the proxy, by the verb of the HTTP method and by cluster', async () => {
    const path = proxyPath('member1', '/api/v1/namespaces');
    const denied = await kubectlAs(kc[nina], ['get', '--raw', path]);
    expect(denied.stderr).toContain(`clusters.upm.io "member1" is forbidden: User "${nina}" cannot get resource "clusters/proxy" in API group "upm.io" at the cluster scope`);
    // Our own SubjectAccessReview says the same to a request that reaches the extension server directly.
    const direct403 = await direct('GET', path, { cert: await frontProxyCert(), headers: asUser(nina) });
    expect(direct403.status).toBe(403);
    expect(direct403.json().message).toContain(`User "${nina}" cannot get resource "clusters/proxy" in API group "upm.io" at the cluster scope`);
    // gil: GET on member1 only. The member answers him (its own 403: he has no RBAC there) ...
    expect((await kubectlAs(kc[gil], ['get', '--raw', path])).stderr).toContain(`namespaces is forbidden: User "${gil}" cannot list resource "namespaces"`);
    // ... but the hub refuses him member2, and POST (create) on member1.
    expect((await kubectlAs(kc[gil], ['get', '--raw', proxyPath('member2', '/api/v1/namespaces')])).stderr).toContain(`clusters.upm.io "member2" is forbidden: User "${gil}" cannot get resource "clusters/proxy"`);
    const post = await kubectlAs(kc[gil], ['--server', `${mgmt()}${proxyPath('member1')}`, 'create', 'configmap', 'by-gil', '-n', ns]);
    expect(post.stderr).toContain(`clusters.upm.io "member1" is forbidden: User "${gil}" cannot create resource "clusters/proxy" in API group "upm.io" at the cluster scope`);
    expect((await kubectl('member1', ['get', 'configmap', 'by-gil', '-n', ns])).code).not.toBe(0);
  });

  it("reads each member's zones, node groups and storage classes into its status, and follows a change", async () => {
    // What member1's own API says it has.
    const nodes = json<{ items: { metadata: { labels: Record<string, string> } }[] }>(await kubectlOk('member1', ['get', 'nodes', '-o', 'json'])).items;
    const zones = [...new Set(nodes.map((n) => n.metadata.labels['topology.kubernetes.io/zone']))].sort();
    expect(zones).toEqual(['zone-a', 'zone-b', 'zone-c']);
    const c = await getCluster('member1');
    expect(c.spec.zones).toBeUndefined(); // nobody wrote it: the hub read it
    expect(c.status).toMatchObject({ region: 'local', zones });
    expect(c.status?.nodeGroups).toEqual(zones.map((z) => ({ name: z, zones: [z], nodeSelector: { 'topology.kubernetes.io/zone': z }, nodes: nodes.filter((n) => n.metadata.labels['topology.kubernetes.io/zone'] === z).length })));
    expect(c.status?.storageClasses).toContainEqual({ name: 'kwok-volume', provisioner: 'kwok.x-k8s.io/volume', default: true, allowVolumeExpansion: true, volumeBindingMode: 'Immediate' });
    const wide = (await ok(['get', 'cluster', 'member1', '-o', 'wide'])).split('\n')[1] ?? '';
    expect(wide).toMatch(/\szone-a,zone-b,zone-c\s+zone-a,zone-b,zone-c\s+(\S+,)?kwok-volume[,\s]/);

    // A StorageClass made on the member appears in its Cluster's status, with its expansion support.
    await kubectlOk('member2', ['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: fixedClass },
      provisioner: 'upm.test/fixed', volumeBindingMode: 'WaitForFirstConsumer', allowVolumeExpansion: false,
    }));
    await waitFor(`${fixedClass} in the status of member2`, async () => !!(await getCluster('member2')).status?.storageClasses?.some((x) => x.name === fixedClass),
      { timeoutMs: INVENTORY_MS, intervalMs: 500 });
    expect((await getCluster('member2')).status?.storageClasses).toContainEqual({ name: fixedClass, provisioner: 'upm.test/fixed', default: false, allowVolumeExpansion: false, volumeBindingMode: 'WaitForFirstConsumer' });
  }, INVENTORY_MS + 60_000);

  it('places services by what was read: a zone the member lacks is 422 naming spec.placement.zones, a class that cannot grow keeps its size', async () => {
    const mysql = (name: string, spec: Record<string, unknown>) => JSON.stringify({
      apiVersion: 'upm.io/v1alpha1', kind: 'MysqlService', metadata: { name, namespace: project },
      spec: { version: '8.0', topology: { mode: 'async', replicas: 2 }, ...spec },
    });
    const lost = await k(['create', '-v=6', '-f', '-'], mysql('lost', { placement: { cluster: 'member1', zones: ['zone-a', 'zone-q'] } }));
    expect(lost.code).not.toBe(0);
    expect(lost.stderr).toMatch(/422 Unprocessable Entity/);
    expect(lost.stderr).toContain('spec.placement.zones[1]: Unsupported value: "zone-q": supported values: "zone-a", "zone-b", "zone-c"');
    expect((await k(['get', 'mysql', 'lost', '-n', project])).stderr).toContain('NotFound');
    expect((await ok(['create', '-f', '-'], mysql('spread', { placement: { cluster: 'member1', zones: ['zone-a', 'zone-c'], nodeGroup: 'zone-a' } }))).trim()).toBe('mysqlservice.upm.io/spread created');

    // The spec narrows what was read: an administrator keeps services out of a zone the member has.
    await ok(['patch', 'cluster', 'member2', '--type', 'merge', '-p', '{"spec":{"zones":["zone-a","zone-b"]}}']);
    await waitFor('restriction cached', async () => (await k(['create', '--dry-run=server', '-f', '-'], mysql('z', { placement: { cluster: 'member2', zones: ['zone-c'] } }))).code !== 0, { timeoutMs: 10_000 });
    const restricted = await k(['create', '-f', '-'], mysql('z', { placement: { cluster: 'member2', zones: ['zone-c'] } }));
    expect(restricted.stderr).toContain('spec.placement.zones[0]: Unsupported value: "zone-c": supported values: "zone-a", "zone-b"');

    // A class the member does not let grow: the service is placed on it, its storage may not grow.
    await waitFor(`${fixedClass} read`, async () => !!(await getCluster('member2')).status?.storageClasses?.some((x) => x.name === fixedClass), { timeoutMs: INVENTORY_MS, intervalMs: 500 });
    await ok(['create', '-f', '-'], mysql('fixed', { placement: { cluster: 'member2', zones: ['zone-b'] }, storage: { storageClassName: fixedClass, size: '10Gi' } }));
    const grow = await k(['patch', 'mysql', 'fixed', '-n', project, '--type', 'merge', '-p', '{"spec":{"storage":{"size":"20Gi"}}}']);
    expect(grow.stderr).toContain(`spec.storage.size: Forbidden: the storage class "${fixedClass}" of Cluster "member2" does not allow volume expansion`);
    expect(await ok(['get', 'mysql', 'fixed', '-n', project, '-o', 'jsonpath={.spec.storage.size}'])).toBe('10Gi');
    const other = await k(['create', '-f', '-'], mysql('elsewhere', { placement: { cluster: 'member1' }, storage: { storageClassName: fixedClass } }));
    expect(other.stderr).toMatch(new RegExp(`spec.storage.storageClassName: Unsupported value: "${fixedClass}": supported values: .*"kwok-volume"`));
  }, INVENTORY_MS + 90_000);

  it('cannot reach a cluster it has no credentials for: 503, naming the field', async () => {
    const name = uniqueName('bare');
    extra.push(name);
    await ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'Cluster', metadata: { name }, spec: { region: 'nowhere' } }));
    await waitFor('cached', async () => (await k(['get', 'cluster', name])).code === 0, { timeoutMs: 10_000 });
    const r = await direct('GET', proxyPath(name, '/version'), { cert: await frontProxyCert(), headers: asUser('upm-admin', ['system:masters']) });
    expect(r.status).toBe(503);
    expect(r.json().message).toBe(`clusters.upm.io "${name}" cannot be reached through the hub: spec.credentials: not set: the hub has no way to reach this cluster`);
    expect((await k(['get', '--raw', proxyPath('missing-cluster', '/version')])).stderr).toContain('clusters.upm.io "missing-cluster" not found');
  });

});
