import { describe, expect, it } from '@jest/globals';
import { FlagError, MAX_TIMER_SECONDS, numberFlag, PORT, POSITIVE_INT, SECONDS } from './flags.ts';

describe('numberFlag', () => {
  it('takes plain decimals within the rule', () => {
    expect(numberFlag('max-watches', '5000', POSITIVE_INT)).toBe(5000);
    expect(numberFlag('watch-stall-seconds', '0.5', SECONDS)).toBe(0.5);
    expect(numberFlag('watch-stall-seconds', ' 10 ', SECONDS)).toBe(10);
    expect(numberFlag('port', '0', PORT)).toBe(0);
    expect(numberFlag('max-watches', '1e3', POSITIVE_INT)).toBe(1000);
  });

  it.each([
    ['typo', '10O', 'want an integer at least 1'],
    ['empty', '', 'want an integer at least 1'],
    ['blank', '  ', 'want an integer at least 1'],
    ['hex', '0x10', 'want an integer at least 1'],
    ['Infinity', 'Infinity', 'want an integer at least 1'],
    ['NaN', 'NaN', 'want an integer at least 1'],
    ['overflow', '1e400', 'want an integer at least 1'],
    ['a fraction where a count is wanted', '2.5', 'want an integer at least 1'],
    ['beyond safe integers', '9007199254740993', 'want an integer at least 1'],
    ['zero', '0', 'out of range: want an integer at least 1'],
    ['negative', '-3', 'out of range: want an integer at least 1'],
  ])('refuses %s, naming the flag', (_what, raw, why) => {
    expect(() => numberFlag('max-watches', raw, POSITIVE_INT)).toThrow(new FlagError(`--max-watches: ${JSON.stringify(raw)} is not valid: ${why} and at most ${Number.MAX_SAFE_INTEGER}`));
  });

  it('refuses intervals of zero and beyond what a timer holds, and ports out of range', () => {
    expect(() => numberFlag('watch-stall-seconds', '0', SECONDS)).toThrow('--watch-stall-seconds: "0" is not valid: out of range: want a number greater than 0');
    expect(() => numberFlag('watch-stall-seconds', String(MAX_TIMER_SECONDS + 1), SECONDS)).toThrow(`at most ${MAX_TIMER_SECONDS}`);
    expect(numberFlag('watch-stall-seconds', String(MAX_TIMER_SECONDS), SECONDS)).toBe(MAX_TIMER_SECONDS);
    expect(() => numberFlag('port', '65536', PORT)).toThrow('--port: "65536" is not valid: out of range: want an integer at least 0 and at most 65535');
    expect(() => numberFlag('port', undefined, PORT)).toThrow('--port: "" is not valid');
  });
});
