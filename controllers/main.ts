// The hub controllers as one process: `node controllers/main.ts [--kubeconfig FILE] [--health-port N]
// [--leader-elect]`. In a pod it uses its service account. Each controller lives in controllers/<name>/.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { EventRecorder } from '../lib/events.ts';
import { KubeClient } from '../lib/kube/client.ts';
import { newLogger } from '../lib/log.ts';
import { Manager, runUntilSignalled } from '../lib/manager.ts';
import { registerProjects } from './projects/register.ts';

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    'health-port': { type: 'string', default: '0' },
    'health-host': { type: 'string', default: '127.0.0.1' },
    'leader-elect': { type: 'boolean', default: false },
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
registerProjects(manager, new EventRecorder(client, COMPONENT, log));
await runUntilSignalled(manager);
