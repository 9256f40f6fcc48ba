// The hub drives a member, end to end: a project editor creates a MysqlService (MariaDB 10.11, 3 units) with the real
// kubectl; the hub's services controller places its namespace, UnitSet and MysqlReplication on member1 as upm-hub; the
// Unit and Compose Operators there (watching the project's namespace) run real MariaDB servers; the hub's status
// reaches Ready with endpoints, and rows written through the source are read on every replica. `kubectl edit` to 5
// units is followed by the member; an object deleted or changed by hand on the member is put back with an Event on
// the hub service; a member that stops answering is reported, and an edit made meanwhile reaches it when it
// returns; deleting the service removes everything the hub put on the member, or, with deletionPolicy
// Retain, everything but the data claims and the credentials Secret. A RedisService with Sentinel runs the same way.
// Each service's connection Secret on the hub is read by the editor (not by a viewer, nor by a member of another
// project), and its application account writes and reads data but cannot administer the engine; its password is in
// no spec, status, event or log of the hub or the member. A RedisClusterService's account works through a cluster
// client.
import { chmod, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Cluster, Redis } from 'ioredis';
import { createConnection } from 'mysql2/promise';
import { MysqlReplicationResource, RedisClusterResource, RedisReplicationResource } from '../../lib/api/compose.upm.io.generated.ts';
import { UnitResource, UnitSetResource, type UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { isNotFound } from '../../lib/kube/errors.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import type { ServiceStatus } from '../../controllers/services/contract.ts';
import { kubeconfig } from '../env.ts';
import { describeHub, hubState, kubectlAs, kubectlOkAs, userKubeconfig } from '../hub.ts';
import { uniqueName } from '../env.ts';
import { MEMBER, useHubProject } from '../hub-member.ts';
import { b64, mysqlSuite, SQL_CONNECT_TIMEOUT_MS } from '../mysql.ts';

type Managed = KubeObject & { metadata: { managedFields?: { manager: string; operation: string }[] } };
type Hub = KubeObject & { spec: Record<string, unknown>; status?: ServiceStatus };

/** Every file of a directory tree whose name ends in .log. */
async function logFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.log')).map((e) => join(e.parentPath, e.name));
}

describeHub('a MysqlService driven by the hub onto member1', () => {
  const viewer = uniqueName('vw');
  const outsider = uniqueName('out');
  const otherProject = uniqueName('hubother');
  const p = useHubProject('hubsvc', [{ name: viewer, role: 'viewer' }]);
  const project = p.project;
  let kc = '';
  let m: KubeClient;
  let dir = '';
  const f = p.fixture;
  const sql = mysqlSuite(f, MEMBER);
  const as = (args: string[], input?: string) => p.as(args, input);
  const hub = async (): Promise<Hub> => p.hubObject('mysqlservice', 'db');
  const member = async <T extends KubeObject>(rt: typeof UnitSetResource, name: string): Promise<T | undefined> => {
    try { return await m.get<T>(rt, name, project); } catch (err) { if (isNotFound(err)) return undefined; throw err; }
  };
  const hubReaches = async (what: string, test: (s: ServiceStatus) => boolean, timeoutMs: number) => { await p.hubReaches('mysqlservice', 'db', what, test, timeoutMs); };
  const hubEvents = async (reason: string): Promise<string[]> => {
    const out = await as(['get', 'events', '-n', project, '--field-selector', `involvedObject.name=db,involvedObject.kind=MysqlService,reason=${reason}`, '-o', 'jsonpath={range .items[*]}{.message}{"\\n"}{end}']);
    return out.split('\n').filter(Boolean);
  };
  let connectionVersion = '';
  beforeAll(() => { kc = p.kc; m = p.member; dir = p.dir; });
  afterAll(async () => { await kubectlAs(undefined, ['delete', 'project', otherProject, '--wait=false', '--ignore-not-found']); });
  /** The connection Secret as the editor reads it with kubectl, decoded. */
  const connection = async (service: string): Promise<Record<string, string>> => {
    const s = JSON.parse(await as(['get', 'secret', `${service}-connection`, '-n', project, '-o', 'json'])) as KubeObject & { type: string; data: Record<string, string> };
    expect(s.type).toBe('Opaque');
    expect(s.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'upm-hub', 'upm.io/service': service, 'upm.io/project': project });
    expect(s.metadata.ownerReferences ?? []).toEqual([]);
    return Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, b64(v)]));
  };
  /** Fails when the password is in any spec, status or event of the hub's or the member's objects of the project, or in a log. */
  const expectPasswordNowhere = async (password: string) => {
    expect(password.length).toBeGreaterThanOrEqual(16);
    const texts: [string, string][] = [];
    for (const what of ['mysqlservices,redisservices,redisclusterservices', 'events']) texts.push([`hub ${what}`, (await kubectlAs(undefined, ['get', what, '-n', project, '-o', 'json'])).stdout]);
    texts.push(['hub storage records', (await kubectlAs(undefined, ['get', 'mysqlservicerecords.internal.upm.io,redisservicerecords.internal.upm.io,redisclusterservicerecords.internal.upm.io', '-n', project, '-o', 'json'])).stdout]);
    for (const rt of [UnitSetResource, UnitResource, MysqlReplicationResource, RedisReplicationResource, RedisClusterResource, Resources.events]) texts.push([`member ${rt.plural}`, JSON.stringify((await m.list(rt, { namespace: project })).items)]);
    for (const f of [hubState().logs.controllers, hubState().logs.apiserver, ...await logFiles(dir)]) texts.push([f, await readFile(f, 'utf8')]);
    expect(texts.length).toBeGreaterThan(8);
    for (const [where, text] of texts) {
      expect(text.length).toBeGreaterThan(0);
      for (const form of [password, Buffer.from(password).toString('base64')]) if (text.includes(form)) throw new Error(`the password is in ${where}`);
    }
  };

  it('places the namespace, UnitSet and MysqlReplication on member1 as upm-hub, and reports Ready with endpoints', async () => {
    const created = await as(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'upm.io/v1alpha1', kind: 'MysqlService', metadata: { name: 'db', namespace: project },
      spec: {
        engine: 'mariadb', version: '10.11', topology: { mode: 'semisync', replicas: 3 }, placement: { cluster: MEMBER },
        resources: { cpu: '1', memory: '256Mi' }, storage: { size: '1Gi' }, options: { parameters: { innodb_log_file_size: '16M' } },
      },
    }));
    expect(created.trim()).toBe('mysqlservice.upm.io/db created');
    const labels = { 'app.kubernetes.io/managed-by': 'upm-hub', 'upm.io/project': project, 'upm.io/service-kind': 'mysqlservice', 'upm.io/service': 'db' };
    await waitFor('the member objects', async () => !!(await member(MysqlReplicationResource, 'db')), { timeoutMs: 30_000, intervalMs: 250 });
    const ns = await m.get<KubeObject>(Resources.namespaces, project);
    expect(ns.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'upm-hub', 'upm.io/project': project });
    for (const path of [`/apis/unit.upm.io/v1alpha1/namespaces/${project}/unitsets/db`, `/apis/compose.upm.io/v1alpha1/namespaces/${project}/mysqlreplications/db`, `/api/v1/namespaces/${project}`]) {
      const o = await m.request<Managed>('GET', path);
      expect(o.metadata.managedFields?.some((x) => x.manager === 'upm-hub' && x.operation === 'Apply')).toBe(true);
      if (!path.startsWith('/api/v1')) expect(o.metadata.labels).toMatchObject(labels);
    }
    const us = await member<UnitSet>(UnitSetResource, 'db');
    expect(us?.spec).toMatchObject({ engine: 'mariadb', version: '10.11', units: 3 });
    expect((await hub()).metadata.finalizers).toContain('upm.io/member-objects');
    await hubReaches('the hub service Ready', (s) => s.phase === 'Ready', 240_000);
    const st = (await hub()).status ?? {};
    expect(st.ready).toBe('3/3');
    expect(st.endpoints?.map((e) => e.role).sort()).toEqual(['readonly', 'readwrite']);
    for (const e of st.endpoints ?? []) expect(e).toMatchObject({ port: 3306, addresses: expect.arrayContaining([expect.stringMatching(/^\d+\.\d+\.\d+\.\d+$/)]) });
    expect(st.units?.map((u) => [u.name, u.role, u.ready])).toEqual([['db-0', 'source', true], ['db-1', 'replica', true], ['db-2', 'replica', true]]);
    expect(st.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True' });
  }, 300_000);

  it('carries rows written through the source to every replica', async () => {
    await sql.loadAdmin();
    const st = (await hub()).status ?? {};
    const source = String(st.source ?? '');
    expect(source).toBe('db-0');
    await sql.query(source, 'CREATE DATABASE shop');
    await sql.query(source, 'CREATE TABLE shop.orders (id INT PRIMARY KEY)');
    await sql.query(source, 'INSERT INTO shop.orders (id) VALUES (1), (2), (3)');
    for (const r of ['db-1', 'db-2']) {
      await waitFor(`rows on ${r}`, async () => Number((await sql.query(r, 'SELECT COUNT(*) AS n FROM shop.orders'))[0]?.n) === 3, { timeoutMs: 15_000 });
    }
  });

  it('hands the editor a connection Secret whose application account writes and reads through the readwrite endpoint, and administers nothing', async () => {
    await hubReaches('the connection Secret in the status', (s) => s.connectionSecret === 'db-connection', 60_000);
    const c = await connection('db');
    const rw = (await hub()).status?.endpoints?.find((e) => e.role === 'readwrite');
    expect(rw).toBeDefined();
    // The host is the readwrite Service's name on member1; the local cluster has no DNS or kube-proxy, so the test goes
    // to the address the status reports behind that Service (a loopback address of the local runtime).
    expect(c).toEqual({ host: `${rw?.name}.${project}.svc`, port: '3306', user: 'upm_app', password: expect.any(String) });
    const address = rw?.addresses[0] ?? '';
    expect(address).toMatch(/^127\./);
    const app = await createConnection({ host: address, port: Number(c.port), user: c.user, password: c.password, connectTimeout: SQL_CONNECT_TIMEOUT_MS });
    try {
      await app.query('CREATE DATABASE appdata');
      await app.query('CREATE TABLE appdata.notes (id INT PRIMARY KEY, body TEXT)');
      await app.query("INSERT INTO appdata.notes VALUES (1, 'written with the connection Secret')");
      const [rows] = await app.query('SELECT body FROM appdata.notes WHERE id = 1');
      expect(rows).toEqual([{ body: 'written with the connection Secret' }]);
      // No administration: these are refused by the server, naming the privilege it lacks.
      for (const [sql, refusal] of [
        ['SHUTDOWN', /SHUTDOWN privilege/], ["GRANT SELECT ON appdata.* TO 'upm_app'@'%'", /Access denied/], ["CREATE USER 'x'@'%' IDENTIFIED BY 'y'", /CREATE USER privilege/],
        ['SELECT COUNT(*) FROM mysql.global_priv', /SELECT command denied/], ["UPDATE mysql.global_priv SET Priv = '{}' WHERE User = 'nobody'", /UPDATE command denied/],
        ['SET GLOBAL read_only = 1', /SUPER|READ_ONLY ADMIN/], ['CHANGE MASTER TO MASTER_HOST = \'127.0.0.1\'', /Access denied|privilege/],
      ] as const) {
        await expect(app.query(sql)).rejects.toThrow(refusal);
      }
    } finally { await app.end(); }
    // The rows went through replication like any other.
    await waitFor('the app rows on db-2', async () => Number((await sql.query('db-2', 'SELECT COUNT(*) AS n FROM appdata.notes'))[0]?.n) === 1, { timeoutMs: 15_000 });

    // The project's viewer, and a member of another project, get 403 from the hub's kube-apiserver for the Secret.
    const viewerKc = await userKubeconfig(viewer);
    const denied = await kubectlAs(viewerKc, ['get', 'secret', 'db-connection', '-n', project]);
    expect(denied.stderr).toMatch(/Forbidden|forbidden/);
    expect((await kubectlAs(viewerKc, ['auth', 'can-i', 'get', 'secrets', '-n', project])).stdout.trim()).toBe('no');
    expect((await kubectlAs(viewerKc, ['get', 'mysqlservice', 'db', '-n', project])).code).toBe(0);
    await kubectlOkAs(undefined, ['create', '-f', '-'], JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: otherProject }, spec: { members: [{ name: outsider, role: 'editor' }] } }));
    const outsiderKc = await userKubeconfig(outsider);
    await waitFor('the outsider bound in their own project', async () => (await kubectlAs(outsiderKc, ['auth', 'can-i', 'get', 'secrets', '-n', otherProject])).stdout.trim() === 'yes', { timeoutMs: 30_000, intervalMs: 250 });
    for (const name of ['db-connection', 'no-such-connection']) {
      // The same answer whether the Secret exists or not: it reveals nothing.
      const r = await kubectlAs(outsiderKc, ['get', 'secret', name, '-n', project]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`secrets "${name}" is forbidden: User "${outsider}" cannot get resource "secrets" in API group "" in the namespace "${project}"`);
    }
    // The hub controllers may write Secrets in the project's namespace (bound there by the projects controller) and
    // in no other.
    const controllersCan = async (verb: string, ns: string) => (await kubectlAs(undefined, ['auth', 'can-i', verb, 'secrets', '-n', ns, '--as', 'system:serviceaccount:upm-system:upm-hub-controllers'])).stdout.trim();
    for (const verb of ['get', 'create', 'update', 'delete']) expect(await controllersCan(verb, project)).toBe('yes');
    for (const verb of ['list', 'watch', 'patch']) expect(await controllersCan(verb, project)).toBe('no');
    for (const ns of ['kube-system', 'default', 'upm-system']) expect(await controllersCan('create', ns)).toBe('no');
    await expectPasswordNowhere(c.password ?? '');
    connectionVersion = JSON.parse(await as(['get', 'secret', 'db-connection', '-n', project, '-o', 'json'])).metadata.resourceVersion as string;
  }, 120_000);

  it('follows `kubectl edit` of the hub service from 3 to 5 units', async () => {
    const editorScript = join(dir, 'edit.sh');
    await writeFile(editorScript, '#!/bin/sh\nsed -i -e "s/^    replicas: 3$/    replicas: 5/" "$1"\n');
    await chmod(editorScript, 0o755);
    // kubectl edit runs the editor on the object's YAML: this one changes spec.topology.replicas.
    const edited = await kubectlAs(kc, ['edit', 'mysqlservice', 'db', '-n', project], undefined, 60_000, { KUBE_EDITOR: editorScript });
    expect(edited.stdout.trim()).toBe('mysqlservice.upm.io/db edited');
    await waitFor('the member UnitSet at 5', async () => (await member<UnitSet>(UnitSetResource, 'db'))?.spec.units === 5, { timeoutMs: 15_000, intervalMs: 250 });
    await hubReaches('5 ready on the hub', (s) => s.phase === 'Ready' && s.ready === '5/5', 240_000);
    expect((await hub()).status?.units?.filter((u) => u.role === 'replica' && u.ready)).toHaveLength(4);
    for (const r of ['db-3', 'db-4']) {
      await waitFor(`rows on ${r}`, async () => Number((await sql.query(r, 'SELECT COUNT(*) AS n FROM shop.orders'))[0]?.n) === 3, { timeoutMs: 30_000 });
    }
    // Many reconciles later the connection Secret is as it was: written once, when it changed.
    expect(JSON.parse(await as(['get', 'secret', 'db-connection', '-n', project, '-o', 'json'])).metadata.resourceVersion).toBe(connectionVersion);
    expect(await hubEvents('ConnectionSecretCreated')).toEqual([`Secret db-connection: db-readwrite.${project}.svc:3306 and the application account upm_app`]);
    expect(await hubEvents('ConnectionSecretUpdated')).toEqual([]);
  }, 300_000);

  it('puts back a MysqlReplication deleted and a UnitSet scaled by hand on the member, within 10 s, with an Event', async () => {
    const old = await m.get<KubeObject>(MysqlReplicationResource, 'db', project);
    await m.delete(MysqlReplicationResource, 'db', project);
    const t0 = Date.now();
    await waitFor('the MysqlReplication back', async () => { const mr = await member(MysqlReplicationResource, 'db'); return !!mr && mr.metadata.uid !== old.metadata.uid; }, { timeoutMs: 10_000, intervalMs: 100 });
    process.stdout.write(`MysqlReplication back after ${Date.now() - t0} ms\n`);
    await m.patch(UnitSetResource, 'db', { spec: { units: 6 } }, 'merge', { namespace: project });
    const t1 = Date.now();
    await waitFor('the UnitSet back at 5', async () => (await member<UnitSet>(UnitSetResource, 'db'))?.spec.units === 5, { timeoutMs: 10_000, intervalMs: 100 });
    process.stdout.write(`UnitSet back at 5 after ${Date.now() - t1} ms\n`);
    await waitFor('the drift Events', async () => (await hubEvents('DriftCorrected')).length >= 2, { timeoutMs: 10_000, intervalMs: 250 });
    const events = await hubEvents('DriftCorrected');
    expect(events).toEqual(expect.arrayContaining([
      `MysqlReplication ${project}/db on cluster ${MEMBER}: deleted on the member; put back as the hub has it`,
      `UnitSet ${project}/db on cluster ${MEMBER}: spec.units changed on the member; put back as the hub has it`,
    ]));
    await hubReaches('Ready again', (s) => s.phase === 'Ready' && s.ready === '5/5', 180_000);
  }, 240_000);

  it('says so within 30 s when member1 stops answering, and brings an edit made meanwhile there when it returns', async () => {
    // member1's kube-apiserver is frozen (SIGSTOP), as a member behind a broken network would be: nothing answers.
    const pid = Number((await readFile(join(dirname(kubeconfig(MEMBER)), 'logs', 'kube-apiserver.log.pid'), 'utf8')).trim());
    expect(pid).toBeGreaterThan(1);
    const stopped = Date.now();
    process.kill(pid, 'SIGSTOP');
    try {
      await hubReaches('a condition naming member1', (s) => s.conditions?.some((c) => c.type === 'Ready' && c.status !== 'True' && (c.message ?? '').includes(`"${MEMBER}"`)) ?? false, 30_000);
      process.stdout.write(`the hub said member1 is unreachable after ${Date.now() - stopped} ms\n`);
      await as(['patch', 'mysqlservice', 'db', '-n', project, '--type', 'merge', '-p', JSON.stringify({ spec: { options: { parameters: { innodb_log_file_size: '16M', max_connections: '200' } } } })]);
      await new Promise((r) => setTimeout(r, Math.max(0, 60_000 - (Date.now() - stopped))));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitFor('the edit on member1', async () => (await member<UnitSet>(UnitSetResource, 'db'))?.spec.parameters?.max_connections === '200', { timeoutMs: 60_000, intervalMs: 500 });
    await hubReaches('Ready again', (s) => s.phase === 'Ready' && s.ready === '5/5' && s.observedGeneration === 3, 240_000);
  }, 420_000);

  it('removes everything it put on member1 when the service is deleted (deletionPolicy Delete)', async () => {
    await as(['delete', 'mysqlservice', 'db', '-n', project, '--timeout=120s']);
    expect((await kubectlAs(kc, ['get', 'mysqlservice', 'db', '-n', project])).stderr).toContain('NotFound');
    await waitFor('the namespace gone from member1', async () => {
      try { await m.get(Resources.namespaces, project); return false; } catch (err) { if (isNotFound(err)) return true; throw err; }
    }, { timeoutMs: 120_000, intervalMs: 500 });
    for (const rt of [UnitSetResource, UnitResource, MysqlReplicationResource, Resources.persistentVolumeClaims, Resources.secrets, Resources.pods]) {
      expect((await m.list(rt, { namespace: project })).items.map((o) => o.metadata.name)).toEqual([]);
    }
    expect(await hubEvents('DeletingMemberObject')).toEqual([`deleting MysqlReplication ${project}/db on cluster ${MEMBER}`, `deleting UnitSet ${project}/db on cluster ${MEMBER}`]);
    expect(await hubEvents('MemberObjectsRemoved')).toEqual([`the service's objects are gone from cluster ${MEMBER}; namespace ${project} deleted there too`]);
    expect((await kubectlAs(kc, ['get', 'secret', 'db-connection', '-n', project])).stderr).toContain('NotFound');
  }, 240_000);
  it('keeps the claims and the credentials Secret with deletionPolicy Retain, and says where', async () => {
    await as(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'upm.io/v1alpha1', kind: 'MysqlService', metadata: { name: 'keep', namespace: project },
      spec: {
        engine: 'mariadb', version: '10.11', topology: { mode: 'standalone', replicas: 1 }, placement: { cluster: MEMBER },
        resources: { cpu: '1', memory: '256Mi' }, storage: { size: '1Gi' }, deletionPolicy: 'Retain',
      },
    }));
    await waitFor('the keep UnitSet and its claim', async () => {
      try { return !!(await m.get(Resources.persistentVolumeClaims, 'keep-0-data', project)) && !!(await m.get(Resources.secrets, 'keep-credentials', project)); } catch (err) { if (isNotFound(err)) return false; throw err; }
    }, { timeoutMs: 120_000, intervalMs: 500 });
    // Its connection Secret too: the account it names opens the data that is kept.
    await p.hubReaches('mysqlservice', 'keep', 'the keep connection Secret', (s) => s.connectionSecret === 'keep-connection', 180_000);
    const kept = await connection('keep');
    await as(['delete', 'mysqlservice', 'keep', '-n', project, '--timeout=120s']);
    expect(await connection('keep')).toEqual(kept);
    expect((await as(['get', 'events', '-n', project, '--field-selector', 'involvedObject.name=keep,reason=ConnectionSecretRetained', '-o', 'jsonpath={.items[*].message}'])).trim())
      .toBe(`kept Secret keep-connection in namespace ${project} on the hub: its account opens the data kept on cluster ${MEMBER}`);
    const events = (await as(['get', 'events', '-n', project, '--field-selector', 'involvedObject.name=keep,reason=Retained', '-o', 'jsonpath={.items[*].message}'])).trim();
    expect(events).toBe(`kept on cluster ${MEMBER} in namespace ${project}: claims keep-0-data; Secrets keep-credentials`);
    await waitFor('the keep UnitSet and Units gone', async () => !(await member(UnitSetResource, 'keep')) && (await m.list(UnitResource, { namespace: project })).items.length === 0, { timeoutMs: 60_000, intervalMs: 500 });
    expect(await member(MysqlReplicationResource, 'keep')).toBeUndefined();
    const claim = await m.get<KubeObject>(Resources.persistentVolumeClaims, 'keep-0-data', project);
    const secret = await m.get<KubeObject>(Resources.secrets, 'keep-credentials', project);
    expect(claim.metadata.deletionTimestamp).toBeUndefined();
    expect(secret.metadata.ownerReferences ?? []).toEqual([]);
    await new Promise((r) => setTimeout(r, 3000)); // the garbage collector has had its chance
    expect((await m.get<KubeObject>(Resources.secrets, 'keep-credentials', project)).metadata.uid).toBe(secret.metadata.uid);
    expect((await m.get<KubeObject>(Resources.persistentVolumeClaims, 'keep-0-data', project)).metadata.deletionTimestamp).toBeUndefined();
    expect((await m.get<KubeObject>(Resources.namespaces, project)).metadata.deletionTimestamp).toBeUndefined();
  }, 240_000);
  it('runs a RedisService with Sentinel the same way: Ready with endpoints, a key written through readwrite read through readonly', async () => {
    await as(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'upm.io/v1alpha1', kind: 'RedisService', metadata: { name: 'cache', namespace: project },
      spec: {
        version: '7.2', topology: { mode: 'replication', replicas: 3 }, options: { sentinel: { enabled: true } }, placement: { cluster: MEMBER },
        resources: { cpu: '500m', memory: '256Mi' }, storage: { size: '1Gi' },
      },
    }));
    const redis = async () => (JSON.parse(await as(['get', 'redisservice', 'cache', '-n', project, '-o', 'json'])) as Hub).status ?? {};
    try {
      await waitFor('the RedisService Ready', async () => (await redis()).phase === 'Ready', { timeoutMs: 240_000, intervalMs: 1000 });
    } catch (err) {
      throw new Error(`${(err as Error).message}; hub status ${JSON.stringify(await redis())}`, { cause: err });
    }
    const st = await redis();
    expect(st.ready).toBe('3/3');
    const rw = st.endpoints?.find((e) => e.role === 'readwrite');
    const ro = st.endpoints?.find((e) => e.role === 'readonly');
    expect(rw?.addresses).toHaveLength(1);
    expect(ro?.addresses).toHaveLength(2);
    const conn = (host: string, port: number) => new Redis({ host, port, lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    const w = conn(rw?.addresses[0] ?? '', rw?.port ?? 0);
    try {
      await w.connect();
      expect(await w.set('greeting', 'from the hub')).toBe('OK');
    } finally { w.disconnect(); }
    for (const host of ro?.addresses ?? []) {
      const r = conn(host, ro?.port ?? 0);
      try {
        await r.connect();
        await waitFor(`the key on ${host}`, async () => (await r.get('greeting')) === 'from the hub', { timeoutMs: 10_000, intervalMs: 100 });
      } finally { r.disconnect(); }
    }
    // The connection Secret's account: data commands yes, administration no.
    await waitFor('the cache connection Secret', async () => (await redis()).connectionSecret === 'cache-connection', { timeoutMs: 60_000, intervalMs: 500 });
    const c = await connection('cache');
    expect(c).toEqual({ host: `${rw?.name}.${project}.svc`, port: '6379', user: 'upm_app', password: expect.any(String) });
    expect(rw?.addresses[0]).toMatch(/^127\./);
    const app = new Redis({ host: rw?.addresses[0] ?? '', port: Number(c.port), username: c.user, password: c.password, lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await app.connect();
      expect(await app.acl('WHOAMI')).toBe('upm_app');
      expect(await app.set('app:key', 'written with the connection Secret')).toBe('OK');
      expect(await app.get('app:key')).toBe('written with the connection Secret');
      expect(await app.publish('app:channel', 'hello')).toBeGreaterThanOrEqual(0);
      expect(await app.info('server')).toContain('redis_version:7');
      for (const refused of [['CONFIG', 'SET', 'maxmemory', '1'], ['FLUSHALL'], ['FLUSHDB'], ['SHUTDOWN', 'NOSAVE'], ['ACL', 'SETUSER', 'upm_app', '+@all'], ['REPLICAOF', 'NO', 'ONE'], ['KEYS', '*'], ['MONITOR']]) {
        await expect(app.call(refused[0] ?? '', ...refused.slice(1))).rejects.toThrow(/NOPERM/);
      }
    } finally { app.disconnect(); }
    const other = conn(rw?.addresses[0] ?? '', Number(c.port));
    try {
      await other.connect();
      await expect(other.call('AUTH', c.user ?? '', `${c.password}x`)).rejects.toThrow(/WRONGPASS/);
      expect(await other.call('AUTH', c.user ?? '', c.password ?? '')).toBe('OK');
    } finally { other.disconnect(); }
    await expectPasswordNowhere(c.password ?? '');
  }, 300_000);

  it('gives a RedisClusterService a connection Secret whose account works through a cluster client and administers nothing', async () => {
    await as(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'upm.io/v1alpha1', kind: 'RedisClusterService', metadata: { name: 'rc', namespace: project },
      spec: { version: '7.2', topology: { shards: 3, replicasPerShard: 0 }, placement: { cluster: MEMBER }, resources: { cpu: '500m', memory: '256Mi' }, storage: { size: '1Gi' } },
    }));
    const st = await p.hubReaches('redisclusterservice', 'rc', 'Ready with its connection Secret', (s) => s.phase === 'Ready' && s.connectionSecret === 'rc-connection', 240_000);
    const c = await connection('rc');
    const rw = st.endpoints?.find((e) => e.role === 'readwrite');
    expect(c).toEqual({ host: `${rw?.name}.${project}.svc`, port: '6379', user: 'upm_app', password: expect.any(String) });
    expect(rw?.addresses).toHaveLength(3);
    for (const a of rw?.addresses ?? []) expect(a).toMatch(/^127\./);
    const cl = new Cluster((rw?.addresses ?? []).map((host) => ({ host, port: Number(c.port) })), { redisOptions: { username: c.user, password: c.password }, maxRedirections: 64 });
    cl.on('error', () => undefined);
    try {
      const keys = Array.from({ length: 100 }, (_, i) => `app:${i}`);
      await Promise.all(keys.map((k) => cl.set(k, `value of ${k}`)));
      expect(await Promise.all(keys.map((k) => cl.get(k)))).toEqual(keys.map((k) => `value of ${k}`));
      // Every master took some of them, each reached with the same account.
      const counts = await Promise.all(cl.nodes('master').map((n) => n.dbsize()));
      expect(counts).toHaveLength(3);
      for (const n of counts) expect(n).toBeGreaterThan(0);
      for (const node of cl.nodes('master')) {
        for (const refused of [['CONFIG', 'SET', 'maxmemory', '1'], ['FLUSHALL'], ['CLUSTER', 'RESET'], ['CLUSTER', 'FORGET', 'x']]) {
          await expect(node.call(refused[0] ?? '', ...refused.slice(1))).rejects.toThrow(/NOPERM/);
        }
      }
    } finally { cl.disconnect(); }
    await expectPasswordNowhere(c.password ?? '');
  }, 300_000);
});
