// Request validation from the CRD schemas (ajv), in the words of the Kubernetes API: one cause per bad field, the
// field named by its path (`spec.topology.replicas`), and unknown fields treated as fieldValidation asks
// (Strict: 400, Warn: a warning and dropped, Ignore: dropped). Pure apart from the compiled validators.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { JsonSchema } from './crds.ts';
import type { StatusCause } from './status.ts';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function newAjv(): Ajv {
  return new Ajv({
    allErrors: true,
    strict: false, // the schemas carry Kubernetes extensions (x-kubernetes-*) ajv does not know
    logger: false,
    formats: { int32: true, int64: true, 'date-time': RFC3339, byte: true, double: true, float: true },
  });
}

/** The fields ObjectMeta has; anything else under metadata is unknown. */
const OBJECT_META_FIELDS = new Set([
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields',
]);

export class SchemaValidator {
  private readonly validateFn: ValidateFunction;
  private readonly schema: JsonSchema;

  constructor(schema: JsonSchema) {
    this.schema = schema;
    this.validateFn = newAjv().compile(schema);
  }

  /** One cause per schema violation; empty when the object is valid. */
  validate(obj: unknown): StatusCause[] {
    if (this.validateFn(obj)) return [];
    return dedupe((this.validateFn.errors ?? []).map((e) => toCause(e, obj)));
  }

  /** Paths of fields the schema does not declare (`spec.bogus`, `metadata.nope`), in document order. */
  unknownFields(obj: unknown): string[] {
    const out: string[] = [];
    walk(this.schema, obj, '', out);
    return out;
  }

  /** A copy of obj without the fields the schema does not declare (what the kube-apiserver's pruning keeps). */
  prune<T>(obj: T): T {
    return prune(this.schema, obj) as T;
  }
}

function childPath(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function walk(schema: JsonSchema, value: unknown, path: string, out: string[]): void {
  if (out.length >= 100) return;
  if (path === 'metadata' && isObject(value)) {
    for (const k of Object.keys(value)) if (!OBJECT_META_FIELDS.has(k)) out.push(childPath(path, k));
    return;
  }
  if (schema['x-kubernetes-preserve-unknown-fields'] === true) return;
  if (isObject(value)) {
    const props = schema.properties as Record<string, JsonSchema> | undefined;
    const additional = schema.additionalProperties;
    for (const [k, v] of Object.entries(value)) {
      const sub = props?.[k] ?? (isObject(additional) ? (additional as JsonSchema) : undefined);
      if (sub) walk(sub, v, childPath(path, k), out);
      else if (additional !== true && (props || schema.type === 'object')) out.push(childPath(path, k));
    }
  } else if (Array.isArray(value) && isObject(schema.items)) {
    value.forEach((v, i) => walk(schema.items as JsonSchema, v, `${path}[${i}]`, out));
  }
}

function prune(schema: JsonSchema, value: unknown, path = ''): unknown {
  if (path === 'metadata' && isObject(value)) return Object.fromEntries(Object.entries(value).filter(([k]) => OBJECT_META_FIELDS.has(k)));
  if (schema['x-kubernetes-preserve-unknown-fields'] === true) return value;
  if (isObject(value)) {
    const props = schema.properties as Record<string, JsonSchema> | undefined;
    const additional = schema.additionalProperties;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const sub = props?.[k] ?? (isObject(additional) ? (additional as JsonSchema) : undefined);
      if (sub) out[k] = prune(sub, v, childPath(path, k));
      else if (additional === true || !(props || schema.type === 'object')) out[k] = v;
    }
    return out;
  }
  if (Array.isArray(value) && isObject(schema.items)) return value.map((v) => prune(schema.items as JsonSchema, v, `${path}[]`));
  return value;
}

/** `/spec/members/0/role` -> `spec.members[0].role` */
export function fieldPath(instancePath: string): string {
  let out = '';
  for (const raw of instancePath.split('/').slice(1)) {
    const seg = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    out += /^\d+$/.test(seg) ? `[${seg}]` : out ? `.${seg}` : seg;
  }
  return out;
}

function valueAt(obj: unknown, instancePath: string): unknown {
  let cur = obj;
  for (const raw of instancePath.split('/').slice(1)) {
    const seg = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (Array.isArray(cur)) cur = cur[Number(seg)];
    else if (isObject(cur)) cur = cur[seg];
    else return undefined;
  }
  return cur;
}

function shown(v: unknown): string {
  let s: string;
  if (typeof v === 'string') s = JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}...` : v);
  else if (Array.isArray(v)) s = `array of ${v.length}`;
  else if (isObject(v)) s = 'object';
  else s = JSON.stringify(v) ?? 'null';
  return s;
}

function toCause(e: ErrorObject, obj: unknown): StatusCause {
  const field = fieldPath(e.instancePath);
  const value = valueAt(obj, e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { reason: 'FieldValueRequired', field: childPath(field, String(p.missingProperty)), message: 'Required value' };
    case 'enum':
      return {
        reason: 'FieldValueNotSupported', field,
        message: `Unsupported value: ${shown(value)}: supported values: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'type':
      return { reason: 'FieldValueTypeInvalid', field, message: `Invalid value: ${shown(value)}: must be of type ${String(p.type)}` };
    case 'maxLength':
      return { reason: 'FieldValueTooLong', field, message: `Too long: may not be more than ${String(p.limit)} bytes` };
    case 'maxItems':
    case 'maxProperties':
      return { reason: 'FieldValueTooMany', field, message: `Too many: must have at most ${String(p.limit)} items` };
    case 'anyOf':
      return { reason: 'FieldValueTypeInvalid', field, message: `Invalid value: ${shown(value)}: must be an integer or a string` };
    default:
      return { reason: 'FieldValueInvalid', field, message: `Invalid value: ${shown(value)}: ${e.message ?? e.keyword}` };
  }
}

/** anyOf failures repeat the same field once per branch: keep the first cause per field and reason. */
function dedupe(causes: StatusCause[]): StatusCause[] {
  const byField = new Map<string, StatusCause>();
  for (const c of causes) {
    const k = `${c.field}`;
    const prev = byField.get(k);
    // A field that failed anyOf also failed each branch's type: the anyOf cause says it best.
    if (!prev || (c.reason === 'FieldValueTypeInvalid' && c.message?.includes('integer or a string'))) byField.set(k, c);
  }
  return [...byField.values()];
}
