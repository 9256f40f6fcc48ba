// An in-memory API for unit tests of the runtime: objects per resource plural, LIST with a resourceVersion and a
// WATCH that streams every change after the resourceVersion it is given (from a history, as etcd's), so real
// Informers can be fed without a server. It implements only what an informer calls (list, watch); label and field
// selectors are not applied. `expire()` compacts the history and ends every open watch with a 410 Gone, so the
// informers relist.
import type { KubeClient, ListOptions, WatchOptions } from './client.ts';
import { KubeApiError } from './errors.ts';
import type { ResourceType } from './resources.ts';
import { objectKey, type KubeObject, type ObjectList, type WatchEvent } from './types.ts';

interface Entry { plural: string; rv: number; event: WatchEvent<KubeObject> }

export class FakeApi {
  private rv = 0;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private history: Entry[] = [];
  /** The oldest resourceVersion a watch may resume from; older ones are Gone. */
  private compactedRv = 0;
  /** Bumped by expire(): a watch opened in an earlier epoch is Gone. */
  private epoch = 0;
  private readonly wakers = new Set<() => void>();

  readonly client: KubeClient;

  constructor() {
    const list = async <T extends KubeObject>(rt: ResourceType, opts: ListOptions = {}): Promise<ObjectList<T>> => {
      const items = [...this.store(rt.plural).values()].filter((o) => !opts.namespace || o.metadata.namespace === opts.namespace);
      return { metadata: { resourceVersion: String(this.rv) }, items: structuredClone(items) as T[] };
    };
    const watch = <T extends KubeObject>(rt: ResourceType, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> =>
      this.stream(rt.plural, opts) as AsyncGenerator<WatchEvent<T>>;
    this.client = { list, watch } as unknown as KubeClient;
  }

  /** Creates or replaces an object, giving it a new resourceVersion (and a generation bump if `specChanged`). */
  put<T extends KubeObject>(plural: string, obj: T, opts: { specChanged?: boolean } = {}): T {
    const store = this.store(plural);
    const key = objectKey(obj);
    const prev = store.get(key);
    const gen = prev?.metadata.generation ?? 0;
    const stored = structuredClone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    stored.metadata.uid ??= prev?.metadata.uid ?? `uid-${plural}-${key}`;
    stored.metadata.generation = !prev || opts.specChanged ? gen + 1 : gen;
    store.set(key, stored);
    this.publish(plural, { type: prev ? 'MODIFIED' : 'ADDED', object: stored });
    return stored as T;
  }

  delete(plural: string, key: string): void {
    const store = this.store(plural);
    const prev = store.get(key);
    if (!prev) return;
    store.delete(key);
    const gone = structuredClone(prev);
    gone.metadata.resourceVersion = String(++this.rv);
    this.publish(plural, { type: 'DELETED', object: gone });
  }

  /** Forgets the history: every open watch ends with 410 Gone and the informers relist. */
  expire(): void {
    this.history = [];
    this.compactedRv = this.rv;
    this.epoch++;
    for (const wake of [...this.wakers]) wake();
  }

  private store(plural: string): Map<string, KubeObject> {
    let s = this.objects.get(plural);
    if (!s) this.objects.set(plural, (s = new Map()));
    return s;
  }

  private publish(plural: string, event: WatchEvent<KubeObject>): void {
    this.history.push({ plural, rv: this.rv, event: { type: event.type, object: structuredClone(event.object) } });
    for (const wake of [...this.wakers]) wake();
  }

  private async *stream(plural: string, opts: WatchOptions): AsyncGenerator<WatchEvent<KubeObject>> {
    let from = Number(opts.resourceVersion ?? this.rv);
    const epoch = this.epoch;
    let wake = () => {};
    const waker = () => wake();
    this.wakers.add(waker);
    opts.signal?.addEventListener('abort', waker);
    try {
      for (;;) {
        if (opts.signal?.aborted) return;
        if (from < this.compactedRv || epoch !== this.epoch) throw new KubeApiError(410, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410 }, 'watch');
        const next = this.history.find((e) => e.rv > from && e.plural === plural);
        if (next) {
          from = next.rv;
          yield { type: next.event.type, object: structuredClone(next.event.object) };
          continue;
        }
        const skipped = this.history.at(-1);
        if (skipped && skipped.rv > from) { from = skipped.rv; continue; } // only other resources changed
        await new Promise<void>((r) => { wake = r; });
      }
    } finally {
      this.wakers.delete(waker);
      opts.signal?.removeEventListener('abort', waker);
    }
  }
}
