// The hub controllers as one process: `node controllers/main.ts [--kubeconfig FILE] [--health-port N]
// [--leader-elect] [--cluster-heartbeat-seconds 10] [--cluster-report-seconds 60] [--cluster-inventory-seconds 60]
// [--templates DIR]`.
// In a pod it uses its service account. Each controller lives in controllers/<name>/.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runUntilSignalled } from '../lib/manager.ts';
import { controllerProcess, MANAGER_FLAGS } from '../lib/process.ts';
import { engineTemplates } from '../lib/templates.ts';
import { registerClusters } from './clusters/register.ts';
import { registerOperations } from './operations/register.ts';
import { registerProjects } from './projects/register.ts';
import { registerServices } from './services/register.ts';

const { values } = parseArgs({
  options: {
    ...MANAGER_FLAGS,
    'cluster-heartbeat-seconds': { type: 'string', default: '10' },
    'cluster-report-seconds': { type: 'string', default: '60' },
    'cluster-inventory-seconds': { type: 'string', default: '60' },
    // The engine templates an Operation's steps consult (an upgrade's target, which parameters apply live).
    templates: { type: 'string', default: join(import.meta.dirname, '..', 'config', 'templates') },
  },
});

const COMPONENT = 'upm-hub-controllers';
const { manager, events } = await controllerProcess(COMPONENT, values);
registerProjects(manager, events);
const members = registerClusters(manager, events, {
  pace: { periodMs: Number(values['cluster-heartbeat-seconds']) * 1000 },
  reportMs: Number(values['cluster-report-seconds']) * 1000,
  inventoryMs: Number(values['cluster-inventory-seconds']) * 1000,
});
registerServices(manager, events, members);
registerOperations(manager, events, members, engineTemplates(values.templates));
await runUntilSignalled(manager);
