import { describe, expect, it } from '@jest/globals';
import { matchFields, matchLabels, parseFieldSelector, parseLabelSelector, SelectorError } from './selectors.ts';

describe('label selectors', () => {
  const labels = { app: 'db', tier: 'gold', 'upm.io/project': 'p1' };
  const matches = (s: string) => matchLabels(parseLabelSelector(s), labels);

  it('match equality, set and existence forms, ANDed by commas', () => {
    expect(matches('')).toBe(true);
    expect(matches('app=db')).toBe(true);
    expect(matches('app==db,tier=gold')).toBe(true);
    expect(matches('app!=db')).toBe(false);
    expect(matches('app!=web')).toBe(true);
    expect(matches('tier in (gold, silver)')).toBe(true);
    expect(matches('tier notin (gold)')).toBe(false);
    expect(matches('upm.io/project')).toBe(true);
    expect(matches('!missing,app')).toBe(true);
    expect(matches('missing')).toBe(false);
    expect(matches('app=db,tier=bronze')).toBe(false);
  });

  it('refuses malformed selectors with a message', () => {
    for (const bad of ['app=(', 'tier in (gold', '=x', 'a b c', 'app=' + 'x'.repeat(70), ',', 'a,,b']) {
      expect(() => parseLabelSelector(bad)).toThrow(SelectorError);
    }
  });
});

describe('field selectors', () => {
  it('parse =, == and != and match', () => {
    const reqs = parseFieldSelector('metadata.name=db,metadata.namespace!=other');
    expect(reqs).toEqual([{ field: 'metadata.name', op: '=', value: 'db' }, { field: 'metadata.namespace', op: '!=', value: 'other' }]);
    expect(matchFields(reqs, { 'metadata.name': 'db', 'metadata.namespace': 'p1' })).toBe(true);
    expect(matchFields(reqs, { 'metadata.name': 'db', 'metadata.namespace': 'other' })).toBe(false);
    expect(parseFieldSelector('metadata.name==x')[0]).toMatchObject({ op: '=', value: 'x' });
  });

  it('refuses a term without an operator', () => {
    expect(() => parseFieldSelector('metadata.name')).toThrow(SelectorError);
  });
});
