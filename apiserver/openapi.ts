// OpenAPI v3 (what kubectl explain, apply and field validation read) and v2 (the aggregator's merged document and
// kubectl's fallbacks) for upm.io/v1alpha1, generated from the storage CRDs' schemas: every operation carries its
// x-kubernetes-group-version-kind, every kind schema the GVK list, PATCH lists only the patch types we serve and
// declares fieldValidation (so kubectl leaves validation to the server). Pure.
import { createHash } from 'node:crypto';
import { crdOf, type CrdInfo, type JsonSchema } from './crds.ts';
import { GROUP, VERSION, type ResourceDefinition, type Verb } from './resources/types.ts';
import { PATCH_CONTENT_TYPES } from './body.ts';

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const ref3 = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const kindName = (kind: string) => `io.upm.${VERSION}.${kind}`;
const gvk = (kind: string) => ({ group: GROUP, version: VERSION, kind });

type Param = { name: string; in: 'query' | 'path'; description: string; required?: boolean; type: 'string' | 'boolean' | 'integer' };
const p = (name: string, description: string, type: Param['type'] = 'string'): Param => ({ name, in: 'query', description, type });

const PARAMS = {
  pretty: p('pretty', "If 'true', then the output is pretty printed."),
  dryRun: p('dryRun', 'When present, indicates that modifications should not be persisted. The only valid value is All.'),
  fieldManager: p('fieldManager', 'A name associated with the actor or entity that is making these changes.'),
  fieldValidation: p('fieldValidation', 'How the server treats unknown fields in the request body: Ignore drops them, Warn (the default) drops them with a warning, Strict fails the request.'),
  force: p('force', 'Force is going to "force" Apply requests: the caller takes over fields other managers own. Only for apply patches.', 'boolean'),
  labelSelector: p('labelSelector', 'A selector to restrict the list of returned objects by their labels.'),
  fieldSelector: p('fieldSelector', 'A selector to restrict the list of returned objects by their fields (metadata.name, metadata.namespace, and the fields each resource lists).'),
  limit: p('limit', 'The maximum number of responses to return for a list call; a continue token follows when there are more.', 'integer'),
  continue: p('continue', 'The continue token of a previous page of the same list.'),
  resourceVersion: p('resourceVersion', 'Constrains which resource versions a request may be served from.'),
  resourceVersionMatch: p('resourceVersionMatch', 'How resourceVersion is applied to list calls: Exact or NotOlderThan.'),
  watch: p('watch', 'Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.', 'boolean'),
  allowWatchBookmarks: p('allowWatchBookmarks', 'Requests watch events of type BOOKMARK.', 'boolean'),
  sendInitialEvents: p('sendInitialEvents', 'With watch=true and resourceVersionMatch=NotOlderThan, the watch starts with the current state as ADDED events and a bookmark marking their end.', 'boolean'),
  timeoutSeconds: p('timeoutSeconds', 'Timeout for the list/watch call.', 'integer'),
  gracePeriodSeconds: p('gracePeriodSeconds', 'The duration in seconds before the object should be deleted.', 'integer'),
  propagationPolicy: p('propagationPolicy', 'Whether and how garbage collection will be performed: Orphan, Background or Foreground.'),
  name: { name: 'name', in: 'path', description: 'name of the object', required: true, type: 'string' } as Param,
  namespace: { name: 'namespace', in: 'path', description: 'object name and auth scope, such as for teams and projects', required: true, type: 'string' } as Param,
};

interface Op { action: string; verb: Verb; method: 'get' | 'post' | 'put' | 'patch' | 'delete'; params: Param[]; body?: 'object' | 'patch' | 'delete'; response: 'object' | 'list' | 'status'; kind: string }

function opsFor(d: ResourceDefinition): Record<string, Op[]> {
  const ns = d.namespaced;
  const base = `/apis/${GROUP}/${VERSION}`;
  const coll = ns ? `${base}/namespaces/{namespace}/${d.plural}` : `${base}/${d.plural}`;
  const scope = ns ? [PARAMS.namespace] : [];
  const listParams = [PARAMS.pretty, PARAMS.labelSelector, PARAMS.fieldSelector, PARAMS.limit, PARAMS.continue, PARAMS.resourceVersion, PARAMS.resourceVersionMatch, PARAMS.watch, PARAMS.allowWatchBookmarks, PARAMS.sendInitialEvents, PARAMS.timeoutSeconds];
  const write = [PARAMS.pretty, PARAMS.dryRun, PARAMS.fieldManager, PARAMS.fieldValidation];
  const has = (v: Verb) => d.verbs.includes(v);
  const k = d.kind;
  const paths: Record<string, Op[]> = {};
  const collOps: Op[] = [];
  if (has('list')) collOps.push({ action: 'list', verb: 'list', method: 'get', params: [...scope, ...listParams], response: 'list', kind: k });
  if (has('create')) collOps.push({ action: 'post', verb: 'create', method: 'post', params: [...scope, ...write], body: 'object', response: 'object', kind: k });
  if (has('deletecollection')) collOps.push({ action: 'deletecollection', verb: 'deletecollection', method: 'delete', params: [...scope, ...listParams.filter((x) => x !== PARAMS.watch), PARAMS.dryRun, PARAMS.gracePeriodSeconds, PARAMS.propagationPolicy], body: 'delete', response: 'status', kind: k });
  paths[coll] = collOps;
  const item: Op[] = [];
  if (has('get')) item.push({ action: 'get', verb: 'get', method: 'get', params: [PARAMS.name, ...scope, PARAMS.pretty, PARAMS.resourceVersion], response: 'object', kind: k });
  if (has('update')) item.push({ action: 'put', verb: 'update', method: 'put', params: [PARAMS.name, ...scope, ...write], body: 'object', response: 'object', kind: k });
  if (has('patch')) item.push({ action: 'patch', verb: 'patch', method: 'patch', params: [PARAMS.name, ...scope, ...write, PARAMS.force], body: 'patch', response: 'object', kind: k });
  if (has('delete')) item.push({ action: 'delete', verb: 'delete', method: 'delete', params: [PARAMS.name, ...scope, PARAMS.pretty, PARAMS.dryRun, PARAMS.gracePeriodSeconds, PARAMS.propagationPolicy], body: 'delete', response: 'object', kind: k });
  paths[`${coll}/{name}`] = item;
  for (const sub of d.subresources) {
    if (sub === 'proxy') continue; // a connect subresource: connectPaths
    paths[`${coll}/{name}/${sub}`] = item.filter((o) => o.method === 'get' || o.method === 'put' || o.method === 'patch');
  }
  if (ns && has('list')) paths[`${base}/${d.plural}`] = [{ action: 'list', verb: 'list', method: 'get', params: listParams, response: 'list', kind: k }];
  return paths;
}

/** The proxy subresource: every method, on `{name}/proxy` and `{name}/proxy/{path}`, as kube-apiserver lists pods/proxy. */
function connectPaths(d: ResourceDefinition): Record<string, Record<string, unknown>> {
  if (!d.subresources.includes('proxy')) return {};
  const base = `/apis/${GROUP}/${VERSION}/${d.plural}/{name}/proxy`;
  const out: Record<string, Record<string, unknown>> = {};
  for (const [path, withPath] of [[base, false], [`${base}/{path}`, true]] as const) {
    const params = [
      { name: 'name', in: 'path', description: `name of the ${d.kind}ProxyOptions`, required: true, schema: { type: 'string', uniqueItems: true } },
      ...(withPath ? [{ name: 'path', in: 'path', description: `path to the resource on the member ${d.singular}`, required: true, schema: { type: 'string', uniqueItems: true } }] : []),
    ];
    const item: Record<string, unknown> = {};
    for (const method of ['get', 'put', 'post', 'delete', 'patch', 'head', 'options']) {
      item[method] = {
        tags: [`upm.io_${VERSION}`],
        description: `connect ${method.toUpperCase()} requests to the member ${d.singular}'s API, as the caller`,
        operationId: `connect${method[0]?.toUpperCase()}${method.slice(1)}${d.kind}Proxy${withPath ? 'WithPath' : ''}`,
        parameters: params,
        responses: { 200: { description: 'OK', content: { '*/*': { schema: { type: 'string' } } } }, 401: { description: 'Unauthorized' } },
        'x-kubernetes-action': 'connect',
        'x-kubernetes-group-version-kind': gvk(`${d.kind}ProxyOptions`),
      };
    }
    out[path] = item;
  }
  return out;
}

/** The kind's schema as published: the CRD schema with metadata as ObjectMeta and the GVK list. */
function kindSchema(kind: string, crd: CrdInfo, refTo: (n: string) => Record<string, unknown>): JsonSchema {
  const s = structuredClone(crd.schema);
  const props = (s.properties ?? {}) as Record<string, JsonSchema>;
  props.apiVersion = { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' };
  props.kind = { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' };
  props.metadata = { description: "Standard object's metadata.", allOf: [refTo(`${META}.ObjectMeta`)], default: {} };
  s.properties = props;
  s['x-kubernetes-group-version-kind'] = [gvk(kind)];
  return s;
}

function listSchema(d: ResourceDefinition, refTo: (n: string) => Record<string, unknown>): JsonSchema {
  return {
    description: `${d.listKind} is a list of ${d.kind}.`, type: 'object', required: ['items'],
    properties: {
      apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
      items: { type: 'array', description: `List of ${d.plural}.`, items: refTo(kindName(d.kind)) },
      kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
      metadata: { description: 'Standard list metadata.', allOf: [refTo(`${META}.ListMeta`)], default: {} },
    },
    'x-kubernetes-group-version-kind': [gvk(d.listKind)],
  };
}

/** The meta types our schemas refer to, reduced to what clients read (explain, apply, managedFields). */
function metaSchemas(refTo: (n: string) => Record<string, unknown>): Record<string, JsonSchema> {
  const str = (description: string) => ({ type: 'string', description });
  const strMap = (description: string) => ({ type: 'object', additionalProperties: { type: 'string', default: '' }, description });
  return {
    [`${META}.ObjectMeta`]: {
      description: 'ObjectMeta is metadata that all persisted resources must have.', type: 'object',
      properties: {
        name: str('Name must be unique within a namespace.'),
        generateName: str('An optional prefix used by the server to generate a unique name, if name is not provided.'),
        namespace: str('Namespace defines the space within which each name must be unique.'),
        uid: str('UID is the unique in time and space value for this object.'),
        resourceVersion: str('An opaque value that represents the internal version of this object.'),
        generation: { type: 'integer', format: 'int64', description: 'A sequence number representing a specific generation of the desired state.' },
        creationTimestamp: { type: 'string', format: 'date-time', description: 'The time this object was created.' },
        deletionTimestamp: { type: 'string', format: 'date-time', description: 'The time after which this resource will be deleted.' },
        deletionGracePeriodSeconds: { type: 'integer', format: 'int64', description: 'Seconds allowed for graceful termination.' },
        labels: strMap('Map of string keys and values that can be used to organize and categorize objects.'),
        annotations: strMap('Unstructured key value map stored with a resource.'),
        finalizers: { type: 'array', items: { type: 'string', default: '' }, 'x-kubernetes-list-type': 'set', 'x-kubernetes-patch-strategy': 'merge', description: 'Must be empty before the object is deleted from the registry.' },
        ownerReferences: {
          type: 'array', description: 'List of objects depended by this object.', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['uid'],
          items: {
            type: 'object', required: ['apiVersion', 'kind', 'name', 'uid'],
            properties: { apiVersion: str('API version of the referent.'), kind: str('Kind of the referent.'), name: str('Name of the referent.'), uid: str('UID of the referent.'), controller: { type: 'boolean' }, blockOwnerDeletion: { type: 'boolean' } },
          },
        },
        managedFields: {
          type: 'array', description: 'Which workflow owns which fields (server-side apply).',
          items: {
            type: 'object',
            properties: {
              apiVersion: str('The version of the resource this field set applies to.'), fieldsType: str('The format of fieldsV1.'),
              fieldsV1: { type: 'object', description: 'The field set.', 'x-kubernetes-preserve-unknown-fields': true }, manager: str('The workflow managing these fields.'),
              operation: str('Apply or Update.'), subresource: str('The subresource written.'), time: { type: 'string', format: 'date-time' },
            },
          },
        },
      },
    },
    [`${META}.ListMeta`]: {
      description: 'ListMeta describes metadata that synthetic resources must have.', type: 'object',
      properties: { continue: str('Set when there are more results.'), remainingItemCount: { type: 'integer', format: 'int64' }, resourceVersion: str('The version of the list.') },
    },
    [`${META}.Status`]: {
      description: 'Status is a return value for calls that do not return other objects.', type: 'object',
      properties: {
        apiVersion: str('APIVersion.'), kind: str('Kind.'), code: { type: 'integer', format: 'int32' }, message: str('A description of the status.'), reason: str('A machine-readable description.'), status: str('Success or Failure.'),
        details: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, metadata: { allOf: [refTo(`${META}.ListMeta`)], default: {} },
      },
      'x-kubernetes-group-version-kind': [{ group: '', version: 'v1', kind: 'Status' }],
    },
    [`${META}.Patch`]: { description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.', type: 'object' },
    [`${META}.DeleteOptions`]: {
      description: 'DeleteOptions may be provided when deleting an API object.', type: 'object',
      properties: {
        apiVersion: str('APIVersion.'), kind: str('Kind.'), dryRun: { type: 'array', items: { type: 'string' } }, gracePeriodSeconds: { type: 'integer', format: 'int64' },
        propagationPolicy: str('Orphan, Background or Foreground.'),
        preconditions: { type: 'object', properties: { resourceVersion: str('Specifies the target ResourceVersion'), uid: str('Specifies the target UID.') } },
      },
    },
  };
}

function responseSchema(o: Op): string {
  if (o.response === 'list') return kindName(`${o.kind}List`);
  if (o.response === 'status') return `${META}.Status`;
  return kindName(o.kind);
}

export function openapiV3(defs: readonly ResourceDefinition[], crds: Map<string, CrdInfo>): Record<string, unknown> {
  const schemas: Record<string, JsonSchema> = metaSchemas(ref3);
  const paths: Record<string, Record<string, unknown>> = {};
  for (const d of defs) {
    schemas[kindName(d.kind)] = kindSchema(d.kind, crdOf(crds, d), ref3);
    schemas[kindName(d.listKind)] = listSchema(d, ref3);
    for (const [path, ops] of Object.entries(opsFor(d))) {
      const item: Record<string, unknown> = {};
      for (const o of ops) {
        const op: Record<string, unknown> = {
          tags: [`upm.io_${VERSION}`],
          description: `${o.verb} ${o.response === 'list' ? d.plural : d.kind}`,
          operationId: `${o.verb}${d.namespaced && path.includes('{namespace}') ? 'Namespaced' : ''}${d.kind}${path.endsWith('/status') ? 'Status' : ''}`,
          parameters: o.params.map(({ type, ...rest }) => ({ ...rest, schema: { type, uniqueItems: true } })),
          responses: { 200: { description: 'OK', content: { 'application/json': { schema: ref3(responseSchema(o)) }, 'application/json;stream=watch': { schema: ref3(responseSchema(o)) } } }, 401: { description: 'Unauthorized' } },
          'x-kubernetes-action': o.action,
          'x-kubernetes-group-version-kind': gvk(d.kind),
        };
        if (o.body === 'object') op.requestBody = { content: { '*/*': { schema: ref3(kindName(d.kind)) } }, required: true };
        if (o.body === 'patch') op.requestBody = { content: Object.fromEntries(PATCH_CONTENT_TYPES.map((t) => [t, { schema: ref3(`${META}.Patch`) }])), required: true };
        if (o.body === 'delete') op.requestBody = { content: { '*/*': { schema: ref3(`${META}.DeleteOptions`) } } };
        if (o.action === 'post') (op.responses as Record<string, unknown>)[201] = { description: 'Created', content: { 'application/json': { schema: ref3(kindName(d.kind)) } } };
        item[o.method] = op;
      }
      paths[path] = item;
    }
    Object.assign(paths, connectPaths(d));
  }
  return {
    openapi: '3.0.0',
    info: { title: 'UPM', version: VERSION, description: 'The public API of the UPM hub.' },
    paths,
    components: { schemas, securitySchemes: { BearerToken: { type: 'apiKey', description: 'Bearer Token authentication', name: 'authorization', in: 'header' } } },
  };
}

/** Swagger 2.0 cannot say anyOf/oneOf/not/nullable: drop them, as the kube-apiserver does for CRDs in v2. */
function toV2Schema(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toV2Schema);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (['anyOf', 'oneOf', 'not', 'nullable', 'x-kubernetes-validations'].includes(k)) continue;
      if (k === '$ref' && typeof x === 'string') out[k] = x.replace('#/components/schemas/', '#/definitions/');
      else out[k] = toV2Schema(x);
    }
    return out;
  }
  return v;
}

export function openapiV2(defs: readonly ResourceDefinition[], crds: Map<string, CrdInfo>): Record<string, unknown> {
  const v3 = openapiV3(defs, crds) as { paths: Record<string, Record<string, Record<string, unknown>>>; components: { schemas: Record<string, unknown> } };
  const paths: Record<string, unknown> = {};
  for (const [path, item] of Object.entries(v3.paths)) {
    const out: Record<string, unknown> = {};
    for (const [method, op] of Object.entries(item)) {
      const params = (op.parameters as { schema: { type: string }; [k: string]: unknown }[]).map(({ schema, ...rest }) => ({ ...rest, type: schema.type, uniqueItems: true }));
      const body = op.requestBody as { content: Record<string, { schema: unknown }> } | undefined;
      if (body) params.push({ name: 'body', in: 'body', required: method !== 'delete', schema: toV2Schema(Object.values(body.content)[0]?.schema) } as never);
      const ok = ((op.responses as Record<string, { content?: Record<string, { schema: unknown }> }>)[200]?.content?.['application/json']?.schema);
      out[method] = {
        description: op.description, operationId: op.operationId, tags: op.tags,
        consumes: method === 'patch' ? PATCH_CONTENT_TYPES : ['*/*'],
        produces: ['application/json', 'application/yaml', 'application/json;stream=watch'],
        schemes: ['https'],
        parameters: params,
        responses: { 200: { description: 'OK', schema: toV2Schema(ok) }, 401: { description: 'Unauthorized' } },
        'x-kubernetes-action': op['x-kubernetes-action'],
        'x-kubernetes-group-version-kind': op['x-kubernetes-group-version-kind'],
      };
    }
    paths[path] = out;
  }
  return {
    swagger: '2.0',
    info: { title: 'UPM', version: VERSION },
    paths,
    definitions: toV2Schema(v3.components.schemas),
    securityDefinitions: { BearerToken: { type: 'apiKey', name: 'authorization', in: 'header', description: 'Bearer Token authentication' } },
    security: [{ BearerToken: [] }],
  };
}

/** Uppercase hex SHA-512 of the document, as kube-openapi names the v3 hash. */
export const v3Hash = (body: string): string => createHash('sha512').update(body).digest('hex').toUpperCase();
