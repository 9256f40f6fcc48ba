import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { generate, SERVICE_CRD_HEADER } from './service-crds.ts';

describe('the data service CRDs', () => {
  it('are current with apiserver/resources/service-kinds.ts (run `node hack/service-crds.ts` after changing it)', () => {
    const files = generate();
    expect(files.size).toBe(6);
    for (const [path, content] of files) {
      expect(content.startsWith(SERVICE_CRD_HEADER)).toBe(true);
      expect(readFileSync(join(import.meta.dirname, '..', path), 'utf8')).toBe(content);
    }
  });
});
