// The UnitSet a ZookeeperEnsemble owns, computed from the ensemble's spec (all but its size, which only the plan
// changes), and the checks of the spec that need the engine template. Pure.
import type { ZookeeperEnsemble } from '../../../lib/api/compose.upm.io.generated.ts';
import type { EngineTemplate, UnitSet, UnitSetSpec } from '../../../lib/api/unit.upm.io.generated.ts';
import { fullRestartStamp } from '../common/unit-restart.ts';

/** The four-letter words the operator (srvr, conf, mntr) and the pods' probes (srvr, ruok) need: always on. */
export const REQUIRED_WORDS = ['srvr', 'ruok', 'mntr', 'conf'];
/**
 * Changing spec.restartedAt changes this variable on every server: a new revision, so each is restarted once. A restart
 * of some servers only (spec.restartUnits) leaves it as it is: those go through the UnitSet's spec.restart.
 */
export const RESTART_ENV = 'UPM_RESTARTED_AT';
export const DATA_MOUNT = '/data';

export function whitelist(zke: ZookeeperEnsemble): string {
  return [...new Set([...REQUIRED_WORDS, ...(zke.spec.fourLetterWords ?? [])])].join(',');
}

/** The UnitSet's spec for this ensemble with `units` units (`carried`: the restart stamp its servers carry now). */
export function desiredUnitSetSpec(zke: ZookeeperEnsemble, units: number, carried?: string): UnitSetSpec & { parameters: Record<string, string> } {
  const s = zke.spec;
  const stamp = fullRestartStamp(s, carried, zke.status?.unitRestart?.id);
  return {
    engine: 'zookeeper',
    version: s.version ?? '3.8',
    units,
    ...(s.resources ? { resources: s.resources } : {}),
    storage: [{ name: 'data', size: s.storage?.size ?? '1Gi', mountPath: DATA_MOUNT, ...(s.storage?.storageClassName ? { storageClassName: s.storage.storageClassName } : {}) }],
    parameters: { ...(s.parameters ?? {}), reconfigEnabled: 'true', '4lw.commands.whitelist': whitelist(zke) },
    updateStrategy: { type: 'Managed' },
    podAntiAffinity: s.podAntiAffinity ?? 'Soft',
    ...(s.nodeSelector ? { nodeSelector: s.nodeSelector } : {}),
    ...(s.nodeAffinity ? { nodeAffinity: s.nodeAffinity } : {}),
    ...(s.topologySpreadConstraints?.length ? { topologySpreadConstraints: s.topologySpreadConstraints } : {}),
    env: stamp ? [{ name: RESTART_ENV, value: stamp }] : [],
    // Every server stops and starts at once: ZooKeeper logs each transaction to disk before it is acknowledged, so a
    // stopped quorum loses nothing, and stopping one at a time would only make the rest elect leaders for nothing.
    stopped: s.stopped === true,
  };
}

/** What differs between the UnitSet and what the ensemble wants (its size aside): a merge patch and the fields named. */
export function unitSetDrift(us: UnitSet, zke: ZookeeperEnsemble): { patch: { spec: Record<string, unknown> }; fields: string[] } | undefined {
  const carried = us.spec.env?.find((e) => e.name === RESTART_ENV)?.value;
  const want = desiredUnitSetSpec(zke, us.spec.units ?? 0, carried) as unknown as Record<string, unknown>;
  const have = us.spec as unknown as Record<string, unknown>;
  const patch: Record<string, unknown> = {};
  for (const k of ['version', 'resources', 'storage', 'parameters', 'updateStrategy', 'podAntiAffinity', 'nodeSelector', 'nodeAffinity', 'topologySpreadConstraints', 'env', 'stopped']) {
    const a = JSON.stringify(normal(have[k]));
    const b = JSON.stringify(normal(want[k]));
    if (a === b) continue;
    // Maps are replaced whole: keys the ensemble no longer has must go (a merge patch removes them with null).
    if (k === 'parameters' || k === 'nodeSelector') {
      const old = (have[k] ?? {}) as Record<string, unknown>;
      const next = (want[k] ?? {}) as Record<string, unknown>;
      patch[k] = { ...Object.fromEntries(Object.keys(old).filter((x) => !(x in next)).map((x) => [x, null])), ...next };
    } else {
      patch[k] = want[k] ?? null;
    }
  }
  const fields = Object.keys(patch);
  return fields.length ? { patch: { spec: patch }, fields: fields.map((f) => `spec.${f}`) } : undefined;
}

/** Defaults the API server fills in, so that their absence is not a difference. */
function normal(v: unknown): unknown {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.length ? v : undefined;
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined && x !== null).sort(([a], [b]) => a.localeCompare(b));
    return entries.length ? Object.fromEntries(entries.map(([k, x]) => [k, normal(x)])) : undefined;
  }
  return v;
}

/** What the spec asks for that cannot be (the API refuses most of it; this also covers objects written around it). */
export function specErrors(zke: ZookeeperEnsemble, tpl: EngineTemplate | undefined): string[] {
  const errors: string[] = [];
  const n = zke.spec.replicas ?? 3;
  if (!Number.isInteger(n) || n < 3 || n % 2 === 0) errors.push(`spec.replicas: must be odd and at least 3, got ${n}`);
  if (!tpl) errors.push(`spec.version: no EngineTemplate "zookeeper-${zke.spec.version ?? '3.8'}" in this cluster`);
  for (const k of ['reconfigEnabled', '4lw.commands.whitelist']) if (k in (zke.spec.parameters ?? {})) errors.push(`spec.parameters[${k}]: is set by the operator`);
  return errors;
}
