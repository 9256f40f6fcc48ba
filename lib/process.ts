// What every controller process (the Unit Operator, the Compose Operator, the hub controllers) does before it
// registers its controllers: the same flags, a client from the kubeconfig or the pod's service account, a Manager
// with health and metrics, optional leader election, and an event recorder.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { EventRecorder } from './events.ts';
import { flagsOrExit, numberFlag, PORT } from './flags.ts';
import { KubeClient } from './kube/client.ts';
import { newLogger } from './log.ts';
import { Manager } from './manager.ts';

/** The flags every controller process takes; spread into its parseArgs options beside its own. */
export const MANAGER_FLAGS = {
  kubeconfig: { type: 'string' },
  'health-port': { type: 'string', default: '0' },
  'health-host': { type: 'string', default: '127.0.0.1' },
  'leader-elect': { type: 'boolean', default: false },
  'lease-namespace': { type: 'string', default: 'upm-system' },
} as const;

export interface ManagerFlagValues {
  kubeconfig?: string;
  'health-port': string;
  'health-host': string;
  'leader-elect': boolean;
  'lease-namespace': string;
  /** A process watching one namespace keeps its lease there. */
  namespace?: string;
}

export interface ControllerProcess { log: Logger; client: KubeClient; manager: Manager; events: EventRecorder }

export async function controllerProcess(component: string, flags: ManagerFlagValues): Promise<ControllerProcess> {
  const healthPort = flagsOrExit(() => numberFlag('health-port', flags['health-port'], PORT));
  const log = newLogger({ component });
  const client = flags.kubeconfig || !process.env.KUBERNETES_SERVICE_HOST ? await KubeClient.fromKubeconfig(flags.kubeconfig) : await KubeClient.inCluster();
  const manager = new Manager({
    client,
    logger: log,
    health: { host: flags['health-host'], port: healthPort },
    leaderElection: flags['leader-elect']
      ? { namespace: flags.namespace ?? flags['lease-namespace'], name: component, identity: `${hostname()}-${process.pid}` }
      : undefined,
  });
  manager.metrics.withProcessMetrics();
  return { log, client, manager, events: new EventRecorder(client, component, log) };
}
