import { describe, expect, it } from '@jest/globals';
import { validateObjectMeta } from './objectmeta.ts';

describe('validateObjectMeta', () => {
  it('accepts ordinary metadata', () => {
    expect(validateObjectMeta({ name: 'db-1', labels: { 'app.kubernetes.io/name': 'db', tier: '' }, annotations: { 'upm.io/note': 'anything at all' } })).toEqual([]);
    expect(validateObjectMeta({ generateName: 'gen-' })).toEqual([]);
  });

  it('names each problem', () => {
    const fields = (m: Record<string, unknown>) => validateObjectMeta(m).map((c) => `${c.field}:${c.reason}`);
    expect(fields({})).toEqual(['metadata.name:FieldValueRequired']);
    expect(fields({ name: 'Not_A_Name' })).toEqual(['metadata.name:FieldValueInvalid']);
    expect(fields({ name: 'x'.repeat(254) })).toEqual(['metadata.name:FieldValueInvalid']);
    expect(fields({ name: 1 })).toEqual(['metadata.name:FieldValueTypeInvalid', 'metadata.name:FieldValueRequired']);
    expect(fields({ name: 'a', labels: { 'bad key!': 'v' } })).toEqual(['metadata.labels:FieldValueInvalid']);
    expect(fields({ name: 'a', labels: { a: 'v'.repeat(64) } })).toEqual(['metadata.labels:FieldValueInvalid']);
    expect(fields({ name: 'a', labels: { a: 1 } })).toEqual(['metadata.labels:FieldValueTypeInvalid']);
    expect(fields({ name: 'a', annotations: { a: 'v'.repeat(300 * 1024) } })).toEqual(['metadata.annotations:FieldValueTooLong']);
    expect(fields({ name: 'a', finalizers: 'x' })).toEqual(['metadata.finalizers:FieldValueTypeInvalid']);
  });
});
