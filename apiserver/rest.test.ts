import { describe, expect, it } from '@jest/globals';
import { translatePatch } from './rest.ts';
import { ApiError } from './status.ts';
import { humanAge } from './resources/types.ts';
import { publicStatus } from './translate.ts';

const project = { kind: 'Project', plural: 'projects', singular: 'project' };
const mysql = { kind: 'MysqlService', plural: 'mysqlservices', singular: 'mysqlservice' };

describe('translatePatch', () => {
  it('turns public apiVersions into storage ones and refuses type changes', () => {
    expect(translatePatch('merge', { apiVersion: 'upm.io/v1alpha1', spec: { a: 1 } }, project)).toEqual({ apiVersion: 'internal.upm.io/v1alpha1', spec: { a: 1 } });
    expect(() => translatePatch('merge', { kind: 'Pod' }, project)).toThrow(ApiError);
    expect(() => translatePatch('merge', { apiVersion: null }, project)).toThrow(ApiError);
    expect(translatePatch('json', [{ op: 'test', path: '/apiVersion', value: 'upm.io/v1alpha1' }], project)).toEqual([{ op: 'test', path: '/apiVersion', value: 'internal.upm.io/v1alpha1' }]);
    expect(translatePatch('json', [{ op: 'test', path: '/kind', value: 'Project' }], project)).toEqual([{ op: 'test', path: '/kind', value: 'ProjectRecord' }]);
    expect(translatePatch('merge', { kind: 'Project' }, project)).toEqual({ kind: 'ProjectRecord' });
    expect(() => translatePatch('json', [{ op: 'remove', path: '/kind' }], project)).toThrow(ApiError);
    expect(() => translatePatch('json', [{ op: 'move', from: '/apiVersion', path: '/spec/x' }], project)).toThrow(ApiError);
  });

  it('checks an apply patch as the kube-apiserver does', () => {
    expect(translatePatch('apply', { apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: 'p' } }, project)).toMatchObject({ apiVersion: 'internal.upm.io/v1alpha1', kind: 'ProjectRecord' });
    try { translatePatch('apply', { apiVersion: 'v1', kind: 'Project' }, project); } catch (e) { expect((e as ApiError).status.message).toContain('Incorrect version specified in apply patch'); }
    expect(() => translatePatch('apply', { apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { managedFields: [] } }, project)).toThrow('metadata.managedFields must be nil');
  });
});

describe('publicStatus', () => {
  it('rewords the storage resource and kind as the public ones', () => {
    const notFound = publicStatus({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404, reason: 'NotFound', message: 'mysqlservicerecords.internal.upm.io "db" not found', details: { name: 'db', group: 'internal.upm.io', kind: 'mysqlservicerecords' } }, mysql);
    expect(notFound.message).toBe('mysqlservices.upm.io "db" not found');
    expect(notFound.details).toEqual({ name: 'db', group: 'upm.io', kind: 'mysqlservices' });
    const invalid = publicStatus({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 422, reason: 'Invalid', message: 'MysqlServiceRecord.internal.upm.io "db" is invalid: spec.version: Required value', details: { name: 'db', group: 'internal.upm.io', kind: 'MysqlServiceRecord', causes: [{ reason: 'FieldValueRequired', field: 'spec.version', message: 'Required value' }] } }, mysql);
    expect(invalid.message).toBe('MysqlService.upm.io "db" is invalid: spec.version: Required value');
    expect(invalid.details).toMatchObject({ group: 'upm.io', kind: 'MysqlService', causes: [{ field: 'spec.version' }] });
    const forbidden = publicStatus({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 403, reason: 'Forbidden', message: 'mysqlservicerecords.internal.upm.io is forbidden: User "u" cannot create resource "mysqlservicerecords" in API group "internal.upm.io"' }, mysql);
    expect(forbidden.message).toBe('mysqlservices.upm.io is forbidden: User "u" cannot create resource "mysqlservices" in API group "upm.io"');
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
