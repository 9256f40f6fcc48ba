import { afterEach, describe, expect, it } from '@jest/globals';
import { ownerIndex } from './builder.ts';
import { FakeClock, type Clock } from './clock.ts';
import type { ReconcileContext } from './controller.ts';
import { Informer } from './informer.ts';
import { FakeApi } from './kube/fake.ts';
import type { ResourceType } from './kube/resources.ts';
import { objectKey, type KubeObject, type ObjectMeta } from './kube/types.ts';
import { Manager } from './manager.ts';
import { deletionStarted, generationChanged, or } from './predicates.ts';
import { waitFor } from './wait.ts';

const rt = (plural: string, kind: string, namespaced: boolean, group = 'test.upm.io'): ResourceType => ({ group, version: 'v1', plural, kind, namespaced });
const Apps = rt('apps', 'App', true);
const Parts = rt('parts', 'Part', true);
const Tenants = rt('tenants', 'Tenant', false);
const Secrets = rt('secrets', 'Secret', true, '');

const obj = (kind: string, name: string, meta: Partial<ObjectMeta> = {}, extra: Record<string, unknown> = {}): KubeObject =>
  ({ apiVersion: 'test.upm.io/v1', kind, metadata: { name, namespace: 'ns', ...meta }, ...extra });

/** A manager over an in-memory API that records every reconcile (key and context) in order. */
function world(clock?: Clock) {
  const api = new FakeApi();
  const manager = new Manager({ client: api.client, clock });
  const runs: { key: string; ctx: ReconcileContext }[] = [];
  const reconcile = async (key: string, ctx: ReconcileContext) => { runs.push({ key, ctx }); };
  const count = (key: string) => runs.filter((r) => r.key === key).length;
  let markers = 0;
  /**
   * Creates a marker object of the primary resource and waits until it is reconciled. The queue is FIFO with one
   * worker, so any key enqueued before it (by an event the caller saw cached) has been reconciled by then.
   */
  const settle = async (plural: string, key: string) => {
    const name = `marker-${markers++}`;
    api.put(plural, obj('Marker', name));
    await waitFor(`${name} reconciled`, () => count(`ns/${name}`) > 0);
    return count(key);
  };
  return { api, manager, runs, reconcile, count, settle };
}

const stops: AbortController[] = [];
afterEach(() => { for (const s of stops.splice(0)) s.abort(); });
function start(manager: Manager): void {
  const stop = new AbortController();
  stops.push(stop);
  void manager.run(stop.signal);
}

describe('ControllerBuilder', () => {
  it('for: reconciles its own key, filtered by the predicate', async () => {
    const w = world();
    const apps = w.manager.informer<KubeObject>(Apps);
    w.manager.build('apps').for(apps, { predicate: or(generationChanged, deletionStarted) }).complete(w.reconcile);
    start(w.manager);
    const a = w.api.put('apps', obj('App', 'a'));
    await waitFor('created', () => w.count('ns/a') === 1);

    w.api.put('apps', { ...a, status: { ready: true } }); // a status write: generation unchanged
    expect(await w.settle('apps', 'ns/a')).toBe(1);

    w.api.put('apps', { ...a, spec: { size: 2 } }, { specChanged: true });
    await waitFor('spec change reconciled', () => w.count('ns/a') === 2);
    w.api.put('apps', { ...a, metadata: { ...a.metadata, deletionTimestamp: '2026-01-01T00:00:00Z' } });
    await waitFor('deletion reconciled', () => w.count('ns/a') === 3);
    w.api.delete('apps', 'ns/a');
    await waitFor('delete reconciled', () => w.count('ns/a') === 4);
  });

  it('owns by label: an owned object enqueues its owner, and the owner finds what it owns through the index', async () => {
    const w = world();
    const apps = w.manager.informer<KubeObject>(Apps);
    const parts = w.manager.informer<KubeObject>(Parts);
    w.manager.build('apps').for(apps).owns(parts, { label: 'app' }).complete(w.reconcile);
    start(w.manager);
    w.api.put('parts', obj('Part', 'p1', { labels: { app: 'a' } }));
    w.api.put('parts', obj('Part', 'p2', { labels: { app: 'a' } }));
    w.api.put('parts', obj('Part', 'q1', { labels: { app: 'b' } }));
    w.api.put('parts', obj('Part', 'stray'));
    await waitFor('owners reconciled', () => w.count('ns/a') >= 1 && w.count('ns/b') >= 1);
    expect(w.runs.map((r) => r.key)).not.toContain('ns/stray');

    const index = ownerIndex(Apps, { label: 'app' }).name;
    expect(parts.byIndex(index, 'ns/a').map(objectKey).sort()).toEqual(['ns/p1', 'ns/p2']);
    expect(parts.byIndex(index, 'ns/b').map(objectKey)).toEqual(['ns/q1']);

    const before = w.count('ns/a');
    w.api.delete('parts', 'ns/p1');
    await waitFor('owner reconciled on delete', () => w.count('ns/a') > before);
    expect(parts.byIndex(index, 'ns/a').map(objectKey)).toEqual(['ns/p2']);
  });

  it('owns by controller owner reference of the owner kind, for a cluster-scoped owner', async () => {
    const w = world();
    const tenants = w.manager.informer<KubeObject>(Tenants);
    const parts = w.manager.informer<KubeObject>(Parts);
    w.manager.build('tenants').for(tenants).owns(parts).complete(w.reconcile);
    start(w.manager);
    const ref = (kind: string, name: string, controller: boolean, apiVersion = 'test.upm.io/v1') => ({ apiVersion, kind, name, uid: `u-${name}`, controller });
    w.api.put('parts', obj('Part', 'mine', { ownerReferences: [ref('Tenant', 't1', true)] }));
    w.api.put('parts', obj('Part', 'not-controller', { ownerReferences: [ref('Tenant', 't2', false)] }));
    w.api.put('parts', obj('Part', 'other-kind', { ownerReferences: [ref('App', 't3', true)] }));
    w.api.put('parts', obj('Part', 'other-group', { ownerReferences: [ref('Tenant', 't4', true, 'elsewhere.io/v1')] }));
    await waitFor('t1 reconciled, all parts cached', () => w.count('t1') === 1 && parts.size === 4);
    await w.settle('tenants', 't1');
    expect(w.runs.map((r) => r.key).filter((k) => !k.startsWith('ns/marker'))).toEqual(['t1']);
    expect(parts.byIndex(ownerIndex(Tenants, {}).name, 't1').map(objectKey)).toEqual(['ns/mine']);
  });

  it('watches: a mapper that asks an index of the primary informer, with its own predicate', async () => {
    const w = world();
    const apps = w.manager.informer<KubeObject & { spec?: { secret?: string } }>(Apps);
    const secrets = w.manager.informer<KubeObject>(Secrets);
    apps.addIndex('secret', (a) => (a.spec?.secret ? [`${a.metadata.namespace}/${a.spec.secret}`] : []));
    w.manager.build('apps')
      .for(apps, { predicate: generationChanged })
      .watches(secrets, (s) => apps.byIndex('secret', objectKey(s)).map(objectKey), { predicate: { create: () => false } })
      .complete(w.reconcile);
    start(w.manager);
    w.api.put('apps', obj('App', 'a', {}, { spec: { secret: 's1' } }));
    w.api.put('apps', obj('App', 'b', {}, { spec: { secret: 's1' } }));
    w.api.put('apps', obj('App', 'c', {}, { spec: { secret: 's2' } }));
    await waitFor('apps reconciled', () => w.runs.length === 3);
    w.api.put('secrets', obj('Secret', 's1')); // a create: filtered out by the watch's predicate
    await waitFor('s1 cached', () => secrets.get('ns/s1'));
    expect(await w.settle('apps', 'ns/a')).toBe(1);
    w.api.put('secrets', obj('Secret', 's1', {}, { data: { password: 'x' } }));
    await waitFor('the users of s1 reconciled', () => w.count('ns/a') === 2 && w.count('ns/b') === 2);
    w.api.put('secrets', obj('Secret', 's2'));
    await waitFor('s2 cached', () => secrets.get('ns/s2'));
    expect(await w.settle('apps', 'ns/c')).toBe(1);
  });

  it('watches only: several primary kinds under keys of their own, each with its predicate', async () => {
    const w = world();
    const apps = w.manager.informer<KubeObject>(Apps);
    const parts = w.manager.informer<KubeObject>(Parts);
    w.manager.build('kinds')
      .watches(apps, (a) => [`app/${objectKey(a)}`], { predicate: generationChanged })
      .watches(parts, (p) => [`part/${objectKey(p)}`])
      .complete(w.reconcile);
    start(w.manager);
    const a = w.api.put('apps', obj('App', 'a'));
    w.api.put('parts', obj('Part', 'a'));
    await waitFor('both reconciled', () => w.count('app/ns/a') === 1 && w.count('part/ns/a') === 1);
    w.api.put('apps', { ...a, status: { ready: true } }); // a status write: filtered out
    w.api.put('parts', obj('Part', 'a', {}, { status: { ready: true } }));
    await waitFor('the part reconciled again', () => w.count('part/ns/a') === 2);
    w.api.put('apps', { ...a, spec: { size: 2 } }, { specChanged: true });
    await waitFor('the app reconciled again', () => w.count('app/ns/a') === 2);
    expect(w.runs.map((r) => r.key)).toEqual(['app/ns/a', 'part/ns/a', 'part/ns/a', 'app/ns/a']);
  });

  it('coalesces a burst of owned changes into one reconcile of the owner', async () => {
    const w = world();
    const apps = w.manager.informer<KubeObject>(Apps);
    const parts = w.manager.informer<KubeObject>(Parts);
    w.manager.build('apps').for(apps).owns(parts, { label: 'app', coalesceMs: 300 }).complete(w.reconcile);
    start(w.manager);
    await waitFor('synced', () => w.manager.ready);
    for (let i = 0; i < 10; i++) w.api.put('parts', obj('Part', `p${i}`, { labels: { app: 'a' } }));
    await waitFor('owner reconciled', () => w.count('ns/a') >= 1);
    await new Promise((r) => setTimeout(r, 400));
    expect(w.count('ns/a')).toBe(1);
  });

  it('hands every reconcile the manager clock', async () => {
    const clock = new FakeClock('2030-05-01T00:00:00Z');
    const w = world(clock);
    const apps = w.manager.informer<KubeObject>(Apps);
    w.manager.build('apps').for(apps).complete(w.reconcile);
    start(w.manager);
    w.api.put('apps', obj('App', 'a'));
    await waitFor('reconciled', () => w.runs.length === 1);
    expect(w.runs[0]?.ctx.clock.now().toISOString()).toBe('2030-05-01T00:00:00.000Z');
    clock.step(90_000);
    expect(w.runs[0]?.ctx.clock.now().toISOString()).toBe('2030-05-01T00:01:30.000Z');
  });

  it('lets two controllers own one shared informer by the same label', async () => {
    const w = world();
    const apps = w.manager.informer<KubeObject>(Apps);
    const parts = w.manager.informer<KubeObject>(Parts);
    const seen: string[] = [];
    w.manager.build('one').for(apps).owns(parts, { label: 'app' }).complete(w.reconcile);
    w.manager.build('two').for(apps).owns(parts, { label: 'app' }).complete(async (key) => { seen.push(key); });
    start(w.manager);
    w.api.put('parts', obj('Part', 'p', { labels: { app: 'a' } }));
    await waitFor('both reconciled', () => w.count('ns/a') === 1 && seen.includes('ns/a'));
  });

  it('starts workers without a source declared waitForSync: false, and waits for the others', async () => {
    const w = world();
    const apps = w.manager.informer<KubeObject>(Apps);
    // Caches of member clusters, run by their owner rather than the manager: one answers late, one never.
    const late = new Informer<KubeObject>(w.api.client, Parts);
    const never = new Informer<KubeObject>(w.api.client, rt('others', 'Other', true));
    w.manager.build('waits').for(apps).watches(late, () => []).complete(w.reconcile);
    w.manager.build('goes-on').for(apps).watches(never, () => [], { waitForSync: false }).complete(async (key) => { w.runs.push({ key: `goes-on:${key}`, ctx: {} as ReconcileContext }); });
    start(w.manager);
    w.api.put('apps', obj('App', 'a'));
    await waitFor('reconciled by the controller that does not wait', () => w.count('goes-on:ns/a') === 1);
    expect(w.count('ns/a')).toBe(0);
    const stop = new AbortController();
    stops.push(stop);
    void late.run(stop.signal);
    await waitFor('reconciled once the late source synced', () => w.count('ns/a') === 1);
  });

  it('unwatch: a member that left no longer reaches the controller', async () => {
    const w = world();
    const apps = w.manager.informer<KubeObject>(Apps);
    const member = w.manager.informer<KubeObject>(Parts);
    const c = w.manager.build('apps').for(apps).owns(member, { label: 'app' }).complete(w.reconcile);
    start(w.manager);
    w.api.put('parts', obj('Part', 'p1', { labels: { app: 'a' } }));
    await waitFor('owner reconciled', () => w.count('ns/a') === 1);
    c.unwatch(member);
    w.api.put('parts', obj('Part', 'p2', { labels: { app: 'a' } }));
    await waitFor('p2 cached', () => member.get('ns/p2'));
    expect(await w.settle('apps', 'ns/a')).toBe(1);
  });

  it('refuses an incomplete or contradictory declaration before registering anything', () => {
    const w = world();
    const apps = w.manager.informer<KubeObject>(Apps);
    const parts = w.manager.informer<KubeObject>(Parts);
    expect(() => w.manager.build('none').owns(parts).complete(w.reconcile)).toThrow('controller none: owns(parts) needs the owner: for() was not given');
    expect(() => w.manager.build('empty').complete(w.reconcile)).toThrow('controller empty: no sources: give for(), or watches() for a controller whose keys are not one resource\'s own');
    expect(() => w.manager.build('two').for(apps).for(parts).complete(w.reconcile)).toThrow('controller two: for() must be given at most once (given 2 times)');
    expect(() => w.manager.build('self').for(apps).owns(apps).complete(w.reconcile)).toThrow('controller self: owns(apps): a resource cannot own itself');
    expect(() => w.manager.build('label').for(apps).owns(parts, { label: '' }).complete(w.reconcile)).toThrow(/owner label must not be empty/);
    expect(() => w.manager.build('workers').for(apps).withConcurrency(0).complete(w.reconcile)).toThrow(/concurrency must be a whole number of at least 1, not 0/);
    expect(parts.hasIndex(ownerIndex(Apps, {}).name)).toBe(false); // nothing half-wired

    const b = w.manager.build('ok').for(apps);
    b.complete(w.reconcile);
    expect(() => b.complete(w.reconcile)).toThrow('controller ok: complete() was already called');
    expect(() => w.manager.build('ok').for(apps).complete(w.reconcile)).toThrow('controller ok is registered twice');
  });
});
