// OperationLog: one immutable record per mutating request to the public API, successful or not, written to the
// storage CRD by the server itself (users only read them). Writes are queued so a request never waits for its log;
// a full queue drops records and counts the drops rather than holding memory without bound.
import type { Logger } from 'pino';
import type { KubeClient } from '../lib/kube/client.ts';
import { silentLogger } from '../lib/log.ts';
import { storageNames, type UserInfo } from './resources/types.ts';
import { STORAGE_API_VERSION } from './translate.ts';

export const AUDIT_NAMESPACE = 'upm-system';
export const PROJECT_LABEL = 'upm.io/project';
/** The storage CRD of OperationLogs (OperationLogRecord). */
const LOG_STORAGE = storageNames({ kind: 'OperationLog' });

export interface OperationRecord {
  user: UserInfo;
  verb: string;
  apiGroup: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  project: string | undefined;
  code: number;
  reason: string;
  message: string;
  userAgent: string;
}

export interface AuditStats { written: number; failed: number; dropped: number }

export class AuditLog {
  readonly stats: AuditStats = { written: 0, failed: 0, dropped: 0 };
  private readonly client: KubeClient;
  private readonly log: Logger;
  private readonly queue: OperationRecord[] = [];
  private running = 0;
  private readonly concurrency: number;
  private readonly maxQueue: number;
  private idleWaiters: (() => void)[] = [];

  constructor(client: KubeClient, opts: { logger?: Logger; concurrency?: number; maxQueue?: number } = {}) {
    this.client = client;
    this.log = (opts.logger ?? silentLogger).child({ component: 'operationlog' });
    this.concurrency = opts.concurrency ?? 4;
    this.maxQueue = opts.maxQueue ?? 10_000;
  }

  record(r: OperationRecord): void {
    if (this.queue.length >= this.maxQueue) {
      this.stats.dropped++;
      return;
    }
    this.queue.push(r);
    this.pump();
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
        labels: { ...(r.project ? { [PROJECT_LABEL]: r.project } : {}), 'upm.io/verb': r.verb, 'upm.io/result': r.code < 400 ? 'Success' : 'Failure' },
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
    const namespaces = r.namespace ? [r.namespace, AUDIT_NAMESPACE] : [AUDIT_NAMESPACE];
    for (const ns of namespaces) {
      try {
        await this.client.request('POST', `/apis/${STORAGE_API_VERSION}/namespaces/${encodeURIComponent(ns)}/${LOG_STORAGE.plural}`, { body, timeoutMs: 15_000 });
        this.stats.written++;
        return;
      } catch (err) {
        if (ns === namespaces[namespaces.length - 1]) {
          this.stats.failed++;
          this.log.warn({ err: String(err), verb: r.verb, resource: r.resource, name: r.name }, 'could not write an OperationLog');
        }
      }
    }
  }
}
