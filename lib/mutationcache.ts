// Read-your-own-writes over an informer's store, as client-go's MutationCache: a controller that reconciles again
// right after its own write (a failover recorded, a step announced in status) must not act on a cache that has not
// seen that write yet, or it would repeat an event or a step. The objects this process wrote are kept until the
// informer has caught up with them. resourceVersions are compared as integers, as client-go's
// NewIntegerResourceVersionMutationCache does (they are etcd revisions; anything else counts as not newer).
import type { Store } from './informer.ts';
import type { KubeObject } from './kube/types.ts';

const keyOf = (o: KubeObject): string => (o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name ?? '');

function newer(a: KubeObject, b: KubeObject): boolean {
  const x = a.metadata.resourceVersion ?? '';
  const y = b.metadata.resourceVersion ?? '';
  return /^\d+$/.test(x) && /^\d+$/.test(y) && BigInt(x) > BigInt(y);
}

export class MutationCache<T extends KubeObject> {
  private readonly store: Store<T>;
  private readonly written = new Map<string, T>();

  constructor(store: Store<T>) {
    this.store = store;
  }

  /** The newer of the informer's copy and this process's last write; undefined once the object is gone. */
  get(key: string): T | undefined {
    const cached = this.store.get(key);
    const mine = this.written.get(key);
    if (!mine) return cached;
    if (!cached || mine.metadata.uid !== cached.metadata.uid || !newer(mine, cached)) {
      this.written.delete(key);
      return cached;
    }
    return mine;
  }

  /** Records what a write returned (a no-op for undefined, so `cache.mutated(await write(...))` reads well). */
  mutated(obj: T | undefined): T | undefined {
    if (obj?.metadata.uid) this.written.set(keyOf(obj), obj);
    return obj;
  }

  forget(key: string): void {
    this.written.delete(key);
  }
}
