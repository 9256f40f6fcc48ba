import { describe, expect, it } from '@jest/globals';
import { cpuMillis, effectiveParameters, quantityMiB, renderConfig, unitSetId, type ParameterSpec, type RenderContext } from './engineconfig.ts';
import { validateParameters } from './paramcheck.ts';

const specs: ParameterSpec[] = [
  { key: 'max_connections', type: 'integer', minimum: 10, maximum: 100000, default: '500', dynamic: true },
  { key: 'innodb_buffer_pool_size', type: 'quantity', default: '{{resources.memoryMiB70}}M', dynamic: true },
  { key: 'binlog_format', type: 'enum', values: ['ROW', 'MIXED'], default: 'ROW' },
  { key: 'log.retention.hours', type: 'integer', minimum: 1, default: '168' },
  { key: 'read_only', type: 'boolean', default: 'off' },
];

const ctx = (ordinal: number): RenderContext => ({
  unit: { name: `db-${ordinal}`, ordinal, fqdn: `db-${ordinal}.db-headless.ns.svc.cluster.local` },
  unitSet: { name: 'db', units: 3 },
  namespace: 'ns',
  serverId: ordinal + 1,
  resources: { cpuMillis: 1000, memoryMiB: 1024, memoryMiB25: 256, memoryMiB50: 512, memoryMiB70: 716 },
  peers: [0, 1, 2].map((o) => ({ name: `db-${o}`, ordinal: o, id: o + 1, fqdn: `db-${o}.db-headless.ns.svc.cluster.local` })),
});

describe('parameters', () => {
  it('names the field of unknown keys, bad types and out-of-range values', () => {
    const errors = validateParameters('mysql', specs, { nope: '1', max_connections: '5', binlog_format: 'STATEMENT', read_only: 'maybe', innodb_buffer_pool_size: 'lots' });
    expect(errors.map((e) => e.field).sort()).toEqual([
      'spec.parameters[binlog_format]', 'spec.parameters[innodb_buffer_pool_size]', 'spec.parameters[max_connections]', 'spec.parameters[nope]', 'spec.parameters[read_only]',
    ]);
    expect(errors.find((e) => e.field.includes('max_connections'))?.message).toBe('must be >= 10, got 5');
    expect(errors.find((e) => e.field.includes('nope'))?.message).toContain('unknown parameter');
    expect(validateParameters('mysql', specs, { max_connections: '2000', binlog_format: 'MIXED' })).toEqual([]);
  });

  it('defaults from the context, and user overrides win', () => {
    const p = effectiveParameters(specs, { max_connections: '2000' }, ctx(0));
    expect(p.get('innodb_buffer_pool_size')).toBe('716M');
    expect(p.get('max_connections')).toBe('2000');
  });
});

describe('renderConfig', () => {
  it('renders per-unit values, dotted keys, parameter lists and peers without HTML escaping', () => {
    const tpl = [
      'server_id = {{serverId}}',
      'innodb_buffer_pool_size = {{params.innodb_buffer_pool_size}}',
      'retention = {{params.log_retention_hours}}',
      '{{#paramList}}{{key}}={{value}}\n{{/paramList}}',
      '{{#peers}}server.{{id}}={{fqdn}}:2888:3888\n{{/peers}}',
      'quote = {{unit.name}}&"x"',
    ].join('\n');
    const out = renderConfig(tpl, effectiveParameters(specs, {}, ctx(2)), ctx(2));
    expect(out).toContain('server_id = 3\n');
    expect(out).toContain('innodb_buffer_pool_size = 716M');
    expect(out).toContain('retention = 168');
    expect(out).toContain('log.retention.hours=168\n');
    expect(out).toContain('server.2=db-1.db-headless.ns.svc.cluster.local:2888:3888');
    expect(out).toContain('quote = db-2&"x"');
  });
});

describe('quorum and members', () => {
  const tpl = 'roles={{#isMember}}member{{/isMember}}{{#inQuorum}}+quorum{{/inQuorum}} voters={{#quorum}}{{^first}},{{/first}}{{id}}{{/quorum}}\n{{#paramList}}{{key}}\n{{/paramList}}';
  const four = (ordinal: number): RenderContext => ({ ...ctx(ordinal), unitSet: { name: 'db', units: 4 }, peers: [0, 1, 2, 3].map((o) => ({ name: `db-${o}`, ordinal: o, id: o + 1, fqdn: `db-${o}` })) });

  it('makes every unit both without upm.quorum.units, with a separator-joined voter list', () => {
    expect(renderConfig(tpl, new Map([['x', '1']]), four(3))).toBe('roles=member+quorum voters=1,2,3,4\nx\n');
  });

  it('splits the units at upm.quorum.units, and keeps upm.* parameters out of paramList', () => {
    const params = new Map([['upm.quorum.units', '3'], ['x', '1']]);
    expect(renderConfig(tpl, params, four(2))).toBe('roles=+quorum voters=1,2,3\nx\n');
    expect(renderConfig(tpl, params, four(3))).toBe('roles=member voters=1,2,3\nx\n');
    // A quorum as large as the UnitSet (or larger) leaves no member: every unit stays both.
    expect(renderConfig(tpl, new Map([['upm.quorum.units', '4']]), four(0))).toBe('roles=member+quorum voters=1,2,3,4\n');
  });

  it('keeps the quorum units members too with upm.quorum.roles=combined: the voters do not follow the size of the set', () => {
    const params = new Map([['upm.quorum.units', '3'], ['upm.quorum.roles', 'combined']]);
    expect(renderConfig(tpl, params, four(0))).toBe('roles=member+quorum voters=1,2,3\n');
    expect(renderConfig(tpl, params, four(2))).toBe('roles=member+quorum voters=1,2,3\n');
    expect(renderConfig(tpl, params, four(3))).toBe('roles=member voters=1,2,3\n');
    // Three units of a quorum of three render exactly as with no split at all (so a set grows without a restart).
    const three = (o: number): RenderContext => ({ ...four(o), unitSet: { name: 'db', units: 3 }, peers: four(o).peers.slice(0, 3) });
    expect(renderConfig(tpl, params, three(1))).toBe(renderConfig(tpl, new Map(), three(1)));
    // Without it the quorum's units stay dedicated, as before.
    expect(renderConfig(tpl, new Map([['upm.quorum.units', '3'], ['upm.quorum.roles', 'dedicated']]), four(0))).toBe('roles=+quorum voters=1,2,3\n');
  });
});

describe('unitSetId', () => {
  it('is 22 URL-safe base64 characters (16 bytes), stable per uid, never starting with "-"', () => {
    const ids = ['a', 'b', '2f9c2e43-1c4b-4a4e-9d0b-4ee3f7f1d7a1', ...Array.from({ length: 200 }, (_, i) => `uid-${i}`)].map(unitSetId);
    for (const id of ids) expect(id).toMatch(/^[A-P][A-Za-z0-9_-]{21}$/);
    expect(Buffer.from(ids[0] ?? '', 'base64url')).toHaveLength(16);
    expect(unitSetId('a')).toBe(ids[0]);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('quantities', () => {
  it('parses cpu and sizes', () => {
    expect(cpuMillis('500m')).toBe(500);
    expect(cpuMillis(2)).toBe(2000);
    expect(quantityMiB('1Gi')).toBe(1024);
    expect(quantityMiB('512Mi')).toBe(512);
    expect(quantityMiB('1G')).toBe(953);
    expect(quantityMiB('bogus')).toBeUndefined();
  });
});

describe('list-valued parameters', () => {
  const tpl = 'seeds:\n{{#paramItems.upm_seed_hosts}}\n  - {{value}}\n{{/paramItems.upm_seed_hosts}}\n{{#paramItems.upm_initial_managers}}\n{{#first}}\ninitial:\n{{/first}}\n  - {{value}}\n{{/paramItems.upm_initial_managers}}\nend\n';

  it('renders a comma-separated value as list items (blanks dropped), and an empty one as no list at all', () => {
    const params = new Map([['upm.seed.hosts', 'a:9300, b:9300,'], ['upm.initial.managers', 'db-0,db-1']]);
    expect(renderConfig(tpl, params, ctx(0))).toBe('seeds:\n  - a:9300\n  - b:9300\ninitial:\n  - db-0\n  - db-1\nend\n');
    expect(renderConfig(tpl, new Map([['upm.seed.hosts', 'a:9300'], ['upm.initial.managers', '']]), ctx(0))).toBe('seeds:\n  - a:9300\nend\n');
  });

  it('takes defaults rendered from the peers, so a UnitSet alone still lists its own units', () => {
    const specs: ParameterSpec[] = [{ key: 'upm.initial.managers', type: 'string', default: '{{#peers}}{{name}},{{/peers}}' }];
    expect(renderConfig(tpl, effectiveParameters(specs, {}, ctx(1)), ctx(1))).toBe('seeds:\ninitial:\n  - db-0\n  - db-1\n  - db-2\nend\n');
  });
});
