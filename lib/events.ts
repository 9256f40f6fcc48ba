// Kubernetes Events for `kubectl describe`: one per meaningful step. Repeats of the same event for the same object
// within ten minutes bump the count of the existing Event instead of creating another, as the kubelet does.
// record() writes the Event before it returns; emit() leaves it to a small background pool (client-go's broadcaster),
// so a controller whose writes are on someone's critical path does not wait on its Events, nor lets a burst of them
// outnumber its own writes at the API server. An Event is named when it is emitted, so the names keep their order.
import type { Logger } from 'pino';
import type { KubeClient } from './kube/client.ts';
import { Resources } from './kube/resources.ts';
import type { KubeObject } from './kube/types.ts';
import { silentLogger } from './log.ts';

export type EventType = 'Normal' | 'Warning';

/** Events emitted and not yet sent, at most; beyond, the oldest are dropped (and logged). */
const BACKLOG = 5000;
/** Emitted Events sent at once. */
const SENDERS = 2;

interface Prepared { obj: KubeObject; type: EventType; reason: string; message: string; now: Date; name: string }

export class EventRecorder {
  private readonly client: KubeClient;
  private readonly component: string;
  private readonly log: Logger;
  private readonly recent = new Map<string, { name: string; namespace: string; count: number; at: number }>();
  private lastNanos = 0n;
  private readonly backlog: Prepared[] = [];
  private sending = 0;
  private readonly idle: (() => void)[] = [];

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
    await this.send(this.prepare(obj, type, reason, message));
  }

  /** Records an event in the background: returns at once; emitted Events are sent in order, a few at a time. */
  emit(obj: KubeObject, type: EventType, reason: string, message: string): void {
    this.backlog.push(this.prepare(obj, type, reason, message));
    if (this.backlog.length > BACKLOG) {
      const lost = this.backlog.shift() as Prepared;
      this.log.warn({ reason: lost.reason, object: lost.obj.metadata.name }, 'event backlog full; dropped the oldest');
    }
    while (this.sending < SENDERS && this.backlog.length) void this.pump();
  }

  /** Resolves once every emitted event was sent (or given up). */
  flush(): Promise<void> {
    if (!this.sending && !this.backlog.length) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private async pump(): Promise<void> {
    this.sending++;
    for (let e = this.backlog.shift(); e; e = this.backlog.shift()) await this.send(e);
    this.sending--;
    if (!this.sending) for (const w of this.idle.splice(0)) w();
  }

  /** The time and name of an event, fixed when it happens. */
  private prepare(obj: KubeObject, type: EventType, reason: string, message: string): Prepared {
    const now = new Date();
    const name = (obj.metadata.name ?? '').length <= 236 ? `${obj.metadata.name}.${this.nanos(now).toString(16)}` : '';
    return { obj, type, reason, message, now, name };
  }

  private async send({ obj, type, reason, message, now, name }: Prepared): Promise<void> {
    const namespace = obj.metadata.namespace ?? 'default';
    const dedupe = `${obj.metadata.uid}/${type}/${reason}/${message}`;
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
        metadata: name ? { name, namespace } : { generateName: `${(obj.metadata.name ?? '').slice(0, 236)}.`, namespace },
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
