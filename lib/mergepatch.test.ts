import { describe, expect, it } from '@jest/globals';
import { applyMergePatch, mergePatch } from './mergepatch.ts';

describe('mergePatch', () => {
  it('removes, at every depth, what the new object no longer has', () => {
    const from = { source: 'a', topology: { a: { role: 'Replica', masterHost: 'x:1' }, gone: { role: 'None' } }, switchover: { to: 'a' } };
    const to = { source: 'a', topology: { a: { role: 'Source' } } };
    expect(mergePatch(from, to)).toEqual({ topology: { a: { role: 'Source', masterHost: null }, gone: null }, switchover: null });
  });

  it('is undefined when nothing changed, and replaces arrays and scalars whole', () => {
    expect(mergePatch({ a: [1, 2], b: { c: 1 } }, { a: [1, 2], b: { c: 1 } })).toBeUndefined();
    expect(mergePatch({ a: [1, 2] }, { a: [2] })).toEqual({ a: [2] });
    expect(mergePatch({ a: { b: 1 } }, { a: 'x' })).toEqual({ a: 'x' });
    expect(mergePatch({}, { a: { b: 1 } })).toEqual({ a: { b: 1 } });
  });

  it('compares arrays of objects whatever the order of their keys (the API server sorts them)', () => {
    expect(mergePatch({ c: [{ type: 'Ready', status: 'True' }] }, { c: [{ status: 'True', type: 'Ready' }] })).toBeUndefined();
  });
});

describe('applyMergePatch', () => {
  it('undoes nothing mergePatch computed: applying the patch of from -> to gives to', () => {
    const from = { a: 1, m: { x: 'keep', y: 'drop' }, list: [1, 2], gone: true };
    const to = { a: 2, m: { x: 'keep', z: 'new' }, list: [3] };
    expect(applyMergePatch(from, mergePatch(from, to))).toEqual(to);
    expect(applyMergePatch({ a: 1 }, 'scalar')).toBe('scalar');
  });
});
