import { describe, expect, it } from '@jest/globals';
import { parseQuantity } from './quantity.ts';

describe('parseQuantity', () => {
  it('reads binary and decimal suffixes, plain numbers, and refuses the rest', () => {
    expect(parseQuantity('10Gi')).toBe(10 * 2 ** 30);
    expect(parseQuantity('500m')).toBe(0.5);
    expect(parseQuantity('1.5G')).toBe(1.5e9);
    expect(parseQuantity(2)).toBe(2);
    expect(parseQuantity('20Gi')! > parseQuantity('10G')!).toBe(true);
    expect(parseQuantity('ten')).toBeUndefined();
    expect(parseQuantity('10gb')).toBeUndefined();
    expect(parseQuantity(undefined)).toBeUndefined();
  });
});
