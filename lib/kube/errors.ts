// Errors from the Kubernetes API, carrying the metav1.Status the server returned so callers branch on reason.

export interface StatusCause { reason?: string; message?: string; field?: string }
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  code: number;
  details?: { name?: string; group?: string; kind?: string; causes?: StatusCause[]; retryAfterSeconds?: number };
}

export class KubeApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly status: Status | undefined;

  constructor(code: number, status: Status | undefined, context: string) {
    super(`${context}: ${code} ${status?.reason ?? ''} ${status?.message ?? ''}`.trim());
    this.name = 'KubeApiError';
    this.code = code;
    this.reason = status?.reason ?? '';
    this.status = status;
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof KubeApiError && e.code === 404;
export const isConflict = (e: unknown): boolean => e instanceof KubeApiError && e.code === 409 && e.reason !== 'AlreadyExists';
export const isAlreadyExists = (e: unknown): boolean => e instanceof KubeApiError && e.reason === 'AlreadyExists';
/** 410 Gone: a resourceVersion (watch or list continue token) is older than what the server still has. */
export const isGone = (e: unknown): boolean => e instanceof KubeApiError && (e.code === 410 || e.reason === 'Expired' || e.reason === 'Gone');

export function asStatus(body: unknown): Status | undefined {
  if (body && typeof body === 'object' && (body as { kind?: unknown }).kind === 'Status') return body as Status;
  return undefined;
}
