// The one check of engine parameter values, shared by everything that accepts them: the Unit Operator (a UnitSet's
// condition naming `spec.parameters[<key>]`), the unit agent (422 naming `parameters[<key>]`) and the hub API
// (422 naming `spec.options.parameters[<key>]`). Config templates are Mustache without escaping, so a value is
// written into the engine's config file as it is: each value is checked by its type and then by what the engine's
// config syntax can hold without a value turning into more than one setting (no line breaks or control characters
// anywhere, no quoting, escaping or comment characters of that syntax). Keys must be the template's. Pure.
import type { EngineTemplateSpec } from './api/unit.upm.io.generated.ts';

export type ParameterSpec = NonNullable<EngineTemplateSpec['parameters']>[number];

export interface FieldError { field: string; message: string }

/** Longest value any parameter may have (the hub's schema says the same). */
export const MAX_PARAMETER_LENGTH = 1024;

/** How each engine's config file is parsed, which decides what a value may hold. */
export type ConfigSyntax = 'mycnf' | 'redis' | 'properties' | 'yaml' | 'libconfig' | 'strict';

const SYNTAX: Record<string, ConfigSyntax> = {
  mysql: 'mycnf', mariadb: 'mycnf',
  redis: 'redis', 'redis-sentinel': 'redis',
  zookeeper: 'properties', kafka: 'properties',
  elasticsearch: 'yaml', opensearch: 'yaml',
  proxysql: 'libconfig',
};

/** An engine nobody described gets the strictest rule. */
export function configSyntax(engine: string): ConfigSyntax {
  return SYNTAX[engine] ?? 'strict';
}

// Characters no syntax gives a meaning inside a value written after "key = ", "key ", "key=" or inside "...":
// my.cnf has no line continuation and comments only from "#" or ";"; redis.conf splits arguments on blanks and
// honours quotes and backslash escapes; Java properties honour a trailing backslash (continuation) and \u escapes;
// libconfig honours quotes and backslashes. None of these is in the set.
const PLAIN = /^[A-Za-z0-9 ._,:/%+=@*-]*$/;
const PLAIN_CHARS = 'letters, digits, blanks and . _ , : / % + = @ * -';

// YAML: a value is written as a plain scalar (`key: v`), inside a flow sequence (`[ v ]`), inside double quotes, or
// split at commas into block sequence items (`- item`). So it is a comma-separated list of items, each starting
// with a letter, digit, "." "_" or "/" (never an indicator such as - ? : ! & * | > ' " % @ ` # [ ] { }), holding
// no comment (#), no flow indicator ([ ] { }) and ":" only before a letter or digit (host:port), never ": ".
const YAML_ITEM = String.raw`[A-Za-z0-9._/][A-Za-z0-9._/%+=-]*(?:(?: +|:(?=[A-Za-z0-9]))[A-Za-z0-9._/%+=-]+)*`;
const YAML_VALUE = new RegExp(`^ *(?:${YAML_ITEM}(?: *, *${YAML_ITEM})* *,?)? *$`);

const STRICT = /^[A-Za-z0-9._-]*$/;

// C0 and C1 controls, DEL, and the Unicode line and paragraph separators (some parsers end lines at them).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Why the value cannot be written into this engine's config as one setting, or undefined when it can. */
export function unsafeValue(engine: string, value: string): string | undefined {
  if (value.length > MAX_PARAMETER_LENGTH) return `must be at most ${MAX_PARAMETER_LENGTH} characters`;
  if (CONTROL.test(value)) return 'must not hold line breaks or other control characters';
  if (/[^\x20-\x7e]/.test(value)) return 'must be printable ASCII';
  switch (configSyntax(engine)) {
    case 'yaml':
      return YAML_VALUE.test(value) ? undefined : 'must be comma-separated items of letters, digits, blanks and . _ / % + = - (":" only as in host:port), each starting with a letter, digit, ".", "_" or "/"';
    case 'strict':
      return STRICT.test(value) ? undefined : 'may hold only letters, digits and . _ -';
    default:
      return PLAIN.test(value) ? undefined : `may hold only ${PLAIN_CHARS}`;
  }
}

/** A value as it is safe to show in a message, condition or event: quoted, escaped, cut short. */
export function shownValue(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}...` : value);
}

/** Bytes-free quantity parsing for the few units engines use (K/M/G with or without i/B). */
function quantityOk(v: string): boolean {
  return /^[0-9]+(\.[0-9]+)?([kKmMgGtT]i?[bB]?)?$/.test(v);
}

const TYPED = new Set(['integer', 'boolean', 'enum', 'quantity']);

/** Why the value does not fit the parameter's type, or undefined. */
function typeError(p: ParameterSpec, value: string): string | undefined {
  switch (p.type) {
    case 'integer': {
      if (!/^-?[0-9]{1,20}$/.test(value)) return `must be an integer, got ${shownValue(value)}`;
      const n = Number(value);
      if (p.minimum !== undefined && n < p.minimum) return `must be >= ${p.minimum}, got ${n}`;
      if (p.maximum !== undefined && n > p.maximum) return `must be <= ${p.maximum}, got ${n}`;
      return undefined;
    }
    case 'boolean':
      return ['true', 'false', 'on', 'off', 'yes', 'no', '1', '0'].includes(value.toLowerCase()) ? undefined : `must be a boolean, got ${shownValue(value)}`;
    case 'enum':
      return (p.values ?? []).includes(value) ? undefined : `must be one of ${(p.values ?? []).join(', ')}, got ${shownValue(value)}`;
    case 'quantity':
      return quantityOk(value) ? undefined : `must be a size such as 512M or 2G, got ${shownValue(value)}`;
    default:
      return undefined;
  }
}

/**
 * Checks parameter values for an engine against its template's metadata: unknown keys, wrong types, out-of-range
 * values, and values the engine's config syntax cannot hold as one setting; each error names `<field>[<key>]`.
 */
export function validateParameters(engine: string, specs: ParameterSpec[] | undefined, values: Record<string, string> | undefined, field = 'spec.parameters'): FieldError[] {
  const errors: FieldError[] = [];
  const byKey = new Map((specs ?? []).map((p) => [p.key, p]));
  for (const [key, value] of Object.entries(values ?? {})) {
    const f = `${field}[${key}]`;
    const p = byKey.get(key);
    if (!p) {
      errors.push({ field: f, message: `unknown parameter ${shownValue(key)} for this engine` });
      continue;
    }
    if (typeof value !== 'string') {
      errors.push({ field: f, message: `must be a string, got ${typeof value}` });
      continue;
    }
    // Typed values have a strict shape of their own; the syntax rule is for everything else (strings).
    const message = typeError(p, value) ?? (TYPED.has(p.type ?? '') ? undefined : unsafeValue(engine, value));
    if (message) errors.push({ field: f, message });
  }
  return errors;
}
