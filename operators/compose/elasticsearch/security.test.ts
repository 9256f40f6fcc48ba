import { describe, expect, it } from '@jest/globals';
import { appRole, appUser, roleSettled } from './security.ts';

describe('the OpenSearch application account', () => {
  it('has data rights on indices not starting with "." and the cluster-level data calls only', () => {
    const role = appRole();
    expect(role.cluster_permissions).toEqual(['cluster_composite_ops']);
    expect(role.index_permissions).toHaveLength(1);
    const [perm] = role.index_permissions;
    expect(perm?.index_patterns).toEqual(['/[^.].*/']);
    // The pattern is a Java regular expression matched against the whole name: system and hidden indices are out.
    const re = new RegExp(`^(?:${(perm?.index_patterns[0] ?? '').slice(1, -1)})$`);
    expect(['orders', 'logs-2026', 'a'].every((n) => re.test(n))).toBe(true);
    expect(['.opendistro_security', '.kibana', '.tasks'].some((n) => re.test(n))).toBe(false);
    // Nothing on cluster settings, security, snapshots or index-wide administration beyond create and delete.
    const all = [...role.cluster_permissions, ...(perm?.allowed_actions ?? [])].join(' ');
    expect(all).not.toMatch(/cluster:admin|all_access|manage_snapshots|cluster_all|indices_all|security|restapi|unlimited|indices:admin\/\*/);
  });

  it('is the role named as the user, the password hashed by the engine, never a hash of ours', () => {
    const doc = appUser('upm_app', 'p"\\\n€$x');
    expect(doc).toEqual({ password: 'p"\\\n€$x', opendistro_security_roles: ['upm_app'], description: expect.any(String) });
    // JSON carries every character of a hostile password through unchanged.
    expect(JSON.parse(JSON.stringify(doc)).password).toBe('p"\\\n€$x');
  });

  it('is settled only when the permissions are those wanted, in any order, whatever the description', () => {
    const want = appRole();
    expect(roleSettled(undefined, want)).toBe(false);
    expect(roleSettled({ ...want, description: 'changed by hand' }, want)).toBe(true);
    const perm = want.index_permissions[0];
    expect(roleSettled({ ...want, index_permissions: [{ index_patterns: ['/[^.].*/'], allowed_actions: [...(perm?.allowed_actions ?? [])].reverse() }] }, want)).toBe(true);
    expect(roleSettled({ ...want, cluster_permissions: ['cluster_composite_ops', 'cluster_all'] }, want)).toBe(false);
    expect(roleSettled({ ...want, index_permissions: [{ index_patterns: ['*'], allowed_actions: perm?.allowed_actions ?? [] }] }, want)).toBe(false);
  });
});
