// What a request is, in the terms authorization and routing use: the Go API server's RequestInfo, derived from the
// method, path and query exactly as kube-apiserver derives it, so our SubjectAccessReviews ask what RBAC already
// answered for the same URL (and what `kubectl auth can-i` reports). Pure.
import { parseFieldSelector, SelectorError } from './selectors.ts';

export interface RequestInfo {
  isResourceRequest: boolean;
  path: string;
  /** Kubernetes verb: get list watch create update patch delete deletecollection; lowercase HTTP method otherwise. */
  verb: string;
  apiPrefix: string;
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
  /** Path segments below the subresource (connect subresources); ignored for authorization. */
  parts: string[];
}

const namespaceSubresources = new Set(['status', 'finalize']);

/** True for any `watch` value but an explicit false (`false`, `0`), as Go's ListOptions decoding does. */
export function queryFlag(query: URLSearchParams, key: string): boolean {
  if (!query.has(key)) return false;
  const v = (query.get(key) ?? '').toLowerCase();
  return v !== 'false' && v !== '0';
}

function splitPath(path: string): string[] {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  return trimmed ? trimmed.split('/') : [];
}

export function requestInfo(method: string, path: string, query: URLSearchParams): RequestInfo {
  const info: RequestInfo = {
    isResourceRequest: false, path, verb: method.toLowerCase(), apiPrefix: '', apiGroup: '', apiVersion: '',
    namespace: '', resource: '', subresource: '', name: '', parts: [],
  };
  let parts = splitPath(path).map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
  if (parts.length === 0 || (parts[0] !== 'api' && parts[0] !== 'apis')) return info;
  info.apiPrefix = parts[0] as string;
  parts = parts.slice(1);
  if (info.apiPrefix === 'apis') {
    if (parts.length < 3) return info; // /apis, /apis/<g>, /apis/<g>/<v>: discovery, a non-resource request
    info.apiGroup = parts[0] as string;
    parts = parts.slice(1);
  } else if (parts.length < 2) {
    return info;
  }
  info.apiVersion = parts[0] as string;
  parts = parts.slice(1);
  info.isResourceRequest = true;

  let specialVerb = '';
  if (parts[0] === 'watch' || parts[0] === 'proxy') {
    specialVerb = parts[0];
    parts = parts.slice(1);
  }
  switch (method.toUpperCase()) {
    case 'POST': info.verb = 'create'; break;
    case 'GET': case 'HEAD': info.verb = 'get'; break;
    case 'PUT': info.verb = 'update'; break;
    case 'PATCH': info.verb = 'patch'; break;
    case 'DELETE': info.verb = 'delete'; break;
    default: info.verb = '';
  }
  if (specialVerb) info.verb = specialVerb;

  if (parts[0] === 'namespaces') {
    if (parts.length > 1) {
      info.namespace = parts[1] as string;
      // /namespaces/<ns>/<resource>...; /namespaces/<ns> and /namespaces/<ns>/status address the namespace itself
      if (parts.length > 2 && !namespaceSubresources.has(parts[2] as string)) parts = parts.slice(2);
    }
  }
  info.parts = parts;
  info.resource = parts[0] ?? '';
  info.name = parts[1] ?? '';
  info.subresource = parts[2] ?? '';
  if (info.resource === 'namespaces' && info.name === '' && info.namespace) info.name = info.namespace;

  if (!info.name && info.verb === 'get') info.verb = queryFlag(query, 'watch') ? 'watch' : 'list';
  if (!info.name && info.verb === 'delete') info.verb = 'deletecollection';
  // A single-object list or watch (kubectl get -w NAME, kubectl wait) is authorized for that name.
  if ((info.verb === 'list' || info.verb === 'watch') && !info.name) {
    const name = nameFromFieldSelector(query.get('fieldSelector') ?? '');
    if (name) info.name = name;
  }
  return info;
}

/**
 * The name a field selector asks for exactly (Go's RequiresExactMatch("metadata.name")): the first `=`/`==` term on
 * metadata.name, parsed by the same parser that filters the list, so the name authorized is the name filtered by. A
 * selector that does not parse names nothing (the list is authorized as a list, and refused as a bad selector).
 */
function nameFromFieldSelector(selector: string): string | undefined {
  try {
    return parseFieldSelector(selector).find((r) => r.field === 'metadata.name' && r.op === '=')?.value;
  } catch (err) {
    if (err instanceof SelectorError) return undefined;
    throw err;
  }
}
