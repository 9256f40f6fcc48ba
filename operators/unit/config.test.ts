import { describe, expect, it } from '@jest/globals';
import { cpuMillis, effectiveParameters, quantityMiB, renderConfig, validateParameters, type ParameterSpec, type RenderContext } from './config.ts';

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
    const errors = validateParameters(specs, { nope: '1', max_connections: '5', binlog_format: 'STATEMENT', read_only: 'maybe', innodb_buffer_pool_size: 'lots' });
    expect(errors.map((e) => e.field).sort()).toEqual([
      'spec.parameters[binlog_format]', 'spec.parameters[innodb_buffer_pool_size]', 'spec.parameters[max_connections]', 'spec.parameters[nope]', 'spec.parameters[read_only]',
    ]);
    expect(errors.find((e) => e.field.includes('max_connections'))?.message).toBe('must be >= 10, got 5');
    expect(errors.find((e) => e.field.includes('nope'))?.message).toContain('unknown parameter');
    expect(validateParameters(specs, { max_connections: '2000', binlog_format: 'MIXED' })).toEqual([]);
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
