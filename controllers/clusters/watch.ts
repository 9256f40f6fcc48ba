// The hub's watches of one member cluster, for its Cluster's status: nothing is asked of the member at steady state.
//   - its kube-apiservers' identity Leases (kube-system, apiserver.kubernetes.io/identity=kube-apiserver), each
//     renewed every 10 s: every event (or bookmark, or list) says the member's API server, its storage and this
//     watch's connection work. Any event on this stream will do, whichever API server's Lease it is: what is proved is
//     that this stream is alive. (Members that share one etcd under one prefix would each see all their Leases: more
//     events per stream, the same meaning.)
//   - its Nodes as metadata only (labels are all the inventory needs) and its StorageClasses: the inventory follows
//     the member as it changes, with no periodic list.
//   - /version, read once when the watches (re)connect: a member upgraded while away is read again when it is back.
// What the watches saw is kept as facts (health.ts decides what they mean); the controller is told when they change
// in a way that matters (first heard, heard again after a failure or a silence, a failure, the inventory or version
// changed), and looks again on a timer of its own otherwise.
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { Informer } from '../../lib/informer.ts';
import { readInventory, sameInventory, type Inventory, type StorageClassObject } from '../../lib/inventory.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { KubeApiError } from '../../lib/kube/errors.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { silentLogger } from '../../lib/log.ts';
import type { MemberFacts } from './health.ts';

export const IDENTITY_NAMESPACE = 'kube-system';
export const IDENTITY_SELECTOR = 'apiserver.kubernetes.io/identity=kube-apiserver';

export interface MemberWatchOptions {
  /** The controller's clock, in ms. */
  now: () => number;
  /** Something the verdict depends on changed (the controller reconciles the member). */
  onChange: () => void;
  /** Heard again after this long a silence: the member is back, and the controller is told at once. */
  staleMs: number;
  log?: Logger;
  /** Each request that is not a watch (/version). */
  timeoutMs?: number;
}

/** Why a list or watch failed, in a line (no credentials in it). */
export function failureOf(err: unknown, at: number): NonNullable<MemberFacts['failure']> {
  if (err instanceof KubeApiError) {
    const text = err.code === 401 ? 'Unauthorized' : err.code === 403 ? 'Forbidden' : err.reason;
    const message = err.status?.message && err.status.message !== text ? `: ${err.status.message}` : '';
    return { at, code: err.code, detail: `${err.code} ${text} on the watch of its identity Leases (${IDENTITY_NAMESPACE})${message}`.slice(0, 500) };
  }
  if (err instanceof Error) {
    const code = (err as { code?: string }).code ?? (err.cause as { code?: string } | undefined)?.code;
    const cause = err.cause instanceof Error ? err.cause.message : '';
    const detail = err.name === 'TimeoutError' || err.name === 'AbortError' || code === 'UND_ERR_HEADERS_TIMEOUT' ? 'timed out' : [code, cause || err.message].filter(Boolean).join(': ');
    return { at, detail: detail.slice(0, 300) };
  }
  return { at, detail: String(err).slice(0, 300) };
}

export class MemberWatch {
  readonly client: KubeClient;
  /** The credentials these watches use (Secret uid/version/key): new ones start new watches. */
  readonly credentials: string;
  private readonly opts: MemberWatchOptions;
  private readonly stop = new AbortController();
  private readonly leases: Informer<KubeObject>;
  private readonly nodes: Informer<KubeObject>;
  private readonly classes: Informer<StorageClassObject>;
  private readonly runs: Promise<void>[] = [];
  private readonly facts_: MemberFacts;
  private inventory: Inventory | undefined;
  /** The inventory's caches that were filled (told by their first list: hasSynced follows the handlers). */
  private readonly listed = new Set<'nodes' | 'classes'>();
  private versionWanted = true;
  private versionReading = false;

  constructor(client: KubeClient, credentials: string, opts: MemberWatchOptions) {
    this.client = client;
    this.credentials = credentials;
    this.opts = opts;
    this.facts_ = { since: opts.now(), reconnects: 0 };
    setMaxListeners(16, this.stop.signal);
    const log = opts.log ?? silentLogger;
    this.leases = new Informer<KubeObject>(client, Resources.leases, { namespace: IDENTITY_NAMESPACE, labelSelector: IDENTITY_SELECTOR, logger: log });
    this.leases.addHandler({
      onWatchEvent: () => this.heard(),
      onRelist: () => this.heard(),
      onFailure: (err) => {
        this.facts_.failure = failureOf(err, this.opts.now());
        this.versionWanted = true;
        this.opts.onChange();
      },
    });
    this.nodes = new Informer<KubeObject>(client, Resources.nodes, { metadataOnly: true, logger: log });
    this.classes = new Informer<StorageClassObject>(client, Resources.storageClasses, { logger: log });
    // A Node's labels or the set of Nodes, or any StorageClass change: the inventory may have changed. A Node's
    // other changes (its status, every few seconds on a busy member) change nothing here and are not looked at.
    const labelsChanged = (a: KubeObject, b: KubeObject) => JSON.stringify(a.metadata.labels ?? {}) !== JSON.stringify(b.metadata.labels ?? {});
    const recount = () => this.recount();
    this.nodes.addHandler({ onAdd: recount, onDelete: recount, onUpdate: (a, b) => { if (labelsChanged(a, b)) recount(); }, onRelist: () => { this.listed.add('nodes'); recount(); } });
    this.classes.addHandler({ onAdd: recount, onDelete: recount, onUpdate: recount, onRelist: () => { this.listed.add('classes'); recount(); } });
    for (const i of [this.leases, this.nodes, this.classes] as Informer<KubeObject>[]) this.runs.push(i.run(this.stop.signal));
    void this.readVersion();
  }

  /** What the watches have seen, as of now. */
  facts(): MemberFacts {
    return { ...this.facts_, inventory: this.inventory };
  }

  /** Restarts every watch of the member (health.ts decides when: they went silent). */
  reconnect(): void {
    this.facts_.reconnectedAt = this.opts.now();
    this.facts_.reconnects++;
    this.versionWanted = true;
    for (const i of [this.leases, this.nodes, this.classes] as Informer<KubeObject>[]) i.reconnect();
  }

  private heard(): void {
    const now = this.opts.now();
    const f = this.facts_;
    const back = f.heardAt === undefined || !!f.failure || now - f.heardAt >= this.opts.staleMs;
    f.heardAt = now;
    f.failure = undefined;
    f.reconnects = 0;
    if (!back) return;
    if (this.versionWanted) void this.readVersion();
    this.opts.onChange();
  }

  private recount(): void {
    if (this.listed.size < 2) return;
    const next = readInventory(this.nodes.list(), this.classes.list());
    const count = this.nodes.size;
    if (sameInventory(this.inventory, next) && count === this.facts_.nodes) return;
    this.inventory = next;
    this.facts_.nodes = count;
    this.opts.onChange();
  }

  /** GET /version, once per (re)connection: it changes only when the member's API server is replaced. */
  private async readVersion(): Promise<void> {
    if (this.versionReading || this.stop.signal.aborted) return;
    this.versionReading = true;
    try {
      const r = await this.client.raw('GET', '/version', { timeoutMs: this.opts.timeoutMs ?? 5000, signal: this.stop.signal });
      const v = r.statusCode === 200 ? (r.body as { gitVersion?: string } | undefined)?.gitVersion : undefined;
      if (!v || this.stop.signal.aborted) return;
      this.versionWanted = false;
      if (v !== this.facts_.version) {
        this.facts_.version = v;
        this.opts.onChange();
      }
    } catch {
      // Unanswered: read again when the member is heard again.
    } finally {
      this.versionReading = false;
    }
  }

  /** Stops the watches; the client belongs to whoever gave it. */
  async close(): Promise<void> {
    this.stop.abort();
    await Promise.all(this.runs);
  }
}

/** One MemberWatch per member Cluster, started when it is first reconciled with usable credentials. */
export class MemberWatches {
  private readonly watches = new Map<string, MemberWatch>();
  private readonly make: (cluster: string, client: KubeClient, credentials: string) => MemberWatch;

  constructor(make: (cluster: string, client: KubeClient, credentials: string) => MemberWatch) {
    this.make = make;
  }

  /** The member's watches, started on first use, restarted when its credentials (or their client) changed. */
  ensure(cluster: string, client: KubeClient, credentials: string): MemberWatch {
    const cur = this.watches.get(cluster);
    if (cur && cur.credentials === credentials && cur.client === client) return cur;
    if (cur) void cur.close();
    const w = this.make(cluster, client, credentials);
    this.watches.set(cluster, w);
    return w;
  }

  /** Stops the member's watches: its Cluster is gone, or its credentials are not usable. */
  stop(cluster: string): void {
    const cur = this.watches.get(cluster);
    if (!cur) return;
    this.watches.delete(cluster);
    void cur.close();
  }

  async close(): Promise<void> {
    const all = [...this.watches.values()];
    this.watches.clear();
    await Promise.all(all.map((w) => w.close()));
  }
}
