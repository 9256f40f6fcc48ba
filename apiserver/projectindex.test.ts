import { describe, expect, it } from '@jest/globals';
import type { Entry } from './cache.ts';
import { ProjectIndex, roleOf } from './projectindex.ts';
import type { PublicObject } from './resources/types.ts';

const project = (name: string, members: { kind?: string; name: string; role: string }[]): Entry => {
  const obj = { apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name }, spec: { members } } as PublicObject;
  return { key: name, obj, json: JSON.stringify(obj), rv: 1 };
};
const alice = { name: 'alice', groups: ['devs', 'system:authenticated'], extra: {} };

describe('ProjectIndex', () => {
  it('answers which projects a user belongs to, directly or by group, and follows changes', () => {
    const idx = new ProjectIndex();
    const a = project('a', [{ name: 'alice', role: 'admin' }]);
    const b = project('b', [{ kind: 'Group', name: 'devs', role: 'viewer' }]);
    const c = project('c', [{ name: 'bob', role: 'admin' }]);
    idx.reset([a, b, c]);
    expect([...idx.projectsOf(alice)].sort()).toEqual(['a', 'b']);
    const c2 = project('c', [{ name: 'bob', role: 'admin' }, { name: 'alice', role: 'editor' }]);
    idx.change(c, c2);
    expect([...idx.projectsOf(alice)].sort()).toEqual(['a', 'b', 'c']);
    idx.change(a, undefined);
    expect([...idx.projectsOf(alice)].sort()).toEqual(['b', 'c']);
    expect(idx.roleIn('c', alice)).toBe('editor');
    expect(idx.roleIn('a', alice)).toBeUndefined();
  });

  it('takes the strongest of a user\'s direct and group roles', () => {
    const p = project('p', [{ name: 'alice', role: 'viewer' }, { kind: 'Group', name: 'devs', role: 'admin' }]).obj;
    expect(roleOf(p, alice)).toBe('admin');
    expect(roleOf(p, { name: 'devs', groups: [], extra: {} })).toBeUndefined(); // a user named like a group is not in it
  });
});
