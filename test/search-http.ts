// One REST call to an Elasticsearch or OpenSearch node over plain HTTP, for the suites that index and search: a JSON
// or NDJSON body, the parsed answer, and an error that carries the status and the answer. OpenSearch runs with its
// security plugin: a call logs in as the account given (basic authentication), anonymous without one.
export interface SearchAccount { user: string; password: string }

/** The HTTP status of a refused call (0 when it failed before an answer): an answer's status, or 200. */
export const statusOf = (call: Promise<unknown>): Promise<number> =>
  call.then(() => 200, (err: unknown) => (err as { status?: number }).status ?? 0);

export async function searchHttp<T>(address: string, method: string, path: string, body?: unknown, timeoutMs = 60_000, account?: SearchAccount): Promise<T> {
  const headers: Record<string, string> = {
    ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    ...(account ? { authorization: `Basic ${Buffer.from(`${account.user}:${account.password}`, 'utf8').toString('base64')}` } : {}),
  };
  const res = await fetch(`http://${address}${path}`, {
    method, signal: AbortSignal.timeout(timeoutMs), headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw Object.assign(new Error(`${method} ${path} on ${address}: ${res.status} ${text.slice(0, 300)}`), { status: res.status });
  return JSON.parse(text) as T;
}

/** The account of role `role` (admin, app) in a credentials Secret's data. */
export function accountOf(data: Record<string, string> | undefined, role: string): SearchAccount {
  const dec = (k: string) => Buffer.from(data?.[`${role}-${k}`] ?? '', 'base64').toString('utf8');
  return { user: dec('username'), password: dec('password') };
}
