// Engine configuration: per-unit rendering of the config file (Mustache, no HTML escaping), shared by the Unit
// Operator (the unit's ConfigMap) and the unit agent (the file the engine reads). Values are checked before they
// get here (paramcheck.ts); rendering refuses a value with a line break all the same. Pure functions, unit-tested.
import { createHash } from 'node:crypto';
import Mustache from 'mustache';
import type { ParameterSpec } from './paramcheck.ts';

export type { ParameterSpec } from './paramcheck.ts';

export interface RenderContext {
  unit: { name: string; ordinal: number; fqdn: string };
  /**
   * `id` (carried only when the template uses `unitSet.id`): 22 URL-safe base64 characters (16 bytes) derived from the
   * UnitSet's uid, the same for every unit and for the UnitSet's whole life: an engine's cluster ID (Kafka).
   */
  unitSet: { name: string; units: number; id?: string };
  namespace: string;
  serverId: number;
  resources: { cpuMillis: number; memoryMiB: number; memoryMiB25: number; memoryMiB50: number; memoryMiB70: number };
  peers: { name: string; ordinal: number; id: number; fqdn: string }[];
}

const render = (template: string, view: object): string =>
  Mustache.render(template, view, undefined, { escape: (s: string) => String(s) });

/** Every parameter's value for one unit: the user's override, else the template default rendered in context. */
export function effectiveParameters(specs: ParameterSpec[] | undefined, overrides: Record<string, string> | undefined, ctx: RenderContext): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of specs ?? []) {
    const v = overrides?.[p.key] ?? (p.default !== undefined ? render(p.default, ctx) : undefined);
    if (v !== undefined) out.set(p.key, v);
  }
  return out;
}

/** Parameters under this prefix steer the rendering (they are UPM's, not the engine's): never in `paramList`. */
export const UPM_PARAMETER_PREFIX = 'upm.';
/** The parameter that splits a UnitSet's units into a quorum and members (see quorumView). */
export const QUORUM_UNITS_PARAMETER = 'upm.quorum.units';
/** How the quorum's units serve: `dedicated` (the default: quorum only) or `combined` (quorum and member). */
export const QUORUM_ROLES_PARAMETER = 'upm.quorum.roles';

/**
 * Roles within one UnitSet, for engines whose cluster has a voting quorum beside its members (Kafka's controllers
 * and brokers). With the parameter `upm.quorum.units` = Q > 0, the Q lowest ordinals form the quorum and the others
 * are members only; with Q = 0 (or no such parameter) every unit is both. `upm.quorum.roles` = `combined` makes the
 * quorum's units members too, so the voters stay the same Q units however many members are added or removed (a
 * static quorum must not change when the set scales). The view gets `inQuorum` and `isMember` for the unit, and
 * `quorum`: the quorum's peers, each with `first` (Mustache has no list separators).
 */
function quorumView(params: Map<string, string>, ctx: RenderContext) {
  const q = Number(params.get(QUORUM_UNITS_PARAMETER) ?? 0);
  const combined = params.get(QUORUM_ROLES_PARAMETER) === 'combined';
  const split = Number.isInteger(q) && q > 0 && q < ctx.unitSet.units;
  const voters = ctx.peers.filter((p) => !split || p.ordinal < q);
  return {
    inQuorum: !split || ctx.unit.ordinal < q,
    isMember: !split || combined || ctx.unit.ordinal >= q,
    quorum: voters.map((p, i) => ({ ...p, first: i === 0 })),
  };
}

export function renderConfig(template: string, params: Map<string, string>, ctx: RenderContext): string {
  // The last line of defence: whatever path a value took, it never writes a line the template did not.
  for (const [k, v] of params) if (/[\r\n\u0085\u2028\u2029]/.test(v)) throw new Error(`parameter ${k} holds a line break: it is not rendered`);
  const byMustacheName: Record<string, string> = {};
  // A list-valued setting (seed hosts, node names) from a comma-separated parameter: its items, each with `first`.
  const paramItems: Record<string, { value: string; first: boolean }[]> = {};
  for (const [k, v] of params) {
    byMustacheName[k.replace(/[.-]/g, '_')] = v;
    paramItems[k.replace(/[.-]/g, '_')] = v.split(',').map((x) => x.trim()).filter(Boolean).map((value, i) => ({ value, first: i === 0 }));
  }
  const paramList = [...params].filter(([key]) => !key.startsWith(UPM_PARAMETER_PREFIX)).map(([key, value]) => ({ key, value }));
  return render(template, { ...ctx, ...quorumView(params, ctx), params: byMustacheName, paramItems, paramList });
}

/** The UnitSet's stable id (see RenderContext.unitSet.id): never starts with "-", which command lines would misread. */
export function unitSetId(uid: string): string {
  const bytes = createHash('sha256').update(`upm-unitset/${uid}`).digest().subarray(0, 16);
  bytes[0] = (bytes[0] ?? 0) & 0x3f; // the first character is then one of A-P
  return bytes.toString('base64url');
}

export function hash(value: unknown): string {
  return createHash('sha256').update(typeof value === 'string' ? value : JSON.stringify(value)).digest('hex').slice(0, 10);
}

/** Parses a Kubernetes quantity into millicores (cpu) or MiB (memory); undefined when absent or unparseable. */
export function cpuMillis(q: string | number | undefined): number | undefined {
  if (q === undefined) return undefined;
  const s = String(q);
  if (s.endsWith('m')) return Number(s.slice(0, -1));
  const n = Number(s);
  return Number.isFinite(n) ? Math.round(n * 1000) : undefined;
}

const MEM_UNITS: Record<string, number> = {
  '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4,
};

export function quantityMiB(q: string | number | undefined): number | undefined {
  if (q === undefined) return undefined;
  const m = /^([0-9.]+)([kMGT]i?)?$/.exec(String(q));
  if (!m) return undefined;
  const bytes = Number(m[1]) * (MEM_UNITS[m[2] ?? ''] ?? 1);
  return Math.floor(bytes / 1024 ** 2);
}
