import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { appAccount, describeAcl, rootAcl, sameAcl } from './acl.ts';
import { OPEN_ACL, PERMS } from './client.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('the root znode ACL of the application account', () => {
  it('lets everyone read and the account (its digest, never its password) do everything', () => {
    const acl = rootAcl('upm_app', 'p:w');
    const digest = createHash('sha1').update('upm_app:p:w').digest('base64');
    expect(acl).toEqual([{ perms: PERMS.read, scheme: 'world', id: 'anyone' }, { perms: PERMS.all, scheme: 'digest', id: `upm_app:${digest}` }]);
    expect(JSON.stringify(acl)).not.toContain('p:w');
    expect(describeAcl(acl)).toBe('world:anyone read, digest:upm_app all');
    expect(describeAcl(OPEN_ACL)).toBe('world:anyone all');
    expect(describeAcl([{ perms: PERMS.read | PERMS.create, scheme: 'ip', id: '10.0.0.1' }])).toBe('ip:10.0.0.1 read+create');
  });

  it('compares entries in any order, and tells another password or other permissions apart', () => {
    const acl = rootAcl('upm_app', 'one');
    expect(sameAcl(acl, [...acl].reverse())).toBe(true);
    expect(sameAcl(acl, rootAcl('upm_app', 'two'))).toBe(false);
    expect(sameAcl(acl, OPEN_ACL)).toBe(false);
    expect(sameAcl(acl, acl.map((a) => ({ ...a, perms: PERMS.all })))).toBe(false);
    expect(sameAcl(acl, acl.slice(1))).toBe(false);
  });

  it('reads the account from the credentials Secret only when both its name and password are there', () => {
    expect(appAccount({ metadata: {}, data: { 'app-username': b64('upm_app'), 'app-password': b64('pw') } })).toEqual({ user: 'upm_app', password: 'pw' });
    expect(appAccount({ metadata: {}, data: { 'admin-username': b64('super'), 'admin-password': b64('pw') } })).toBeUndefined();
    expect(appAccount({ metadata: {}, data: { 'app-username': b64('upm_app') } })).toBeUndefined();
    expect(appAccount(undefined)).toBeUndefined();
  });
});
