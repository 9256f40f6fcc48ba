// OperationLog retention: a periodic sweep that, in each namespace, deletes the records older than the maximum age
// and the oldest beyond the maximum count. It reads metadata only, a page at a time, so a sweep's memory is a few
// dozen bytes per record whatever their size.
import type { Logger } from 'pino';
import { sleep } from '../lib/backoff.ts';
import type { KubeClient } from '../lib/kube/client.ts';
import { silentLogger } from '../lib/log.ts';
import { LOG_STORAGE } from './audit.ts';
import { STORAGE_API_VERSION } from './translate.ts';

export interface Retention {
  /** Records older than this are deleted (0: no age limit). */
  maxAgeMs: number;
  /** At most this many records are kept per namespace, the newest (0: no count limit). */
  maxCount: number;
}

/** `--operationlog-retention=<age>,<count>`: a Go duration (h, m, s) and a count, e.g. `720h,10000`; 0 disables either. */
export function parseRetention(text: string): Retention {
  const m = /^\s*([0-9hms.]+)\s*,\s*(\d+)\s*$/.exec(text);
  const age = m ? parseDuration(m[1] as string) : undefined;
  const count = m ? Number(m[2]) : NaN;
  if (!m || age === undefined || !Number.isFinite(age) || !Number.isSafeInteger(count)) throw new Error(`--operationlog-retention: "${text}" is not <age>,<count> (e.g. 720h,10000)`);
  return { maxAgeMs: age, maxCount: count };
}

function parseDuration(s: string): number | undefined {
  if (s === '0') return 0;
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000 };
  let total = 0;
  let rest = s;
  while (rest) {
    const p = /^(\d+(?:\.\d+)?)([hms])/.exec(rest);
    if (!p) return undefined;
    total += Number(p[1]) * (unit[p[2] as string] as number);
    rest = rest.slice(p[0].length);
  }
  return total;
}

interface Meta { namespace: string; name: string; created: number }
interface MetaList { metadata?: { continue?: string }; items?: { metadata: { namespace?: string; name?: string; creationTimestamp?: string } }[] }

export interface SweepResult { seen: number; deleted: number; failed: number }

export class OperationLogRetention {
  private readonly client: KubeClient;
  private readonly retention: Retention;
  private readonly log: Logger;
  private readonly namespace: string | undefined;

  /** namespace: sweep only that one (every namespace by default). */
  constructor(client: KubeClient, retention: Retention, opts: { logger?: Logger; namespace?: string } = {}) {
    this.client = client;
    this.retention = retention;
    this.namespace = opts.namespace;
    this.log = (opts.logger ?? silentLogger).child({ component: 'operationlog-retention' });
  }

  get enabled(): boolean { return this.retention.maxAgeMs > 0 || this.retention.maxCount > 0; }

  /** Sweeps every intervalMs until the signal aborts; a failed sweep is logged and retried at the next tick. */
  async run(signal: AbortSignal, intervalMs: number): Promise<void> {
    if (!this.enabled) return;
    while (!signal.aborted) {
      try {
        const r = await this.sweep(signal);
        if (r.deleted || r.failed) this.log.info(r, 'OperationLog retention sweep');
      } catch (err) {
        if (!signal.aborted) this.log.warn({ err: String(err) }, 'OperationLog retention sweep failed');
      }
      // A stop that came during the sweep has already fired its abort event: sleep() looks at the signal first.
      await sleep(intervalMs, signal);
    }
  }

  /** One pass over every namespace (or the one the sweeper was given). */
  async sweep(signal?: AbortSignal): Promise<SweepResult> {
    const namespace = this.namespace;
    const byNs = new Map<string, Meta[]>();
    let seen = 0;
    for await (const m of this.records(namespace, signal)) {
      seen++;
      let list = byNs.get(m.namespace);
      if (!list) byNs.set(m.namespace, (list = []));
      list.push(m);
    }
    const cutoff = this.retention.maxAgeMs > 0 ? Date.now() - this.retention.maxAgeMs : -Infinity;
    const doomed: Meta[] = [];
    for (const list of byNs.values()) {
      list.sort((a, b) => a.created - b.created || (a.name < b.name ? -1 : 1));
      const overCount = this.retention.maxCount > 0 ? Math.max(0, list.length - this.retention.maxCount) : 0;
      list.forEach((m, i) => { if (i < overCount || m.created < cutoff) doomed.push(m); });
    }
    let deleted = 0;
    let failed = 0;
    const workers = Array.from({ length: 4 }, async () => {
      for (let m = doomed.pop(); m && !signal?.aborted; m = doomed.pop()) {
        const r = await this.client.raw('DELETE', `/apis/${STORAGE_API_VERSION}/namespaces/${encodeURIComponent(m.namespace)}/${LOG_STORAGE.plural}/${encodeURIComponent(m.name)}`);
        if (r.statusCode < 300 || r.statusCode === 404) deleted++;
        else failed++;
      }
    });
    await Promise.all(workers);
    return { seen, deleted, failed };
  }

  private async *records(namespace: string | undefined, signal?: AbortSignal): AsyncGenerator<Meta> {
    const base = namespace ? `/apis/${STORAGE_API_VERSION}/namespaces/${encodeURIComponent(namespace)}/${LOG_STORAGE.plural}` : `/apis/${STORAGE_API_VERSION}/${LOG_STORAGE.plural}`;
    let cont = '';
    do {
      const r = await this.client.raw('GET', base, {
        query: { limit: '500', ...(cont ? { continue: cont } : {}) }, signal, timeoutMs: 60_000,
        headers: { accept: 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json' },
      });
      if (r.statusCode >= 300) throw new Error(`list OperationLogs: ${r.statusCode}`);
      const list = r.body as MetaList;
      for (const i of list.items ?? []) {
        yield { namespace: i.metadata.namespace ?? '', name: i.metadata.name ?? '', created: Date.parse(i.metadata.creationTimestamp ?? '') || 0 };
      }
      cont = list.metadata?.continue ?? '';
    } while (cont);
  }
}
