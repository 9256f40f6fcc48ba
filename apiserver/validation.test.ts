import { describe, expect, it } from '@jest/globals';
import { loadCrds } from './crds.ts';
import { fieldPath, SchemaValidator } from './validation.ts';

const crds = loadCrds();
const mysql = new SchemaValidator(crds.get('mysqlservicerecords')!.schema);
const projects = new SchemaValidator(crds.get('projectrecords')!.schema);

const svc = (spec: Record<string, unknown>) => ({ apiVersion: 'upm.io/v1alpha1', kind: 'MysqlService', metadata: { name: 'db' }, spec });

describe('SchemaValidator (from the CRD schemas)', () => {
  it('accepts a valid object', () => {
    expect(mysql.validate(svc({ version: '8.0', placement: { cluster: 'c1' }, topology: { mode: 'async', replicas: 3 } }))).toEqual([]);
  });

  it('names each bad field with a Kubernetes cause', () => {
    const causes = mysql.validate(svc({ version: 8, topology: { mode: 'ring', replicas: 12 }, storage: { size: true } }));
    const byField = Object.fromEntries(causes.map((c) => [c.field, c]));
    expect(byField['spec.version']).toMatchObject({ reason: 'FieldValueTypeInvalid' });
    expect(byField['spec.placement']).toMatchObject({ reason: 'FieldValueRequired', message: 'Required value' });
    expect(byField['spec.topology.mode']).toMatchObject({ reason: 'FieldValueNotSupported' });
    expect(byField['spec.topology.mode']!.message).toContain('"standalone", "async", "semisync"');
    expect(byField['spec.topology.replicas']).toMatchObject({ reason: 'FieldValueInvalid' });
    expect(byField['spec.storage.size']).toMatchObject({ reason: 'FieldValueTypeInvalid', message: 'Invalid value: true: must be an integer or a string' });
  });

  it('finds and prunes unknown fields, metadata included', () => {
    const obj = { ...svc({ version: '8.0', placement: { cluster: 'c', nope: 1 }, extra: { deep: 1 } }), metadata: { name: 'x', bogus: 1 }, top: 1 };
    expect(mysql.unknownFields(obj)).toEqual(['metadata.bogus', 'spec.placement.nope', 'spec.extra', 'top']);
    const pruned = mysql.prune(obj);
    expect(mysql.unknownFields(pruned)).toEqual([]);
    expect(pruned.spec).toEqual({ version: '8.0', placement: { cluster: 'c' } });
  });

  it('keeps map values declared by additionalProperties', () => {
    const obj = svc({ version: '8.0', placement: { cluster: 'c' }, options: { parameters: { max_connections: '500' } } });
    expect(mysql.unknownFields(obj)).toEqual([]);
  });

  it('validates list items and project name rules', () => {
    const p = { apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: 'Bad_Name' }, spec: { members: [{ name: 'a', role: 'owner' }] } };
    const fields = projects.validate(p).map((c) => c.field);
    expect(fields).toEqual(expect.arrayContaining(['metadata.name', 'spec.members[0].role']));
  });

  it('turns JSON pointers into field paths', () => {
    expect(fieldPath('/spec/members/0/role')).toBe('spec.members[0].role');
    expect(fieldPath('/metadata/annotations/a~1b')).toBe('metadata.annotations.a/b');
  });
});
