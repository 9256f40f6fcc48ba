import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { generate, HEADER } from './codegen.ts';

describe('generated API types', () => {
  it('are current with crds/ (run `node hack/codegen.ts` after changing a CRD)', async () => {
    const files = await generate();
    expect(files.size).toBeGreaterThan(0);
    for (const [path, content] of files) {
      expect(content.startsWith(HEADER)).toBe(true);
      expect(readFileSync(join(import.meta.dirname, '..', path), 'utf8')).toBe(content);
    }
  });
});
