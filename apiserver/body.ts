// Request bodies: read with a size limit (413), decoded by content type (JSON, YAML, the three patch types we
// serve), every decoding failure a 400 that says what is wrong. Strategic merge patch is refused with 415 as the
// kube-apiserver refuses it for custom resources: our kinds are not compiled into it either.
import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { badRequest, tooLarge, unsupportedMediaType } from './status.ts';

export const MAX_BODY_BYTES = 3 * 1024 * 1024;
export const MAX_JSON_PATCH_OPS = 10_000;
/** Deeper than any object of ours: the validation, pruning and merging walks recurse, and must not overflow. */
export const MAX_NESTING = 100;

export type PatchType = 'json' | 'merge' | 'apply';
export const PATCH_TYPES: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/apply-patch+yaml': 'apply',
};
export const PATCH_CONTENT_TYPES = Object.keys(PATCH_TYPES);

export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) {
    req.resume();
    throw tooLarge(limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.resume();
      throw tooLarge(limit);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The deepest nesting of objects and arrays in a decoded body, counted without recursion. */
export function nestingDepth(value: unknown, stopAt = Infinity): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    if (depth + 1 > deepest) deepest = depth + 1;
    if (deepest > stopAt) return deepest;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return deepest;
}

function shallow(body: unknown): unknown {
  if (nestingDepth(body, MAX_NESTING) > MAX_NESTING) throw badRequest(`the request body is nested more than ${MAX_NESTING} levels deep`);
  return body;
}

function parseJson(raw: Buffer): unknown {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw badRequest(`the request body is not valid JSON: ${err instanceof RangeError ? `nested more than ${MAX_NESTING} levels deep` : (err as Error).message}`);
  }
  return shallow(body);
}

function parseYamlBody(raw: Buffer): unknown {
  let body: unknown;
  try {
    // YAML aliases could expand a small body into a huge object: refuse them (maxAliasCount 0).
    body = parseYaml(raw.toString('utf8'), { maxAliasCount: 0, uniqueKeys: true });
  } catch (err) {
    throw badRequest(`the request body is not valid YAML: ${err instanceof RangeError ? `nested more than ${MAX_NESTING} levels deep` : String((err as Error).message).split('\n')[0]}`);
  }
  return shallow(body);
}

/** The body of a POST or PUT: one object, as JSON or YAML. */
export function decodeObject(raw: Buffer, contentType: string | undefined): Record<string, unknown> {
  const type = mediaType(contentType);
  let body: unknown;
  if (type === '' || type === 'application/json') body = parseJson(raw);
  else if (type === 'application/yaml') body = parseYamlBody(raw);
  else throw unsupportedMediaType(type, ['application/json', 'application/yaml']);
  if (!isObject(body)) throw badRequest('the request body must be a JSON object');
  return body;
}

export interface DecodedPatch { type: PatchType; body: unknown }

export function decodePatch(raw: Buffer, contentType: string | undefined): DecodedPatch {
  const type = PATCH_TYPES[mediaType(contentType)];
  if (!type) throw unsupportedMediaType(mediaType(contentType), PATCH_CONTENT_TYPES);
  if (type === 'apply') {
    const body = parseYamlBody(raw);
    if (!isObject(body)) throw badRequest('an apply patch must be an object');
    return { type, body };
  }
  const body = parseJson(raw);
  if (type === 'json') {
    if (!Array.isArray(body)) throw badRequest('a JSON patch must be an array of operations');
    if (body.length > MAX_JSON_PATCH_OPS) throw tooLarge(MAX_JSON_PATCH_OPS);
    body.forEach((op, i) => {
      if (!isObject(op) || typeof op.op !== 'string' || typeof op.path !== 'string') throw badRequest(`JSON patch operation ${i}: must be an object with "op" and "path"`);
      if (!['add', 'remove', 'replace', 'move', 'copy', 'test'].includes(op.op)) throw badRequest(`JSON patch operation ${i}: unknown op "${String(op.op).slice(0, 20)}"`);
    });
  } else if (!isObject(body)) {
    throw badRequest('a merge patch must be a JSON object');
  }
  return { type, body };
}
