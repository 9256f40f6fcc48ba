// The hub controllers' own flags, beside the ones every controller process takes (lib/process.ts), read as a pure
// function so that a typo is refused with the flag's name instead of becoming a NaN period (a timer that fires at
// once, in a loop).
import { join } from 'node:path';
import { numberFlag, parseFlags, SECONDS } from '../lib/flags.ts';
import { MANAGER_FLAGS, type ManagerFlagValues } from '../lib/process.ts';

const OPTIONS = {
  ...MANAGER_FLAGS,
  'cluster-heartbeat-seconds': { type: 'string', default: '10' },
  'cluster-report-seconds': { type: 'string', default: '60' },
  'cluster-inventory-seconds': { type: 'string', default: '60' },
  // The engine templates an Operation's steps consult (an upgrade's target, which parameters apply live).
  templates: { type: 'string', default: join(import.meta.dirname, '..', 'config', 'templates') },
} as const;

export interface ControllerFlags {
  manager: ManagerFlagValues;
  clusters: { periodMs: number; reportMs: number; inventoryMs: number };
  /** The engine templates' directory. */
  templates: string;
}

/** Reads the arguments (without node and the script); throws FlagError naming the first bad flag. */
export function parseControllerFlags(args: string[]): ControllerFlags {
  const values = parseFlags(args, OPTIONS);
  const ms = (name: 'cluster-heartbeat-seconds' | 'cluster-report-seconds' | 'cluster-inventory-seconds') => numberFlag(name, values[name], SECONDS) * 1000;
  return {
    manager: values,
    clusters: { periodMs: ms('cluster-heartbeat-seconds'), reportMs: ms('cluster-report-seconds'), inventoryMs: ms('cluster-inventory-seconds') },
    templates: values.templates,
  };
}
