// The hub controllers' own flags, beside the ones every controller process takes (lib/process.ts), read as a pure
// function so that a typo is refused with the flag's name instead of becoming a NaN period (a timer that fires at
// once, in a loop).
import { join } from 'node:path';
import { numberFlag, parseFlags, SECONDS } from '../lib/flags.ts';
import { MANAGER_FLAGS, type ManagerFlagValues } from '../lib/process.ts';

const OPTIONS = {
  ...MANAGER_FLAGS,
  // A member is not Ready once the hub's watch of it has heard nothing for this long (its API server renews its
  // identity Lease every 10 s); its heartbeat time is written at least once a report period.
  'cluster-stale-seconds': { type: 'string', default: '20' },
  'cluster-report-seconds': { type: 'string', default: '60' },
  // The engine templates an Operation's steps consult (an upgrade's target, which parameters apply live).
  templates: { type: 'string', default: join(import.meta.dirname, '..', 'config', 'templates') },
} as const;

export interface ControllerFlags {
  manager: ManagerFlagValues;
  clusters: { staleMs: number; reportMs: number };
  /** The engine templates' directory. */
  templates: string;
}

/** Reads the arguments (without node and the script); throws FlagError naming the first bad flag. */
export function parseControllerFlags(args: string[]): ControllerFlags {
  const values = parseFlags(args, OPTIONS);
  const ms = (name: 'cluster-stale-seconds' | 'cluster-report-seconds') => numberFlag(name, values[name], SECONDS) * 1000;
  return {
    manager: values,
    clusters: { staleMs: ms('cluster-stale-seconds'), reportMs: ms('cluster-report-seconds') },
    templates: values.templates,
  };
}
