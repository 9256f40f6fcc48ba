// What a heartbeat means for a Cluster's status, and when the next one is due. Pure: the controller probes, this
// decides. The Ready condition: True when the member's /readyz says ok, False when it answers that it is not ready,
// Unknown when the hub cannot tell (no usable credentials, refused credentials, unreachable). The member's inventory
// (zones, node groups, storage classes) is read with a heartbeat at most once an inventory period, and written only
// when it changed.
import type { ClusterRecordStatus as StoredClusterStatus } from '../../lib/api/internal.upm.io.generated.ts';
import type { Condition } from '../../lib/conditions.ts';
import { inventoryOf, sameInventory, type Inventory } from '../../lib/inventory.ts';

export interface ProbeResult {
  /** ok: /readyz answered 200; notReady: it answered otherwise; unreachable: no answer; refused: 401/403. */
  outcome: 'ok' | 'notReady' | 'unreachable' | 'refused';
  /** When the member answered (ok or notReady), as RFC 3339. */
  answeredAt?: string;
  version?: string;
  nodes?: number;
  /** What the member offers, when this probe read it. */
  inventory?: Inventory;
  detail: string;
}

/** The status as the hub controller writes it: the storage CRD's, with conditions as lib/conditions.ts keeps them. */
export type ClusterStatus = Omit<StoredClusterStatus, 'conditions'> & { conditions?: Condition[] };

/** Reasons this controller writes on the Ready condition (any other writer's condition is left alone). */
export const HEARTBEAT_REASONS = new Set(['Healthy', 'NotReady', 'Unreachable', 'CredentialsRejected', 'NoCredentials', 'CredentialsNotFound', 'CredentialsInvalid']);

export function probeCondition(p: ProbeResult, secret: string): Omit<Condition, 'lastTransitionTime'> {
  switch (p.outcome) {
    case 'ok': return { type: 'Ready', status: 'True', reason: 'Healthy', message: `the member answered /readyz: ok${p.version ? ` (${p.version}${p.nodes !== undefined ? `, ${p.nodes} nodes` : ''})` : ''}` };
    case 'notReady': return { type: 'Ready', status: 'False', reason: 'NotReady', message: `the member answered /readyz: ${p.detail}` };
    case 'refused': return { type: 'Ready', status: 'Unknown', reason: 'CredentialsRejected', message: `spec.credentials.secretName: the member refused the kubeconfig in ${secret}: ${p.detail}` };
    default: return { type: 'Ready', status: 'Unknown', reason: 'Unreachable', message: `the member did not answer: ${p.detail}` };
  }
}

export const phaseOf = (c: Pick<Condition, 'status'>): string => (c.status === 'True' ? 'Ready' : c.status === 'False' ? 'NotReady' : 'Unknown');

/**
 * The status after a probe (or a credentials problem, with no probe), and whether it must be written: when
 * anything but the heartbeat time changed, or when the recorded heartbeat is older than `reportMs` (the member's
 * liveness is visible without a write every period, as a Node's status is).
 */
export function nextStatus(
  current: ClusterStatus | undefined, cond: Omit<Condition, 'lastTransitionTime'>, probe: ProbeResult | undefined,
  generation: number | undefined, now: Date, reportMs: number,
): { status: ClusterStatus; write: boolean } {
  const prev = current ?? {};
  const prevReady = prev.conditions?.find((c) => c.type === 'Ready');
  const ts = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const flipped = !prevReady || prevReady.status !== cond.status;
  const ready: Condition = { ...cond, observedGeneration: generation, lastTransitionTime: flipped ? ts : prevReady.lastTransitionTime ?? ts };
  const status: ClusterStatus = {
    ...prev,
    observedGeneration: generation,
    phase: phaseOf(cond),
    conditions: [...(prev.conditions ?? []).filter((c) => c.type !== 'Ready'), ready].sort((a, b) => a.type.localeCompare(b.type)),
  };
  if (probe?.version) status.kubernetesVersion = probe.version;
  if (probe?.nodes !== undefined) status.nodes = probe.nodes;
  if (probe?.answeredAt) status.lastHeartbeatTime = probe.answeredAt;
  // Kept while the member does not answer: the last thing known of it, which placement goes on using.
  const inventoryChanged = !!probe?.inventory && !sameInventory(inventoryOf(prev), probe.inventory);
  if (probe?.inventory) {
    delete status.region;
    Object.assign(status, probe.inventory);
  }
  const changed = inventoryChanged || prev.observedGeneration !== status.observedGeneration || prev.phase !== status.phase
    || prev.kubernetesVersion !== status.kubernetesVersion || prev.nodes !== status.nodes
    || !prevReady || prevReady.status !== ready.status || prevReady.reason !== ready.reason || prevReady.message !== ready.message
    || prevReady.observedGeneration !== ready.observedGeneration;
  const heartbeatDue = !!probe?.answeredAt && (!prev.lastHeartbeatTime || Date.parse(probe.answeredAt) - Date.parse(prev.lastHeartbeatTime) >= reportMs);
  if (!changed && !heartbeatDue) return { status: prev, write: false };
  return { status, write: true };
}

export interface ProbeState {
  /** When the last probe started (ms). */
  lastAt: number;
  /** Probes in a row that got no answer. */
  failures: number;
  /** The credentials the last probe used (Secret uid/version/key): new credentials are probed at once. */
  credentials: string;
  /** When the inventory was last read (ms). */
  inventoryAt?: number;
}

/**
 * Whether this probe reads the inventory too: when none is recorded, once an inventory period, and at once for new
 * credentials or a member that answers again (it may be another cluster, or changed while away).
 */
export function inventoryDue(state: ProbeState | undefined, credentials: string, recorded: boolean, now: number, inventoryMs: number): boolean {
  if (!recorded || !state?.inventoryAt || state.credentials !== credentials || state.failures > 0) return true;
  return now - state.inventoryAt >= inventoryMs;
}

export interface Pace {
  periodMs: number;
  /** The longest wait between probes of a member that does not answer. */
  maxBackoffMs: number;
  /** Never two probes of one member closer than this, whatever happens. */
  minSpacingMs: number;
}

/** The wait after a probe: the period, doubled for each probe in a row without an answer, up to maxBackoffMs. */
export function probeInterval(failures: number, pace: Pace): number {
  if (failures <= 0) return pace.periodMs;
  return Math.min(pace.maxBackoffMs, pace.periodMs * 2 ** Math.min(failures, 16));
}

/** Milliseconds until the next probe of a member may start (0: now). */
export function probeDue(state: ProbeState | undefined, credentials: string, now: number, pace: Pace): number {
  if (!state) return 0;
  const since = now - state.lastAt;
  const wait = state.credentials !== credentials ? pace.minSpacingMs : probeInterval(state.failures, pace);
  return Math.max(0, wait - since);
}
