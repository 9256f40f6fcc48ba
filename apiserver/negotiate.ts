// Content negotiation as the Go API server does it: walk the Accept clauses in order and take the first one we can
// produce (JSON, YAML, a meta.k8s.io Table, PartialObjectMetadata); protobuf clauses are skipped. Pure.
import { notAcceptable } from './status.ts';

export type Output =
  | { kind: 'json' }
  | { kind: 'yaml' }
  | { kind: 'table'; version: 'v1' | 'v1beta1' }
  | { kind: 'pom'; version: 'v1' | 'v1beta1' };

export interface MediaRange { type: string; params: Record<string, string> }

export function parseAccept(header: string | undefined): MediaRange[] {
  if (!header) return [];
  return header.split(',').map((clause) => {
    const [type, ...params] = clause.split(';').map((s) => s.trim());
    const p: Record<string, string> = {};
    for (const kv of params) {
      const i = kv.indexOf('=');
      if (i > 0) p[kv.slice(0, i).trim().toLowerCase()] = kv.slice(i + 1).trim().replace(/^"|"$/g, '');
    }
    return { type: (type ?? '').toLowerCase(), params: p };
  }).filter((m) => m.type);
}

const ACCEPTED = ['application/json', 'application/yaml', 'application/json;as=Table;v=v1;g=meta.k8s.io', 'application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io'];

/** The response format for an object or a list; throws 406 when no clause can be served. */
export function negotiate(header: string | undefined): Output {
  const ranges = parseAccept(header);
  if (ranges.length === 0) return { kind: 'json' };
  for (const r of ranges) {
    const json = r.type === 'application/json' || r.type === '*/*' || r.type === 'application/*';
    if (r.params.as) {
      if (!json || r.params.g !== 'meta.k8s.io') continue;
      const version = r.params.v === 'v1beta1' ? 'v1beta1' : r.params.v === 'v1' ? 'v1' : undefined;
      if (!version) continue;
      if (r.params.as === 'Table') return { kind: 'table', version };
      if (r.params.as === 'PartialObjectMetadata' || r.params.as === 'PartialObjectMetadataList') return { kind: 'pom', version };
      continue;
    }
    if (json) return { kind: 'json' };
    if (r.type === 'application/yaml') return { kind: 'yaml' };
  }
  throw notAcceptable(ACCEPTED);
}

/** Whether the client asked for aggregated discovery (apidiscovery.k8s.io/v2), tolerating extra parameters. */
export function wantsAggregatedDiscovery(header: string | undefined): boolean {
  for (const r of parseAccept(header)) {
    if (r.type === 'application/json' && r.params.g === 'apidiscovery.k8s.io' && r.params.v === 'v2' && r.params.as === 'APIGroupDiscoveryList') return true;
    if (r.type === 'application/json' && !r.params.as) return false; // a plain JSON clause came first
  }
  return false;
}
