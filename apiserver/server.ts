// The HTTPS server of the public API: node:https (and, with --http2, node:http2 with HTTP/1.1 fallback) and a
// small router rather than express, because every route is one of the fixed Kubernetes path shapes that
// requestinfo.ts already parses for authorization, bodies need raw handling (size limit, several content types)
// and watches need direct control of the response stream. Each request goes: health paths (no authentication) ->
// authentication (401) -> SubjectAccessReview (403; a named object of a project namespace is a 404 to anyone outside
// the project, as if it did not exist) -> route: discovery, OpenAPI, metrics, a resource verb, or the
// clusters/proxy connect subresource. A mutating request is first rate-limited per user (429) and holds a place in
// the OperationLog queue before it reaches storage (503 when none frees in time), so no change goes unrecorded.
// What a client can make the server hold is bounded: concurrent watches per user and overall (429), what a watch
// buffers for a client that does not read (watch.ts), the time a request body may take (body.ts), the
// TokenReviews random bearer tokens cause (tokenreview.ts), and the metric series requests create (refused or
// unknown requests are counted under fixed labels, never under names taken from their URL).
// HTTP/2 would let the aggregator's Go transport share one TLS connection for every request, but Node's HTTP/2
// server ends the whole session (all watches on it) with ENHANCE_YOUR_CALM when a client goes on sending bodies
// the server already answered (an early 401/403/413): with one session shared by all users, one hostile client
// would cut everyone's watches. So HTTP/1.1 is the default.
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import { stringify as toYaml } from 'yaml';
import type { KubeClient } from '../lib/kube/client.ts';
import { silentLogger } from '../lib/log.ts';
import { AuditLog, type OperationRecord, type Slot } from './audit.ts';
import { Authenticator } from './authn.ts';
import { limitBodyTime } from './body.ts';
import { Authorizer } from './authz.ts';
import { loadCrds, type CrdInfo } from './crds.ts';
import { AGGREGATED_CONTENT_TYPE, aggregatedDiscovery, apiGroupDoc, apiGroupList, apiResourceList, cached, type Cached } from './discovery.ts';
import { Hub } from './hub.ts';
import { ApiServerMetrics } from './metrics.ts';
import { wantsAggregatedDiscovery, wantsYaml } from './negotiate.ts';
import { openapiV2, openapiV3, v3Hash } from './openapi.ts';
import { ClusterProxy } from './proxy.ts';
import { UserRateLimiter, type RateLimit } from './ratelimit.ts';
import { OperationLogRetention, type Retention } from './retention.ts';
import { requestInfo, type RequestInfo } from './requestinfo.ts';
import { RESOURCES } from './resources/index.ts';
import type { EngineTemplateInfo } from './templates.ts';
import type { TokenReviewLimits } from './tokenreview.ts';
import { GROUP, VERSION, type ResourceDefinition, type UserInfo } from './resources/types.ts';
import type { Reply } from './rest.ts';
import {
  ApiError, asApiError, forbidden, forbiddenPath, methodNotAllowed, notFound, pathNotFound, serviceUnavailable, tooManyRequests, unauthorized,
} from './status.ts';

export interface ApiServerOptions {
  /** Client of the management cluster: storage, SubjectAccessReview, TokenReview, the authentication ConfigMap. */
  storage: KubeClient;
  host?: string;
  port?: number;
  tlsCert: string;
  tlsKey: string;
  /** Engine templates the hub knows (`<engine>-<version>`), for cross-object validation. */
  engineTemplates: ReadonlyMap<string, EngineTemplateInfo>;
  tokenReview?: boolean;
  /** Bounds on the TokenReviews bearer tokens cause and on their cache (tokenreview.ts). */
  tokenReviewLimits?: Partial<TokenReviewLimits>;
  bookmarkIntervalMs?: number;
  /** Concurrent watches per user (default 100) and overall (default 5,000); beyond them 429. */
  maxWatchesPerUser?: number;
  maxWatches?: number;
  /**
   * A watch whose client leaves more than maxBufferedBytes unread (default 1 MiB) for longer than stallMs (default
   * 10 s) is ended; one that reaches 16 times the limit (at least 16 MiB) at once too.
   */
  watchBuffer?: { maxBufferedBytes: number; stallMs: number };
  /** The time a request body may take to arrive before 408 (default 60 s). */
  requestBodyTimeoutMs?: number;
  /** Concurrent non-watch requests before 429. */
  maxInflight?: number;
  /** Serve HTTP/2 beside HTTP/1.1; HTTP/1.1 only by default (see --http2 in main.ts). */
  http2?: boolean;
  /** The namespace of the member clusters' kubeconfig Secrets (clusters/proxy). */
  credentialsNamespace?: string;
  /** Per-user token bucket on mutating requests (default 20/s, burst 100). */
  userWriteLimit?: RateLimit;
  /** OperationLogs queued or reserved before a mutating request waits for room (default 10,000). */
  operationLogQueue?: number;
  /** How long a mutating request waits for room in the OperationLog queue before 503 (default 10 s). */
  operationLogWaitMs?: number;
  /** OperationLogs kept per namespace (default 720h and 10,000), swept every retentionIntervalMs (default 5 min). */
  operationLogRetention?: Retention;
  retentionIntervalMs?: number;
  defs?: readonly ResourceDefinition[];
  crds?: Map<string, CrdInfo>;
  logger?: Logger;
}

const MUTATING = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
/** The verbs on one named object that answer 404 to someone outside its project (namedInProject). */
const NAMED_VERBS = new Set(['get', 'update', 'patch', 'delete']);
/** The group every authenticated user has, which holds the pass-through grant upm-named-objects. */
const EVERYONE = 'system:authenticated';
/** Verbs counted in the request metrics under their own name; any other is "unknown". */
const METRIC_VERBS = new Set([...MUTATING, 'get', 'list', 'watch', 'post', 'put', 'head', 'options']);
const GV_PATH = `/apis/${GROUP}/${VERSION}`;

export class ApiServer {
  readonly hub: Hub;
  readonly metrics = new ApiServerMetrics();
  readonly audit: AuditLog;
  readonly authorizer: Authorizer;
  readonly proxy: ClusterProxy;
  readonly writeLimiter: UserRateLimiter;
  readonly retention: OperationLogRetention;
  private readonly authn: Authenticator;
  private readonly server: Server | Http2SecureServer;
  private readonly sockets = new Set<Socket>();
  private readonly opts: ApiServerOptions;
  private readonly log: Logger;
  private readonly stop = new AbortController();
  private running: Promise<unknown> | undefined;
  private inflight = 0;
  private watches = 0;
  private readonly watchesByUser = new Map<string, number>();
  private rateLimited = 0;
  private readonly docs: { resources: Cached; group: Cached; groups: Cached; aggregated: Cached; v2: Cached; v3: Cached; v3Root: Cached; v3Hash: string };

  constructor(opts: ApiServerOptions) {
    this.opts = opts;
    this.log = opts.logger ?? silentLogger;
    const defs = opts.defs ?? RESOURCES;
    const crds = opts.crds ?? loadCrds();
    this.authorizer = new Authorizer(opts.storage);
    this.audit = new AuditLog(opts.storage, { logger: this.log, maxQueue: opts.operationLogQueue });
    this.writeLimiter = new UserRateLimiter(opts.userWriteLimit ?? { qps: 20, burst: 100 });
    this.retention = new OperationLogRetention(opts.storage, opts.operationLogRetention ?? { maxAgeMs: 720 * 3_600_000, maxCount: 10_000 }, { logger: this.log });
    this.hub = new Hub({
      storage: opts.storage, defs, crds, authorizer: this.authorizer, engineTemplates: opts.engineTemplates,
      bookmarkIntervalMs: opts.bookmarkIntervalMs, watchBuffer: opts.watchBuffer, metrics: this.metrics, logger: this.log,
    });
    const v3 = cached(openapiV3(defs, crds));
    const hash = v3Hash(v3.body);
    this.docs = {
      resources: cached(apiResourceList(defs)), group: cached(apiGroupDoc()), groups: cached(apiGroupList()),
      aggregated: cached(aggregatedDiscovery(defs)), v2: cached(openapiV2(defs, crds)), v3, v3Hash: hash,
      v3Root: cached({ paths: { [`apis/${GROUP}/${VERSION}`]: { serverRelativeURL: `/openapi/v3/apis/${GROUP}/${VERSION}?hash=${hash}` } } }),
    };
    this.proxy = new ClusterProxy(opts.storage, { namespace: opts.credentialsNamespace, logger: this.log });
    // Ask for a client certificate, never require one (probes and token clients connect without). The TLS layer's
    // verdict is not trusted: authn.ts checks the chain against the request-header CA bundle in force now.
    const tls = { cert: opts.tlsCert, key: opts.tlsKey, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' as const };
    // The HTTP/2 compatibility API has the request and response members this server uses (headers, rawHeaders,
    // socket, streams, writeHead, write, end, flushHeaders, writableLength), so one pipeline serves both protocols.
    const handler = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => {
      void this.handle(req as IncomingMessage, res as ServerResponse);
    };
    this.server = !opts.http2
      ? createServer(tls, handler)
      // Every watch is a stream of one session: allow many, and enough session memory for their queued events.
      : createSecureServer({ ...tls, allowHTTP1: true, maxSessionMemory: 64, settings: { maxConcurrentStreams: 10_000 } }, handler);
    // Timeouts of the HTTP/1.1 connections (an HTTP/2 server with allowHTTP1 reads the same properties).
    Object.assign(this.server, { keepAliveTimeout: 65_000, headersTimeout: 70_000, requestTimeout: 0 }); // watches are long; kube-apiserver bounds the rest
    this.server.on('secureConnection', (socket: Socket & { alpnProtocol?: string | false }) => {
      this.metrics.connections.inc({ protocol: socket.alpnProtocol || 'http/1.1' });
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.authn = new Authenticator(opts.storage, {
      tokenReview: opts.tokenReview,
      tokenReviewLimits: opts.tokenReviewLimits,
      onTokenReview: (result, size) => { this.metrics.tokenReviews.inc({ result }); this.metrics.tokenCache.set(size); },
      logger: this.log,
      onCaBundle: (ca) => this.server.setSecureContext({ cert: opts.tlsCert, key: opts.tlsKey, ca }),
    });
  }

  /** Starts the caches and the authentication watch, then listens; resolves with the bound port. */
  async start(): Promise<number> {
    const signal = this.stop.signal;
    this.running = Promise.all([
      this.authn.run(signal), this.hub.run(signal), this.proxy.run(signal), this.retention.run(signal, this.opts.retentionIntervalMs ?? 300_000),
    ]);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => resolve());
    });
    const port = (this.server.address() as AddressInfo).port;
    this.log.info({ port }, 'listening');
    return port;
  }

  get ready(): boolean { return this.authn.ready && this.hub.synced; }

  async close(): Promise<void> {
    this.stop.abort();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
    await this.running;
    await this.audit.drain();
  }

  // ---- request pipeline --------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    let info: RequestInfo | undefined;
    let user: UserInfo | undefined;
    let reply: { code: number; reason: string; message: string; name?: string } = { code: 0, reason: '', message: '' };
    const url = new URL(req.url ?? '/', 'https://upm-apiserver');
    const path = url.pathname;
    let counted = false;
    let slot: Slot | undefined;
    let target: Target | undefined;
    try {
      if (this.healthCheck(path, url.searchParams, res)) return;
      limitBodyTime(req, this.opts.requestBodyTimeoutMs ?? 60_000);
      if (!this.authn.ready) throw serviceUnavailable('the server is starting: authentication configuration not loaded yet');
      user = await this.authn.authenticate(req);
      if (!user) throw unauthorized();
      info = requestInfo(req.method ?? 'GET', path, url.searchParams);
      // Until every cache has synced a missing object may only be unseen: serve no resource from them.
      if (info.isResourceRequest && !this.hub.synced) throw serviceUnavailable('the server is starting: its caches have not synced yet');
      const audited = this.audited(info, url.searchParams);
      // system:masters is exempt, as from the kube-apiserver's priority and fairness: it can do anything anyway.
      if (info.isResourceRequest && MUTATING.has(info.verb) && !user.groups.includes('system:masters')) {
        const wait = this.writeLimiter.take(user.name);
        if (wait) { this.metrics.operationLogs.set({ result: 'ratelimited' }, ++this.rateLimited); throw tooManyRequests(wait); }
      }
      if (audited) {
        // Who may see the target is decided before the change: a project deleted by this request is still known.
        target = await this.target(audited, info, user);
        slot = await this.audit.reserve(this.opts.operationLogWaitMs ?? 10_000);
        if (!slot) throw serviceUnavailable('too many changes are waiting to be recorded in OperationLogs, please try again later', 1);
      }
      await this.authorize(user, info);
      if (info.verb === 'watch') this.admitWatch(user, res);
      // Watches and proxied requests are long-running (a proxied watch, logs): not counted against the cap.
      if (info.verb !== 'watch' && info.subresource !== 'proxy') {
        if (this.inflight >= (this.opts.maxInflight ?? 400)) throw tooManyRequests(1);
        this.inflight++;
        counted = true;
        this.metrics.inflight.set({ kind: 'all' }, this.inflight);
      }
      const r = await this.route(req, res, info, user, url);
      if (r) {
        if (target && !target.uid && info.resource === 'projects' && r.code < 300) target.uid = uidOf(r.body);
        this.send(req, res, r);
        reply = { code: r.code, reason: '', message: '', name: r.name };
      } else {
        reply = { code: res.statusCode || 200, reason: '', message: '' };
      }
    } catch (err) {
      const e = asApiError(err);
      if (e.code >= 500) this.log.error({ err: String(err), stack: (err as Error)?.stack, path }, 'request failed');
      reply = { code: e.code, reason: e.status.reason ?? '', message: e.status.message ?? '' };
      this.sendError(res, e);
    } finally {
      if (counted) { this.inflight--; this.metrics.inflight.set({ kind: 'all' }, this.inflight); }
      // Label values from a fixed set: a resource only when it is one of ours, a verb only when it is a known one.
      const verb = info?.verb ?? (req.method ?? '').toLowerCase();
      const labels = {
        verb: METRIC_VERBS.has(verb) ? verb : 'unknown',
        resource: !info?.isResourceRequest ? '' : this.isOurs(info) ? info.resource : 'unknown',
      };
      this.metrics.requests.inc({ ...labels, code: String(reply.code || res.statusCode) });
      this.metrics.latency.observe(labels, (performance.now() - started) / 1000);
      if (slot) {
        if (user && info && target) this.recordOperation(slot, req, info, user, reply, target);
        else slot.release();
      }
    }
  }

  private isOurs(info: RequestInfo): boolean {
    return info.apiPrefix === 'apis' && info.apiGroup === GROUP && info.apiVersion === VERSION && this.hub.stores.has(info.resource);
  }

  /**
   * Counts a watch against its user's cap and the overall one until its response closes; 429 beyond either.
   * system:masters is never refused: it can do anything anyway (as with the write limit), and an administrator
   * must still be able to watch while tenants hold every place; its watches still count toward the overall number.
   * The cluster's controllers that watch every resource (garbage collector, namespace controller) hold one watch
   * per resource, far below the per-user cap.
   */
  private admitWatch(user: UserInfo, res: ServerResponse): void {
    const exempt = user.groups.includes('system:masters');
    const mine = this.watchesByUser.get(user.name) ?? 0;
    if (!exempt) {
      let limit = '';
      if (mine >= (this.opts.maxWatchesPerUser ?? 100)) limit = 'user';
      else if (this.watches >= (this.opts.maxWatches ?? 5_000)) limit = 'overall';
      if (limit) { this.metrics.watchesRefused.inc({ limit }); throw tooManyRequests(1); }
    }
    this.watches++;
    this.watchesByUser.set(user.name, mine + 1);
    res.once('close', () => {
      this.watches--;
      const n = (this.watchesByUser.get(user.name) ?? 1) - 1;
      if (n > 0) this.watchesByUser.set(user.name, n);
      else this.watchesByUser.delete(user.name);
    });
  }

  private healthCheck(path: string, query: URLSearchParams, res: ServerResponse): boolean {
    const m = /^\/(healthz|livez|readyz)(?:\/([\w-]+))?$/.exec(path);
    if (!m) return false;
    const checks: [string, boolean][] = [['ping', true]];
    if (m[1] === 'readyz') checks.push(['authentication-config', this.authn.ready], ['informer-sync', this.hub.synced], ['cluster-credentials', this.proxy.synced]);
    const excluded = new Set(query.getAll('exclude'));
    const selected = checks.filter(([n]) => !excluded.has(n) && (!m[2] || n === m[2]));
    if (m[2] && selected.length === 0) { res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n'); return true; }
    const ok = selected.every(([, v]) => v);
    let text = ok ? 'ok' : `${m[1]} check failed`;
    if (query.has('verbose') || !ok) text = `${selected.map(([n, v]) => (v ? `[+]${n} ok` : `[-]${n} failed: reason withheld`)).join('\n')}\n${ok ? `${m[1]} check passed` : `${m[1]} check failed`}\n`;
    res.writeHead(ok ? 200 : 500, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' }).end(text);
    return true;
  }

  private async authorize(user: UserInfo, info: RequestInfo): Promise<void> {
    const attrs = Authorizer.attributes(info);
    const named = this.namedInProject(info);
    let decision;
    try {
      decision = attrs.resource
        ? await this.authorizer.authorizeResource(named ? withoutEveryone(user) : user, attrs.resource)
        : await this.authorizer.authorizePath(user, attrs.path ?? '/', attrs.verb);
    } catch (err) {
      this.metrics.sar.inc({ result: 'error' });
      throw err;
    }
    this.metrics.sar.inc({ result: decision.allowed ? 'allowed' : 'denied' });
    if (decision.allowed) return;
    if (!attrs.resource) throw forbiddenPath(user.name, attrs.verb, info.path);
    // Outside the project the namespace is, the object does not exist: the answer of a get that finds nothing.
    if (named && !(await this.knowsProject(user, info))) throw notFound({ resource: info.resource, group: GROUP, name: info.name });
    throw forbidden({
      resource: info.resource, group: info.apiGroup, name: info.name || undefined, verb: info.verb, user: user.name,
      namespace: info.namespace || undefined, subresource: info.subresource || undefined,
    }, decision.reason);
  }

  /**
   * A request on one named object (or its status) of a namespaced resource whose objects RBAC alone guards, in a
   * project's namespace or any other: every authenticated user's request reaches us (the upm-named-objects role in
   * config/apiserver/base/user-roles.yaml), and whether it is a 403 or a 404 is decided here.
   */
  private namedInProject(info: RequestInfo): boolean {
    if (!info.isResourceRequest || !info.name || !info.namespace || !NAMED_VERBS.has(info.verb) || !this.isOurs(info)) return false;
    const def = this.hub.stores.get(info.resource)?.def;
    return !!def && def.namespaced && !def.visibility && (info.subresource === '' || info.subresource === 'status');
  }

  /** Whether a refusal may say "forbidden": the caller is in the namespace's project, or sees every object (listall). */
  private async knowsProject(user: UserInfo, info: RequestInfo): Promise<boolean> {
    if (this.hub.projects.roleIn(info.namespace, user) !== undefined) return true;
    return this.hub.context(user, info.resource).seesAll();
  }

  private async route(req: IncomingMessage, res: ServerResponse, info: RequestInfo, user: UserInfo, url: URL): Promise<Reply | undefined> {
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (!info.isResourceRequest) return this.nonResource(req, res, path, url);
    if (info.apiPrefix !== 'apis' || info.apiGroup !== GROUP || info.apiVersion !== VERSION) throw pathNotFound();
    const store = this.hub.stores.get(info.resource);
    if (!store) throw pathNotFound();
    const def = store.def;
    if (info.subresource && !(def.subresources as readonly string[]).includes(info.subresource)) throw pathNotFound();
    const ns = info.namespace;
    if (!def.namespaced && ns) throw pathNotFound();
    if (info.subresource === 'proxy') {
      await this.proxyTo(req, res, info, user, url);
      return undefined;
    }
    if (info.parts.length > 3) throw pathNotFound();
    if (def.namespaced && !ns && !['list', 'watch'].includes(info.verb)) throw pathNotFound();
    const ctx = this.hub.context(user, def.plural);
    const q = url.searchParams;
    switch (info.verb) {
      case 'get': return store.get(ctx, ns, info.name, q, req.headers.accept);
      case 'list': return store.list(ctx, ns, q, req.headers.accept);
      case 'watch': await store.watch(ctx, ns, q, req, res); return undefined;
      case 'create': if (info.name) throw methodNotAllowed('create', { resource: def.plural, group: GROUP }); return store.create(ctx, ns, req, q);
      case 'update': return store.update(ctx, ns, info.name, info.subresource, req, q);
      case 'patch': return store.patch(ctx, ns, info.name, info.subresource, req, q);
      case 'delete': if (info.subresource) throw methodNotAllowed('delete', { resource: `${def.plural}/${info.subresource}`, group: GROUP }); return store.delete(ctx, ns, info.name, req, q);
      case 'deletecollection': return store.deleteCollection(ctx, ns, req, q);
      default: throw methodNotAllowed(info.verb || (req.method ?? ''), { resource: def.plural, group: GROUP });
    }
  }

  /** clusters/{name}/proxy[/...]: the member's path is what follows `/proxy` in the URL, still percent-encoded. */
  private async proxyTo(req: IncomingMessage, res: ServerResponse, info: RequestInfo, user: UserInfo, url: URL): Promise<void> {
    const cluster = this.hub.objectOf(info.resource, info.name);
    if (!cluster) throw notFound({ resource: info.resource, group: GROUP, name: info.name });
    const marker = `/${info.resource}/`;
    const nameEnd = url.pathname.indexOf('/', url.pathname.indexOf(marker) + marker.length);
    const rest = url.pathname.slice(nameEnd + '/proxy'.length);
    await this.proxy.serve(req, res, cluster, user, rest, url.search);
  }

  private async nonResource(req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<Reply | undefined> {
    const etagged = (doc: Cached, contentType = 'application/json', extra: Record<string, string> = {}): undefined => {
      if (req.headers['if-none-match'] === doc.etag) { res.writeHead(304, { etag: doc.etag, ...extra }).end(); return undefined; }
      res.writeHead(200, { 'content-type': contentType, etag: doc.etag, vary: 'Accept', ...extra }).end(doc.body);
      return undefined;
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed((req.method ?? '').toLowerCase(), { resource: path, group: '' });
    switch (path) {
      case '/apis':
        if (wantsAggregatedDiscovery(req.headers.accept)) return etagged(this.docs.aggregated, AGGREGATED_CONTENT_TYPE, { 'cache-control': 'public' });
        return { code: 200, body: this.docs.groups.body };
      case `/apis/${GROUP}`: return { code: 200, body: this.docs.group.body };
      case GV_PATH: return { code: 200, body: this.docs.resources.body };
      case '/openapi/v2': return etagged(this.docs.v2);
      case '/openapi/v3': return { code: 200, body: this.docs.v3Root.body };
      case `/openapi/v3/apis/${GROUP}/${VERSION}`: {
        const hash = url.searchParams.get('hash');
        if (hash && hash !== this.docs.v3Hash) {
          res.writeHead(301, { location: `/openapi/v3/apis/${GROUP}/${VERSION}?hash=${this.docs.v3Hash}` }).end();
          return undefined;
        }
        const caching: Record<string, string> = hash
          ? { 'cache-control': 'public, immutable', expires: new Date(Date.now() + 365 * 86400_000).toUTCString() }
          : { 'cache-control': 'no-cache, private' };
        return etagged({ body: this.docs.v3.body, etag: `"${this.docs.v3Hash}"` }, 'application/json', caching);
      }
      case '/version':
        return { code: 200, body: { major: '0', minor: '1', gitVersion: 'v0.1.0-upm', platform: `${process.platform}/${process.arch}`, compiler: 'node', goVersion: process.version } };
      case '/metrics': {
        const text = await this.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text);
        return undefined;
      }
      default:
        // /api (no core group here: client-go accepts exactly a 404), unknown groups and paths.
        throw pathNotFound();
    }
  }

  // ---- responses ---------------------------------------------------------------------------------------------

  private send(req: IncomingMessage, res: ServerResponse, r: Reply): void {
    const headers: Record<string, string | string[]> = { 'cache-control': 'no-cache, private' };
    if (r.warnings?.length) headers.warning = r.warnings.map((w) => `299 - ${JSON.stringify(w)}`);
    let type = 'application/json';
    let text: string;
    if (wantsYaml(req.headers.accept)) {
      type = 'application/yaml';
      text = toYaml(typeof r.body === 'string' ? JSON.parse(r.body) : r.body);
    } else {
      text = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
    }
    res.writeHead(r.code, { ...headers, 'content-type': type });
    res.end(req.method === 'HEAD' ? undefined : text);
  }

  private sendError(res: ServerResponse, e: ApiError): void {
    if (res.headersSent) { res.end(); return; }
    res.writeHead(e.code, { 'content-type': 'application/json', 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache, private', ...e.headers });
    res.end(JSON.stringify(e.status));
  }

  /** The resource of a mutating request of this API that gets an OperationLog (a dry run changes nothing). */
  private audited(info: RequestInfo, query: URLSearchParams): ResourceDefinition | undefined {
    if (!info.isResourceRequest || !MUTATING.has(info.verb) || info.apiGroup !== GROUP || query.has('dryRun')) return undefined;
    return this.hub.stores.get(info.resource)?.def;
  }

  /** The project a request aims at, that project's uid, and whether the caller can see it. */
  private async target(def: ResourceDefinition, info: RequestInfo, user: UserInfo): Promise<Target> {
    const ctx = this.hub.context(user, def.plural);
    const project = this.hub.projectOf(def, info.namespace, info.name, ctx);
    const obj = project ? this.hub.objectOf('projects', project) : undefined;
    const member = !!obj && ctx.projectsOf(user).has(project as string);
    const seesAll = member ? true : await this.hub.context(user, 'projects').seesAll();
    return { def, project, uid: obj?.metadata.uid, sees: member || seesAll };
  }

  private recordOperation(slot: Slot, req: IncomingMessage, info: RequestInfo, user: UserInfo, reply: { code: number; reason: string; message: string; name?: string }, target: Target): void {
    const name = info.name || reply.name || '';
    const project = target.project ?? (info.verb === 'create' ? this.hub.projectOf(target.def, info.namespace, name, this.hub.context(user, target.def.plural)) : undefined);
    const r: OperationRecord = {
      user, verb: info.verb, apiGroup: info.apiGroup, resource: info.resource, subresource: info.subresource, namespace: info.namespace,
      name, project, projectUid: target.uid, code: reply.code, reason: reply.reason, message: reply.message,
      userAgent: String(req.headers['user-agent'] ?? ''),
    };
    // A refusal (nothing changed) by someone who cannot see the target is no part of that project's history: it
    // would let anyone fill, or forge entries into, the log of a project they are not in.
    const refused = reply.code >= 400 || reply.code === 0;
    if (refused && !target.sees) {
      slot.release();
      this.audit.unrecorded(r);
    } else {
      slot.fill(r);
    }
    const s = this.audit.stats;
    this.metrics.operationLogs.set({ result: 'written' }, s.written);
    this.metrics.operationLogs.set({ result: 'failed' }, s.failed);
    this.metrics.operationLogs.set({ result: 'dropped' }, s.dropped);
    this.metrics.operationLogs.set({ result: 'unrecorded' }, s.unrecorded);
    this.metrics.operationLogs.set({ result: 'queuefull' }, s.queueFull);
  }
}

/**
 * The caller as RBAC must judge a named object of a project namespace: without the group that every authenticated
 * user has, which only carries the pass-through grant; the project's role bindings and any binding to the user or
 * their other groups still count.
 */
function withoutEveryone(user: UserInfo): UserInfo {
  return { ...user, groups: user.groups.filter((g) => g !== EVERYONE) };
}

interface Target { def: ResourceDefinition; project: string | undefined; uid: string | undefined; sees: boolean }

/** metadata.uid of a reply's object (a created project). */
function uidOf(body: unknown): string | undefined {
  try {
    const o = (typeof body === 'string' ? JSON.parse(body) : body) as { metadata?: { uid?: unknown } };
    return typeof o?.metadata?.uid === 'string' ? o.metadata.uid : undefined;
  } catch {
    return undefined;
  }
}
