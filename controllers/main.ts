// The hub controllers as one process: `node controllers/main.ts [--kubeconfig FILE] [--health-port N]
// [--leader-elect] [--cluster-heartbeat-seconds 10] [--cluster-report-seconds 60]`. In a pod it uses its service
// account. Each controller lives in controllers/<name>/.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { EventRecorder } from '../lib/events.ts';
import { KubeClient } from '../lib/kube/client.ts';
import { newLogger } from '../lib/log.ts';
import { Manager, runUntilSignalled } from '../lib/manager.ts';
import { registerClusters } from './clusters/register.ts';
import { registerProjects } from './projects/register.ts';

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    'health-port': { type: 'string', default: '0' },
    'health-host': { type: 'string', default: '127.0.0.1' },
    'leader-elect': { type: 'boolean', default: false },
    'cluster-heartbeat-seconds': { type: 'string', default: '10' },
    'cluster-report-seconds': { type: 'string', default: '60' },
  },
});

const COMPONENT = 'upm-hub-controllers';
const log = newLogger({ component: COMPONENT });
const client = values.kubeconfig || !process.env.KUBERNETES_SERVICE_HOST ? await KubeClient.fromKubeconfig(values.kubeconfig) : await KubeClient.inCluster();
const manager = new Manager({
  client,
  logger: log,
  health: { host: values['health-host'], port: Number(values['health-port']) },
  leaderElection: values['leader-elect'] ? { namespace: 'upm-system', name: COMPONENT, identity: `${hostname()}-${process.pid}` } : undefined,
});
manager.metrics.withProcessMetrics();
const events = new EventRecorder(client, COMPONENT, log);
registerProjects(manager, events);
registerClusters(manager, events, {
  pace: { periodMs: Number(values['cluster-heartbeat-seconds']) * 1000 },
  reportMs: Number(values['cluster-report-seconds']) * 1000,
});
await runUntilSignalled(manager);
