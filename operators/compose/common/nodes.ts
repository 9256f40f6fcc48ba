// Nodes of a compose kind name either a Unit (its pod's address is used) or a host and port. Resolution reads the
// Unit cache only; a unit without an address yet is reported, not guessed.
import type { Unit } from '../../../lib/api/unit.upm.io.generated.ts';
import type { Store } from '../../../lib/informer.ts';

export interface NodeRef { name: string; unit?: string; host?: string; port?: number; isolated?: boolean }

export interface ResolvedNode {
  name: string;
  unit?: string;
  /** Address to connect to; empty when the unit has none yet. */
  host: string;
  port: number;
  isolated: boolean;
  /** Why the node has no address (unit missing, pod not running). */
  problem?: string;
}

export function resolveNode(ref: NodeRef, namespace: string, units: Store<Unit>, defaultPort: number): ResolvedNode {
  const base = { name: ref.name, port: ref.port ?? defaultPort, isolated: !!ref.isolated, ...(ref.unit ? { unit: ref.unit } : {}) };
  if (!ref.unit) return { ...base, host: ref.host ?? '' };
  const unit = units.get(`${namespace}/${ref.unit}`);
  if (!unit) return { ...base, host: '', problem: `unit ${ref.unit} not found` };
  const ip = unit.status?.podIP;
  if (!ip) return { ...base, host: '', problem: `unit ${ref.unit} has no address yet (${unit.status?.phase ?? 'Pending'})` };
  return { ...base, host: ip };
}

/** Two nodes of one object at the same address (a spec naming one server twice): says which, or undefined. */
export function duplicateAddress(nodes: ResolvedNode[]): string | undefined {
  const seen = new Map<string, string>();
  for (const n of nodes) {
    if (!n.host) continue;
    const k = `${n.host}:${n.port}`;
    if (seen.has(k)) return `${n.name} and ${seen.get(k)} are the same server (${k})`;
    seen.set(k, n.name);
  }
  return undefined;
}
