// The hub's aggregated API server as a process:
//   node apiserver/main.ts --kubeconfig FILE --tls-cert-file F --tls-private-key-file F [--port 8443] [--host H]
//     [--http2] [--credentials-namespace upm-system] [--user-write-qps 20] [--user-write-burst 100]
//     [--operationlog-retention 720h,10000] [--operationlog-sweep-seconds 300]
//     [--max-watches-per-user 100] [--max-watches 5000] [--watch-max-buffered-bytes 1048576] [--watch-stall-seconds 10]
//     [--token-review-qps 20] [--token-review-burst 100] [--token-review-max-inflight 20] [--token-cache-size 10000]
//     [--request-body-timeout-seconds 60]
// In a pod it uses its service account (no --kubeconfig). SIGTERM/SIGINT close it cleanly (watches end, queued
// OperationLogs are written).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KubeClient } from '../lib/kube/client.ts';
import { newLogger } from '../lib/log.ts';
import { parseRetention } from './retention.ts';
import { ApiServer } from './server.ts';
import { engineTemplates } from './templates.ts';

const { values } = parseArgs({
  options: {
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
  },
});

const log = newLogger({ component: 'upm-apiserver' });
if (!values['tls-cert-file'] || !values['tls-private-key-file']) {
  log.error('--tls-cert-file and --tls-private-key-file are required');
  process.exit(2);
}
const storage = values.kubeconfig ? await KubeClient.fromKubeconfig(values.kubeconfig) : await KubeClient.inCluster();
const server = new ApiServer({
  storage,
  host: values.host,
  port: Number(values.port),
  tlsCert: readFileSync(values['tls-cert-file'], 'utf8'),
  tlsKey: readFileSync(values['tls-private-key-file'], 'utf8'),
  engineTemplates: engineTemplates(values.templates),
  tokenReview: values['token-review'],
  bookmarkIntervalMs: Number(values['bookmark-interval-seconds']) * 1000,
  maxInflight: Number(values['max-inflight']),
  http2: values.http2,
  credentialsNamespace: values['credentials-namespace'],
  userWriteLimit: { qps: Number(values['user-write-qps']), burst: Number(values['user-write-burst']) },
  operationLogRetention: parseRetention(values['operationlog-retention']),
  retentionIntervalMs: Number(values['operationlog-sweep-seconds']) * 1000,
  maxWatchesPerUser: Number(values['max-watches-per-user']),
  maxWatches: Number(values['max-watches']),
  watchBuffer: { maxBufferedBytes: Number(values['watch-max-buffered-bytes']), stallMs: Number(values['watch-stall-seconds']) * 1000 },
  tokenReviewLimits: {
    qps: Number(values['token-review-qps']), burst: Number(values['token-review-burst']),
    maxInflight: Number(values['token-review-max-inflight']), cacheSize: Number(values['token-cache-size']),
  },
  requestBodyTimeoutMs: Number(values['request-body-timeout-seconds']) * 1000,
  logger: log,
});
const port = await server.start();
log.info({ port, templates: values.templates }, 'upm-apiserver started');

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  await server.close();
  await storage.close();
  process.exit(0);
};
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
