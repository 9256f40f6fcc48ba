// The registry of the public API: one cache and one store per resource, the project membership index, and the
// per-request hook context the resources' strategies read. Everything the server routes to lives here.
import type { Logger } from 'pino';
import type { KubeClient } from '../lib/kube/client.ts';
import type { KubeObject } from '../lib/kube/types.ts';
import { silentLogger } from '../lib/log.ts';
import type { Authorizer } from './authz.ts';
import { ResourceCache, type CacheEvent } from './cache.ts';
import { crdOf, type CrdInfo } from './crds.ts';
import type { ApiServerMetrics } from './metrics.ts';
import { ProjectIndex, roleOf } from './projectindex.ts';
import { Store } from './rest.ts';
import { GROUP, type HookContext, type PublicObject, type ResourceDefinition, type UserInfo } from './resources/types.ts';
import type { EngineTemplateInfo } from './templates.ts';
import { SchemaValidator } from './validation.ts';

export interface HubOptions {
  storage: KubeClient;
  defs: readonly ResourceDefinition[];
  crds: Map<string, CrdInfo>;
  authorizer: Authorizer;
  engineTemplates: ReadonlyMap<string, EngineTemplateInfo>;
  bookmarkIntervalMs?: number;
  /** How much a watch may leave unread, and for how long (watch.ts). */
  watchBuffer?: { maxBufferedBytes: number; stallMs: number };
  metrics?: ApiServerMetrics;
  logger?: Logger;
}

export class Hub {
  readonly defs: readonly ResourceDefinition[];
  readonly stores = new Map<string, Store>();
  readonly caches = new Map<string, ResourceCache>();
  readonly projects = new ProjectIndex();
  private readonly opts: HubOptions;

  constructor(opts: HubOptions) {
    this.opts = opts;
    this.defs = opts.defs;
    const log = opts.logger ?? silentLogger;
    const m = opts.metrics;
    for (const def of opts.defs) {
      const crd = crdOf(opts.crds, def);
      const cache = new ResourceCache(opts.storage, def, { logger: log });
      this.caches.set(def.plural, cache);
      // Read your writes, per resource: a read waits until this resource's cache has our last write to it.
      let lastWrite = 0;
      this.stores.set(def.plural, new Store(def, cache, {
        storage: opts.storage,
        validator: new SchemaValidator(crd.schema),
        lastWrite: () => lastWrite,
        wrote: (rv) => { if (rv > lastWrite) lastWrite = rv; },
        watchOptions: { bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 60_000, maxBufferedBytes: opts.watchBuffer?.maxBufferedBytes ?? 1024 * 1024, stallMs: opts.watchBuffer?.stallMs ?? 10_000 },
        onMembershipLost: (project, user, lost) => this.onMembershipLost(project, user, lost),
        metrics: m && {
          watchOpened: (r) => m.watchers.inc({ resource: r }),
          watchClosed: (r) => m.watchers.dec({ resource: r }),
          watchEvent: (r) => m.watchEvents.inc({ resource: r }),
          watchTerminated: (r) => m.terminatedWatchers.inc({ resource: r }),
          watchHolding: (r, unsent) => m.holdWatch(r, unsent),
        },
      }));
    }
    this.caches.get('projects')?.addListener(this.projects);
  }

  run(signal: AbortSignal): Promise<void[]> {
    return Promise.all([...this.caches.values()].map((c) => c.run(signal)));
  }

  get synced(): boolean { return [...this.caches.values()].every((c) => c.synced); }

  waitForSync(signal?: AbortSignal): Promise<void[]> {
    return Promise.all([...this.caches.values()].map((c) => c.waitForSync(signal)));
  }

  /** The hooks' view of the world for one request on one resource. */
  context(user: UserInfo, plural: string): HookContext {
    let seesAll: Promise<boolean> | undefined;
    let mine: Set<string> | undefined;
    const { authorizer, storage, engineTemplates } = this.opts;
    return {
      user,
      seesAll: () => (seesAll ??= authorizer.authorizeResource(user, { verb: 'listall', group: GROUP, resource: plural }).then((d) => d.allowed, () => false)),
      lookup: (p, key) => this.caches.get(p)?.get(key)?.obj,
      listCached: (p) => (this.caches.get(p)?.snapshot().entries ?? []).map((e) => e.obj),
      projectsOf: (u) => (u === user ? (mine ??= this.projects.projectsOf(u)) : this.projects.projectsOf(u)),
      roleIn: (project, u) => this.projects.roleIn(project, u),
      engineTemplates,
      getCore: async (path) => {
        const r = await storage.raw('GET', path);
        if (r.statusCode === 404) return undefined;
        if (r.statusCode >= 300) throw new Error(`GET ${path}: ${r.statusCode}`);
        return r.body as KubeObject;
      },
    };
  }

  /** Calls `lost` when the project changes so that the user is no longer a member (or it is deleted). */
  onMembershipLost(project: string, user: UserInfo, lost: () => void): () => void {
    const cache = this.caches.get('projects');
    if (!cache) return () => {};
    const check = (e: CacheEvent): void => {
      if (e.entry.key !== project) return;
      if (e.type === 'DELETED' || roleOf(e.entry.obj, user) === undefined) lost();
    };
    // A relisted projects cache may have missed the change and drops its subscribers: end the watch, its client
    // resumes and is authorized again.
    return cache.subscribe({ event: check, progress: () => {}, end: lost });
  }

  /** The project a request belongs to, for its OperationLog. */
  projectOf(def: ResourceDefinition, namespace: string, name: string, ctx: HookContext): string | undefined {
    if (def.projectOf) return def.projectOf(namespace, name, ctx);
    if (namespace && this.caches.get('projects')?.get(namespace)) return namespace;
    return undefined;
  }

  objectOf(plural: string, key: string): PublicObject | undefined {
    return this.caches.get(plural)?.get(key)?.obj;
  }
}
