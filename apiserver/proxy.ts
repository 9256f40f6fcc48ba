// clusters/{name}/proxy: a connect subresource that forwards any request below it to the member cluster's API,
// as Karmada's cluster proxy does. The hub authorized `clusters/proxy` first (the verb follows the HTTP method, as
// for pods/proxy); the member then sees the caller, not the hub: the request carries the hub's credentials for
// that member plus Impersonate-User, -Uid, -Group (system:authenticated included) and -Extra-*, so the member's
// RBAC decides. Bodies stream both ways (watches, logs); the caller's own Impersonate-* and identity headers never
// pass; a redirect from the member is never passed on (the aggregator would refuse it anyway).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { Informer } from '../lib/informer.ts';
import type { KubeClient } from '../lib/kube/client.ts';
import { MemberClients, type CredentialsRef, type Secret } from '../lib/kube/member-clients.ts';
import { Resources } from '../lib/kube/resources.ts';
import { silentLogger } from '../lib/log.ts';
import { GROUP, type PublicObject, type UserInfo } from './resources/types.ts';
import { ApiError, type Status } from './status.ts';

/** Headers that belong to one connection, or carry an identity: never forwarded in either direction. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'http2-settings', 'expect']);

function unavailable(message: string, name: string): ApiError {
  const status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code: 503, reason: 'ServiceUnavailable', message, details: { name, group: GROUP, kind: 'clusters', retryAfterSeconds: 5 } } as Status;
  return new ApiError(status, { 'retry-after': '5' });
}

/** An extra's key as a header name may carry it: legal token bytes as they are, anything else (and %) escaped. */
export function escapeExtraKey(key: string): string {
  let out = '';
  for (const b of Buffer.from(key, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9!#$&'*+.^_`|~-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The headers of the forwarded request: the caller's, minus hop-by-hop and identity headers, plus impersonation. Pure. */
export function forwardHeaders(incoming: Record<string, string | string[] | undefined>, user: UserInfo): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    const h = name.toLowerCase();
    if (value === undefined || h.startsWith(':') || HOP_BY_HOP.has(h) || h === 'authorization' || h.startsWith('impersonate-') || h.startsWith('x-remote-')) continue;
    out[h] = value;
  }
  out['impersonate-user'] = user.name;
  if (user.uid) out['impersonate-uid'] = user.uid;
  if (user.groups.length) out['impersonate-group'] = [...user.groups];
  for (const [key, values] of Object.entries(user.extra)) if (values.length) out[`impersonate-extra-${escapeExtraKey(key)}`] = [...values];
  return out;
}

/** The member's response headers as the caller gets them. Pure. */
export function responseHeaders(incoming: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    const h = name.toLowerCase();
    if (value !== undefined && !HOP_BY_HOP.has(h)) out[h] = value;
  }
  return out;
}

/** Whether the caller sends a body: HTTP/2 says so on the stream, HTTP/1.1 by its length or chunked encoding. */
function requestHasBody(req: IncomingMessage): boolean {
  const h2 = (req as unknown as { stream?: { endAfterHeaders?: boolean } }).stream;
  if (typeof h2?.endAfterHeaders === 'boolean') return !h2.endAfterHeaders;
  const len = req.headers['content-length'];
  if (len !== undefined) return Number(len) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

export class ClusterProxy {
  readonly members: MemberClients;
  private readonly secrets: Informer<Secret>;
  private readonly log: Logger;

  constructor(storage: KubeClient, opts: { namespace?: string; logger?: Logger } = {}) {
    const namespace = opts.namespace ?? 'upm-system';
    this.log = (opts.logger ?? silentLogger).child({ component: 'cluster-proxy' });
    this.secrets = new Informer<Secret>(storage, Resources.secrets, { namespace, logger: opts.logger });
    this.members = new MemberClients(this.secrets, namespace);
  }

  run(signal: AbortSignal): Promise<void> {
    signal.addEventListener('abort', () => void this.members.close(), { once: true });
    return this.secrets.run(signal);
  }

  get synced(): boolean { return this.secrets.hasSynced; }

  /**
   * Forwards the request to the member and streams the answer back; resolves with the status sent once the response
   * ended (a watch ends when either side ends it). `path` is what follows `/proxy` ("" for the member's root).
   */
  async serve(req: IncomingMessage, res: ServerResponse, cluster: PublicObject, user: UserInfo, path: string, search: string): Promise<number> {
    const name = cluster.metadata.name ?? '';
    const member = await this.members.resolve(cluster.spec?.credentials as CredentialsRef | undefined);
    if ('reason' in member) throw unavailable(`clusters.${GROUP} "${name}" cannot be reached through the hub: ${member.message}`, name);
    const abort = new AbortController();
    const onClose = () => { if (!res.writableFinished) abort.abort(); };
    res.on('close', onClose);
    const method = (req.method ?? 'GET').toUpperCase() as Dispatcher.HttpMethod;
    const hasBody = method !== 'GET' && method !== 'HEAD' && requestHasBody(req);
    let upstream: Dispatcher.ResponseData;
    try {
      upstream = await member.client.forward(method, `${path.startsWith('/') ? path : `/${path}`}${search}`, {
        headers: forwardHeaders(req.headers, user), body: hasBody ? req : null, signal: abort.signal,
      });
    } catch (err) {
      res.off('close', onClose);
      if (abort.signal.aborted) return 499; // the caller went away
      const code = (err as { code?: string }).code;
      throw unavailable(`error trying to reach cluster "${name}": ${[code, err instanceof Error ? err.message : String(err)].filter(Boolean).join(': ').slice(0, 300)}`, name);
    }
    if (upstream.statusCode >= 300 && upstream.statusCode < 400) {
      upstream.body.destroy();
      res.off('close', onClose);
      throw new ApiError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code: 502, reason: 'BadGateway', message: `the member cluster "${name}" answered with a redirect (${upstream.statusCode}), which the hub does not pass on` } as Status);
    }
    res.writeHead(upstream.statusCode, responseHeaders(upstream.headers));
    // Watches: headers now, then every chunk as it comes.
    res.flushHeaders();
    try {
      await pipeline(upstream.body, res);
    } catch (err) {
      if (!abort.signal.aborted) this.log.debug({ err: String(err), cluster: name }, 'proxied stream ended early');
      upstream.body.destroy();
    } finally {
      res.off('close', onClose);
    }
    return upstream.statusCode;
  }
}
