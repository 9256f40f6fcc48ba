// One REST call to an Elasticsearch or OpenSearch node (no security plugin here: plain HTTP), for the suites that
// index and search: a JSON or NDJSON body, the parsed answer, and an error that carries the status and the answer.
export async function searchHttp<T>(address: string, method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<T> {
  const res = await fetch(`http://${address}${path}`, {
    method, signal: AbortSignal.timeout(timeoutMs),
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} on ${address}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}
