import { afterEach, describe, expect, it } from '@jest/globals';
import { Informer } from './informer.ts';
import { FakeApi } from './kube/fake.ts';
import type { ResourceType } from './kube/resources.ts';
import type { KubeObject } from './kube/types.ts';
import { waitFor } from './wait.ts';

const Things: ResourceType = { group: 'test.upm.io', version: 'v1', plural: 'things', kind: 'Thing', namespaced: true };
const thing = (name: string, labels: Record<string, string> = {}): KubeObject => ({ apiVersion: 'test.upm.io/v1', kind: 'Thing', metadata: { name, namespace: 'ns', labels } });
const byTeam = (o: KubeObject) => { const t = o.metadata.labels?.team; return t ? [t] : []; };
const names = (objs: KubeObject[]) => objs.map((o) => o.metadata.name ?? '').sort();

const stops: AbortController[] = [];
afterEach(() => { for (const s of stops.splice(0)) s.abort(); });

async function started(api: FakeApi): Promise<Informer<KubeObject>> {
  const inf = new Informer<KubeObject>(api.client, Things);
  const stop = new AbortController();
  stops.push(stop);
  void inf.run(stop.signal);
  await inf.waitForSync();
  return inf;
}

describe('Informer indexes', () => {
  it('follows adds, updates (moving between values) and deletes', async () => {
    const api = new FakeApi();
    const inf = await started(api);
    inf.addIndex('team', byTeam);
    api.put('things', thing('a', { team: 'red' }));
    api.put('things', thing('b', { team: 'red' }));
    api.put('things', thing('c', { team: 'blue' }));
    await waitFor('three cached', () => inf.size === 3);
    expect(names(inf.byIndex('team', 'red'))).toEqual(['a', 'b']);
    expect(names(inf.byIndex('team', 'blue'))).toEqual(['c']);

    api.put('things', thing('b', { team: 'blue' }));
    await waitFor('b moved', () => inf.get('ns/b')?.metadata.labels?.team === 'blue');
    expect(names(inf.byIndex('team', 'red'))).toEqual(['a']);
    expect(names(inf.byIndex('team', 'blue'))).toEqual(['b', 'c']);

    api.put('things', thing('a'));
    api.delete('things', 'ns/c');
    await waitFor('c gone', () => !inf.get('ns/c'));
    expect(inf.byIndex('team', 'red')).toEqual([]);
    expect(names(inf.byIndex('team', 'blue'))).toEqual(['b']);
    expect(inf.indexKeys('team', 'blue')).toEqual(['ns/b']);
  });

  it('indexes what is already cached when added after sync, and several values per object', async () => {
    const api = new FakeApi();
    api.put('things', thing('a', { team: 'red', also: 'blue' }));
    api.put('things', thing('b', { team: 'blue' }));
    const inf = await started(api);
    inf.addIndex('teams', (o) => [o.metadata.labels?.team, o.metadata.labels?.also, o.metadata.labels?.team].filter((v): v is string => !!v));
    expect(names(inf.byIndex('teams', 'blue'))).toEqual(['a', 'b']);
    expect(names(inf.byIndex('teams', 'red'))).toEqual(['a']);
    expect(inf.indexKeys('teams', 'red')).toEqual(['ns/a']); // a value returned twice files the object once
  });

  it('is rebuilt from a relist, dropping what went away while the watch was down', async () => {
    const api = new FakeApi();
    api.put('things', thing('a', { team: 'red' }));
    api.put('things', thing('b', { team: 'red' }));
    const inf = await started(api);
    inf.addIndex('team', byTeam);
    const lists = inf.stats.lists;
    api.expire(); // the history is compacted: the changes below reach the informer only through a LIST
    api.put('things', thing('a', { team: 'blue' }));
    api.delete('things', 'ns/b');
    api.put('things', thing('d', { team: 'red' }));
    await waitFor('relisted', () => inf.stats.lists > lists && inf.size === 2 && inf.get('ns/d'));
    expect(inf.stats.gone).toBeGreaterThan(0);
    expect(names(inf.byIndex('team', 'red'))).toEqual(['d']);
    expect(names(inf.byIndex('team', 'blue'))).toEqual(['a']);
  });

  it('is current when handlers run, so a mapper may ask it', async () => {
    const api = new FakeApi();
    const inf = await started(api);
    inf.addIndex('team', byTeam);
    const seen: string[][] = [];
    inf.addHandler({
      onAdd: (o) => seen.push(names(inf.byIndex('team', byTeam(o)[0] ?? ''))),
      onDelete: () => seen.push(names(inf.byIndex('team', 'red'))),
    });
    api.put('things', thing('a', { team: 'red' }));
    await waitFor('add seen', () => seen.length === 1);
    api.delete('things', 'ns/a');
    await waitFor('delete seen', () => seen.length === 2);
    expect(seen).toEqual([['a'], []]);
  });

  it('refuses a second index of one name and a query of an unknown one', async () => {
    const api = new FakeApi();
    const inf = await started(api);
    inf.addIndex('team', byTeam);
    expect(inf.hasIndex('team')).toBe(true);
    expect(() => inf.addIndex('team', byTeam)).toThrow(/index team already exists/);
    expect(() => inf.byIndex('colour', 'red')).toThrow(/no index colour/);
  });

  it('leaves an object its index function throws on out of that index, and keeps following the server', async () => {
    const api = new FakeApi();
    const inf = await started(api);
    inf.addIndex('team', (o) => { if (o.metadata.name === 'bad') throw new Error('no'); return byTeam(o); });
    api.put('things', thing('bad', { team: 'red' }));
    api.put('things', thing('good', { team: 'red' }));
    await waitFor('both cached', () => inf.size === 2);
    expect(names(inf.byIndex('team', 'red'))).toEqual(['good']);
  });
});

describe('Informer connection', () => {
  it('reports each failed list or watch to its handlers, and goes on', async () => {
    const api = new FakeApi();
    api.put('things', thing('a'));
    let refusals = 2;
    const client = { ...api.client, list: async (...args: Parameters<typeof api.client.list>) => {
      if (refusals-- > 0) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
      return api.client.list(...args);
    } } as typeof api.client;
    const inf = new Informer<KubeObject>(client, Things);
    const failures: string[] = [];
    inf.addHandler({ onFailure: (err) => failures.push(String(err)) });
    const stop = new AbortController();
    stops.push(stop);
    void inf.run(stop.signal);
    await inf.waitForSync();
    expect(failures).toEqual(['Error: connect ECONNREFUSED 127.0.0.1:1', 'Error: connect ECONNREFUSED 127.0.0.1:1']);
    expect(inf.stats).toMatchObject({ lists: 1, failures: 2 });
  });

  it('reconnect() ends a silent watch and resumes from the same resourceVersion, with no relist and no failure', async () => {
    const api = new FakeApi();
    api.put('things', thing('a'));
    const watched: (string | undefined)[] = [];
    const client = { ...api.client, watch: (rt: ResourceType, opts: Parameters<typeof api.client.watch>[1]) => {
      watched.push(opts?.resourceVersion);
      return api.client.watch(rt, opts);
    } } as typeof api.client;
    const inf = new Informer<KubeObject>(client, Things);
    const stop = new AbortController();
    stops.push(stop);
    void inf.run(stop.signal);
    await inf.waitForSync();
    await waitFor('watching', () => watched.length === 1);
    inf.reconnect();
    await waitFor('watching again', () => watched.length === 2);
    expect(watched).toEqual([inf.lastResourceVersion, inf.lastResourceVersion]);
    api.put('things', thing('b'));
    await waitFor('b through the new watch', () => !!inf.get('ns/b'));
    expect(inf.stats).toMatchObject({ lists: 1, watches: 2, failures: 0 });
  });

  it('asks for metadata only when told to (PartialObjectMetadata, lists and watches)', async () => {
    const api = new FakeApi();
    const accepts: (string | undefined)[] = [];
    const client = {
      list: async (rt: ResourceType, opts: Parameters<typeof api.client.list>[1]) => { accepts.push(opts?.accept); return { ...await api.client.list(rt, opts), items: null }; },
      watch: (rt: ResourceType, opts: Parameters<typeof api.client.watch>[1]) => { accepts.push(opts?.accept); return api.client.watch(rt, opts); },
    } as unknown as typeof api.client;
    const inf = new Informer<KubeObject>(client, Things, { metadataOnly: true });
    const stop = new AbortController();
    stops.push(stop);
    void inf.run(stop.signal);
    await waitFor('listed and watching', () => accepts.length === 2);
    await waitFor('synced from an empty list', () => inf.hasSynced, { timeoutMs: 5000 }); // the server's empty metadata list says items: null
    expect(inf.size).toBe(0);
    expect(accepts).toEqual([
      'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json',
      'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json',
    ]);
  });
});
