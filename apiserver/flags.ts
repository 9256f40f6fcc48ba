// The API server's command line, read into its options as a pure function (main.ts only reads files and starts the
// server): every numeric flag is checked (lib/flags.ts), so a typo stops the process with a message naming the
// flag rather than leaving a limit at NaN, which would disable it.
import { join } from 'node:path';
import { FlagError, numberFlag, parseFlags, PORT, POSITIVE_INT, SECONDS } from '../lib/flags.ts';
import { parseRetention } from './retention.ts';
import type { ApiServerOptions } from './server.ts';

const OPTIONS = {
  kubeconfig: { type: 'string' },
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '8443' },
  'tls-cert-file': { type: 'string' },
  'tls-private-key-file': { type: 'string' },
  templates: { type: 'string', default: join(import.meta.dirname, '..', 'config', 'templates') },
  'token-review': { type: 'boolean', default: false },
  'bookmark-interval-seconds': { type: 'string', default: '60' },
  'max-inflight': { type: 'string', default: '400' },
  // Off by default: Node's HTTP/2 server ends a whole session (every watch on it) with ENHANCE_YOUR_CALM when a
  // client keeps sending request bodies the server answered early (401, 403, 413, 422 before the body was read).
  http2: { type: 'boolean', default: false },
  'credentials-namespace': { type: 'string', default: 'upm-system' },
  // Mutating requests per user and second (token bucket); over it, 429 with Retry-After.
  'user-write-qps': { type: 'string', default: '20' },
  'user-write-burst': { type: 'string', default: '100' },
  // OperationLogs kept per namespace: <max age>,<max count> (0 disables either), swept every N seconds.
  'operationlog-retention': { type: 'string', default: '720h,10000' },
  'operationlog-sweep-seconds': { type: 'string', default: '300' },
  // Concurrent watches per user (system:masters exempt) and overall; beyond them 429 with Retry-After.
  'max-watches-per-user': { type: 'string', default: '100' },
  'max-watches': { type: 'string', default: '5000' },
  // A watch whose client leaves more than this unread for longer than the stall time is ended.
  'watch-max-buffered-bytes': { type: 'string', default: String(1024 * 1024) },
  'watch-stall-seconds': { type: 'string', default: '10' },
  // TokenReviews (with --token-review): per second, burst, at once; beyond them 429. Answers cached (LRU).
  'token-review-qps': { type: 'string', default: '20' },
  'token-review-burst': { type: 'string', default: '100' },
  'token-review-max-inflight': { type: 'string', default: '20' },
  'token-cache-size': { type: 'string', default: '10000' },
  // The time a request body may take to arrive; then 408 and the connection is closed.
  'request-body-timeout-seconds': { type: 'string', default: '60' },
} as const;

/** What the command line gives the server, and the files main.ts reads for it. */
export interface ServerFlags {
  kubeconfig?: string;
  tlsCertFile: string;
  tlsKeyFile: string;
  templates: string;
  options: Omit<ApiServerOptions, 'storage' | 'tlsCert' | 'tlsKey' | 'engineTemplates' | 'logger'>;
}

/** Reads the arguments (without node and the script); throws FlagError naming the first bad flag. */
export function parseServerFlags(args: string[]): ServerFlags {
  const values = parseFlags(args, OPTIONS);
  const num = (name: keyof typeof OPTIONS, rule: Parameters<typeof numberFlag>[2]) => numberFlag(name, values[name] as string, rule);
  const seconds = (name: keyof typeof OPTIONS) => num(name, SECONDS) * 1000;
  if (!values['tls-cert-file'] || !values['tls-private-key-file']) throw new FlagError('--tls-cert-file and --tls-private-key-file are required');
  let operationLogRetention;
  try {
    operationLogRetention = parseRetention(values['operationlog-retention']);
  } catch (err) {
    throw new FlagError((err as Error).message);
  }
  return {
    kubeconfig: values.kubeconfig,
    tlsCertFile: values['tls-cert-file'],
    tlsKeyFile: values['tls-private-key-file'],
    templates: values.templates,
    options: {
      host: values.host,
      port: num('port', PORT),
      tokenReview: values['token-review'],
      bookmarkIntervalMs: seconds('bookmark-interval-seconds'),
      maxInflight: num('max-inflight', POSITIVE_INT),
      http2: values.http2,
      credentialsNamespace: values['credentials-namespace'],
      userWriteLimit: { qps: num('user-write-qps', { above: 0, max: 1e6 }), burst: num('user-write-burst', POSITIVE_INT) },
      operationLogRetention,
      retentionIntervalMs: seconds('operationlog-sweep-seconds'),
      maxWatchesPerUser: num('max-watches-per-user', POSITIVE_INT),
      maxWatches: num('max-watches', POSITIVE_INT),
      watchBuffer: { maxBufferedBytes: num('watch-max-buffered-bytes', POSITIVE_INT), stallMs: seconds('watch-stall-seconds') },
      tokenReviewLimits: {
        qps: num('token-review-qps', { above: 0, max: 1e6 }), burst: num('token-review-burst', POSITIVE_INT),
        maxInflight: num('token-review-max-inflight', POSITIVE_INT), cacheSize: num('token-cache-size', POSITIVE_INT),
      },
      requestBodyTimeoutMs: seconds('request-body-timeout-seconds'),
    },
  };
}
