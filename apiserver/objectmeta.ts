// ObjectMeta checks every create and update makes before the storage sees the object, with the kube-apiserver's
// rules and words: names are DNS subdomains, labels are qualified names with short values, annotations stay under
// 256 KiB. Cheap, and it keeps oversized or malformed metadata from ever travelling to the storage. Pure.
import type { StatusCause } from './status.ts';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const MAX_ANNOTATIONS_BYTES = 256 * 1024;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const shown = (s: string) => JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}...` : s);

export function dnsSubdomainErrors(v: string): string[] {
  const out: string[] = [];
  if (v.length > 253) out.push('must be no more than 253 characters');
  if (!DNS1123_SUBDOMAIN.test(v)) out.push("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character");
  return out;
}

function qualifiedNameErrors(key: string): string[] {
  const slash = key.lastIndexOf('/');
  const [prefix, name] = slash >= 0 ? [key.slice(0, slash), key.slice(slash + 1)] : ['', key];
  const out: string[] = [];
  if (slash >= 0 && (prefix.length === 0 || dnsSubdomainErrors(prefix).length)) out.push('prefix part must be a DNS subdomain');
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME.test(name)) out.push("name part must consist of alphanumeric characters, '-', '_' or '.', start and end with an alphanumeric character, and be at most 63 characters");
  return out;
}

function stringMap(meta: Record<string, unknown>, field: 'labels' | 'annotations', causes: StatusCause[]): Record<string, string> | undefined {
  const m = meta[field];
  if (m === undefined || m === null) return undefined;
  if (!isObject(m)) { causes.push({ reason: 'FieldValueTypeInvalid', field: `metadata.${field}`, message: 'Invalid value: must be a map of strings' }); return undefined; }
  for (const [k, v] of Object.entries(m)) {
    if (typeof v !== 'string') causes.push({ reason: 'FieldValueTypeInvalid', field: `metadata.${field}`, message: `Invalid value: ${shown(k)}: values must be strings` });
  }
  return m as Record<string, string>;
}

export function validateObjectMeta(meta: Record<string, unknown>): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const f of ['name', 'generateName', 'namespace', 'resourceVersion', 'uid']) {
    if (meta[f] !== undefined && typeof meta[f] !== 'string') causes.push({ reason: 'FieldValueTypeInvalid', field: `metadata.${f}`, message: 'Invalid value: must be a string' });
  }
  const name = typeof meta.name === 'string' ? meta.name : '';
  const generateName = typeof meta.generateName === 'string' ? meta.generateName : '';
  if (!name && !generateName) causes.push({ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' });
  if (name) for (const e of dnsSubdomainErrors(name)) causes.push({ reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: ${shown(name)}: ${e}` });
  if (!name && generateName) {
    // the server appends 5 characters to a prefix it first cuts to 58
    for (const e of dnsSubdomainErrors(`${generateName.slice(0, 58)}x`)) causes.push({ reason: 'FieldValueInvalid', field: 'metadata.generateName', message: `Invalid value: ${shown(generateName)}: ${e}` });
  }
  const labels = stringMap(meta, 'labels', causes);
  for (const [k, v] of Object.entries(labels ?? {})) {
    for (const e of qualifiedNameErrors(k)) causes.push({ reason: 'FieldValueInvalid', field: 'metadata.labels', message: `Invalid value: ${shown(k)}: ${e}` });
    if (typeof v === 'string' && (v.length > 63 || !LABEL_VALUE.test(v))) {
      causes.push({ reason: 'FieldValueInvalid', field: `metadata.labels`, message: `Invalid value: ${shown(v)}: a valid label value must be 63 characters or less, alphanumeric, '-', '_' or '.', and start and end with an alphanumeric character` });
    }
  }
  const annotations = stringMap(meta, 'annotations', causes);
  if (annotations) {
    let size = 0;
    for (const [k, v] of Object.entries(annotations)) {
      size += k.length + (typeof v === 'string' ? v.length : 0);
      for (const e of qualifiedNameErrors(k)) causes.push({ reason: 'FieldValueInvalid', field: 'metadata.annotations', message: `Invalid value: ${shown(k)}: ${e}` });
    }
    if (size > MAX_ANNOTATIONS_BYTES) causes.push({ reason: 'FieldValueTooLong', field: 'metadata.annotations', message: `Too long: must have at most ${MAX_ANNOTATIONS_BYTES} bytes` });
  }
  if (meta.finalizers !== undefined && !(Array.isArray(meta.finalizers) && meta.finalizers.every((f) => typeof f === 'string'))) {
    causes.push({ reason: 'FieldValueTypeInvalid', field: 'metadata.finalizers', message: 'Invalid value: must be a list of strings' });
  }
  return causes;
}
