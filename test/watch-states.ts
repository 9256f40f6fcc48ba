// Every state a set of objects passes through, from a list and a watch stream resumed from its resourceVersion.
// A check run on each event sees every transition the API server recorded, in order; a poller sees only the
// states that happen to be current when it lists, and misses a short-lived violation between two lists.
import type { KubeClient } from '../lib/kube/client.ts';
import { isGone } from '../lib/kube/errors.ts';
import { Resources, type ResourceType } from '../lib/kube/resources.ts';
import type { KubeObject, WatchEventType } from '../lib/kube/types.ts';

export interface WatchedStates {
  /** Stops following; throws if the stream broke in a way that may have lost an event. */
  stop(): Promise<void>;
}

/**
 * Calls `onState` with the objects (by name) as they stand after the initial list, then after each watch event.
 * Resumes from the last resourceVersion when the server ends a watch; a 410 (events compacted away) fails stop().
 */
export async function watchStates<T extends KubeObject>(
  c: KubeClient, rt: ResourceType, opts: { namespace: string; labelSelector?: string },
  onState: (objects: ReadonlyMap<string, T>, change?: { type: WatchEventType; name: string }) => void,
): Promise<WatchedStates> {
  const objects = new Map<string, T>();
  const list = await c.list<T>(rt, opts);
  for (const o of list.items) objects.set(o.metadata.name ?? '', o);
  onState(objects);
  let resourceVersion = list.metadata.resourceVersion;
  const abort = new AbortController();
  let failure: Error | undefined;
  const loop = (async () => {
    while (!abort.signal.aborted) {
      try {
        for await (const ev of c.watch<T>(rt, { ...opts, resourceVersion, allowWatchBookmarks: true, signal: abort.signal })) {
          resourceVersion = ev.object.metadata.resourceVersion ?? resourceVersion;
          if (ev.type === 'BOOKMARK') continue;
          const name = ev.object.metadata.name ?? '';
          if (ev.type === 'DELETED') objects.delete(name);
          else objects.set(name, ev.object);
          onState(objects, { type: ev.type, name });
        }
      } catch (err) {
        if (abort.signal.aborted) return;
        if (isGone(err)) throw new Error(`watch of ${rt.plural} lost events (410 at resourceVersion ${resourceVersion})`, { cause: err });
        await new Promise((r) => setTimeout(r, 100)); // a dropped connection: resume from the last event seen
      }
    }
  })().catch((err: unknown) => { failure = err as Error; });
  return {
    async stop() {
      abort.abort();
      await loop;
      if (failure) throw failure;
    },
  };
}

type Pod = KubeObject & { status?: { conditions?: { type: string; status: string }[] } };

export interface DownWatch extends WatchedStates {
  /** The most units without a Ready pod at any one moment seen. */
  readonly maxDown: number;
  /** Units without a Ready pod now. */
  readonly downNow: number;
  /** Per unit, how long in all it had no Ready pod (spans that ended). */
  readonly spans: ReadonlyMap<string, number>;
}

/** Follows every state of the units' pods (a pod is named as its unit): which have no Ready pod, at most and for how long. */
export async function watchPodsDown(c: KubeClient, opts: { namespace: string; labelSelector: string }, units: string[]): Promise<DownWatch> {
  let maxDown = 0;
  const downAt = new Map<string, number>();
  const spans = new Map<string, number>();
  const watch = await watchStates<Pod>(c, Resources.pods, opts, (objs) => {
    const now = Date.now();
    const down = units.filter((u) => {
      const p = objs.get(u);
      return !p || !!p.metadata.deletionTimestamp || !p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True');
    });
    maxDown = Math.max(maxDown, down.length);
    for (const u of down) if (!downAt.has(u)) downAt.set(u, now);
    for (const [u, at] of downAt) if (!down.includes(u)) { spans.set(u, (spans.get(u) ?? 0) + now - at); downAt.delete(u); }
  });
  return { stop: () => watch.stop(), get maxDown() { return maxDown; }, get downNow() { return downAt.size; }, spans };
}
