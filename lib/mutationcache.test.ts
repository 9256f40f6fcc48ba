import { describe, expect, it } from '@jest/globals';
import type { Store } from './informer.ts';
import type { KubeObject } from './kube/types.ts';
import { MutationCache } from './mutationcache.ts';

function storeOf(objs: KubeObject[]): Store<KubeObject> & { set(o: KubeObject | undefined, key?: string): void } {
  const m = new Map(objs.map((o) => [`${o.metadata.namespace}/${o.metadata.name}`, o]));
  return {
    get: (k) => m.get(k),
    list: () => [...m.values()],
    keys: () => [...m.keys()],
    get size() { return m.size; },
    set(o, key) { if (o) m.set(`${o.metadata.namespace}/${o.metadata.name}`, o); else if (key) m.delete(key); },
  };
}
const obj = (rv: string, uid = 'u1', note = ''): KubeObject => ({ metadata: { namespace: 'ns', name: 'a', uid, resourceVersion: rv, annotations: { note } } });

describe('MutationCache', () => {
  it('returns this process\'s write until the informer has caught up with it', () => {
    const store = storeOf([obj('10')]);
    const cache = new MutationCache(store);
    expect(cache.get('ns/a')?.metadata.resourceVersion).toBe('10');
    cache.mutated(obj('12', 'u1', 'mine'));
    expect(cache.get('ns/a')?.metadata.annotations?.note).toBe('mine');
    store.set(obj('12', 'u1', 'informer'));
    expect(cache.get('ns/a')?.metadata.annotations?.note).toBe('informer');
    store.set(obj('15', 'u1', 'later'));
    expect(cache.get('ns/a')?.metadata.resourceVersion).toBe('15');
  });

  it('never outlives the object, nor serves a write to an earlier object of the same name', () => {
    const store = storeOf([obj('10')]);
    const cache = new MutationCache(store);
    cache.mutated(obj('12'));
    store.set(undefined, 'ns/a');
    expect(cache.get('ns/a')).toBeUndefined();
    cache.mutated(obj('20', 'old-uid'));
    store.set(obj('11', 'new-uid'));
    expect(cache.get('ns/a')?.metadata.uid).toBe('new-uid');
  });

  it('takes a resourceVersion that is not a number as not newer', () => {
    const store = storeOf([obj('10')]);
    const cache = new MutationCache(store);
    cache.mutated(obj('x9'));
    expect(cache.get('ns/a')?.metadata.resourceVersion).toBe('10');
    expect(cache.mutated(undefined)).toBeUndefined();
  });
});
