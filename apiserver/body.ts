// Request bodies: read with a size limit (413) and a time limit (408, and an HTTP/1.1 connection is closed: a
// client that sends headers and then stalls or trickles its body would otherwise hold the request, and its
// OperationLog slot, forever; the server's own requestTimeout is off because watches are long), decoded by content type (JSON, YAML, the three patch types we
// serve), every decoding failure a 400 that says what is wrong. Strategic merge patch is refused with 415 as the
// kube-apiserver refuses it for custom resources: our kinds are not compiled into it either.
import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { badRequest, requestTimeout, tooLarge, unsupportedMediaType, type ApiError } from './status.ts';

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

/** Default time a request body may take to arrive, from when the handler starts reading it. */
export const BODY_TIMEOUT_MS = 60_000;
const bodyTimeouts = new WeakMap<IncomingMessage, number>();

/** Sets the time this request's body may take to arrive (the server's --request-body-timeout-seconds). */
export function limitBodyTime(req: IncomingMessage, ms: number): void {
  bodyTimeouts.set(req, ms);
}

function bodyTimeout(req: IncomingMessage, ms: number): ApiError {
  return requestTimeout(`the request body was not received within ${ms / 1000}s`, req.httpVersionMajor === 1 ? { connection: 'close' } : {});
}

export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) {
    req.resume();
    return Promise.reject(tooLarge(limit));
  }
  const ms = bodyTimeouts.get(req) ?? BODY_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err?: Error): void => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (!err) { resolve(Buffer.concat(chunks)); return; }
      // What else arrives is read and dropped (the connection is closed after the answer when it is HTTP/1.1).
      req.resume();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) done(tooLarge(limit));
      else chunks.push(chunk);
    };
    const onEnd = (): void => done();
    const onError = (err: Error): void => done(err);
    const onClose = (): void => { if (!req.complete) done(new Error('the client closed the connection before it sent the whole body')); };
    const timer = setTimeout(() => done(bodyTimeout(req, ms)), ms);
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
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
