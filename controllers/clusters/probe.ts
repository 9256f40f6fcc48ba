// One heartbeat of a member cluster through its credentials: GET /readyz (what the member says of itself), then
// /version and a one-item node list (its size, from remainingItemCount), each bounded by a timeout. Three small
// reads per period and member, never more: the member is never flooded.
import type { KubeClient } from '../../lib/kube/client.ts';
import type { ProbeResult } from './health.ts';

const stamp = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

function reason(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: string }).code ?? (err.cause as { code?: string } | undefined)?.code;
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timed out';
    return [code, err.message].filter(Boolean).join(': ').slice(0, 300);
  }
  return String(err).slice(0, 300);
}

export async function probeMember(client: KubeClient, timeoutMs: number, now = () => new Date()): Promise<ProbeResult> {
  let ready;
  try {
    ready = await client.raw('GET', '/readyz?verbose', { timeoutMs });
  } catch (err) {
    return { outcome: 'unreachable', detail: reason(err) };
  }
  const answeredAt = stamp(now());
  if (ready.statusCode === 401 || ready.statusCode === 403) return { outcome: 'refused', detail: `${ready.statusCode} ${ready.statusCode === 401 ? 'Unauthorized' : 'Forbidden'} on /readyz` };
  if (ready.statusCode !== 200) {
    const failing = String(ready.body ?? '').split('\n').filter((l) => l.startsWith('[-]')).join('; ');
    return { outcome: 'notReady', answeredAt, detail: `${ready.statusCode}${failing ? `: ${failing.slice(0, 500)}` : ''}` };
  }
  const [version, nodes] = await Promise.all([
    client.raw('GET', '/version', { timeoutMs }).catch(() => undefined),
    client.raw('GET', '/api/v1/nodes', { query: { limit: 1 }, timeoutMs }).catch(() => undefined),
  ]);
  const v = version?.statusCode === 200 ? (version.body as { gitVersion?: string }).gitVersion : undefined;
  let n: number | undefined;
  if (nodes?.statusCode === 200) {
    const list = nodes.body as { items?: unknown[]; metadata?: { remainingItemCount?: number } };
    n = (list.items?.length ?? 0) + (list.metadata?.remainingItemCount ?? 0);
  }
  return { outcome: 'ok', answeredAt, version: v, nodes: n, detail: 'ok' };
}
