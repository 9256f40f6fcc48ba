// The extension server on its own port, without kube-apiserver in front: only the front proxy may say who the
// user is (no certificate, another CA's certificate, or forged headers are 401), health and discovery answer as
// the aggregator expects, and a thousand malformed or hostile requests get a 4xx Status with a clear message,
// leave the server up, and store nothing.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { createCA, issueCert } from '../../hack/local/pki.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { waitFor } from '../../lib/wait.ts';
import { client, uniqueName } from '../env.ts';
import { adminCert, asUser, closeAgents, describeHub, direct, frontProxyCert, kubectlOkAs, MGMT, type ClientCert } from '../hub.ts';

const ADMIN = asUser('upm-admin', ['system:masters']);
const GV = '/apis/upm.io/v1alpha1';

describeHub('the extension server facing hostile clients', () => {
  const project = uniqueName('hostile');
  const cluster = uniqueName('member');
  let fp: ClientCert;
  let storage: KubeClient;
  const svc = (name: string, extra: Record<string, unknown> = {}) => ({
    apiVersion: 'upm.io/v1alpha1', kind: 'MysqlService', metadata: { name, namespace: project }, spec: { version: '8.0', placement: { cluster } }, ...extra,
  });
  // What a request could store or change: each object's spec, labels and annotations (and its generation). The hub's
  // services controller writes the services' status and finalizer meanwhile, which a request here cannot.
  const stored = async () => {
    const list = await storage.request<{ items: { metadata: { name: string; generation?: number; labels?: unknown; annotations?: unknown }; spec?: unknown }[] }>('GET', `/apis/internal.upm.io/v1alpha1/namespaces/${project}/mysqlservicerecords`);
    return list.items.map((i) => `${i.metadata.name}@${i.metadata.generation ?? 0} ${JSON.stringify({ labels: i.metadata.labels, annotations: i.metadata.annotations, spec: i.spec })}`).sort();
  };

  beforeAll(async () => {
    fp = await frontProxyCert();
    storage = await client(MGMT);
    await kubectlOkAs(undefined, ['apply', '-f', '-'], JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'Cluster', metadata: { name: cluster }, spec: {} }));
    await kubectlOkAs(undefined, ['create', '-f', '-'], JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: project } }));
    await waitFor('project namespace', async () => (await storage.request<{ items: unknown[] }>('GET', '/api/v1/namespaces', { query: { fieldSelector: `metadata.name=${project}` } })).items.length === 1, { timeoutMs: 30_000 });
  });

  afterAll(async () => {
    await kubectlOkAs(undefined, ['delete', 'project', project, '--wait=false']);
    await kubectlOkAs(undefined, ['delete', 'cluster', cluster, '--wait=false']);
    await storage?.close();
    await closeAgents();
  });

  it('trusts identity headers only from the front proxy', async () => {
    const path = `${GV}/projects`;
    expect((await direct('GET', path, { headers: asUser('alice') })).status).toBe(401);
    const noCert = await direct('GET', path, { headers: ADMIN });
    expect(noCert.status).toBe(401);
    expect(noCert.json()).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
    // a real client certificate of the cluster (kube-apiserver trusts it) is not the front proxy's
    expect((await direct('GET', path, { cert: await adminCert(), headers: ADMIN })).status).toBe(401);
    // the right common name from a CA of one's own
    const rogueCa = await createCA('rogue-ca');
    const rogue = await issueCert(rogueCa, { commonName: 'front-proxy-client', usage: 'client' });
    expect((await direct('GET', path, { cert: { cert: rogue.certPem, key: rogue.keyPem }, headers: ADMIN })).status).toBe(401);
    // the front proxy without a user header is not a user either
    expect((await direct('GET', path, { cert: fp })).status).toBe(401);
    expect((await direct('GET', path, { cert: fp, headers: ADMIN })).status).toBe(200);
  });

  it('accepts a service-account token through a TokenReview, and nothing else as a token', async () => {
    const token = (await kubectlOkAs(undefined, ['create', 'token', 'default', '-n', project, '--duration=10m'])).trim();
    const r = await direct('GET', `${GV}/projects`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    expect(r.json().items).toEqual([]);
    const denied = await direct('GET', `${GV}/clusters/x`, { headers: { authorization: `Bearer ${token}` } });
    expect(denied.status).toBe(404); // upm-user may read clusters; x does not exist
    expect((await direct('GET', `${GV}/projects`, { headers: { authorization: 'Bearer not-a-token' } })).status).toBe(401);
    // a token does not let anyone claim another identity through the headers
    const forged = await direct('GET', `${GV}/namespaces/${project}/mysqlservices`, { headers: { authorization: `Bearer ${token}`, ...ADMIN } });
    expect(forged.status).toBe(403);
    expect(forged.json().message).toContain(`User "system:serviceaccount:${project}:default" cannot list`);
  });

  it('serves Prometheus metrics to those allowed', async () => {
    const m = await direct('GET', '/metrics', { cert: fp, headers: ADMIN });
    expect(m.status).toBe(200);
    expect(m.text).toMatch(/apiserver_request_total\{verb="list",resource="projects",code="200"\} \d+/);
    expect(m.text).toContain('apiserver_registered_watchers');
    expect((await direct('GET', '/metrics', { cert: fp, headers: asUser('nobody-special') })).status).toBe(403);
  });

  it('reads every X-Remote-Group header (repeated headers), adds system:authenticated, and authorizes the user', async () => {
    const group = uniqueName('grp');
    const p = uniqueName('gp');
    await kubectlOkAs(undefined, ['create', '-f', '-'], JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: p }, spec: { members: [{ name: 'x', role: 'admin' }, { kind: 'Group', name: group, role: 'viewer' }] } }));
    try {
      // the project is visible only through the second group
      await waitFor('member by group', async () => {
        const r = await direct('GET', `${GV}/projects/${p}`, { cert: fp, headers: asUser('someone', ['first-group', group]) });
        return r.status === 200;
      }, { timeoutMs: 10_000 });
      // RBAC (upm-user) is granted to system:authenticated only: without the added group nothing would pass
      const r = await direct('GET', `${GV}/projects`, { cert: fp, headers: asUser('nobody-special') });
      expect(r.status).toBe(200);
      expect(r.json().items).toEqual([]);
      const denied = await direct('GET', `${GV}/namespaces/${project}/mysqlservices`, { cert: fp, headers: asUser('nobody-special') });
      expect(denied.status).toBe(403);
      expect(denied.json().message).toBe(`mysqlservices.upm.io is forbidden: User "nobody-special" cannot list resource "mysqlservices" in API group "upm.io" in the namespace "${project}"`);
    } finally {
      await kubectlOkAs(undefined, ['delete', 'project', p, '--wait=false']);
    }
  });

  it('answers health checks without credentials and discovery as the aggregator expects', async () => {
    expect((await direct('GET', '/healthz')).text).toBe('ok');
    const ready = await direct('GET', '/readyz?verbose');
    expect(ready.status).toBe(200);
    expect(ready.text).toContain('[+]informer-sync ok');
    expect((await direct('GET', '/api', { cert: fp, headers: ADMIN })).status).toBe(404);
    const accept = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json';
    const agg = await direct('GET', '/apis', { cert: fp, headers: { ...ADMIN, accept } });
    expect(agg.headers['content-type']).toBe('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    expect(agg.headers.etag).toMatch(/^"[0-9a-f]{128}"$/);
    expect((await direct('GET', '/apis', { cert: fp, headers: { ...ADMIN, accept, 'if-none-match': String(agg.headers.etag) } })).status).toBe(304);
    expect((await direct('GET', '/apis', { cert: fp, headers: ADMIN })).json().kind).toBe('APIGroupList');
    const probe = await direct('GET', GV, { cert: fp, headers: { 'x-remote-user': 'system:kube-aggregator', 'x-remote-group': 'system:masters' } });
    expect(probe.status).toBe(200);
    const root = await direct('GET', '/openapi/v3', { cert: fp, headers: asUser('system:aggregator') });
    const url = (root.json().paths as Record<string, { serverRelativeURL: string }>)['apis/upm.io/v1alpha1']?.serverRelativeURL as string;
    const doc = await direct('GET', url, { cert: fp, headers: ADMIN });
    expect(doc.headers['cache-control']).toBe('public, immutable');
    expect((await direct('GET', '/openapi/v3/apis/upm.io/v1alpha1?hash=WRONG', { cert: fp, headers: ADMIN })).status).toBe(301);
    expect((await direct('GET', `${GV}/projects`, { cert: fp, headers: { ...ADMIN, accept: 'application/vnd.kubernetes.protobuf' } })).status).toBe(406);
  });

  it('answers a stale update with 409 Conflict', async () => {
    const name = uniqueName('cas');
    const created = await direct('POST', `${GV}/namespaces/${project}/mysqlservices`, { cert: fp, headers: { ...ADMIN, 'content-type': 'application/json' }, body: JSON.stringify(svc(name)) });
    expect(created.status).toBe(201);
    type Obj = { metadata: Record<string, unknown> };
    const path = `${GV}/namespaces/${project}/mysqlservices/${name}`;
    const put = (obj: Obj, labels: Record<string, string>) => direct('PUT', path, {
      cert: fp, headers: { ...ADMIN, 'content-type': 'application/json' }, body: JSON.stringify({ ...obj, metadata: { ...obj.metadata, labels } }),
    });
    // The hub's services controller writes the new service too (its status, here that its cluster is not Ready), so
    // the first update starts from a fresh read and is tried again while that write lands in between.
    let read: Obj = created.json() as Obj;
    await waitFor('an update from a fresh read', async () => {
      read = (await direct('GET', path, { cert: fp, headers: ADMIN })).json() as Obj;
      const first = await put(read, { a: '1' });
      if (first.status !== 409) expect(first.status).toBe(200);
      return first.status === 200;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    // The object as read before that update is stale now, whatever else wrote since.
    const stale = await put(read, { a: '2' });
    expect(stale.status).toBe(409);
    expect(stale.json()).toMatchObject({ reason: 'Conflict', details: { name, group: 'upm.io', kind: 'mysqlservices' } });
  });

  it('refuses 1,000 malformed or hostile requests with a 4xx Status, stays up and stores nothing', async () => {
    const base = `${GV}/namespaces/${project}/mysqlservices`;
    const victim = uniqueName('victim');
    expect((await direct('POST', base, { cert: fp, headers: { ...ADMIN, 'content-type': 'application/json' }, body: JSON.stringify(svc(victim)) })).status).toBe(201);
    const before = await stored();
    const json = { ...ADMIN, 'content-type': 'application/json' };
    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const deepObj = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
    // For each field, values that are wrong for it (type, range, pattern, enum, a missing object).
    const long = 'x'.repeat(300);
    const wrongFor: Record<string, unknown[]> = {
      spec: [1, 'x', true, [], null],
      'spec.version': [1, true, [], {}, '', 'x', '8', '5.1', long, '\u0000', null],
      'spec.placement': [1, 'x', [], { cluster: '' }, null],
      'spec.placement.cluster': [1, true, '', 'nowhere', [], {}, long],
      'spec.placement.zones': ['zone-a', 1, [1], { a: 1 }],
      'spec.topology': [1, 'x', [], true],
      'spec.topology.replicas': [0, -1, 10, 1e308, '2', 1.5, true, [], {}],
      'spec.topology.mode': ['', 'x', 1, true, [], {}],
      'spec.resources.cpu': [true, [], {}, 'lots', '-1', '1.5.5'],
      'spec.storage.size': [true, [], {}, 'big', '10 Gi', 1.5],
      'spec.options.parameters': [1, 'x', [], { p: 1 }, { p: 'x'.repeat(2000) }],
      'spec.options.proxysql.replicas': [0, 6, 'x'],
      'metadata.labels': [1, 'x', [], { 'bad key!': 'v' }, { a: 1 }, { a: 'v'.repeat(64) }],
      'metadata.name': [1, '', 'Not_A_Name', long, '-bad', '../x'],
      'metadata.finalizers': ['x', [1]],
      kind: [1, '', 'Project', null],
      apiVersion: [1, '', 'v1', 'internal.upm.io/v1alpha1', null],
      metadata: [1, 'x', [], true],
    };
    const paths = Object.keys(wrongFor);
    const specPaths = paths.filter((p) => p.startsWith('spec.'));
    const setPath = (o: Record<string, unknown>, path: string, v: unknown) => {
      const keys = path.split('.');
      let cur = o;
      for (const k of keys.slice(0, -1)) { if (typeof cur[k] !== 'object' || cur[k] === null || Array.isArray(cur[k])) cur[k] = {}; cur = cur[k] as Record<string, unknown>; }
      cur[keys.at(-1) as string] = v;
      return o;
    };
    const current = JSON.parse((await direct('GET', `${base}/${victim}`, { cert: fp, headers: ADMIN })).text) as Record<string, unknown>;
    const cases: { name: string; method: string; path: string; headers: Record<string, string | string[]>; body?: string | Buffer }[] = [];
    const add = (name: string, method: string, path: string, headers: Record<string, string | string[]>, body?: string | Buffer) => cases.push({ name, method, path, headers, body });
    const strict = (path: string) => `${path}${path.includes('?') ? '&' : '?'}fieldValidation=Strict`;
    // wrong values at every field: create, update (with the current resourceVersion) and merge patch
    for (const p of paths) for (const v of wrongFor[p] as unknown[]) {
      const tag = `${p}=${JSON.stringify(v)?.slice(0, 20)}`;
      add(`create ${tag}`, 'POST', strict(base), json, JSON.stringify(setPath(svc(uniqueName('h')), p, v)));
      add(`update ${tag}`, 'PUT', strict(`${base}/${victim}`), json, JSON.stringify(setPath(structuredClone(current), p, v)));
      if (p.startsWith('spec.')) add(`merge patch ${tag}`, 'PATCH', strict(`${base}/${victim}`), { ...ADMIN, 'content-type': 'application/merge-patch+json' }, JSON.stringify(setPath({}, p, v)));
      if (p.startsWith('spec.')) add(`json patch ${tag}`, 'PATCH', strict(`${base}/${victim}`), { ...ADMIN, 'content-type': 'application/json-patch+json' }, JSON.stringify([{ op: 'add', path: `/${p.replaceAll('.', '/')}`, value: v }]));
    }
    // undecodable bodies and content types
    for (const b of ['', '{', '}', 'null', '[]', '"str"', '42', '{"a":}', '\u0000\u0001', 'ÿþ', '{"apiVersion":"upm.io/v1alpha1",}', deep(5000), deepObj(3000), '{"__proto__":{"polluted":1}}']) {
      add(`body ${b.slice(0, 10)}`, 'POST', base, json, b);
      add(`yaml ${b.slice(0, 10)}`, 'POST', base, { ...ADMIN, 'content-type': 'application/yaml' }, `a: &a [*a]\n${b}`);
    }
    for (const ct of ['text/plain', 'application/xml', 'application/vnd.kubernetes.protobuf', 'multipart/form-data', 'application/x-www-form-urlencoded']) {
      add(`content-type ${ct}`, 'POST', base, { ...ADMIN, 'content-type': ct }, JSON.stringify(svc(uniqueName('h'))));
    }
    // huge strings and bodies
    for (const size of [64 * 1024, 1024 * 1024, 3 * 1024 * 1024 + 1, 5 * 1024 * 1024]) {
      add(`huge name ${size}`, 'POST', base, json, JSON.stringify(svc('x'.repeat(size))));
      add(`huge label ${size}`, 'POST', base, json, JSON.stringify({ ...svc(uniqueName('h')), metadata: { name: uniqueName('h'), labels: { a: 'v'.repeat(size) } } }));
      add(`huge parameter ${size}`, 'POST', base, json, JSON.stringify(setPath(svc(uniqueName('h')), 'spec.options.parameters', { p: 'v'.repeat(size) })));
    }
    add('100k zones', 'POST', base, json, JSON.stringify(setPath(svc(uniqueName('h')), 'spec.placement.zones', Array.from({ length: 100_000 }, (_, i) => `z${i}`))));
    // unknown fields (kubectl's default is Strict)
    for (let i = 0; i < 40; i++) {
      const o = setPath(svc(uniqueName('h')), ['spec.x', 'spec.topology.bogus', 'metadata.evil', 'status.hack', 'extra'][i % 5] as string, { deep: JSON.parse(deepObj(50)) });
      add(`unknown ${i}`, 'POST', `${base}?fieldValidation=Strict`, json, JSON.stringify(o));
    }
    // identity and shape mismatches
    add('wrong apiVersion', 'POST', base, json, JSON.stringify({ ...svc(uniqueName('h')), apiVersion: 'internal.upm.io/v1alpha1' }));
    add('wrong kind', 'POST', base, json, JSON.stringify({ ...svc(uniqueName('h')), kind: 'Project' }));
    add('other namespace', 'POST', base, json, JSON.stringify({ ...svc(uniqueName('h')), metadata: { name: 'x', namespace: 'kube-system' } }));
    add('name mismatch', 'PUT', `${base}/${victim}`, json, JSON.stringify(svc('other-name')));
    add('bad dryRun', 'POST', `${base}?dryRun=Some`, json, JSON.stringify(svc(uniqueName('h'))));
    add('bad fieldValidation', 'POST', `${base}?fieldValidation=Lax`, json, JSON.stringify(svc(uniqueName('h'))));
    add('bad name', 'POST', base, json, JSON.stringify(svc('Not_A_Name')));
    // bad patches of every type
    const patches: [string, string][] = [
      ['application/json-patch+json', '{}'], ['application/json-patch+json', '[{"op":"explode","path":"/spec"}]'], ['application/json-patch+json', '[{"path":"/spec"}]'],
      ['application/json-patch+json', '[{"op":"test","path":"/spec/version","value":"9.9"}]'], ['application/json-patch+json', '[{"op":"remove","path":"/spec/nothing/here"}]'],
      ['application/json-patch+json', '[{"op":"replace","path":"/spec/topology/replicas","value":"many"}]'], ['application/json-patch+json', '[{"op":"add","path":"/spec/version","value":"5.1"}]'],
      ['application/json-patch+json', JSON.stringify(Array.from({ length: 10_001 }, () => ({ op: 'test', path: '/kind', value: 'MysqlService' })))],
      ['application/merge-patch+json', '[]'], ['application/merge-patch+json', '"x"'], ['application/merge-patch+json', '{"spec":{"topology":{"replicas":-5}}}'],
      ['application/merge-patch+json', '{"spec":{"placement":{"cluster":"nowhere"}}}'], ['application/merge-patch+json', '{"spec":{"version":null}}'], ['application/merge-patch+json', '{"metadata":{"name":"renamed"}}'],
      ['application/merge-patch+json', '{"spec":{"unknown":1}}'], ['application/merge-patch+json', '{'],
      ['application/strategic-merge-patch+json', '{"spec":{"version":"8.4"}}'],
      ['application/apply-patch+yaml', 'apiVersion: v1\nkind: Pod\n'], ['application/apply-patch+yaml', '- a\n- b\n'], ['application/apply-patch+yaml', 'a: [\n'],
      ['application/apply-patch+yaml', JSON.stringify({ ...svc(victim), metadata: { name: victim, managedFields: [{}] } })], ['application/apply-patch+yaml', JSON.stringify(setPath(svc(victim), 'spec.topology.mode', 'ring'))],
      ['application/json', '{"spec":{}}'], ['text/plain', 'x'],
    ];
    for (const [ct, body] of patches) {
      add(`patch ${ct} ${body.slice(0, 30)}`, 'PATCH', strict(`${base}/${victim}${ct.includes('apply') ? '?fieldManager=hostile' : ''}`), { ...ADMIN, 'content-type': ct }, body);
      add(`patch missing ${ct} ${body.slice(0, 30)}`, 'PATCH', strict(`${base}/missing-${ct.length}${ct.includes('apply') ? '?fieldManager=hostile' : ''}`), { ...ADMIN, 'content-type': ct }, body);
    }
    add('apply without fieldManager', 'PATCH', `${base}/${victim}`, { ...ADMIN, 'content-type': 'application/apply-patch+yaml' }, JSON.stringify(svc(victim)));
    add('force on merge patch', 'PATCH', `${base}/${victim}?force=true`, { ...ADMIN, 'content-type': 'application/merge-patch+json' }, '{}');
    // hostile query strings and paths
    for (const q of ['labelSelector=a%20in%20(', 'labelSelector=' + 'a'.repeat(400) + '=b', 'fieldSelector=spec.secret%3Dx', 'fieldSelector=metadata.name', 'limit=-1', 'limit=abc',
      'resourceVersion=abc', 'resourceVersionMatch=Exact', 'resourceVersion=0&resourceVersionMatch=Exact', 'continue=garbage', 'continue=' + Buffer.from('{"rv":1,"start":""}').toString('base64url'),
      'sendInitialEvents=true', 'includeObject=Everything', 'watch=1&sendInitialEvents=true', 'watch=1&resourceVersion=abc', 'watch=1&timeoutSeconds=-5']) {
      add(`query ${q.slice(0, 30)}`, 'GET', `${base}?${q}`, { ...ADMIN, accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
    }
    for (const p of [`${GV}/nothings`, `${GV}/namespaces/${project}/mysqlservices/${victim}/scale`, `${GV}/namespaces/${project}/mysqlservices/${victim}/status/extra`, `${GV}/projects/x/status/..%2F..`, '/apis/other.io/v1/things', `${GV}/namespaces/${project}/projects`, `${GV}/mysqlservices/x`]) {
      add(`path ${p}`, 'GET', p, ADMIN);
      add(`post path ${p}`, 'POST', p, json, JSON.stringify(svc(uniqueName('h'))));
    }
    add('operationlogs are read-only', 'POST', `${GV}/namespaces/${project}/operationlogs`, json, JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'OperationLog', metadata: { name: 'x' }, spec: {} }));
    add('delete with bad options', 'DELETE', `${base}/${victim}`, json, '{"propagationPolicy":"Everything"}');
    add('delete with wrong body', 'DELETE', `${base}/${victim}`, json, '{"kind":"Pod"}');
    add('delete with bad precondition', 'DELETE', `${base}/${victim}`, json, '{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"resourceVersion":"1"}}');
    // fill up to 1,000 with random combinations of wrong values (deterministic seed)
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)] as T;
    while (cases.length < 1000) {
      const p = pick(specPaths);
      const v = pick(wrongFor[p] as unknown[]);
      const q = pick(specPaths);
      const w = pick(wrongFor[q] as unknown[]);
      if (rnd() < 0.5) add(`random create ${p}, ${q}`, 'POST', strict(base), json, JSON.stringify(setPath(setPath(svc(uniqueName('h')), p, v), q, w)));
      else add(`random patch ${p}, ${q}`, 'PATCH', strict(`${base}/${victim}`), { ...ADMIN, 'content-type': 'application/merge-patch+json' }, JSON.stringify(setPath(setPath({}, p, v), q, w)));
    }
    expect(cases.length).toBe(1000);

    const failures: string[] = [];
    const codes = new Map<number, number>();
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < cases.length) {
        const c = cases[next++] as (typeof cases)[number];
        const r = await direct(c.method, c.path, { cert: fp, headers: c.headers, body: c.body });
        codes.set(r.status, (codes.get(r.status) ?? 0) + 1);
        let message = '';
        try { message = String(r.json().message ?? ''); } catch { /* not a Status */ }
        if (r.status < 400 || r.status >= 500 || !message) failures.push(`${c.name}: ${r.status} ${r.text.slice(0, 160)}`);
      }
    }));
    expect(failures).toEqual([]);
    expect([...codes.keys()].every((c) => c >= 400 && c < 500)).toBe(true);
    // still up, still serving, and nothing was stored or changed
    expect((await direct('GET', '/readyz')).status).toBe(200);
    expect(await stored()).toEqual(before);
    const good = await direct('POST', base, { cert: fp, headers: json, body: JSON.stringify(svc(uniqueName('ok'))) });
    expect(good.status).toBe(201);
  }, 300_000);
});
