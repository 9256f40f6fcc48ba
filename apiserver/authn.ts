// Authentication as an extension API server. Trust comes from the TLS client certificate: only a certificate that
// chains to the request-header CA published in kube-system/extension-apiserver-authentication (checked against the
// bundle in force now: proxytrust.ts) and whose common name is an allowed name may tell us who the user
// is, through the X-Remote-* headers named there. Otherwise a bearer token is checked with a TokenReview (when
// enabled). Anything else is unauthenticated: 401. Every authenticated user gets system:authenticated.
import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { Informer } from '../lib/informer.ts';
import type { KubeClient } from '../lib/kube/client.ts';
import { Resources } from '../lib/kube/resources.ts';
import type { KubeObject } from '../lib/kube/types.ts';
import { silentLogger } from '../lib/log.ts';
import { parseBundle, proxyTrust } from './proxytrust.ts';
import type { UserInfo } from './resources/types.ts';
import { TokenReviewer, type ReviewResult, type TokenReviewLimits } from './tokenreview.ts';

export interface RequestHeaderConfig {
  caBundle: string;
  allowedNames: string[];
  usernameHeaders: string[];
  uidHeaders: string[];
  groupHeaders: string[];
  extraPrefixes: string[];
}

function jsonList(s: string | undefined, fallback: string[]): string[] {
  if (!s) return fallback;
  try {
    const v = JSON.parse(s) as unknown;
    return Array.isArray(v) ? v.map(String) : fallback;
  } catch {
    return fallback;
  }
}

export function requestHeaderConfig(data: Record<string, string>): RequestHeaderConfig | undefined {
  const caBundle = data['requestheader-client-ca-file'];
  if (!caBundle) return undefined;
  return {
    caBundle,
    allowedNames: jsonList(data['requestheader-allowed-names'], []),
    usernameHeaders: jsonList(data['requestheader-username-headers'], ['X-Remote-User']).map((h) => h.toLowerCase()),
    uidHeaders: jsonList(data['requestheader-uid-headers'], ['X-Remote-Uid']).map((h) => h.toLowerCase()),
    groupHeaders: jsonList(data['requestheader-group-headers'], ['X-Remote-Group']).map((h) => h.toLowerCase()),
    extraPrefixes: jsonList(data['requestheader-extra-headers-prefix'], ['X-Remote-Extra-']).map((h) => h.toLowerCase()),
  };
}

/**
 * Header values as sent, one per header field: Node joins repeated headers in req.headers. HTTP/1.1 requests have
 * headersDistinct; HTTP/2 ones only rawHeaders (name, value, name, value, ...).
 */
export function distinctHeaders(req: IncomingMessage): Record<string, string[]> {
  if (req.headersDistinct) return req.headersDistinct as Record<string, string[]>;
  const out: Record<string, string[]> = {};
  const raw = req.rawHeaders ?? [];
  for (let i = 0; i + 1 < raw.length; i += 2) (out[(raw[i] as string).toLowerCase()] ??= []).push(raw[i + 1] as string);
  return out;
}

/** The user the front proxy vouches for; undefined when the headers name none. Pure given the request. */
export function userFromHeaders(req: IncomingMessage, cfg: RequestHeaderConfig): UserInfo | undefined {
  const headers = distinctHeaders(req);
  const values = (_req: IncomingMessage, name: string): string[] => headers[name] ?? [];
  let name = '';
  for (const h of cfg.usernameHeaders) {
    name = values(req, h).find((v) => v.trim() !== '') ?? '';
    if (name) break;
  }
  if (!name) return undefined;
  const uid = cfg.uidHeaders.map((h) => values(req, h).find((v) => v !== '')).find(Boolean);
  const groups = cfg.groupHeaders.flatMap((h) => values(req, h));
  const extra: Record<string, string[]> = {};
  for (const [header, vs] of Object.entries(headers)) {
    const prefix = cfg.extraPrefixes.find((p) => header.startsWith(p));
    if (!prefix || !vs) continue;
    let key = header.slice(prefix.length).toLowerCase();
    try { key = decodeURIComponent(key); } catch { /* keep it as sent */ }
    (extra[key] ??= []).push(...vs);
  }
  return { name, uid, groups, extra };
}

export function withAuthenticatedGroup(user: UserInfo): UserInfo {
  if (user.groups.includes('system:authenticated') || user.groups.includes('system:unauthenticated') || user.name === 'system:anonymous') return user;
  return { ...user, groups: [...user.groups, 'system:authenticated'] };
}

/** Headers that carried identity; removed before a request goes further. */
export function stripIdentityHeaders(req: IncomingMessage, cfg: RequestHeaderConfig | undefined): void {
  const names = cfg ? [...cfg.usernameHeaders, ...cfg.uidHeaders, ...cfg.groupHeaders] : [];
  for (const h of Object.keys(req.headers)) {
    if (h === 'authorization' || names.includes(h) || cfg?.extraPrefixes.some((p) => h.startsWith(p))) delete req.headers[h];
  }
}

export interface AuthenticatorOptions {
  tokenReview?: boolean;
  /** Bounds on the TokenReviews random tokens can cause (tokenreview.ts). */
  tokenReviewLimits?: Partial<TokenReviewLimits>;
  /** Each review's outcome (or a token not reviewed for lack of budget) and the number of cached answers. */
  onTokenReview?(result: ReviewResult, cacheSize: number): void;
  logger?: Logger;
  /** Called with the request-header CA bundle whenever it is loaded or changes. */
  onCaBundle?(pem: string): void;
}

export class Authenticator {
  private readonly client: KubeClient;
  private readonly informer: Informer<KubeObject & { data?: Record<string, string> }>;
  private readonly opts: AuthenticatorOptions;
  private readonly log: Logger;
  private cfg: RequestHeaderConfig | undefined;
  private readonly tokens: TokenReviewer;
  private readonly connections = new WeakMap<object, { cfg: RequestHeaderConfig; trusted: boolean; until: number }>();
  private readonly roots = new WeakMap<RequestHeaderConfig, X509Certificate[]>();

  constructor(client: KubeClient, opts: AuthenticatorOptions = {}) {
    this.client = client;
    this.opts = opts;
    this.log = (opts.logger ?? silentLogger).child({ component: 'authn' });
    this.informer = new Informer(client, Resources.configMaps, {
      namespace: 'kube-system', fieldSelector: 'metadata.name=extension-apiserver-authentication', logger: opts.logger,
    });
    const load = (cm: KubeObject & { data?: Record<string, string> }) => {
      const cfg = requestHeaderConfig(cm.data ?? {});
      if (!cfg) { this.log.warn('extension-apiserver-authentication has no request-header CA: API aggregation will not work'); return; }
      const changed = cfg.caBundle !== this.cfg?.caBundle;
      this.cfg = cfg;
      if (changed) {
        this.log.info({ allowedNames: cfg.allowedNames }, 'request-header configuration loaded');
        this.opts.onCaBundle?.(cfg.caBundle);
      }
    };
    this.informer.addHandler({ onAdd: load, onUpdate: (_o, n) => load(n) });
    this.tokens = new TokenReviewer((token) => this.reviewToken(token), opts.tokenReviewLimits, opts.onTokenReview);
  }

  run(signal: AbortSignal): Promise<void> { return this.informer.run(signal); }
  /** Ready once the request-header configuration is known. */
  get ready(): boolean { return this.cfg !== undefined; }
  get config(): RequestHeaderConfig | undefined { return this.cfg; }

  /** The caller, or undefined when unauthenticated (the server answers 401). */
  async authenticate(req: IncomingMessage): Promise<UserInfo | undefined> {
    const cfg = this.cfg;
    if (cfg && this.fromTrustedProxy(req, cfg)) {
      const user = userFromHeaders(req, cfg);
      stripIdentityHeaders(req, cfg);
      return user ? withAuthenticatedGroup(user) : undefined;
    }
    const auth = req.headers.authorization;
    stripIdentityHeaders(req, cfg);
    if (this.opts.tokenReview && auth?.startsWith('Bearer ')) {
      const user = await this.tokens.authenticate(auth.slice('Bearer '.length).trim());
      return user ? withAuthenticatedGroup(user) : undefined;
    }
    return undefined;
  }

  /**
   * Whether the connection is the front proxy's. The answer is kept per connection, per request-header
   * configuration and until the certificate chain expires: the aggregator sends every request over one connection,
   * and verifying the chain costs more than the rest of a cached get. A new CA bundle or an expired certificate
   * makes the connection be judged again.
   */
  private fromTrustedProxy(req: IncomingMessage, cfg: RequestHeaderConfig): boolean {
    // HTTP/2: the session's socket (req.socket is a new stand-in per stream); HTTP/1.1: the socket itself.
    const socket = ((req as unknown as { stream?: { session?: { socket?: TLSSocket } } }).stream?.session?.socket ?? req.socket) as TLSSocket;
    const now = Date.now();
    const known = this.connections.get(socket);
    if (known && known.cfg === cfg && now < known.until) return known.trusted;
    const answer = proxyTrust(socket, this.rootsOf(cfg), cfg.allowedNames, now);
    this.connections.set(socket, { cfg, ...answer });
    return answer.trusted;
  }

  private rootsOf(cfg: RequestHeaderConfig): X509Certificate[] {
    let roots = this.roots.get(cfg);
    if (!roots) this.roots.set(cfg, roots = parseBundle(cfg.caBundle));
    return roots;
  }

  /** One TokenReview: the user, undefined when the token is refused; throws when the review itself failed. */
  private async reviewToken(token: string): Promise<UserInfo | undefined> {
    try {
      const r = await this.client.request<{ status?: { authenticated?: boolean; user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> } } }>(
        'POST', '/apis/authentication.k8s.io/v1/tokenreviews',
        { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } }, timeoutMs: 10_000 },
      );
      const u = r.status?.user;
      if (!r.status?.authenticated || !u?.username) return undefined;
      return { name: u.username, uid: u.uid, groups: u.groups ?? [], extra: u.extra ?? {} };
    } catch (err) {
      this.log.warn({ err: String(err) }, 'TokenReview failed');
      throw err;
    }
  }
}
