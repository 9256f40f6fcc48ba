// The public API (upm.io) through the real aggregation layer, driven by the real kubectl as a cluster admin: it
// must behave as built-in resources do (discovery, explain, get/-w/describe, apply both ways, patch, delete,
// Tables, validation with causes, conflicts, watches that resume, expire and bookmark).
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { waitFor } from '../../lib/wait.ts';
import { client, uniqueName } from '../env.ts';
import { closeAgents, describeHub, direct, frontProxyCert, kubectlAs, kubectlOkAs, kubectlStream, MGMT, asUser } from '../hub.ts';
import type { KubeClient } from '../../lib/kube/client.ts';

const k = (args: string[], input?: string) => kubectlAs(undefined, args, input);
const ok = (args: string[], input?: string) => kubectlOkAs(undefined, args, input);
const yaml = (o: unknown) => JSON.stringify(o);

describeHub('upm.io through the aggregation layer, with kubectl', () => {
  const project = uniqueName('kc');
  const cluster = uniqueName('member');
  let admin: KubeClient;

  const service = (name: string, spec: Record<string, unknown> = {}) => yaml({
    apiVersion: 'upm.io/v1alpha1', kind: 'MysqlService', metadata: { name, namespace: project },
    spec: { version: '8.0', placement: { cluster }, topology: { mode: 'async', replicas: 2 }, ...spec },
  });

  beforeAll(async () => {
    admin = await client(MGMT);
    await ok(['apply', '-f', '-'], yaml({ apiVersion: 'upm.io/v1alpha1', kind: 'Cluster', metadata: { name: cluster }, spec: { region: 'local', zones: ['zone-a', 'zone-b'] } }));
    await ok(['create', '-f', '-'], yaml({ apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: project }, spec: { displayName: 'kubectl suite' } }));
    // The projects controller creates the namespace the services live in.
    await waitFor('project namespace', async () => (await k(['get', 'namespace', project])).code === 0, { timeoutMs: 30_000, intervalMs: 200 });
  });

  afterAll(async () => {
    await k(['delete', 'project', project, '--wait=false']);
    await k(['delete', 'cluster', cluster, '--wait=false']);
    await admin?.close();
    await closeAgents();
  });

  it('lists every resource in discovery with short names, scope and kind', async () => {
    const out = await ok(['api-resources', '--api-group=upm.io', '--no-headers']);
    const rows = Object.fromEntries(out.trim().split('\n').map((l) => { const c = l.trim().split(/\s+/); return [c[0], c.slice(1).join(' ')]; }));
    expect(rows.projects).toBe('proj upm.io/v1alpha1 false Project');
    expect(rows.mysqlservices).toBe('mysql upm.io/v1alpha1 true MysqlService');
    expect(rows.operationlogs).toBe('oplog upm.io/v1alpha1 true OperationLog');
    expect(rows.clusters).toBe('mc upm.io/v1alpha1 false Cluster');
    expect(rows.users).toBe('upm.io/v1alpha1 false User');
    const list = JSON.parse(await ok(['get', '--raw', '/apis/upm.io/v1alpha1'])) as { resources: { name: string; verbs: string[]; categories?: string[] }[] };
    expect(list.resources.map((r) => r.name)).toEqual(expect.arrayContaining(['projects/status', 'clusters/status', 'mysqlservices/status']));
    expect(list.resources.find((r) => r.name === 'operationlogs')?.verbs).toEqual(['get', 'list', 'watch']);
    expect(list.resources.find((r) => r.name === 'projects')?.categories).toEqual(['upm']);
    expect(await ok(['get', 'projects', project, '-o', 'jsonpath={.apiVersion}'])).toBe('upm.io/v1alpha1');
  });

  it('gives the storage resources names no client can take for the public ones', async () => {
    type Discovery = { resources: { name: string; singularName: string; kind: string; shortNames?: string[]; categories?: string[] }[] };
    const main = (d: Discovery) => d.resources.filter((r) => !r.name.includes('/'));
    const pub = main(JSON.parse(await ok(['get', '--raw', '/apis/upm.io/v1alpha1'])) as Discovery);
    const storage = main(JSON.parse(await ok(['get', '--raw', '/apis/internal.upm.io/v1alpha1'])) as Discovery);
    expect(storage.map((r) => r.kind).sort()).toEqual(pub.map((r) => `${r.kind}Record`).sort());
    // Clients that ignore APIService priorities (k9s) resolve a name, kind, short name or category in any group.
    const taken = new Set(pub.flatMap((r) => [r.name, r.singularName, r.kind, ...(r.shortNames ?? []), ...(r.categories ?? [])]));
    for (const r of storage) {
      expect([r.name, r.singularName, r.kind].filter((n) => taken.has(n))).toEqual([]);
      expect([...(r.shortNames ?? []), ...(r.categories ?? [])]).toEqual([]);
    }
    expect((await ok(['get', 'upm', '-A', '-o', 'name'])).split('\n').filter((l) => l.includes('.internal.upm.io/'))).toEqual([]);
  });

  it('explains kinds and fields from the CRD schemas (OpenAPI v3)', async () => {
    const out = await ok(['explain', 'mysqlservices.spec.topology']);
    expect(out).toContain('GROUP:      upm.io');
    expect(out).toContain('KIND:       MysqlService');
    expect(out).toMatch(/mode\s+<string>/);
    expect(out).toContain('enum: standalone, async, semisync');
    const rec = await ok(['explain', 'projects', '--recursive']);
    expect(rec).toContain('A tenant of the platform');
    expect(rec).toMatch(/members\s+<\[\]Object>/);
    const root = JSON.parse(await ok(['get', '--raw', '/openapi/v3'])) as { paths: Record<string, { serverRelativeURL: string }> };
    expect(root.paths['apis/upm.io/v1alpha1']?.serverRelativeURL).toMatch(/\?hash=[0-9A-F]{128}$/);
  });

  it('applies client-side (created, unchanged, configured) and server-side (managed by kubectl)', async () => {
    const name = uniqueName('db');
    expect((await ok(['apply', '-f', '-'], service(name))).trim()).toBe(`mysqlservice.upm.io/${name} created`);
    expect((await ok(['apply', '-f', '-'], service(name))).trim()).toBe(`mysqlservice.upm.io/${name} unchanged`);
    expect((await ok(['apply', '-f', '-'], service(name, { version: '8.4' }))).trim()).toBe(`mysqlservice.upm.io/${name} configured`);
    const live = JSON.parse(await ok(['get', 'mysql', name, '-n', project, '-o', 'json'])) as { metadata: { annotations: Record<string, string> }; spec: { version: string } };
    expect(live.spec.version).toBe('8.4');
    expect(live.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).toContain('"8.4"');

    const ssa = uniqueName('db');
    expect((await ok(['apply', '--server-side', '-f', '-'], service(ssa))).trim()).toBe(`mysqlservice.upm.io/${ssa} serverside-applied`);
    const applied = JSON.parse(await ok(['get', 'mysql', ssa, '-n', project, '-o', 'json', '--show-managed-fields'])) as { metadata: { managedFields: { manager: string; operation: string; apiVersion: string }[] } };
    expect(applied.metadata.managedFields).toEqual(expect.arrayContaining([expect.objectContaining({ manager: 'kubectl', operation: 'Apply', apiVersion: 'upm.io/v1alpha1' })]));
    // A second manager setting the same field differently conflicts; --force-conflicts takes it over.
    const other = await k(['apply', '--server-side', '--field-manager=other', '-f', '-'], service(ssa, { topology: { mode: 'async', replicas: 3 } }));
    expect(other.code).not.toBe(0);
    expect(other.stderr).toContain('conflict');
    expect(other.stderr).toContain('.spec.topology.replicas');
    await ok(['apply', '--server-side', '--field-manager=other', '--force-conflicts', '-f', '-'], service(ssa, { topology: { mode: 'async', replicas: 3 } }));
    expect(await ok(['get', 'mysql', ssa, '-n', project, '-o', 'jsonpath={.spec.topology.replicas}'])).toBe('3');
  });

  it('patches with merge and JSON patches, and refuses strategic merge as for custom resources', async () => {
    const name = uniqueName('db');
    await ok(['create', '-f', '-'], service(name));
    expect(await ok(['patch', 'mysql', name, '-n', project, '--type', 'merge', '-p', '{"spec":{"storage":{"size":"20Gi"}}}'])).toContain('patched');
    await ok(['patch', 'mysql', name, '-n', project, '--type', 'json', '-p', '[{"op":"replace","path":"/spec/topology/replicas","value":4}]']);
    const got = JSON.parse(await ok(['get', 'mysql', name, '-n', project, '-o', 'json'])) as { spec: { storage: { size: string }; topology: { replicas: number } } };
    expect(got.spec.storage.size).toBe('20Gi');
    expect(got.spec.topology.replicas).toBe(4);
    const smp = await k(['patch', 'mysql', name, '-n', project, '-p', '{"spec":{"version":"8.4"}}']);
    expect(smp.code).not.toBe(0);
    expect(smp.stderr).toContain('application/strategic-merge-patch+json is not supported by upm.io/v1alpha1, Kind=MysqlService');
    // A patch whose result is invalid is refused with the field named, and nothing changes.
    const bad = await k(['patch', 'mysql', name, '-n', project, '--type', 'merge', '-p', '{"spec":{"version":"5.1"}}']);
    expect(bad.stderr).toContain('spec.version: Unsupported value: "5.1"');
    expect(await ok(['get', 'mysql', name, '-n', project, '-o', 'jsonpath={.spec.version}'])).toBe('8.0');
  });

  it('prints Tables with the resource columns, -o wide, -A, labels, chunks and selectors', async () => {
    const names = [uniqueName('t'), uniqueName('t'), uniqueName('t')].sort();
    for (const [i, n] of names.entries()) await ok(['create', '-f', '-'], service(n, { topology: { mode: 'async', replicas: i + 1 } }));
    await ok(['label', 'mysql', names[0] as string, '-n', project, 'tier=gold']);
    const table = await ok(['get', 'mysql', '-n', project]);
    expect(table.split('\n')[0]).toMatch(/^NAME\s+ENGINE\s+VERSION\s+MODE\s+REPLICAS\s+CLUSTER\s+READY\s+PHASE\s+AGE$/);
    expect(table).toMatch(new RegExp(`${names[1]}\\s+mysql\\s+8.0\\s+async\\s+2\\s+${cluster}`));
    expect((await ok(['get', 'mysql', '-n', project, '-o', 'wide'])).split('\n')[0]).toContain('SOURCE');
    expect((await ok(['get', 'mysql', '-A'])).split('\n')[0]).toMatch(/^NAMESPACE\s+NAME/);
    expect(await ok(['get', 'mysql', '-n', project, '-l', 'tier=gold', '-o', 'name'])).toBe(`mysqlservice.upm.io/${names[0]}\n`);
    expect(await ok(['get', 'mysql', '-n', project, '--show-labels', '-l', 'tier=gold'])).toContain('tier=gold');
    const chunked = await ok(['get', 'mysql', '-n', project, '--chunk-size=1', '-o', 'name']);
    for (const n of names) expect(chunked).toContain(`mysqlservice.upm.io/${n}`);
    expect(await ok(['get', 'mysql', '-n', project, '--field-selector', `metadata.name=${names[2]}`, '-o', 'name'])).toBe(`mysqlservice.upm.io/${names[2]}\n`);
    expect(await ok(['get', 'mysql', '-A', '--field-selector', `spec.placement.cluster=${cluster},metadata.namespace=${project}`, '-o', 'name'])).toContain(names[1]);
    const bogus = await k(['get', 'mysql', '-n', project, '--field-selector', 'spec.bogus=1']);
    expect(bogus.stderr).toContain('"spec.bogus" is not a known field selector');
    const missing = await k(['get', 'mysql', 'missing', '-n', project]);
    expect(missing.stderr.trim()).toBe('Error from server (NotFound): mysqlservices.upm.io "missing" not found');
    const upm = await ok(['get', 'upm', '-A']);
    expect(upm).toContain(`project.upm.io/${project}`);
    expect(upm).toContain(`mysqlservice.upm.io/${names[0]}`);
    expect(upm).toContain(`cluster.upm.io/${cluster}`);
  });

  it('watches with get -w: a list watch prints every change, a named watch only later ones', async () => {
    const name = uniqueName('w');
    await ok(['create', '-f', '-'], service(name));
    const list = kubectlStream(undefined, ['get', 'mysql', '-n', project, '-w', '--output-watch-events']);
    const one = kubectlStream(undefined, ['get', 'mysql', name, '-n', project, '-w']);
    try {
      await waitFor('initial rows', () => list.output().includes(name) && one.output().includes(name), { timeoutMs: 20_000 });
      await ok(['patch', 'mysql', name, '-n', project, '--type', 'merge', '-p', '{"spec":{"topology":{"replicas":3}}}']);
      await waitFor('MODIFIED', () => /MODIFIED\s+\S+\s+mysql\s+8.0\s+async\s+3/.test(list.output()), { timeoutMs: 20_000 });
      await waitFor('named watch row', () => one.output().trim().split('\n').length >= 3, { timeoutMs: 20_000 });
      await ok(['delete', 'mysql', name, '-n', project]);
      await waitFor('DELETED', () => list.output().includes('DELETED'), { timeoutMs: 20_000 });
      // header, the object, then one line for the patch (the synthetic ADDED of the watch is not printed again)
      const lines = one.output().trim().split('\n');
      expect(lines[0]).toMatch(/^NAME\s+ENGINE\s+VERSION/);
      expect(lines.filter((l) => l.startsWith(name))[1]).toMatch(/async\s+3/);
    } finally {
      await list.stop();
      await one.stop();
    }
  });

  it('describes an object with its fields and the Events recorded against it', async () => {
    const out = await ok(['describe', 'project', project]);
    expect(out).toMatch(/Name:\s+/);
    expect(out).toContain('Display Name:  kubectl suite');
    expect(out).toContain('NamespaceCreated');
  });

  it('validates with causes naming each bad field and stores nothing', async () => {
    const name = uniqueName('bad');
    const r = await k(['create', '-f', '-'], service(name, { version: '5.1', placement: { cluster: 'nowhere', zones: ['zone-x'] }, topology: { mode: 'async', replicas: 1 } }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`The MysqlService "${name}" is invalid`);
    expect(r.stderr).toContain('spec.placement.cluster: Not found: "nowhere"');
    expect(r.stderr).toContain('spec.version: Unsupported value: "5.1"');
    const schema = await k(['create', '-f', '-'], service(name, { topology: { mode: 'ring', replicas: 12 } }));
    expect(schema.stderr).toContain('spec.topology.mode: Unsupported value: "ring"');
    expect(schema.stderr).toContain('spec.topology.replicas: Invalid value: 12');
    const unknown = await k(['create', '-f', '-'], service(name, { bogus: true }));
    expect(unknown.stderr).toContain('unknown field "spec.bogus"');
    const zones = await k(['create', '-f', '-'], service(name, { placement: { cluster, zones: ['zone-x'] } }));
    expect(zones.stderr).toContain('spec.placement.zones[0]: Unsupported value: "zone-x"');
    // the CRD's CEL rule, answered by the storage server, worded for the public group
    const cel = await k(['create', '-f', '-'], service(name, { topology: { mode: 'standalone', replicas: 2 } }));
    expect(cel.stderr).toContain('spec.topology.replicas: must be 1 when spec.topology.mode is standalone');
    expect(cel.stderr).not.toContain('internal.upm.io');
    expect(cel.stderr).not.toContain('Record');
    expect((await k(['get', 'mysql', name, '-n', project])).code).not.toBe(0);
    expect((await k(['get', `mysqlservicerecords.internal.upm.io/${name}`, '-n', project])).stderr).toContain('not found');
  });

  it('creates with dry run and generateName, and refuses a stale update with 409', async () => {
    const dry = JSON.parse(await ok(['create', '--dry-run=server', '-o', 'json', '-f', '-'], service('dry-one'))) as { metadata: { uid?: string } };
    expect(dry.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect((await k(['get', 'mysql', 'dry-one', '-n', project])).code).not.toBe(0);
    const gen = JSON.parse(await ok(['create', '-o', 'json', '-f', '-'], service('').replace('"name":""', '"generateName":"gen-"'))) as { metadata: { name: string } };
    expect(gen.metadata.name).toMatch(/^gen-[a-z0-9]{5}$/);
    const name = uniqueName('cas');
    const created = JSON.parse(await ok(['create', '-o', 'json', '-f', '-'], service(name))) as Record<string, unknown> & { metadata: { resourceVersion: string } };
    await ok(['patch', 'mysql', name, '-n', project, '--type', 'merge', '-p', '{"metadata":{"labels":{"x":"y"}}}']);
    const stale = await k(['replace', '-f', '-'], JSON.stringify(created));
    expect(stale.code).not.toBe(0);
    expect(stale.stderr).toContain(`Operation cannot be fulfilled on mysqlservices.upm.io "${name}": the object has been modified; please apply your changes to the latest version and try again`);
  });

  it('deletes promptly, honours preconditions and deletes collections', async () => {
    const name = uniqueName('del');
    await ok(['create', '-f', '-'], service(name));
    // Promptly: nothing (no finalizer) holds the object, so kubectl's wait for it to be gone ends (a hang would hit
    // kubectl's 60 s kill), however busy the machine.
    expect(await ok(['get', 'mysql', name, '-n', project, '-o', 'jsonpath={.metadata.finalizers}'])).toBe('');
    expect((await ok(['delete', 'mysql', name, '-n', project])).trim()).toBe(`mysqlservice.upm.io "${name}" deleted from ${project} namespace`);
    expect((await k(['get', 'mysql', name, '-n', project])).stderr).toContain(`mysqlservices.upm.io "${name}" not found`);
    const keep = uniqueName('keep');
    await ok(['create', '-f', '-'], service(keep));
    const fp = await frontProxyCert();
    const r = await direct('DELETE', `/apis/upm.io/v1alpha1/namespaces/${project}/mysqlservices/${keep}`, {
      cert: fp, headers: { ...asUser('upm-admin', ['system:masters']), 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid: '00000000-0000-0000-0000-000000000000' } }),
    });
    expect(r.status).toBe(409);
    expect(r.json().message).toContain('the UID in the precondition (00000000-0000-0000-0000-000000000000) does not match the UID in record');
    const all = await direct('DELETE', `/apis/upm.io/v1alpha1/namespaces/${project}/mysqlservices?labelSelector=${encodeURIComponent('!nothing')}`, { cert: fp, headers: asUser('upm-admin', ['system:masters']) });
    expect(all.status).toBe(200);
    expect((all.json().items as unknown[]).length).toBeGreaterThan(0);
    await waitFor('collection deleted', async () => (await ok(['get', 'mysql', '-n', project, '-o', 'name'])).trim() === '', { timeoutMs: 10_000 });
  });

  it('changes status only through the status subresource', async () => {
    await ok(['patch', 'cluster', cluster, '--subresource=status', '--type', 'merge', '-p', '{"status":{"kubernetesVersion":"v1.36.3","nodes":3,"conditions":[{"type":"Ready","status":"True"}]}}']);
    await ok(['patch', 'cluster', cluster, '--type', 'merge', '-p', '{"spec":{"region":"eu"},"status":{"kubernetesVersion":"v0"}}']);
    const c = JSON.parse(await ok(['get', 'cluster', cluster, '-o', 'json'])) as { spec: { region: string }; status: { kubernetesVersion: string } };
    expect(c.spec.region).toBe('eu');
    expect(c.status.kubernetesVersion).toBe('v1.36.3');
    // READY is the hub's heartbeat controller's to write (this Cluster has no credentials): any value.
    expect(await ok(['get', 'cluster', cluster])).toMatch(new RegExp(`${cluster}\\s+eu\\s+(True|False|Unknown)\\s+v1.36.3\\s+3\\s`));
  });

  it('serves raw watches: timeout, 410 Expired, bookmarks and sendInitialEvents', async () => {
    const base = `/apis/upm.io/v1alpha1/namespaces/${project}/mysqlservices`;
    const started = Date.now();
    const timed = await ok(['get', '--raw', `${base}?watch=1&timeoutSeconds=2&allowWatchBookmarks=true`]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    const events = timed.trim().split('\n').map((l) => JSON.parse(l) as { type: string; object: { metadata: { resourceVersion: string } } });
    expect(events.at(-1)?.type).toBe('BOOKMARK');
    const old = await ok(['get', '--raw', `${base}?watch=1&resourceVersion=1&timeoutSeconds=5`]);
    const err = JSON.parse(old.trim().split('\n')[0] as string) as { type: string; object: { code: number; reason: string } };
    expect(err).toMatchObject({ type: 'ERROR', object: { code: 410, reason: 'Expired' } });
    const name = uniqueName('wl');
    await ok(['create', '-f', '-'], service(name));
    const wl = await ok(['get', '--raw', `${base}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1`]);
    const wlEvents = wl.trim().split('\n').map((l) => JSON.parse(l) as { type: string; object: { metadata: { name?: string; annotations?: Record<string, string> } } });
    const endIdx = wlEvents.findIndex((e) => e.type === 'BOOKMARK' && e.object.metadata.annotations?.['k8s.io/initial-events-end'] === 'true');
    expect(endIdx).toBeGreaterThan(0);
    expect(wlEvents.slice(0, endIdx).map((e) => e.object.metadata.name)).toContain(name);
    const noMatch = await k(['get', '--raw', `${base}?watch=1&sendInitialEvents=true`]);
    expect(noMatch.stderr).toContain('sendInitialEvents is forbidden for watch unless resourceVersionMatch is set to NotOlderThan');
  });
});
