// The hub's aggregated API server as a process:
//   node apiserver/main.ts --kubeconfig FILE --tls-cert-file F --tls-private-key-file F [--port 8443] [--host H]
//     [--http2] [--credentials-namespace upm-system] [--user-write-qps 20] [--user-write-burst 100]
//     [--operationlog-retention 720h,10000] [--operationlog-sweep-seconds 300]
//     [--max-watches-per-user 100] [--max-watches 5000] [--watch-max-buffered-bytes 1048576] [--watch-stall-seconds 10]
//     [--token-review-qps 20] [--token-review-burst 100] [--token-review-max-inflight 20] [--token-cache-size 10000]
//     [--request-body-timeout-seconds 60]
// Every flag is read and checked in flags.ts; a bad one exits with status 2 and a message naming it. In a pod it uses
// its service account (no --kubeconfig). SIGTERM/SIGINT close it cleanly (watches end, queued
// OperationLogs are written).
import { readFileSync } from 'node:fs';
import { flagsOrExit } from '../lib/flags.ts';
import { KubeClient } from '../lib/kube/client.ts';
import { newLogger } from '../lib/log.ts';
import { parseServerFlags } from './flags.ts';
import { ApiServer } from './server.ts';
import { engineTemplates } from './templates.ts';

const log = newLogger({ component: 'upm-apiserver' });
const flags = flagsOrExit(() => parseServerFlags(process.argv.slice(2)));
const storage = flags.kubeconfig ? await KubeClient.fromKubeconfig(flags.kubeconfig) : await KubeClient.inCluster();
const server = new ApiServer({
  ...flags.options,
  storage,
  tlsCert: readFileSync(flags.tlsCertFile, 'utf8'),
  tlsKey: readFileSync(flags.tlsKeyFile, 'utf8'),
  engineTemplates: engineTemplates(flags.templates),
  logger: log,
});
const port = await server.start();
log.info({ port, templates: flags.templates }, 'upm-apiserver started');

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
