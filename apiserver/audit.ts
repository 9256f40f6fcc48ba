// OperationLog: one immutable record per mutating request to the public API that changed something, or that was
// refused to a caller who can see the project it aimed at, written to the storage CRD by the server itself (users
// only read them). The queue is bounded and never drops: a mutating request first reserves a place in it (waiting
// for room up to a deadline, else 503 before anything reaches storage), and fills or releases that place when it is
// answered. Records carry the project's uid, so a project re-created under the same name starts a new log.
import type { Logger } from 'pino';
import type { KubeClient } from '../lib/kube/client.ts';
import { silentLogger } from '../lib/log.ts';
import { storageNames, type UserInfo } from './resources/types.ts';
import { STORAGE_API_VERSION } from './translate.ts';

export const AUDIT_NAMESPACE = 'upm-system';
export const PROJECT_LABEL = 'upm.io/project';
/** The storage CRD of OperationLogs (OperationLogRecord). */
export const LOG_STORAGE = storageNames({ kind: 'OperationLog' });
export const PROJECT_UID_LABEL = 'upm.io/project-uid';

export interface OperationRecord {
  user: UserInfo;
  verb: string;
  apiGroup: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  project: string | undefined;
  projectUid: string | undefined;
  code: number;
  reason: string;
  message: string;
  userAgent: string;
}

export interface AuditStats { written: number; failed: number; dropped: number; unrecorded: number; queueFull: number }

/** A place in the queue, held from before a change is applied until its answer is known. */
export interface Slot { fill(r: OperationRecord): void; release(): void }

const WRITE_ATTEMPTS = 5;

export class AuditLog {
  readonly stats: AuditStats = { written: 0, failed: 0, dropped: 0, unrecorded: 0, queueFull: 0 };
  private readonly client: KubeClient;
  private readonly log: Logger;
  private readonly queue: OperationRecord[] = [];
  private running = 0;
  private readonly concurrency: number;
  private readonly maxQueue: number;
  private idleWaiters: (() => void)[] = [];
  private reserved = 0;
  private roomWaiters: (() => void)[] = [];
  private lastUnrecordedLog = 0;
  private unrecordedSinceLog = 0;

  constructor(client: KubeClient, opts: { logger?: Logger; concurrency?: number; maxQueue?: number } = {}) {
    this.client = client;
    this.log = (opts.logger ?? silentLogger).child({ component: 'operationlog' });
    this.concurrency = opts.concurrency ?? 4;
    this.maxQueue = opts.maxQueue ?? 10_000;
  }

  /** Records and reserved places: the queue's bound counts both. */
  get pending(): number { return this.queue.length + this.reserved; }

  /**
   * A place for one record, waiting up to waitMs for room; undefined when none freed in time (the caller must then
   * refuse the request before changing anything).
   */
  async reserve(waitMs: number): Promise<Slot | undefined> {
    if (this.pending >= this.maxQueue) {
      const room = await new Promise<boolean>((resolve) => {
        const waiter = () => { clearTimeout(timer); resolve(true); };
        const timer = setTimeout(() => { this.roomWaiters = this.roomWaiters.filter((w) => w !== waiter); resolve(false); }, waitMs);
        this.roomWaiters.push(waiter);
      });
      if (!room || this.pending >= this.maxQueue) { this.stats.queueFull++; return undefined; }
    }
    this.reserved++;
    let used = false;
    const done = () => { if (used) return false; used = true; this.reserved--; return true; };
    return {
      fill: (r) => { if (done()) { this.queue.push(r); this.pump(); } },
      release: () => { if (done()) this.wakeOne(); },
    };
  }

  /** A record written only if there is room: for callers that hold no place (tests, internal writes). */
  record(r: OperationRecord): void {
    if (this.pending >= this.maxQueue) { this.stats.dropped++; return; }
    this.queue.push(r);
    this.pump();
  }

  /** A refusal not written to any project's log: counted, and logged at most once per 10 s with a count. */
  unrecorded(r: OperationRecord): void {
    this.stats.unrecorded++;
    this.unrecordedSinceLog++;
    const now = Date.now();
    if (now - this.lastUnrecordedLog < 10_000) return;
    this.log.info({ user: r.user.name, verb: r.verb, resource: r.resource, namespace: r.namespace, name: r.name.slice(0, 253), code: r.code, since: this.unrecordedSinceLog },
      'refused requests of callers who cannot see their target, not recorded as OperationLogs');
    this.lastUnrecordedLog = now;
    this.unrecordedSinceLog = 0;
  }

  private wakeOne(): void {
    while (this.roomWaiters.length && this.pending < this.maxQueue) (this.roomWaiters.shift() as () => void)();
  }

  /** Resolves when every queued record has been written (or failed). */
  drain(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length) {
      const r = this.queue.shift() as OperationRecord;
      this.running++;
      this.wakeOne();
      void this.write(r).finally(() => {
        this.running--;
        this.pump();
        if (this.running === 0 && this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
      });
    }
  }

  private async write(r: OperationRecord): Promise<void> {
    const body = {
      apiVersion: STORAGE_API_VERSION, kind: LOG_STORAGE.kind,
      metadata: {
        generateName: `${r.verb}-${r.resource}-`.slice(0, 40),
        labels: {
          ...(r.project ? { [PROJECT_LABEL]: r.project } : {}), ...(r.projectUid ? { [PROJECT_UID_LABEL]: r.projectUid } : {}),
          'upm.io/verb': r.verb, 'upm.io/result': r.code < 400 ? 'Success' : 'Failure' },
      },
      spec: {
        user: r.user.name.slice(0, 253), groups: r.user.groups.slice(0, 256).map((g) => g.slice(0, 253)), verb: r.verb,
        apiGroup: r.apiGroup, resource: r.resource.slice(0, 253), subresource: r.subresource || undefined,
        namespace: r.namespace || undefined, name: r.name ? r.name.slice(0, 253) : undefined, project: r.project,
        time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), userAgent: r.userAgent.slice(0, 256) || undefined,
        result: { code: r.code, status: r.code < 400 ? 'Success' : 'Failure', reason: r.reason.slice(0, 64) || undefined, message: r.message.slice(0, 1024) || undefined },
      },
    };
    // Namespaced changes are logged in their namespace; cluster-scoped ones (and changes in a namespace that does
    // not exist) in upm-system. The project label and spec.project say whose record it is either way.
    // A record of a change is retried with backoff before it is given up (and reported as an error).
    const namespaces = r.namespace ? [r.namespace, AUDIT_NAMESPACE] : [AUDIT_NAMESPACE];
    for (let attempt = 1; ; attempt++) {
      let last: unknown;
      for (const ns of namespaces) {
        try {
          await this.client.request('POST', `/apis/${STORAGE_API_VERSION}/namespaces/${encodeURIComponent(ns)}/${LOG_STORAGE.plural}`, { body, timeoutMs: 15_000 });
          this.stats.written++;
          return;
        } catch (err) { last = err; }
      }
      if (attempt >= WRITE_ATTEMPTS) {
        this.stats.failed++;
        this.log.error({ err: String(last), user: r.user.name, verb: r.verb, resource: r.resource, namespace: r.namespace, name: r.name, code: r.code }, 'could not write an OperationLog');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
    }
  }
}
