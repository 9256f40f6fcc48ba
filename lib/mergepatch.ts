// The JSON merge patch (RFC 7386) that turns `from` into `to`. A merge patch keeps what it does not name, so keys
// that are gone are sent as null at every depth (a map entry such as a node no longer listed, a field a node no
// longer has); arrays are replaced whole. Undefined when there is nothing to change, so a caller writes only what
// changed. Pure.
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON with every object's keys sorted: the API server returns objects with sorted keys, we build them in any order. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (isObject(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x));
}

export function mergePatch(from: unknown, to: unknown): Json | undefined {
  if (!isObject(from) || !isObject(to)) return canonicalJson(from) === canonicalJson(to) ? undefined : ((to ?? null) as Json);
  const out: Record<string, Json> = {};
  for (const k of Object.keys(from)) if (to[k] === undefined && from[k] !== undefined) out[k] = null;
  for (const [k, v] of Object.entries(to)) {
    if (v === undefined) continue;
    const p = mergePatch(from[k], v);
    if (p !== undefined) out[k] = p;
  }
  return Object.keys(out).length ? out : undefined;
}

/** Applies a JSON merge patch (RFC 7386) as the API server does: null removes, objects merge, anything else replaces. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}
