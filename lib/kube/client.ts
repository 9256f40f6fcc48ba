// A small Kubernetes REST client over undici. We wrap @kubernetes/client-node only for kubeconfig loading (all
// auth flavours, in-cluster tokens); requests and watches are our own because the informer needs exact control of
// resourceVersion, bookmarks, 410 handling and stream teardown, which the generated client does not expose.
import type { RequestOptions as HttpsRequestOptions } from 'node:https';
import { Agent, request, type Dispatcher } from 'undici';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { KubeApiError, asStatus } from './errors.ts';
import { collectionPath, objectPath, type ResourceType } from './resources.ts';
import type { KubeObject, ObjectList, WatchEvent } from './types.ts';

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  /** The Accept header instead of plain JSON, e.g. to read objects as PartialObjectMetadata (metadata only). */
  accept?: string;
  signal?: AbortSignal;
}

export interface WatchOptions extends Omit<ListOptions, 'limit' | 'continue'> {
  allowWatchBookmarks?: boolean;
  timeoutSeconds?: number;
}

export type PatchType = 'merge' | 'strategic' | 'json' | 'apply';
const patchContentTypes: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface WriteOptions { dryRun?: boolean; fieldManager?: string; force?: boolean }

type Query = Record<string, string | number | boolean | undefined>;

interface RequestArgs {
  query?: Query;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Milliseconds before the whole request is abandoned; watches pass 0 (their own timeout applies). */
  timeoutMs?: number;
  headers?: Record<string, string>;
}

/** Called after every request: method, HTTP status (0 when no answer came) and seconds taken. */
export type RequestObserver = (method: string, code: number, seconds: number) => void;

export class KubeClient {
  readonly server: string;
  /** Set by the manager to feed rest_client_* metrics. */
  observe: RequestObserver | undefined;
  private readonly dispatcher: Dispatcher;
  private readonly kubeConfig: KubeConfig;
  private authHeaders: Record<string, string> = {};
  private authFetchedAt = 0;

  private constructor(kubeConfig: KubeConfig, server: string, dispatcher: Dispatcher) {
    this.kubeConfig = kubeConfig;
    this.server = server.replace(/\/$/, '');
    this.dispatcher = dispatcher;
  }

  /** From a kubeconfig file, or the default chain (KUBECONFIG, ~/.kube/config, in-cluster) when no path is given. */
  static async fromKubeconfig(path?: string, context?: string): Promise<KubeClient> {
    const kc = new KubeConfig();
    if (path) kc.loadFromFile(path);
    else kc.loadFromDefault();
    if (context) kc.setCurrentContext(context);
    return KubeClient.fromKubeConfigObject(kc);
  }

  /**
   * From a kubeconfig's text (e.g. a member cluster's, held in a Secret); its current context. `http1` keeps the
   * connections on HTTP/1.1: undici's HTTP/2 client joins a repeated header into one value ("a, b"), which a proxy
   * sending one Impersonate-Group header per group cannot have.
   */
  static async fromKubeconfigText(text: string, opts: { http1?: boolean } = {}): Promise<KubeClient> {
    const kc = new KubeConfig();
    kc.loadFromString(text);
    return KubeClient.fromKubeConfigObject(kc, opts);
  }

  /** From the pod's service account (token, CA and KUBERNETES_SERVICE_HOST/PORT). */
  static async inCluster(pathPrefix?: string): Promise<KubeClient> {
    const kc = new KubeConfig();
    kc.loadFromCluster(pathPrefix);
    return KubeClient.fromKubeConfigObject(kc);
  }

  private static async fromKubeConfigObject(kc: KubeConfig, transport: { http1?: boolean } = {}): Promise<KubeClient> {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const opts: HttpsRequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    const dispatcher = new Agent({
      connect: { ca: opts.ca, cert: opts.cert, key: opts.key, rejectUnauthorized: !cluster.skipTLSVerify },
      // Watches are long-lived: no body timeout, the server ends them (timeoutSeconds).
      bodyTimeout: 0,
      headersTimeout: 60_000,
      keepAliveTimeout: 30_000,
      connections: 64,
      ...(transport.http1 ? { allowH2: false } : {}),
    });
    return new KubeClient(kc, cluster.server, dispatcher);
  }

  /** Authorization headers, refreshed every 30 s so rotated in-cluster tokens and exec credentials are picked up. */
  private async headers(): Promise<Record<string, string>> {
    if (Date.now() - this.authFetchedAt > 30_000) {
      const opts: HttpsRequestOptions = { headers: {} };
      await this.kubeConfig.applyToHTTPSOptions(opts);
      const h: Record<string, string> = {};
      for (const [k, v] of Object.entries(opts.headers ?? {})) if (typeof v === 'string') h[k] = v;
      this.authHeaders = h;
      this.authFetchedAt = Date.now();
    }
    return this.authHeaders;
  }

  private url(path: string, query?: Query): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') params.set(k, String(v));
    const qs = params.toString();
    return `${this.server}${path}${qs ? `?${qs}` : ''}`;
  }

  private async send(method: Dispatcher.HttpMethod, path: string, args: RequestArgs = {}): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'upm', ...args.headers, ...(await this.headers()) };
    let body: string | undefined;
    if (args.body !== undefined) {
      headers['content-type'] = args.contentType ?? 'application/json';
      body = typeof args.body === 'string' ? args.body : JSON.stringify(args.body);
    }
    const timeoutMs = args.timeoutMs ?? 60_000;
    // The timeout covers the answer's body too. Its timer is cleared when the body is done: AbortSignal.timeout's
    // cannot be, and each one, firing a minute after its request ended, is work for a process that is idle.
    const timeout = timeoutMs > 0 ? new AbortController() : undefined;
    const timer = timeout ? setTimeout(() => timeout.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), timeoutMs).unref() : undefined;
    const signals = [args.signal, timeout?.signal].filter((s): s is AbortSignal => !!s);
    const started = performance.now();
    const verb = args.query?.watch ? 'WATCH' : method;
    try {
      const res = await request(this.url(path, args.query), {
        method,
        headers,
        body,
        dispatcher: this.dispatcher,
        signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0],
      });
      if (timer) res.body.once('close', () => clearTimeout(timer));
      this.observe?.(verb, res.statusCode, (performance.now() - started) / 1000);
      return res;
    } catch (err) {
      clearTimeout(timer);
      this.observe?.(verb, 0, (performance.now() - started) / 1000);
      throw err;
    }
  }

  /**
   * A request whose answer is handed back whatever its status, with its headers and the body parsed as JSON when it
   * is JSON: for a proxy (the hub's API server) that passes the storage's answers, warnings included, on to its client.
   */
  async raw(method: Dispatcher.HttpMethod, path: string, args: RequestArgs = {}): Promise<{ statusCode: number; headers: Record<string, string | string[] | undefined>; body: unknown }> {
    const res = await this.send(method, path, args);
    const text = await res.body.text();
    let body: unknown = text;
    try { body = text ? JSON.parse(text) : undefined; } catch { /* not JSON: keep the text */ }
    return { statusCode: res.statusCode, headers: res.headers, body };
  }

  /**
   * Forwards a request as it came (a path with its raw query string, the caller's headers, a body stream) with this
   * client's credentials, and hands back the live response, body unread: for a proxy that streams both ways (the
   * hub's clusters/proxy). No timeout but the response headers': a stream ends when either side ends it.
   */
  async forward(method: Dispatcher.HttpMethod, pathAndQuery: string, args: { headers: Record<string, string | string[]>; body?: Dispatcher.DispatchOptions['body']; signal?: AbortSignal }): Promise<Dispatcher.ResponseData> {
    const started = performance.now();
    try {
      const res = await request(`${this.server}${pathAndQuery}`, {
        method, headers: { ...args.headers, ...(await this.headers()) }, body: args.body ?? null, dispatcher: this.dispatcher, signal: args.signal,
      });
      this.observe?.(method, res.statusCode, (performance.now() - started) / 1000);
      return res;
    } catch (err) {
      this.observe?.(method, 0, (performance.now() - started) / 1000);
      throw err;
    }
  }

  /** A JSON request; a non-2xx answer throws KubeApiError with the server's Status. */
  async request<T>(method: Dispatcher.HttpMethod, path: string, args: RequestArgs = {}): Promise<T> {
    const res = await this.send(method, path, args);
    const text = await res.body.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text; // not JSON (e.g. /metrics, /readyz): hand back the text
    }
    if (res.statusCode >= 300) {
      const status = asStatus(parsed) ?? { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: res.statusCode, message: text.slice(0, 500) };
      throw new KubeApiError(res.statusCode, status, `${method} ${path}`);
    }
    return parsed as T;
  }

  get<T extends KubeObject>(rt: ResourceType, name: string, namespace?: string): Promise<T> {
    return this.request<T>('GET', objectPath(rt, name, namespace));
  }

  list<T extends KubeObject>(rt: ResourceType, opts: ListOptions = {}): Promise<ObjectList<T>> {
    const { namespace, accept, signal, ...query } = opts;
    return this.request<ObjectList<T>>('GET', collectionPath(rt, namespace), { query: { ...query }, signal, headers: accept ? { accept } : undefined });
  }

  create<T extends KubeObject>(rt: ResourceType, obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.request<T>('POST', collectionPath(rt, obj.metadata.namespace), { body: obj, query: writeQuery(opts) });
  }

  /** Full update; fails with 409 Conflict when metadata.resourceVersion is stale. */
  update<T extends KubeObject>(rt: ResourceType, obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.request<T>('PUT', objectPath(rt, obj.metadata.name ?? '', obj.metadata.namespace), { body: obj, query: writeQuery(opts) });
  }

  updateStatus<T extends KubeObject>(rt: ResourceType, obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.request<T>('PUT', objectPath(rt, obj.metadata.name ?? '', obj.metadata.namespace, 'status'), { body: obj, query: writeQuery(opts) });
  }

  patch<T extends KubeObject>(
    rt: ResourceType, name: string, patch: unknown, type: PatchType = 'merge',
    opts: WriteOptions & { namespace?: string; subresource?: string } = {},
  ): Promise<T> {
    const body = type === 'apply' && typeof patch !== 'string' ? JSON.stringify(patch) : patch;
    return this.request<T>('PATCH', objectPath(rt, name, opts.namespace, opts.subresource), {
      body, contentType: patchContentTypes[type], query: writeQuery(opts),
    });
  }

  delete(rt: ResourceType, name: string, namespace?: string, opts: { propagationPolicy?: 'Foreground' | 'Background' | 'Orphan'; gracePeriodSeconds?: number } = {}): Promise<unknown> {
    return this.request<unknown>('DELETE', objectPath(rt, name, namespace), { body: { kind: 'DeleteOptions', apiVersion: 'v1', ...opts } });
  }

  /**
   * Streams watch events until the server ends the watch, the signal aborts, or the connection drops (which
   * throws). An ERROR event is turned into a thrown KubeApiError, so a 410 surfaces as isGone().
   */
  async *watch<T extends KubeObject>(rt: ResourceType, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    const { namespace, signal, accept, ...query } = opts;
    const path = collectionPath(rt, namespace);
    const res = await this.send('GET', path, { query: { ...query, watch: true }, signal, timeoutMs: 0, headers: accept ? { accept } : undefined });
    if (res.statusCode >= 300) {
      const text = await res.body.text();
      let parsed: unknown;
      try { parsed = JSON.parse(text); } catch { parsed = undefined; }
      throw new KubeApiError(res.statusCode, asStatus(parsed), `WATCH ${path}`);
    }
    let buffered = '';
    try {
      for await (const chunk of res.body) {
        buffered += (chunk as Buffer).toString('utf8');
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (!line) continue;
          const event = JSON.parse(line) as WatchEvent<T>;
          if (event.type === 'ERROR') {
            const status = asStatus(event.object);
            throw new KubeApiError(status?.code ?? 500, status, `WATCH ${path}`);
          }
          yield event;
        }
      }
    } finally {
      res.body.destroy();
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

function writeQuery(opts: WriteOptions): Query {
  return { dryRun: opts.dryRun ? 'All' : undefined, fieldManager: opts.fieldManager, force: opts.force };
}
