import { describe, expect, it } from '@jest/globals';
import { decodeObject, decodePatch, MAX_NESTING, nestingDepth } from './body.ts';
import { ApiError } from './status.ts';

const deep = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);

describe('request bodies nested too deeply', () => {
  it('counts nesting without recursion, however deep', () => {
    expect(nestingDepth(1)).toBe(0);
    expect(nestingDepth({ a: [1, { b: 2 }] })).toBe(3);
    expect(nestingDepth(JSON.parse(deep(200_000)))).toBe(200_000);
  });

  it('refuses them with 400 as JSON, YAML and patches; takes what any object needs', () => {
    for (const decode of [
      () => decodeObject(Buffer.from(deep(100_000)), 'application/json'),
      () => decodeObject(Buffer.from(`a: ${'['.repeat(MAX_NESTING + 1)}${']'.repeat(MAX_NESTING + 1)}`), 'application/yaml'),
      () => decodePatch(Buffer.from(deep(MAX_NESTING + 1)), 'application/merge-patch+json'),
    ]) {
      let err: unknown;
      try { decode(); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).status).toMatchObject({ code: 400, reason: 'BadRequest' });
      expect((err as ApiError).status.message).toContain(`nested more than ${MAX_NESTING} levels deep`);
    }
    expect(decodeObject(Buffer.from(deep(MAX_NESTING)), 'application/json')).toBeTruthy();
  });
});
