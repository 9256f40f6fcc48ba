// Discovery documents, all built once from the resource definitions: the APIResourceList of upm.io/v1alpha1, the
// legacy APIGroupList and APIGroup, and the aggregated discovery document (apidiscovery.k8s.io/v2) that the
// aggregator and kubectl fetch from /apis, with its ETag. Pure.
import { createHash } from 'node:crypto';
import { GROUP, SUBRESOURCE_VERBS, VERSION, type ResourceDefinition, type Subresource } from './resources/types.ts';

export const AGGREGATED_CONTENT_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
const GV = `${GROUP}/${VERSION}`;
/** The kind a subresource answers with: the object for status, <Kind>ProxyOptions for proxy (as PodProxyOptions). */
const subKind = (d: ResourceDefinition, s: Subresource) => (s === 'proxy' ? `${d.kind}ProxyOptions` : d.kind);

export function apiResourceList(defs: readonly ResourceDefinition[]): Record<string, unknown> {
  const resources: Record<string, unknown>[] = [];
  for (const d of defs) {
    resources.push({
      name: d.plural, singularName: d.singular, namespaced: d.namespaced, kind: d.kind, verbs: [...d.verbs].sort(),
      ...(d.shortNames.length ? { shortNames: d.shortNames } : {}), ...(d.categories.length ? { categories: d.categories } : {}),
      storageVersionHash: createHash('sha256').update(`${GV}/${d.kind}`).digest('base64').slice(0, 11),
    });
    for (const sub of d.subresources) resources.push({ name: `${d.plural}/${sub}`, singularName: '', namespaced: d.namespaced, kind: subKind(d, sub), verbs: SUBRESOURCE_VERBS[sub] });
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: GV, resources };
}

function apiGroup(): Record<string, unknown> {
  const v = { groupVersion: GV, version: VERSION };
  return { name: GROUP, versions: [v], preferredVersion: v };
}

export const apiGroupDoc = (): Record<string, unknown> => ({ kind: 'APIGroup', apiVersion: 'v1', ...apiGroup() });
export const apiGroupList = (): Record<string, unknown> => ({ kind: 'APIGroupList', apiVersion: 'v1', groups: [apiGroup()] });

export function aggregatedDiscovery(defs: readonly ResourceDefinition[]): Record<string, unknown> {
  const resources = defs.map((d) => ({
    resource: d.plural,
    responseKind: { group: GROUP, version: VERSION, kind: d.kind },
    scope: d.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: d.singular,
    verbs: [...d.verbs].sort(),
    ...(d.shortNames.length ? { shortNames: d.shortNames } : {}),
    ...(d.categories.length ? { categories: d.categories } : {}),
    ...(d.subresources.length ? {
      subresources: d.subresources.map((s) => ({ subresource: s, responseKind: { group: GROUP, version: VERSION, kind: subKind(d, s) }, verbs: SUBRESOURCE_VERBS[s] })),
    } : {}),
  }));
  return {
    kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', metadata: {},
    items: [{ metadata: { name: GROUP }, versions: [{ version: VERSION, resources, freshness: 'Current' }] }],
  };
}

export interface Cached { body: string; etag: string }

/** A document serialised once, with its quoted SHA-512 ETag. */
export function cached(doc: unknown): Cached {
  const body = JSON.stringify(doc);
  return { body, etag: `"${createHash('sha512').update(body).digest('hex')}"` };
}
