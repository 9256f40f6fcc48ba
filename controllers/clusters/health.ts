// What the hub's watches of a member mean for its Cluster's status. Pure: the member's watches observe
// (controllers/clusters/watch.ts), this decides, the controller writes.
//
// The member's liveness comes from a watch, not from requests: every kube-apiserver renews its identity Lease
// (kube-system, label apiserver.kubernetes.io/identity=kube-apiserver) every 10 s, so the hub's watch of those
// Leases hears from the member at least that often while the member's API server, its storage and the watch's
// connection all work. The Ready condition: True while something was heard within the staleness bound; Unknown
// (Unreachable, with the failure when the watch failed) once it was not, or when the watch failed before anything
// was heard; False (NotReady) when the member answered the watch with a server error and nothing was heard since;
// Unknown (CredentialsRejected) when it refused the credentials. A silent watch is restarted, with backoff (a
// connection dropped without a word never ends by itself). The inventory (zones, node groups, storage classes) comes
// from the member's Node metadata and StorageClass watches, written when it changed.
import type { ClusterRecordStatus as StoredClusterStatus } from '../../lib/api/internal.upm.io.generated.ts';
import type { Condition } from '../../lib/conditions.ts';
import { inventoryOf, sameInventory, type Inventory } from '../../lib/inventory.ts';

/** What the hub's watches of one member have seen, as of now (times in ms on the controller's clock). */
export interface MemberFacts {
  /** When these watches started (the member's credentials or client changed, or the hub started). */
  since: number;
  /** When the identity Lease watch last delivered anything (an event, a bookmark or a list). */
  heardAt?: number;
  /** The watch's latest failure, when it failed after it was last heard: whether the member answered, and how. */
  failure?: { at: number; detail: string; code?: number };
  /** When the hub last restarted the silent watch, and how many times in a row. */
  reconnectedAt?: number;
  reconnects: number;
  /** The member's /version, read when its watches (re)connect. */
  version?: string;
  /** From the Node and StorageClass caches, once both were filled. */
  nodes?: number;
  inventory?: Inventory;
}

export interface Bounds {
  /** Heard nothing for this long: not Ready (above the Lease's 10 s renewal, with room for a slow round). */
  staleMs: number;
  /** The longest wait between two restarts of a silent watch (they start staleMs apart and double). */
  maxReconnectMs: number;
}

/** The decision for one member now: its Ready condition (none while nothing is known yet), what to do, when to look again. */
export interface Verdict {
  condition?: Omit<Condition, 'lastTransitionTime'>;
  /** Restart the silent watches now. */
  reconnect: boolean;
  /** When the verdict may change without an event of the watches (a requeue: no request to the member). */
  recheckMs: number;
}

/** The status as the hub controller writes it: the storage CRD's, with conditions as lib/conditions.ts keeps them. */
export type ClusterStatus = Omit<StoredClusterStatus, 'conditions'> & { conditions?: Condition[] };

/** Reasons this controller writes on the Ready condition (any other writer's condition is left alone). */
export const HEARTBEAT_REASONS = new Set(['Healthy', 'NotReady', 'Unreachable', 'CredentialsRejected', 'NoCredentials', 'CredentialsNotFound', 'CredentialsInvalid']);

const refused = (code: number | undefined) => code === 401 || code === 403;

/** The wait before the n-th restart in a row of a silent watch: staleMs, doubled each time, up to maxReconnectMs. */
export function reconnectInterval(n: number, b: Bounds): number {
  return Math.min(b.maxReconnectMs, b.staleMs * 2 ** Math.max(0, Math.min(n, 16)));
}

/** Ready from what the watches saw, and when to look again. `secret` names the credentials in messages. */
export function judge(f: MemberFacts, now: number, b: Bounds, secret: string): Verdict {
  const silentFor = now - (f.heardAt ?? f.since);
  const failure = f.failure;
  if (failure && refused(failure.code)) {
    return { condition: { type: 'Ready', status: 'Unknown', reason: 'CredentialsRejected', message: `spec.credentials.secretName: the member refused the kubeconfig in ${secret}: ${failure.detail}` }, reconnect: false, recheckMs: b.maxReconnectMs };
  }
  if (f.heardAt !== undefined && silentFor < b.staleMs) {
    const size = f.version ? ` (${f.version}${f.nodes !== undefined ? `, ${f.nodes} nodes` : ''})` : '';
    return { condition: { type: 'Ready', status: 'True', reason: 'Healthy', message: `the member's API server is heard through the hub's watch${size}` }, reconnect: false, recheckMs: b.staleMs - silentFor };
  }
  // Nothing heard yet and no failure: the first list is under way.
  if (!failure && silentFor < b.staleMs) return { reconnect: false, recheckMs: b.staleMs - silentFor };
  const answered = failure?.code !== undefined && failure.code >= 500;
  const condition: Omit<Condition, 'lastTransitionTime'> = answered
    ? { type: 'Ready', status: 'False', reason: 'NotReady', message: `the member answered the hub's watch: ${failure?.detail}` }
    : { type: 'Ready', status: 'Unknown', reason: 'Unreachable', message: `the member did not answer: ${failure?.detail ?? `nothing heard through the hub's watch for ${Math.round(b.staleMs / 1000)} s or more (its API server renews its identity Lease every 10 s)`}` };
  // The informer retries a failed watch by itself; one that went silent (no event, no failure) is restarted here.
  const lastSign = Math.max(f.since, f.heardAt ?? 0, failure?.at ?? 0, f.reconnectedAt ?? 0);
  const wait = reconnectInterval(f.reconnects, b) - (now - lastSign);
  return wait <= 0 ? { condition, reconnect: true, recheckMs: reconnectInterval(f.reconnects + 1, b) } : { condition, reconnect: false, recheckMs: wait };
}

export const phaseOf = (c: Pick<Condition, 'status'>): string => (c.status === 'True' ? 'Ready' : c.status === 'False' ? 'NotReady' : 'Unknown');

/** What the watches know of the member, for its status: none of it when the credentials are not usable. */
export interface Observed {
  /** When the member was last heard, RFC 3339. */
  heardAt?: string;
  version?: string;
  nodes?: number;
  inventory?: Inventory;
}

const stamp = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The facts as the status records them. */
export function observed(f: MemberFacts): Observed {
  return { ...(f.heardAt !== undefined ? { heardAt: stamp(f.heardAt) } : {}), version: f.version, nodes: f.nodes, inventory: f.inventory };
}

/**
 * The status after a verdict (or a credentials problem, with nothing observed), and whether it must be written:
 * when anything but the heartbeat time changed, or when the recorded heartbeat is older than `reportMs` (the
 * member's liveness is visible without a write every time it is heard, as a Node's status is).
 */
export function nextStatus(
  current: ClusterStatus | undefined, cond: Omit<Condition, 'lastTransitionTime'>, seen: Observed | undefined,
  generation: number | undefined, now: Date, reportMs: number,
): { status: ClusterStatus; write: boolean } {
  const prev = current ?? {};
  const prevReady = prev.conditions?.find((c) => c.type === 'Ready');
  const ts = stamp(now.getTime());
  const flipped = !prevReady || prevReady.status !== cond.status;
  const ready: Condition = { ...cond, observedGeneration: generation, lastTransitionTime: flipped ? ts : prevReady.lastTransitionTime ?? ts };
  const status: ClusterStatus = {
    ...prev,
    observedGeneration: generation,
    phase: phaseOf(cond),
    conditions: [...(prev.conditions ?? []).filter((c) => c.type !== 'Ready'), ready].sort((a, b) => a.type.localeCompare(b.type)),
  };
  if (seen?.version) status.kubernetesVersion = seen.version;
  if (seen?.nodes !== undefined) status.nodes = seen.nodes;
  if (seen?.heardAt) status.lastHeartbeatTime = seen.heardAt;
  // Kept while the member is not heard: the last thing known of it, which placement goes on using.
  const inventoryChanged = !!seen?.inventory && !sameInventory(inventoryOf(prev), seen.inventory);
  if (seen?.inventory) {
    delete status.region;
    Object.assign(status, seen.inventory);
  }
  const changed = inventoryChanged || prev.observedGeneration !== status.observedGeneration || prev.phase !== status.phase
    || prev.kubernetesVersion !== status.kubernetesVersion || prev.nodes !== status.nodes
    || !prevReady || prevReady.status !== ready.status || prevReady.reason !== ready.reason || prevReady.message !== ready.message
    || prevReady.observedGeneration !== ready.observedGeneration;
  const heartbeatDue = !!seen?.heardAt && (!prev.lastHeartbeatTime || Date.parse(seen.heardAt) - Date.parse(prev.lastHeartbeatTime) >= reportMs);
  if (!changed && !heartbeatDue) return { status: prev, write: false };
  return { status, write: true };
}
