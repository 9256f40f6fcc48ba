import { describe, expect, it } from '@jest/globals';
import { translatePatch } from './rest.ts';
import { ApiError } from './status.ts';
import { humanAge } from './resources/types.ts';

describe('translatePatch', () => {
  it('turns public apiVersions into storage ones and refuses type changes', () => {
    expect(translatePatch('merge', { apiVersion: 'upm.io/v1alpha1', spec: { a: 1 } }, 'Project')).toEqual({ apiVersion: 'internal.upm.io/v1alpha1', spec: { a: 1 } });
    expect(() => translatePatch('merge', { kind: 'Pod' }, 'Project')).toThrow(ApiError);
    expect(() => translatePatch('merge', { apiVersion: null }, 'Project')).toThrow(ApiError);
    expect(translatePatch('json', [{ op: 'test', path: '/apiVersion', value: 'upm.io/v1alpha1' }], 'Project')).toEqual([{ op: 'test', path: '/apiVersion', value: 'internal.upm.io/v1alpha1' }]);
    expect(() => translatePatch('json', [{ op: 'remove', path: '/kind' }], 'Project')).toThrow(ApiError);
    expect(() => translatePatch('json', [{ op: 'move', from: '/apiVersion', path: '/spec/x' }], 'Project')).toThrow(ApiError);
  });

  it('checks an apply patch as the kube-apiserver does', () => {
    expect(translatePatch('apply', { apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: 'p' } }, 'Project')).toMatchObject({ apiVersion: 'internal.upm.io/v1alpha1' });
    try { translatePatch('apply', { apiVersion: 'v1', kind: 'Project' }, 'Project'); } catch (e) { expect((e as ApiError).status.message).toContain('Incorrect version specified in apply patch'); }
    expect(() => translatePatch('apply', { apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { managedFields: [] } }, 'Project')).toThrow('metadata.managedFields must be nil');
  });
});

describe('humanAge', () => {
  it('prints ages as kubectl does for built-in resources', () => {
    const now = Date.parse('2026-01-10T00:00:00Z');
    const ago = (s: number) => new Date(now - s * 1000).toISOString();
    expect(humanAge(ago(5), now)).toBe('5s');
    expect(humanAge(ago(150), now)).toBe('2m30s');
    expect(humanAge(ago(600), now)).toBe('10m');
    expect(humanAge(ago(3 * 3600 + 1800), now)).toBe('3h30m');
    expect(humanAge(ago(30 * 3600), now)).toBe('30h');
    expect(humanAge(ago(3 * 86400 + 3600), now)).toBe('3d1h');
    expect(humanAge(ago(40 * 86400), now)).toBe('40d');
    expect(humanAge(undefined, now)).toBe('<unknown>');
  });
});
