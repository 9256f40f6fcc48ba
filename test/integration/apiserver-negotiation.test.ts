// Every form a client can negotiate for upm.io, through the real aggregation layer, decoded as strictly as client-go
// decodes it: lists and watches (bookmarks included: the initial-events-end one, the periodic ones and the one
// before a timeout; ERROR events; ADDED, MODIFIED, DELETED) as PartialObjectMetadata(List), as Table, in v1 and
// v1beta1, and as plain JSON, for every resource in discovery. What the server cannot serve it refuses as the
// kube-apiserver does, which the suite checks against a CRD the same kube-apiserver serves. And the management
// cluster's controller manager, whose garbage collector watches every upm.io resource as metadata, logs no
// decoding error.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { parse as parseYaml } from 'yaml';
import { storageResource } from '../../apiserver/cache.ts';
import { projects } from '../../apiserver/resources/projects.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { collectionPath } from '../../lib/kube/resources.ts';
import { waitFor } from '../../lib/wait.ts';
import { client, testState, uniqueName } from '../env.ts';
import { describeHub, hubState, kubectlOkAs, MGMT } from '../hub.ts';
import { bookmarkMeta, checkList, checkObject, decodeWatch, type Expect, type WatchEvent } from '../strict-decode.ts';

const GV = '/apis/upm.io/v1alpha1';
// What client-go's metadata client sends (k8s.io/client-go/metadata), and kubectl get.
const METADATA_CLIENT = 'application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';
const METADATA_CLIENT_LIST = 'application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
const KUBECTL_GET = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

interface Resource { name: string; kind: string; namespaced: boolean }

interface Form { name: string; accept: string; listAccept: string; expect(r: Resource): Expect }

describeHub('content negotiation of upm.io, decoded strictly', () => {
  const interval = hubState().bookmarkIntervalSeconds;
  const project = uniqueName('neg');
  let admin: KubeClient;
  let resources: Resource[] = [];
  const fields = new Map<string, Set<string>>();

  const FORMS: Form[] = [
    { name: 'PartialObjectMetadata v1 (metadata client)', accept: METADATA_CLIENT, listAccept: METADATA_CLIENT_LIST, expect: () => ({ as: 'PartialObjectMetadata', version: 'v1' }) },
    {
      name: 'PartialObjectMetadata v1beta1',
      accept: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta1',
      listAccept: 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1beta1',
      expect: () => ({ as: 'PartialObjectMetadata', version: 'v1beta1' }),
    },
    { name: 'Table v1 (kubectl)', accept: KUBECTL_GET, listAccept: KUBECTL_GET, expect: () => ({ as: 'Table', version: 'v1' }) },
    { name: 'Table v1beta1', accept: 'application/json;as=Table;g=meta.k8s.io;v=v1beta1', listAccept: 'application/json;as=Table;g=meta.k8s.io;v=v1beta1', expect: () => ({ as: 'Table', version: 'v1beta1' }) },
    {
      name: 'JSON', accept: 'application/json', listAccept: 'application/json',
      expect: (r) => ({ as: 'Object', apiVersion: 'upm.io/v1alpha1', kind: r.kind, listKind: `${r.kind}List`, fields: fields.get(r.kind) ?? new Set() }),
    },
  ];

  const get = (path: string, accept: string, query: Record<string, string> = {}) => admin.raw('GET', path, { headers: { accept }, query, timeoutMs: 60_000 });
  const watchText = async (path: string, accept: string, query: Record<string, string>): Promise<{ status: number; text: string }> => {
    const r = await get(path, accept, { watch: '1', ...query });
    return { status: r.statusCode, text: textOf(r.body) };
  };

  /** A watch read as it streams, until `done` says so or the server ends it; the text read so far. */
  const watchUntil = async (path: string, accept: string, query: Record<string, string>, done: (text: string) => boolean): Promise<string> => {
    const stop = new AbortController();
    const res = await admin.forward('GET', `${path}?${new URLSearchParams({ watch: '1', ...query }).toString()}`, { headers: { accept }, signal: stop.signal });
    let text = '';
    try {
      for await (const chunk of res.body) {
        text += (chunk as Buffer).toString();
        if (done(text)) break;
      }
    } finally {
      stop.abort();
    }
    return text.slice(0, text.lastIndexOf('\n') + 1); // whole events only
  };

  beforeAll(async () => {
    admin = await client(MGMT);
    const list = await admin.request<{ resources: { name: string; kind: string; namespaced: boolean; verbs: string[] }[] }>('GET', GV);
    resources = list.resources.filter((r) => !r.name.includes('/') && r.verbs.includes('watch') && r.verbs.includes('list'));
    // The full kind's fields are those of its published schema.
    const doc = await admin.request<{ components: { schemas: Record<string, { properties?: Record<string, unknown>; 'x-kubernetes-group-version-kind'?: { group: string; kind: string }[] }> } }>('GET', `/openapi/v3${GV}`);
    for (const s of Object.values(doc.components.schemas)) {
      const gvk = s['x-kubernetes-group-version-kind']?.find((g) => g.group === 'upm.io');
      if (gvk && s.properties) fields.set(gvk.kind, new Set(Object.keys(s.properties)));
    }
    await kubectlOkAs(undefined, ['create', '-f', '-'], JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: project } }));
  });

  afterAll(async () => {
    await kubectlOkAs(undefined, ['delete', 'project', project, '--wait=false']).catch(() => undefined);
    await admin?.close();
  });

  it('finds every upm.io resource in discovery, each with its published fields', () => {
    expect(resources.map((r) => r.name)).toEqual(expect.arrayContaining(['projects', 'users', 'clusters', 'mysqlservices', 'operations', 'operationlogs']));
    for (const r of resources) expect([r.kind, [...(fields.get(r.kind) ?? [])].sort()]).toEqual([r.kind, expect.arrayContaining(['apiVersion', 'kind', 'metadata'])]);
  });

  it('lists and gets every resource in every form', async () => {
    const violations: string[] = [];
    await Promise.all(resources.map(async (r) => {
      for (const f of FORMS) {
        const where = `${r.name} as ${f.name}`;
        const l = await get(`${GV}/${r.name}`, f.listAccept);
        if (l.statusCode !== 200) { violations.push(`${where}: list answered ${l.statusCode}: ${JSON.stringify(l.body).slice(0, 300)}`); continue; }
        violations.push(...checkList(`${where} list`, l.body, f.expect(r)));
        const first = (await get(`${GV}/${r.name}`, 'application/json', { limit: '1' })).body as { items: { metadata: { name: string; namespace?: string } }[] };
        const item = first.items[0];
        if (!item) continue;
        const path = `${GV}${item.metadata.namespace ? `/namespaces/${item.metadata.namespace}` : ''}/${r.name}/${item.metadata.name}`;
        const g = await get(path, f.accept);
        if (g.statusCode !== 200) violations.push(`${where}: get answered ${g.statusCode}`);
        else violations.push(...checkObject(`${where} get`, g.body, f.expect(r)));
      }
    }));
    expect(violations).toEqual([]);
  });

  it('watches every resource in every form through its bookmarks and errors', async () => {
    const jobs = resources.flatMap((r) => FORMS.map((f) => ({ r, f })));
    const violations: string[] = [];
    const seen = { initialEnd: 0, periodic: 0, errors: 0 };
    await inBatches(jobs, 40, async ({ r, f }) => {
      const where = `${r.name} as ${f.name}`;
      // The initial state, the initial-events-end bookmark, then a periodic bookmark and the one before the timeout.
      const w = await watchText(`${GV}/${r.name}`, f.accept, {
        allowWatchBookmarks: 'true', sendInitialEvents: 'true', resourceVersionMatch: 'NotOlderThan', timeoutSeconds: String(interval + 2),
      });
      if (w.status !== 200) { violations.push(`${where}: watch answered ${w.status}: ${w.text.slice(0, 300)}`); return; }
      const d = decodeWatch(where, w.text, f.expect(r));
      violations.push(...d.violations);
      const end = d.events.findIndex((e) => e.type === 'BOOKMARK' && bookmarkMeta(e).annotations?.['k8s.io/initial-events-end'] === 'true');
      if (end < 0) violations.push(`${where}: no initial-events-end bookmark`);
      else seen.initialEnd++;
      if (d.events.slice(0, Math.max(end, 0)).some((e) => e.type !== 'ADDED')) violations.push(`${where}: the initial events are not all ADDED`);
      const later = d.events.slice(end + 1).filter((e) => e.type === 'BOOKMARK');
      if (later.length < 2) violations.push(`${where}: ${later.length} bookmarks after the initial events in ${interval + 2} s (want a periodic one and the last one)`);
      else seen.periodic++;
      for (const b of d.events.filter((e) => e.type === 'BOOKMARK')) if (!/^\d+$/.test(bookmarkMeta(b).resourceVersion ?? '')) violations.push(`${where}: a bookmark without resourceVersion`);
      // A resourceVersion long compacted away: an ERROR event with a 410 Status.
      const old = await watchText(`${GV}/${r.name}`, f.accept, { resourceVersion: '1', allowWatchBookmarks: 'true', timeoutSeconds: '5' });
      const e = decodeWatch(`${where} from resourceVersion 1`, old.text, f.expect(r));
      violations.push(...e.violations);
      if (e.events[0]?.type !== 'ERROR' || e.events[0].object.code !== 410) violations.push(`${where}: from resourceVersion 1: ${old.text.slice(0, 200)}`);
      else seen.errors++;
    });
    expect(violations).toEqual([]);
    expect(seen).toEqual({ initialEnd: jobs.length, periodic: jobs.length, errors: jobs.length });
  }, 180_000);

  it('sends ADDED, MODIFIED and DELETED in every form', async () => {
    const name = uniqueName('neg');
    const rv = ((await get(`${GV}/users`, 'application/json', { limit: '1' })).body as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    // Each stream is read until the User's DELETED arrives (the server ends it after 60 s at most).
    const deletedLine = (text: string) => text.slice(0, text.lastIndexOf('\n')).split('\n').some((l) => l.startsWith('{"type":"DELETED"') && l.includes(`"${name}"`));
    const watches = FORMS.map((f) => watchUntil(`${GV}/users`, f.accept, { resourceVersion: rv, allowWatchBookmarks: 'true', timeoutSeconds: '60' }, deletedLine));
    await kubectlOkAs(undefined, ['create', '-f', '-'], JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'User', metadata: { name }, spec: { username: name } }));
    await kubectlOkAs(undefined, ['label', 'user', name, 'negotiation=modified']);
    await kubectlOkAs(undefined, ['delete', 'user', name]);
    const results = await Promise.all(watches);
    const violations: string[] = [];
    const types = FORMS.map((f, i) => {
      const d = decodeWatch(`users as ${f.name}`, results[i] ?? '', f.expect({ name: 'users', kind: 'User', namespaced: false }));
      violations.push(...d.violations);
      return [f.name, [...new Set(d.events.filter((e) => nameOf(e) === name).map((e) => e.type))]];
    });
    expect(violations).toEqual([]);
    expect(Object.fromEntries(types)).toEqual(Object.fromEntries(FORMS.map((f) => [f.name, ['ADDED', 'MODIFIED', 'DELETED']])));
  }, 90_000);

  it('answers writes and deletecollection in the negotiated form', async () => {
    const users: Resource = { name: 'users', kind: 'User', namespaced: false };
    const violations: string[] = [];
    for (const f of FORMS) {
      const name = uniqueName('negw');
      const where = `users as ${f.name}`;
      const created = await admin.raw('POST', `${GV}/users`, { headers: { accept: f.accept }, body: { apiVersion: 'upm.io/v1alpha1', kind: 'User', metadata: { name, labels: { negotiation: name } }, spec: { username: name } } });
      violations.push(...(created.statusCode === 201 ? checkObject(`${where} create`, created.body, f.expect(users)) : [`${where}: create answered ${created.statusCode}`]));
      const patched = await admin.raw('PATCH', `${GV}/users/${name}`, { headers: { accept: f.accept }, body: { metadata: { annotations: { negotiation: 'patched' } } }, contentType: 'application/merge-patch+json' });
      violations.push(...(patched.statusCode === 200 ? checkObject(`${where} patch`, patched.body, f.expect(users)) : [`${where}: patch answered ${patched.statusCode}`]));
      const deleted = await admin.raw('DELETE', `${GV}/users`, { headers: { accept: f.listAccept }, query: { labelSelector: `negotiation=${name}` } });
      violations.push(...(deleted.statusCode === 200 ? checkList(`${where} deletecollection`, deleted.body, f.expect(users)) : [`${where}: deletecollection answered ${deleted.statusCode}`]));
      const body = deleted.body as { items?: unknown[]; rows?: unknown[] };
      if ((body.items ?? body.rows)?.length !== 1) violations.push(`${where}: deletecollection did not answer with the one User it deleted`);
    }
    expect(violations).toEqual([]);
  });

  it('serves or refuses (406) each Accept header as the kube-apiserver does for a custom resource', async () => {
    // The projects' storage CRD, served by the same kube-apiserver: the reference for what a server answers.
    const storage = collectionPath(storageResource(projects));
    const cases = [
      '*/*', 'application/json', 'application/yaml', 'text/html', 'application/vnd.kubernetes.protobuf', 'application/json;pretty=1',
      'application/json;as=Table;g=meta.k8s.io;v=v1', 'application/json;as=Table;g=meta.k8s.io;v=v1beta1', 'application/yaml;as=Table;g=meta.k8s.io;v=v1',
      'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1', 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1',
      'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta1', 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1beta1',
      'application/yaml;as=PartialObjectMetadata;g=meta.k8s.io;v=v1', 'application/yaml;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1',
      'application/json;as=Table;g=meta.k8s.io;v=v2', 'application/json;as=Table;g=example.com;v=v1', 'application/json;as=Unknown;g=meta.k8s.io;v=v1',
      'application/json;g=meta.k8s.io;v=v1', 'application/json;as=Table;g=meta.k8s.io;v=v2,application/json', 'text/html,application/json;as=Table;g=meta.k8s.io;v=v1',
      'application/json;as=Table;g=meta.k8s.io;v=v1;includeObject=Object', 'application/json;stream=watch',
    ];
    const answers = async (collection: string, name: string) => {
      const out: Record<string, { get: string; list: string; watch: string }> = {};
      for (const accept of cases) {
        const headers = { accept };
        const one = await admin.raw('GET', `${collection}/${name}`, { headers });
        const list = await admin.raw('GET', collection, { headers });
        const watch = await admin.raw('GET', collection, {
          headers, query: { watch: '1', allowWatchBookmarks: 'true', sendInitialEvents: 'true', resourceVersionMatch: 'NotOlderThan', timeoutSeconds: '1', fieldSelector: `metadata.name=${name}` },
        });
        out[accept] = { get: shapeOf(one), list: shapeOf(list), watch: watchShapeOf(watch) };
      }
      return out;
    };
    const ours = await answers(`${GV}/projects`, project);
    const reference = await answers(storage, project);
    // Where the kube-apiserver goes wrong we refuse instead: it answers an object asked for as a list with a 500,
    // and a watch asked for as lists with an empty stream (no event converts).
    for (const [accept, r] of Object.entries(reference)) {
      if (!accept.includes('as=PartialObjectMetadataList')) continue;
      expect([accept, r.get, r.watch]).toEqual([accept, '500', accept.startsWith('application/yaml') ? '406' : '200 application/json ']);
      Object.assign(r, { get: '406', watch: '406' });
    }
    expect(ours).toEqual(reference);
    // Every refusal is a NotAcceptable Status.
    const requests = { get: [`${GV}/projects/${project}`, {}], list: [`${GV}/projects`, {}], watch: [`${GV}/projects`, { watch: '1', timeoutSeconds: '1' }] } as const;
    const refusals = Object.entries(ours).flatMap(([accept, r]) => (['get', 'list', 'watch'] as const).filter((v) => r[v] === '406').map((v) => ({ accept, v })));
    expect(refusals.length).toBeGreaterThan(10);
    for (const { accept, v } of refusals) {
      const [path, query] = requests[v];
      const r = await admin.raw('GET', path, { headers: { accept }, query });
      expect([accept, v, r.body]).toEqual([accept, v, expect.objectContaining({ kind: 'Status', apiVersion: 'v1', code: 406, reason: 'NotAcceptable' })]);
    }
  }, 120_000);

  it('leaves the controller manager of the management cluster nothing it cannot decode', async () => {
    const started = Date.now();
    // Its garbage collector watches upm.io as metadata: it must see a User go and delete what the User owned.
    const name = uniqueName('neg-owner');
    await kubectlOkAs(undefined, ['create', '-f', '-'], JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'User', metadata: { name }, spec: { username: name } }));
    const uid = await kubectlOkAs(undefined, ['get', 'user', name, '-o', 'jsonpath={.metadata.uid}']);
    await admin.request('POST', '/api/v1/namespaces/default/configmaps', {
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ownerReferences: [{ apiVersion: 'upm.io/v1alpha1', kind: 'User', name, uid }] } },
    });
    await kubectlOkAs(undefined, ['delete', 'user', name]);
    await waitFor('the garbage collector to delete the dependent of the User', async () => (await admin.raw('GET', `/api/v1/namespaces/default/configmaps/${name}`)).statusCode === 404, { timeoutMs: 60_000, intervalMs: 500 });
    // Every watch of it has had bookmarks since: a few intervals from now, and from its discovery of upm.io
    // (within 30 s of the APIService being Available).
    const until = Math.max(started + 2 * interval * 1000 + 1000, hubState().availableAt + 30_000 + 2 * interval * 1000);
    if (Date.now() < until) await new Promise((r) => setTimeout(r, until - Date.now()));
    const log = await readFile(join(testState().dir, MGMT, 'logs', 'kube-controller-manager.log'), 'utf8');
    const undecodable = log.split('\n').filter((l) => /unable to decode|no kind .* is registered/.test(l) && /upm\.io/.test(l));
    expect(undecodable).toEqual([]);
  }, 120_000);
});

/** A body as its text: raw() parses one that is a single JSON document (a watch of one event). */
function textOf(body: unknown): string {
  return body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
}

function nameOf(e: WatchEvent): string | undefined {
  const o = e.object as { metadata?: { name?: string }; rows?: { object?: { metadata?: { name?: string } } }[] };
  return o.rows ? o.rows[0]?.object?.metadata?.name : o.metadata?.name;
}

/** What a client sees of an answer: the status, the media type and the kind (a custom resource's own kind as "own"). */
function kindOf(body: unknown): string {
  if (typeof body !== 'object' || body === null) return typeof body;
  const o = body as { apiVersion?: string; kind?: string; items?: unknown };
  if (o.apiVersion?.startsWith('meta.k8s.io/') || o.kind === 'Status') return `${o.apiVersion}/${o.kind}${o.kind === 'Status' ? `:${(o as { reason?: string }).reason}` : ''}`;
  return Array.isArray(o.items) ? 'own list' : 'own';
}

function bodyOf(r: { headers: Record<string, string | string[] | undefined>; body: unknown }): unknown {
  if (typeof r.body === 'string' && String(r.headers['content-type']).startsWith('application/yaml')) return parseYaml(r.body) as unknown;
  return r.body;
}

function mediaOf(r: { headers: Record<string, string | string[] | undefined> }): string {
  return String(r.headers['content-type'] ?? '').split(';')[0] ?? '';
}

function shapeOf(r: { statusCode: number; headers: Record<string, string | string[] | undefined>; body: unknown }): string {
  // A refusal by its code alone: the kube-apiserver writes one in whatever it negotiated (even protobuf), we in JSON.
  if (r.statusCode >= 300) return String(r.statusCode);
  return `${r.statusCode} ${mediaOf(r)} ${kindOf(bodyOf(r))}`;
}

function watchShapeOf(r: { statusCode: number; headers: Record<string, string | string[] | undefined>; body: unknown }): string {
  if (r.statusCode >= 300) return shapeOf(r);
  const events = textOf(r.body).split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { type: string; object: unknown });
  return `${r.statusCode} ${mediaOf(r)} ${[...new Set(events.map((e) => `${e.type}:${kindOf(e.object)}`))].join(',')}`;
}

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, async () => {
    while (next < items.length) await fn(items[next++] as T);
  }));
}
