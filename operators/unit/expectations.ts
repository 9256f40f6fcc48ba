// Read-your-writes over an informer cache (the ReplicaSet controller's and controller-runtime's "expectations").
// The caches of different kinds are fed by separate watches, so a pass triggered by one kind's event may see a
// write this controller made to another object not yet in that object's cache. Acting on such a stale object
// repeats or contradicts the write (a rollout that counts a unit it just restarted as still available moves on to
// the next one). So the controller remembers what each write returned and treats the object as in flux until its
// cache has caught up.
import type { KubeObject } from '../../lib/kube/types.ts';

interface Expectation { uid: string; generation?: number; deleted?: boolean }

const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;

export class WriteExpectations {
  private readonly pending = new Map<string, Expectation>();

  /** A spec write the server accepted: the cache is behind until it shows this generation (or a later one). */
  written(obj: KubeObject): void {
    if (obj.metadata.uid && obj.metadata.generation !== undefined) this.pending.set(keyOf(obj), { uid: obj.metadata.uid, generation: obj.metadata.generation });
  }

  /** A delete the server accepted: the cache is behind until the object is gone or marked for deletion. */
  deleted(obj: KubeObject): void {
    if (obj.metadata.uid) this.pending.set(keyOf(obj), { uid: obj.metadata.uid, deleted: true });
  }

  /** Whether the cached object reflects every write this controller made to it; forgets what it has seen. */
  caughtUp(cached: KubeObject): boolean {
    const key = keyOf(cached);
    const e = this.pending.get(key);
    if (!e) return true;
    const seen = cached.metadata.uid !== e.uid // another object of that name: ours is gone
      || (e.deleted ? !!cached.metadata.deletionTimestamp : (cached.metadata.generation ?? 0) >= (e.generation ?? 0));
    if (seen) this.pending.delete(key);
    return seen;
  }

  /** Drops what is known about objects the cache no longer has (deleted ones, or of a deleted owner). */
  forgetMissing(namespace: string, present: (key: string) => boolean): void {
    for (const key of this.pending.keys()) if (key.startsWith(`${namespace}/`) && !present(key)) this.pending.delete(key);
  }
}
