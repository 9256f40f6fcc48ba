// Delegated authorization: a SubjectAccessReview to the kube-apiserver per request, with the attributes the Go
// RequestInfo derives, so RBAC decides here exactly what it decided for the same URL. Answers are cached for 10 s
// (allowed and denied alike, as the Go webhook authorizer does) and concurrent identical questions share one call.
// system:masters is allowed without asking, as Go servers do by default.
import type { KubeClient } from '../lib/kube/client.ts';
import type { RequestInfo } from './requestinfo.ts';
import type { UserInfo } from './resources/types.ts';

export interface ResourceAttributes {
  verb: string; group: string; version?: string; resource: string; subresource?: string; namespace?: string; name?: string;
}
export interface Decision { allowed: boolean; reason: string }

export interface AuthorizerOptions {
  ttlMs?: number;
  maxEntries?: number;
  alwaysAllowGroups?: string[];
}

interface SarStatus { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string }

export class Authorizer {
  private readonly client: KubeClient;
  private readonly cache = new Map<string, { at: number; decision: Promise<Decision> }>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly alwaysAllow: Set<string>;
  /** SubjectAccessReviews sent (cache misses), for metrics and tests. */
  reviews = 0;

  constructor(client: KubeClient, opts: AuthorizerOptions = {}) {
    this.client = client;
    this.ttlMs = opts.ttlMs ?? 10_000;
    this.maxEntries = opts.maxEntries ?? 20_000;
    this.alwaysAllow = new Set(opts.alwaysAllowGroups ?? ['system:masters']);
  }

  /** The attributes of a request, as kube-apiserver's authorizer sees them. */
  static attributes(info: RequestInfo): { resource?: ResourceAttributes; path?: string; verb: string } {
    if (!info.isResourceRequest) return { path: info.path, verb: info.verb };
    return {
      verb: info.verb,
      resource: {
        verb: info.verb, group: info.apiGroup, version: info.apiVersion, resource: info.resource,
        subresource: info.subresource || undefined, namespace: info.namespace || undefined, name: info.name || undefined,
      },
    };
  }

  /**
   * A request for one named object asks first whether the user may do the verb on every object of the resource (no
   * name: "all of them" in SubjectAccessReview terms), which one cached answer settles for every name; only when
   * that is denied is the named question asked (RBAC's resourceNames rules). Without this every get of another
   * name would be a cache miss and a round trip to the kube-apiserver. Exact for RBAC, which only ever allows;
   * an authorizer that allows a whole resource but denies one name of it would be bypassed.
   */
  async authorizeResource(user: UserInfo, attrs: ResourceAttributes): Promise<Decision> {
    if (attrs.name) {
      const { name: _named, ...all } = attrs;
      const broad = await this.review(user, { resourceAttributes: all });
      if (broad.allowed) return broad;
    }
    return this.review(user, { resourceAttributes: attrs });
  }

  authorizePath(user: UserInfo, path: string, verb: string): Promise<Decision> {
    return this.review(user, { nonResourceAttributes: { path, verb } });
  }

  private review(user: UserInfo, attrs: Record<string, unknown>): Promise<Decision> {
    if (user.groups.some((g) => this.alwaysAllow.has(g))) return Promise.resolve({ allowed: true, reason: '' });
    const spec = { user: user.name, uid: user.uid, groups: user.groups, extra: Object.keys(user.extra).length ? user.extra : undefined, ...attrs };
    const key = JSON.stringify(spec);
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.decision;
    const decision = this.ask(spec);
    this.cache.set(key, { at: now, decision });
    // A failed review is not remembered: the next request asks again.
    decision.catch(() => this.cache.delete(key));
    if (this.cache.size > this.maxEntries) {
      for (const [k, v] of this.cache) {
        if (now - v.at >= this.ttlMs || this.cache.size > this.maxEntries) this.cache.delete(k);
        if (this.cache.size <= this.maxEntries / 2) break;
      }
    }
    return decision;
  }

  private async ask(spec: Record<string, unknown>): Promise<Decision> {
    this.reviews++;
    const sar = await this.client.request<{ status?: SarStatus }>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec },
      timeoutMs: 10_000,
    });
    const s = sar.status ?? {};
    return { allowed: !!s.allowed && !s.denied, reason: s.reason ?? '' };
  }
}
