// Numeric command-line flags, checked before a process starts. Number() turns a typo into NaN (or "" into 0, "0x10"
// into 16), and a NaN limit compares false with everything, so it silently switches the limit off: every numeric
// flag is read here instead, as a plain decimal, finite, an integer where it counts things, within its range, and
// a bad one stops the process with a message that names the flag.
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

export interface NumberRule {
  /** A count, a port, a byte size: no fraction. */
  integer?: boolean;
  /** Smallest value allowed (inclusive). */
  min?: number;
  /** The value must be greater than this (a rate or an interval: 0 would mean "never"). */
  above?: number;
  /** Largest value allowed (inclusive). */
  max?: number;
}

/** The longest delay a Node timer keeps (2^31-1 ms); a longer one fires at once. */
export const MAX_TIMER_SECONDS = Math.floor(2_147_483_647 / 1000);

/** A number of seconds that becomes a timer: above 0, at most what a timer holds. */
export const SECONDS: NumberRule = { above: 0, max: MAX_TIMER_SECONDS };
/** A count or size of at least one. */
export const POSITIVE_INT: NumberRule = { integer: true, min: 1, max: Number.MAX_SAFE_INTEGER };
/** A TCP port; 0 lets the system choose. */
export const PORT: NumberRule = { integer: true, min: 0, max: 65_535 };

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** `--<name>`'s value as a number that satisfies the rule, or a FlagError naming the flag and what it takes. */
export function numberFlag(name: string, raw: string | undefined, rule: NumberRule): number {
  const text = (raw ?? '').trim();
  const fail = (why: string) => new FlagError(`--${name}: ${JSON.stringify(raw ?? '')} is not valid: ${why}`);
  if (!DECIMAL.test(text)) throw fail(`want ${describe(rule)}`);
  const n = Number(text);
  if (!Number.isFinite(n)) throw fail(`want ${describe(rule)}`);
  if (rule.integer && !Number.isSafeInteger(n)) throw fail(`want ${describe(rule)}`);
  if ((rule.min !== undefined && n < rule.min) || (rule.above !== undefined && n <= rule.above) || (rule.max !== undefined && n > rule.max)) {
    throw fail(`out of range: want ${describe(rule)}`);
  }
  return n;
}

function describe(rule: NumberRule): string {
  const bounds: string[] = [];
  if (rule.min !== undefined) bounds.push(`at least ${rule.min}`);
  if (rule.above !== undefined) bounds.push(`greater than ${rule.above}`);
  if (rule.max !== undefined) bounds.push(`at most ${rule.max}`);
  return `${rule.integer ? 'an integer' : 'a number'}${bounds.length ? ` ${bounds.join(' and ')}` : ''}`;
}

/** Runs a process's flag parsing; a FlagError ends the process with its message and status 2, before anything starts. */
export function flagsOrExit<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
}

/** node:util parseArgs, strict, with its complaints (an unknown or ambiguous flag) as FlagErrors. */
export function parseFlags<T extends ParseArgsOptionsConfig>(args: string[], options: T): ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: false }>>['values'] {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new FlagError((err as Error).message);
  }
}
