// Authorization fails closed: an object this server's cache has not seen (written by another hub replica a moment
// ago) is read from the storage before deciding, never taken for "no object" that any verb may act on.
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Agent, request } from 'undici';
import { createCA, issueCert } from '../../hack/local/pki.ts';
import { Authorizer } from '../../apiserver/authz.ts';
import { storageResource } from '../../apiserver/cache.ts';
import { crdOf, loadCrds } from '../../apiserver/crds.ts';
import { Hub } from '../../apiserver/hub.ts';
import { ApiServer } from '../../apiserver/server.ts';
import { projects } from '../../apiserver/resources/projects.ts';
import { storageNames } from '../../apiserver/resources/types.ts';
import { RESOURCES } from '../../apiserver/resources/index.ts';
import { ApiError } from '../../apiserver/status.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { collectionPath } from '../../lib/kube/resources.ts';
import { waitFor } from '../../lib/wait.ts';
import { client, uniqueName } from '../env.ts';
import { asUser, closeAgents, describeHub, direct, frontProxyCert, MGMT, type ClientCert } from '../hub.ts';

const GV = '/apis/upm.io/v1alpha1';

describeHub('authorization when the cache has not seen the object', () => {
  let storage: KubeClient;
  let fp: ClientCert;
  const created: string[] = [];
  const projectsPath = () => collectionPath(storageResource(projects));

  /** Creates a project owned by `admin` straight in the storage CRD, as another hub replica would. */
  const storeProject = async (name: string, admin: string) => {
    const r = await storage.raw('POST', projectsPath(), { body: {
      apiVersion: `${storageResource(projects).group}/${storageResource(projects).version}`, kind: storageResource(projects).kind,
      metadata: { name }, spec: { members: [{ kind: 'User', name: admin, role: 'admin' }] },
    } });
    expect(r.statusCode).toBe(201);
    created.push(name);
  };
  const stored = async (name: string) => (await storage.raw('GET', `${projectsPath()}/${name}`)).statusCode;

  /** mallory's DELETE of the project through the replica's store is refused, and the project stays. */
  const expectRefusedDelete = async (hub: Hub, name: string) => {
    const store = hub.stores.get('projects');
    if (!store) throw new Error('no projects store');
    const req = Object.assign(Readable.from([]), { headers: {} }) as unknown as IncomingMessage;
    const ctx = hub.context({ name: 'mallory', uid: '', groups: ['system:authenticated'], extra: {} }, 'projects');
    const err = await store.delete(ctx, '', name, req, new URLSearchParams()).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect([403, 404]).toContain((err as ApiError).code);
    expect(await stored(name)).toBe(200);
  };

  beforeAll(async () => {
    storage = await client(MGMT);
    fp = await frontProxyCert();
  });

  afterAll(async () => {
    for (const name of created) await storage.raw('DELETE', `${projectsPath()}/${name}`);
    await storage?.close();
    await closeAgents();
  });

  it('reads a project missing from the cache from the storage before a non-member may delete it', async () => {
    // A second replica whose cache has not caught up: its caches never ran, so every object is a cache miss.
    const hub = new Hub({ storage, defs: RESOURCES, crds: loadCrds(), authorizer: new Authorizer(storage), engineTemplates: new Map() });
    const name = uniqueName('unseen');
    await storeProject(name, 'alice');
    await expectRefusedDelete(hub, name);
  });

  it('authorizes a patch, an update and a delete against the stored object, not a stale cached one', async () => {
    // A replica whose projects cache stopped following the storage after it synced: it still holds the project
    // as it was before another replica removed the caller from its admins.
    const hub = new Hub({ storage, defs: RESOURCES, crds: loadCrds(), authorizer: new Authorizer(storage), engineTemplates: new Map() });
    const name = uniqueName('stale');
    await storeProject(name, 'mallory');
    const cache = hub.caches.get('projects');
    if (!cache) throw new Error('no projects cache');
    const stop = new AbortController();
    const running = cache.run(stop.signal);
    await waitFor('the cache holds the project', async () => cache.get(name) !== undefined, { timeoutMs: 10_000, intervalMs: 50 });
    stop.abort();
    await running;
    const r = await storage.raw('PATCH', `${projectsPath()}/${name}`, { body: { spec: { members: [{ kind: 'User', name: 'alice', role: 'admin' }] } }, contentType: 'application/merge-patch+json' });
    expect(r.statusCode).toBe(200);
    expect(JSON.stringify(cache.get(name)?.obj.spec)).toContain('mallory');
    // Nor may she make herself admin again by a patch the stale cache would allow.
    const store = hub.stores.get('projects');
    if (!store) throw new Error('no projects store');
    const body = JSON.stringify({ spec: { members: [{ kind: 'User', name: 'mallory', role: 'admin' }] } });
    const req = Object.assign(Readable.from([Buffer.from(body)]), { headers: { 'content-type': 'application/merge-patch+json' } }) as unknown as IncomingMessage;
    const ctx = hub.context({ name: 'mallory', uid: '', groups: ['system:authenticated'], extra: {} }, 'projects');
    const err = await store.patch(ctx, '', name, '', req, new URLSearchParams()).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect([403, 404]).toContain((err as ApiError).code);
    // Nor by an update: the storage requires its resourceVersion, and the one she can have seen is stale.
    const rv = cache.get(name)?.obj.metadata.resourceVersion;
    const put = JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name, resourceVersion: rv }, spec: { members: [{ kind: 'User', name: 'mallory', role: 'admin' }] } });
    const putReq = Object.assign(Readable.from([Buffer.from(put)]), { headers: { 'content-type': 'application/json' } }) as unknown as IncomingMessage;
    const putErr = await store.update(ctx, '', name, '', putReq, new URLSearchParams()).then(() => undefined, (e: unknown) => e);
    expect(putErr).toBeInstanceOf(ApiError);
    expect([403, 404, 409]).toContain((putErr as ApiError).code);
    const now = await storage.request<{ spec: unknown }>('GET', `${projectsPath()}/${name}`);
    expect(JSON.stringify(now.spec)).not.toContain('mallory');
    await expectRefusedDelete(hub, name);
  });

  it('refuses a non-member deleting a project another replica just created, through the hub', async () => {
    // Back to back, many times, through the real hub: the request may arrive before the hub's watch brought the
    // project (the test above makes that miss certain).
    const names = Array.from({ length: 10 }, () => uniqueName('race'));
    for (const name of names) {
      await storeProject(name, 'alice');
      const r = await direct('DELETE', `${GV}/projects/${name}`, { cert: fp, headers: asUser('mallory') });
      expect({ name, status: [403, 404].includes(r.status) ? 'refused' : r.status }).toEqual({ name, status: 'refused' });
    }
    for (const name of names) expect(await stored(name)).toBe(200);
  });

  it('serves no resource before its caches synced, and says it is not ready', async () => {
    // A replica with one resource whose storage the cluster does not have: that cache never syncs.
    const crds = loadCrds();
    const projectsCrd = crdOf(crds, projects);
    const unsyncable = storageNames({ kind: 'Unsyncable' });
    crds.set(unsyncable.plural, { ...projectsCrd, plural: unsyncable.plural, kind: unsyncable.kind });
    const defs = [...RESOURCES, { ...projects, plural: 'unsyncables', singular: 'unsyncable', kind: 'Unsyncable', listKind: 'UnsyncableList', shortNames: [] }];
    const ca = await createCA('security-authz');
    const tls = await issueCert(ca, { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ips: ['127.0.0.1'] });
    const server = new ApiServer({ storage, tlsCert: tls.certPem, tlsKey: tls.keyPem, engineTemplates: new Map(), defs, crds });
    const port = await server.start();
    const agent = new Agent({ connect: { ca: ca.certPem, cert: fp.cert, key: fp.key, servername: 'localhost' } });
    // A connection per request: one opened before the replica loaded the front proxy's CA stays unauthenticated.
    const get = async (path: string, headers: Record<string, string | string[]> = {}) => {
      const r = await request(`https://127.0.0.1:${port}${path}`, { headers, dispatcher: agent, reset: true });
      return { status: r.statusCode, text: await r.body.text() };
    };
    try {
      const name = uniqueName('early');
      await storeProject(name, 'alice');
      // Authentication is ready once it read its ConfigMap; the caches of the real resources sync as well.
      await server.hub.caches.get('projects')?.waitForSync();
      let r = await get(`${GV}/projects/${name}`, asUser('alice'));
      const authenticating = () => r.status === 401 || (r.status === 503 && r.text.includes('authentication'));
      await waitFor('the replica authenticates the front proxy', async () => {
        r = await get(`${GV}/projects/${name}`, asUser('alice'));
        return !authenticating();
      }, { timeoutMs: 45_000, intervalMs: 200 });
      expect(r.status).toBe(503);
      expect(JSON.parse(r.text)).toMatchObject({ kind: 'Status', code: 503, reason: 'ServiceUnavailable', message: expect.stringContaining('caches have not synced') });
      const del = await request(`https://127.0.0.1:${port}${GV}/projects/${name}`, { method: 'DELETE', headers: asUser('mallory'), dispatcher: agent, reset: true });
      await del.body.text();
      expect(del.statusCode).toBe(503);
      expect(await stored(name)).toBe(200);
      const ready = await get('/readyz?verbose');
      expect(ready.status).not.toBe(200);
      expect(ready.text).toContain('[-]informer-sync failed');
    } finally {
      await agent.close();
      await server.close();
    }
  }, 90_000);
});
