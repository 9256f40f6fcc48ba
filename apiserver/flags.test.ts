import { describe, expect, it } from '@jest/globals';
import { FlagError } from '../lib/flags.ts';
import { parseServerFlags } from './flags.ts';

const TLS = ['--tls-cert-file', 'c.pem', '--tls-private-key-file', 'k.pem'];

describe('parseServerFlags', () => {
  it('gives the documented defaults', () => {
    const f = parseServerFlags(TLS);
    expect(f.tlsCertFile).toBe('c.pem');
    expect(f.options).toMatchObject({
      host: '127.0.0.1', port: 8443, bookmarkIntervalMs: 60_000, maxInflight: 400, userWriteLimit: { qps: 20, burst: 100 },
      operationLogRetention: { maxAgeMs: 720 * 3_600_000, maxCount: 10_000 }, retentionIntervalMs: 300_000,
      maxWatchesPerUser: 100, maxWatches: 5000, watchBuffer: { maxBufferedBytes: 1024 * 1024, stallMs: 10_000 },
      tokenReviewLimits: { qps: 20, burst: 100, maxInflight: 20, cacheSize: 10_000 }, requestBodyTimeoutMs: 60_000,
    });
  });

  it('reads each numeric flag', () => {
    const f = parseServerFlags([...TLS, '--watch-max-buffered-bytes', '4096', '--watch-stall-seconds', '1.5', '--max-watches=7', '--port', '0', '--user-write-qps', '0.5']);
    expect(f.options.watchBuffer).toEqual({ maxBufferedBytes: 4096, stallMs: 1500 });
    expect(f.options.maxWatches).toBe(7);
    expect(f.options.port).toBe(0);
    expect(f.options.userWriteLimit?.qps).toBe(0.5);
  });

  // Every numeric flag: a typo is refused with the flag's name, never NaN.
  it.each([
    'port', 'bookmark-interval-seconds', 'max-inflight', 'user-write-qps', 'user-write-burst', 'operationlog-sweep-seconds',
    'max-watches-per-user', 'max-watches', 'watch-max-buffered-bytes', 'watch-stall-seconds', 'token-review-qps',
    'token-review-burst', 'token-review-max-inflight', 'token-cache-size', 'request-body-timeout-seconds',
  ])('refuses a typo in --%s', (flag) => {
    expect(() => parseServerFlags([...TLS, `--${flag}`, '1O'])).toThrow(new RegExp(`^--${flag}: "1O" is not valid: want `));
    expect(() => parseServerFlags([...TLS, `--${flag}=-1`])).toThrow(new RegExp(`^--${flag}: "-1" is not valid: out of range`));
  });

  it('refuses a fraction where a count is wanted, a bad retention, an unknown flag, missing TLS files', () => {
    expect(() => parseServerFlags([...TLS, '--max-watches', '2.5'])).toThrow('--max-watches: "2.5" is not valid: want an integer');
    expect(() => parseServerFlags([...TLS, '--operationlog-retention', '720h,lots'])).toThrow('--operationlog-retention: "720h,lots" is not <age>,<count>');
    expect(() => parseServerFlags([...TLS, '--max-watch', '5'])).toThrow(FlagError);
    expect(() => parseServerFlags([...TLS, '--max-watch', '5'])).toThrow("Unknown option '--max-watch'");
    expect(() => parseServerFlags([])).toThrow('--tls-cert-file and --tls-private-key-file are required');
  });
});
