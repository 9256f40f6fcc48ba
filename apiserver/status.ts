// metav1.Status errors, code by code as the Go API server writes them, so kubectl and client libraries print and
// branch on them as they do for built-in resources. Every non-2xx answer of a handler is an ApiError.
import type { Status, StatusCause } from '../lib/kube/errors.ts';

export type { Status, StatusCause };

export class ApiError extends Error {
  readonly status: Status;
  /** Extra response headers (Retry-After, ...). */
  readonly headers: Record<string, string>;

  constructor(status: Status, headers: Record<string, string> = {}) {
    super(status.message ?? status.reason ?? String(status.code));
    this.name = 'ApiError';
    this.status = status;
    this.headers = headers;
  }

  get code(): number { return this.status.code; }
}

export interface Qualified { resource: string; group: string; name?: string }

function failure(code: number, reason: string, message: string, details?: Status['details']): ApiError {
  return new ApiError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code, ...(details ? { details } : {}) } as Status);
}

const qualified = (q: Qualified) => (q.group ? `${q.resource}.${q.group}` : q.resource);

export const badRequest = (message: string) => failure(400, 'BadRequest', message);
export const unauthorized = () => failure(401, 'Unauthorized', 'Unauthorized');

export function forbidden(q: Qualified & { verb: string; user: string; namespace?: string; subresource?: string }, reason = ''): ApiError {
  const res = q.subresource ? `${q.resource}/${q.subresource}` : q.resource;
  const scope = q.namespace ? `in the namespace "${q.namespace}"` : 'at the cluster scope';
  const subject = q.name ? `${qualified(q)} "${q.name}"` : qualified(q);
  const message = `${subject} is forbidden: User "${q.user}" cannot ${q.verb} resource "${res}" in API group "${q.group}" ${scope}${reason ? `: ${reason}` : ''}`;
  return failure(403, 'Forbidden', message, { name: q.name, group: q.group, kind: q.resource });
}

export function forbiddenPath(user: string, verb: string, path: string): ApiError {
  return failure(403, 'Forbidden', `forbidden: User "${user}" cannot ${verb} path "${path}"`);
}

export const notFound = (q: Qualified & { name: string }) =>
  failure(404, 'NotFound', `${qualified(q)} "${q.name}" not found`, { name: q.name, group: q.group, kind: q.resource });

export const pathNotFound = () => failure(404, 'NotFound', 'the server could not find the requested resource');

export const methodNotAllowed = (action: string, q: Qualified) =>
  failure(405, 'MethodNotAllowed', `${action} is not supported on resources of kind "${qualified(q)}"`, { group: q.group, kind: q.resource });

export const notAcceptable = (accepted: string[]) =>
  failure(406, 'NotAcceptable', `only the following media types are accepted: ${accepted.join(', ')}`);

export const conflict = (q: Qualified & { name: string }, why: string) =>
  failure(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(q)} "${q.name}": ${why}`, { name: q.name, group: q.group, kind: q.resource });

export const expired = (message: string) => failure(410, 'Expired', message);

/** 408: the request (its body) did not arrive in time; `headers` may close the connection. */
export const requestTimeout = (message: string, headers: Record<string, string> = {}) => new ApiError(failure(408, 'Timeout', message).status, headers);

export const tooLarge = (limit: number) => failure(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`);

export const unsupportedMediaType = (contentType: string, accepted: string[]) =>
  failure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`
    + (contentType ? ` (got ${contentType.slice(0, 100)})` : ''));

/** 422: `<Kind>.<group> "<name>" is invalid: <field>: <error>, ...` with one cause per bad field. */
export function invalid(kind: string, group: string, name: string, causes: StatusCause[]): ApiError {
  const list = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join(', ');
  const subject = group ? `${kind}.${group}` : kind;
  const message = causes.length === 1 ? `${subject} "${name}" is invalid: ${list}` : `${subject} "${name}" is invalid: [${list}]`;
  return failure(422, 'Invalid', message, { name, group, kind, causes });
}

/**
 * The cause for a name held by something the caller may not see: the same words whatever holds it, so a create (dry
 * run or not) tells no more than that the name is not free.
 */
export function nameNotAvailable(name: string): StatusCause {
  return { reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: "${name}": the name is not available; choose another` };
}

export const tooManyRequests = (retryAfterSeconds: number) => {
  const e = failure(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds });
  return new ApiError(e.status, { 'retry-after': String(retryAfterSeconds) });
};

export const internalError = (err: unknown) =>
  failure(500, 'InternalError', `Internal error occurred: ${err instanceof Error ? err.message : String(err)}`, { causes: [{ message: String(err) }] });

export const serviceUnavailable = (message: string, retryAfterSeconds = 5) => {
  const e = failure(503, 'ServiceUnavailable', message, { retryAfterSeconds });
  return new ApiError(e.status, { 'retry-after': String(retryAfterSeconds) });
};

export const timeout = (message: string, retryAfterSeconds = 1) => {
  const e = failure(504, 'Timeout', message, { retryAfterSeconds });
  return new ApiError(e.status, { 'retry-after': String(retryAfterSeconds) });
};

export function asApiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : internalError(err);
}
