// Content negotiation as the Go API server does it: walk the Accept clauses in order and take the first one we can
// produce: JSON, YAML, or a conversion to meta.k8s.io (v1 or v1beta1) asked for with as/g/v parameters: a Table
// (JSON or YAML) or PartialObjectMetadata(List). Protobuf clauses are skipped (clients list JSON after them). As in
// Go, a clause naming a conversion we do not serve is skipped, while a usable clause that does not fit the answer
// (a list as PartialObjectMetadata, an object as a list, a watch as YAML, which has no stream form) is a 406. Pure.
import { ApiError, notAcceptable } from './status.ts';

export type MetaVersion = 'v1' | 'v1beta1';

export type Output =
  | { kind: 'json' | 'yaml' }
  | { kind: 'table'; version: MetaVersion; yaml: boolean }
  | { kind: 'pom'; version: MetaVersion; list: boolean; yaml: boolean };

/** What the request answers with: one object, a list, or a watch stream of objects. */
export type Answer = 'object' | 'list' | 'watch';

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

const ACCEPTED = [
  'application/json', 'application/yaml', 'application/json;stream=watch',
  'application/json;as=Table;v=v1;g=meta.k8s.io', 'application/json;as=Table;v=v1beta1;g=meta.k8s.io',
  'application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io', 'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io',
];

function mediaOf(type: string): 'json' | 'yaml' | undefined {
  if (type === 'application/json' || type === '*/*' || type === 'application/*') return 'json';
  if (type === 'application/yaml') return 'yaml';
  return undefined;
}

/** The clause's conversion when it asks for one we serve, `undefined` when it asks for none, `false` when we cannot. */
function conversionOf(r: MediaRange, media: 'json' | 'yaml'): Output | undefined | false {
  const { as, g, v } = r.params;
  if (as === undefined && g === undefined && v === undefined) return undefined;
  if (g !== 'meta.k8s.io' || (v !== 'v1' && v !== 'v1beta1')) return false;
  const yaml = media === 'yaml';
  if (as === 'Table') return { kind: 'table', version: v, yaml };
  if (as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList') return { kind: 'pom', version: v, list: as === 'PartialObjectMetadataList', yaml };
  return false;
}

function unfit(message: string): ApiError {
  const e = notAcceptable(ACCEPTED);
  return new ApiError({ ...e.status, message });
}

/** The first clause we can serve, as its output and media type; undefined when there is none. */
function pick(header: string | undefined): { out: Output; media: 'json' | 'yaml' } | undefined {
  const ranges = parseAccept(header);
  if (ranges.length === 0) return { out: { kind: 'json' }, media: 'json' };
  for (const r of ranges) {
    const media = mediaOf(r.type);
    if (!media) continue;
    if (r.params.stream && (media === 'yaml' || r.params.stream !== 'watch')) continue;
    const conversion = conversionOf(r, media);
    if (conversion === false) continue;
    return { out: conversion ?? { kind: media }, media };
  }
  return undefined;
}

/** The response format for an object, a list or a watch; throws 406 when no clause can be served. */
export function negotiate(header: string | undefined, answer: Answer = 'object'): Output {
  const p = pick(header);
  if (!p) throw notAcceptable(ACCEPTED);
  const { out, media } = p;
  if (answer === 'watch' && media === 'yaml') throw unfit('YAML has no streaming form: a watch is served as application/json');
  if (out.kind === 'pom' && out.list && answer !== 'list') throw unfit('you requested PartialObjectMetadataList, but the requested object is not a list');
  if (out.kind === 'pom' && !out.list && answer === 'list') throw unfit('you requested PartialObjectMetadata, but the requested object is a list');
  return out;
}

/** Whether an answer to this Accept header is written as YAML (errors included, whatever the answer). */
export function wantsYaml(header: string | undefined): boolean {
  return pick(header)?.media === 'yaml';
}

/** Whether the client asked for aggregated discovery (apidiscovery.k8s.io/v2), tolerating extra parameters. */
export function wantsAggregatedDiscovery(header: string | undefined): boolean {
  for (const r of parseAccept(header)) {
    if (r.type === 'application/json' && r.params.g === 'apidiscovery.k8s.io' && r.params.v === 'v2' && r.params.as === 'APIGroupDiscoveryList') return true;
    if (r.type === 'application/json' && !r.params.as) return false; // a plain JSON clause came first
  }
  return false;
}
