// Which engines of a UnitSet restarted while it was watched, from every state of its Units (a watch sees each change
// the API server recorded, not only those current at a poll) and from the engine processes themselves: each engine
// runs on this machine (the local runtime), so a pid the agent reported is a process that either still runs or not.
import { UnitResource, type Unit } from '../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../lib/kube/client.ts';
import { watchStates } from './watch-states.ts';

export interface EngineRestarts {
  /** Stops following; per unit, every engine (pid and start time) it reported while watched, in order. */
  stop(): Promise<Map<string, string[]>>;
}

const engineOf = (u: Unit): string | undefined => {
  const e = u.status?.engine;
  return e?.pid ? `${e.pid}@${e.startedAt ?? ''}` : undefined;
};

export async function watchEngineRestarts(c: KubeClient, namespace: string, unitSet: string): Promise<EngineRestarts> {
  const seen = new Map<string, string[]>();
  const watch = await watchStates<Unit>(c, UnitResource, { namespace, labelSelector: `unit.upm.io/unitset=${unitSet}` }, (units) => {
    for (const [name, u] of units) {
      const e = engineOf(u);
      const list = seen.get(name) ?? [];
      if (e && list.at(-1) !== e) seen.set(name, [...list, e]);
    }
  });
  return { async stop() { await watch.stop(); return seen; } };
}

/** Whether a process of this pid runs now. */
export function running(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

export const pidOf = (engine: string | undefined): number => Number(engine?.split('@')[0] ?? 0);
