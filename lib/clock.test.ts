import { describe, expect, it } from '@jest/globals';
import { FakeClock, realClock } from './clock.ts';

describe('clocks', () => {
  it('a fake clock stands still until set or stepped, and never runs backwards', () => {
    const c = new FakeClock('2030-01-01T00:00:00Z');
    const first = c.now();
    first.setFullYear(1999); // callers get a copy, not the clock's own time
    expect(c.now().toISOString()).toBe('2030-01-01T00:00:00.000Z');
    expect(c.step(1500).toISOString()).toBe('2030-01-01T00:00:01.500Z');
    c.set('2031-06-01T12:00:00Z');
    expect(c.now().toISOString()).toBe('2031-06-01T12:00:00.000Z');
    expect(() => c.step(-1)).toThrow(/only moves forward/);
  });

  it('the real clock reads the system time', () => {
    const before = Date.now();
    const t = realClock.now().getTime();
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(Date.now());
  });
});
