// Kubernetes Events for `kubectl describe`: one per meaningful step. Repeats of the same event for the same object
// within ten minutes bump the count of the existing Event instead of creating another, as the kubelet does.
import type { Logger } from 'pino';
import type { KubeClient } from './kube/client.ts';
import { Resources } from './kube/resources.ts';
import type { KubeObject } from './kube/types.ts';
import { silentLogger } from './log.ts';

export type EventType = 'Normal' | 'Warning';

export class EventRecorder {
  private readonly client: KubeClient;
  private readonly component: string;
  private readonly log: Logger;
  private readonly recent = new Map<string, { name: string; namespace: string; count: number; at: number }>();
  private lastNanos = 0n;

  constructor(client: KubeClient, component: string, logger: Logger = silentLogger) {
    this.client = client;
    this.component = component;
    this.log = logger;
  }

  /** The event's time in nanoseconds, strictly increasing within this process. */
  private nanos(now: Date): bigint {
    const t = BigInt(now.getTime()) * 1_000_000n + process.hrtime.bigint() % 1_000_000n;
    this.lastNanos = t > this.lastNanos ? t : this.lastNanos + 1n;
    return this.lastNanos;
  }

  /** Records an event; never throws (an event is worth less than the reconcile that emits it). */
  async record(obj: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const namespace = obj.metadata.namespace ?? 'default';
    const dedupe = `${obj.metadata.uid}/${type}/${reason}/${message}`;
    const now = new Date();
    const ts = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
    try {
      const prev = this.recent.get(dedupe);
      if (prev && now.getTime() - prev.at < 600_000) {
        prev.count++;
        prev.at = now.getTime();
        await this.client.patch(Resources.events, prev.name, { count: prev.count, lastTimestamp: ts }, 'merge', { namespace: prev.namespace });
        return;
      }
      const created = await this.client.create(Resources.events, {
        apiVersion: 'v1', kind: 'Event',
        // Named as client-go names them, <object>.<hex nanoseconds>: unique, and in the order they happened, which
        // second-precision timestamps alone cannot tell.
        metadata: (obj.metadata.name ?? '').length <= 236
          ? { name: `${obj.metadata.name}.${this.nanos(now).toString(16)}`, namespace }
          : { generateName: `${(obj.metadata.name ?? '').slice(0, 236)}.`, namespace },
        involvedObject: {
          apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace,
          uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion,
        },
        type, reason, message, count: 1, firstTimestamp: ts, lastTimestamp: ts,
        source: { component: this.component }, reportingComponent: this.component,
      } as KubeObject);
      this.recent.set(dedupe, { name: created.metadata.name ?? '', namespace, count: 1, at: now.getTime() });
      if (this.recent.size > 10_000) this.recent.delete(this.recent.keys().next().value as string);
    } catch (err) {
      this.log.warn({ err: String(err), reason }, 'could not record event');
    }
  }
}
