// One heartbeat of a member cluster through its credentials: GET /readyz (what the member says of itself), and
// nothing else, bounded by a timeout. When the inventory is due (controllers/clusters/health.ts says when), it also
// reads /version, every node's metadata (their count and their zone, region and node-group labels) and the
// StorageClasses, both lists from the member's watch cache (resourceVersion=0), so they cost its etcd nothing. One
// small read per period and member, four per inventory period: the member is never flooded.
import type { KubeClient } from '../../lib/kube/client.ts';
import { readInventory, type Inventory, type StorageClassObject } from '../../lib/inventory.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import type { ProbeResult } from './health.ts';

/** Node metadata only: labels are all the inventory needs, and a Node's status is most of its size. */
const METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';

const stamp = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

function reason(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: string }).code ?? (err.cause as { code?: string } | undefined)?.code;
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timed out';
    return [code, err.message].filter(Boolean).join(': ').slice(0, 300);
  }
  return String(err).slice(0, 300);
}

export async function probeMember(client: KubeClient, timeoutMs: number, opts: { inventory?: boolean; now?: () => Date } = {}): Promise<ProbeResult> {
  const now = opts.now ?? (() => new Date());
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
  const list = (path: string, query: Record<string, string | number>, headers?: Record<string, string>) => client.raw('GET', path, { query, timeoutMs, headers })
    .then((r) => (r.statusCode === 200 ? r.body as { items?: KubeObject[]; metadata?: { remainingItemCount?: number } } : undefined), () => undefined);
  if (!opts.inventory) return { outcome: 'ok', answeredAt, detail: 'ok' };
  const [version, nodes, classes] = await Promise.all([
    client.raw('GET', '/version', { timeoutMs }).catch(() => undefined),
    list('/api/v1/nodes', { resourceVersion: '0' }, { accept: METADATA_LIST }),
    list('/apis/storage.k8s.io/v1/storageclasses', { resourceVersion: '0' }),
  ]);
  const v = version?.statusCode === 200 ? (version.body as { gitVersion?: string }).gitVersion : undefined;
  const n = nodes ? (nodes.items?.length ?? 0) + (nodes.metadata?.remainingItemCount ?? 0) : undefined;
  // Both lists or neither: half an inventory would take the other half's zones or classes away from services.
  let inventory: Inventory | undefined;
  if (nodes && classes) inventory = readInventory(nodes.items ?? [], (classes.items ?? []) as StorageClassObject[]);
  return { outcome: 'ok', answeredAt, version: v, nodes: n, ...(inventory ? { inventory } : {}), detail: 'ok' };
}
