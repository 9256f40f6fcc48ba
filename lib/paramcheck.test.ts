// Hostile parameter values against every shipped engine template: thousands of generated values, and none that the
// check accepts may change the structure of the rendered config (the settings, sections and lines the template
// writes), as the engine's own parser would read it. A value's structure is compared with that of a plain value of
// the same shape (every character but the list separators "," and " " made a letter): list-valued parameters may
// have as many items as they like, but no character may add a line, a setting, a section, a quote or a nesting.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { parse as parseYaml, parseDocument, isMap, isScalar, isSeq } from 'yaml';
import { effectiveParameters, renderConfig, type RenderContext } from './engineconfig.ts';
import { configSyntax, validateParameters, type ConfigSyntax, type ParameterSpec } from './paramcheck.ts';

interface Template { name: string; engine: string; template: string; parameters: ParameterSpec[] }

const dir = join(import.meta.dirname, '..', 'config', 'templates');
const templates: Template[] = readdirSync(dir).filter((f) => /^[a-z].*-\d.*\.yaml$/.test(f)).map((f) => {
  const doc = parseYaml(readFileSync(join(dir, f), 'utf8')) as { spec: { engine: string; config: { template: string }; parameters?: ParameterSpec[] } };
  return { name: f.slice(0, -5), engine: doc.spec.engine, template: doc.spec.config.template, parameters: doc.spec.parameters ?? [] };
});

const ctx: RenderContext = {
  unit: { name: 'db-1', ordinal: 1, fqdn: 'db-1.db-headless.ns.svc.cluster.local' },
  unitSet: { name: 'db', units: 3, id: 'AE5u3joPWzFQS3Elu1iS7g' },
  namespace: 'ns',
  serverId: 2,
  resources: { cpuMillis: 1000, memoryMiB: 1024, memoryMiB25: 256, memoryMiB50: 512, memoryMiB70: 716 },
  peers: [0, 1, 2].map((o) => ({ name: `db-${o}`, ordinal: o, id: o + 1, fqdn: `db-${o}.db-headless.ns.svc.cluster.local` })),
};

const lines = (text: string) => text.split(/\r\n|\r|\n|\u0085|\u2028|\u2029/);
/** Lines the start commands read ("#upm:<name>="): a value must never add one. */
const upmLines = (text: string) => lines(text).filter((l) => l.startsWith('#upm:')).map((l) => l.split('=')[0] ?? l);
const quotes = (l: string) => (l.match(/["'\\]/g) ?? []).length;

/** my.cnf: sections, directives and option names, with the quoting of each line. */
function mycnf(text: string): string[] {
  return lines(text).map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && !l.startsWith(';'))
    .map((l) => (l.startsWith('[') || l.startsWith('!') ? l : `${(l.split('=')[0] ?? '').trim()}|${quotes(l)}`));
}

/** redis.conf: the directive of each line, with its quoting (the parser honours quotes and backslashes). */
function redis(text: string): string[] {
  return lines(text).map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => `${l.split(/\s+/)[0]}|${quotes(l)}`);
}

/** Java properties: logical lines (a line ending in an odd number of backslashes goes on), each one's key. */
function properties(text: string): string[] {
  const keys: string[] = [];
  let logical = '';
  for (const raw of lines(text)) {
    const l = logical ? raw.trimStart() : raw;
    const trailing = /\\*$/.exec(l)?.[0].length ?? 0;
    if (trailing % 2 === 1) { logical += l.slice(0, -1); continue; }
    logical += l;
    const t = logical.trimStart();
    logical = '';
    if (!t || t.startsWith('#') || t.startsWith('!')) continue;
    keys.push(/^(?:\\.|[^=:\s\\])*/.exec(t)?.[0] ?? '');
  }
  return keys;
}

/** YAML: the document's keys and the kind of each value (scalar, list of scalars, map), or why it does not parse. */
function yaml(text: string): string[] {
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length) return [`invalid: ${doc.errors[0]?.message}`];
  if (!isMap(doc.contents)) return ['not a map'];
  return doc.contents.items.map((pair) => {
    const key = isScalar(pair.key) ? String(pair.key.value) : 'complex key';
    const v = pair.value;
    const kind = isScalar(v) ? 'scalar' : isSeq(v) ? (v.items.every((i) => isScalar(i)) ? 'list' : 'nested list') : isMap(v) ? 'map' : v === null ? 'scalar' : 'other';
    return `${key}=${kind}`;
  });
}

/** libconfig (proxysql.cnf): groups and setting names, with the quoting of each line. */
function libconfig(text: string): string[] {
  return lines(text).map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => `${(l.split('=')[0] ?? '').trim()}|${quotes(l)}`);
}

const STRUCTURE: Record<ConfigSyntax, (text: string) => string[]> = { mycnf, redis, properties, yaml, libconfig, strict: (t) => lines(t) };

/** What a parser sees of a rendered config besides the values: the structure a value must not change. */
function structure(engine: string, text: string): string[] {
  return [...upmLines(text), `lines=${lines(text).length}`, ...STRUCTURE[configSyntax(engine)](text)];
}

function rendered(t: Template, overrides: Record<string, string>): string {
  return renderConfig(t.template, effectiveParameters(t.parameters, overrides, ctx), ctx);
}

// Characters that mean something to one config parser or another, mixed with plain ones.
const HOSTILE_CHARS = ['\n', '\r', '\r\n', '\u0085', '\u2028', '\u0000', '\t', '\\', '"', "'", '#', ';', '!', ':', ': ', ',', '[', ']', '{', '}',
  '-', '- ', '=', '*', '&', '|', '>', '%', '@', '`', '?', '~', ' ', '$', '\\u000a', 'a', 'Z', '0', '9', '.', '_', '/', '+', 'é'];
const hostile = fc.oneof(
  fc.string({ unit: fc.constantFrom(...HOSTILE_CHARS), maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 24 }),
  // A plausible value, then a new directive for the engine.
  fc.tuple(fc.constantFrom('1', 'x', '3600 1', '10%', 'a:9300'), fc.constantFrom('\n', '\r', '\\', '\\\n', ',', '", ', ' #', '\u2028'),
    fc.constantFrom('skip-grant-tables', 'user x on nopass ~* +@all', 'skipACL=yes', 'path.data: /tmp', '- x', '{a: b}', '#upm:heap-mb=99999'))
    .map(([a, b, c]) => `${a}${b}${c}`),
);

// Values some parameter of each template takes, so that every property also runs on accepted values.
const ordinary = fc.constantFrom('1', '10', '0.5', 'yes', 'no', 'ON', 'true', 'notice', '64mb', '10%', '3600 1 300 100', 'a, b', 'srvr,ruok', 'h-0:9300,h-1:9300,');

describe('hostile parameter values (property-based, every shipped template)', () => {
  it('covers the engines of every template with a syntax of its own', () => {
    for (const t of templates) expect([t.name, configSyntax(t.engine)]).not.toEqual([t.name, 'strict']);
  });

  it.each(templates.map((t) => [t.name, t] as const))('%s: no accepted value changes the rendered structure', (_name, t) => {
    expect(structure(t.engine, rendered(t, {})).filter((s) => s.startsWith('invalid'))).toEqual([]);
    const keys = t.parameters.map((p) => p.key);
    let accepted = 0;
    fc.assert(fc.property(fc.constantFrom(...keys), fc.oneof(hostile, ordinary), (key, value) => {
      if (validateParameters(t.engine, t.parameters, { [key]: value }).length) return;
      accepted++;
      const plain = value.replace(/[^, ]/g, 'a');
      expect(structure(t.engine, rendered(t, { [key]: value }))).toEqual(structure(t.engine, rendered(t, { [key]: plain })));
    }), { numRuns: 3000 });
    // The generators are not so hostile that nothing passes: the property says something.
    expect(accepted).toBeGreaterThan(0);
  });

  it('refuses the known injections, naming the parameter', () => {
    const cases: [string, string, string][] = [
      ['mariadb-10.11', 'long_query_time', '1\nskip-grant-tables'],
      ['mariadb-10.11', 'long_query_time', '1\r!include /etc/shadow'],
      ['redis-7.2', 'save', '3600 1\nuser x on nopass ~* +@all'],
      ['redis-7.2', 'save', '"3600 1" "x'],
      ['zookeeper-3.8', '4lw.commands.whitelist', 'srvr\nskipACL=yes'],
      ['zookeeper-3.8', '4lw.commands.whitelist', 'srvr\\'],
      ['opensearch-2.19', 'cluster.name', 'x\npath.data: /tmp'],
      ['opensearch-2.19', 'node.roles', 'data ], path.data: [ /tmp'],
      ['opensearch-2.19', 'indices.queries.cache.size', '10%"\nplugins.security.disabled: "true'],
      ['opensearch-2.19', 'cluster.name', 'x\n#upm:heap-mb=99999'],
      ['proxysql-2.7', 'mysql-server_version', '8.0"\nadmin_credentials="a:b'],
    ];
    for (const [name, key, value] of cases) {
      const t = templates.find((x) => x.name === name)!;
      expect(validateParameters(t.engine, t.parameters, { [key]: value }).map((e) => e.field)).toEqual([`spec.parameters[${key}]`]);
    }
  });

  it('accepts the values the templates ship and ordinary overrides', () => {
    for (const t of templates) {
      const defaults = Object.fromEntries(effectiveParameters(t.parameters, {}, ctx));
      expect([t.name, validateParameters(t.engine, t.parameters, defaults)]).toEqual([t.name, []]);
    }
    const mariadb = templates.find((x) => x.name === 'mariadb-10.11')!;
    expect(validateParameters('mariadb', mariadb.parameters, { long_query_time: '0.5' })).toEqual([]);
    const redis = templates.find((x) => x.name === 'redis-7.2')!;
    expect(validateParameters('redis', redis.parameters, { save: '900 1 300 10' })).toEqual([]);
  });

  it('refuses unknown keys and shows a refused value escaped (no line break reaches a condition or event)', () => {
    const t = templates.find((x) => x.name === 'mariadb-10.11')!;
    const errors = validateParameters(t.engine, t.parameters, { 'skip-grant-tables': '1', max_connections: '1\nskip-grant-tables' }, 'parameters');
    expect(errors.map((e) => e.field).sort()).toEqual(['parameters[max_connections]', 'parameters[skip-grant-tables]']);
    for (const e of errors) expect(e.message).not.toMatch(/[\r\n]/);
  });

  it('renders no value with a line break, whatever path it took', () => {
    expect(() => renderConfig('a = {{params.a}}\n', new Map([['a', '1\nb = 2']]), ctx)).toThrow(/line break/);
  });
});
