// The hub controllers as one process: `node controllers/main.ts [--kubeconfig FILE] [--health-port N]
// [--leader-elect] [--cluster-stale-seconds 20] [--cluster-report-seconds 60] [--templates DIR]`.
// In a pod it uses its service account. Each controller lives in controllers/<name>/.
import { flagsOrExit } from '../lib/flags.ts';
import { runUntilSignalled } from '../lib/manager.ts';
import { controllerProcess } from '../lib/process.ts';
import { engineTemplates } from '../lib/templates.ts';
import { registerClusters } from './clusters/register.ts';
import { registerOperations } from './operations/register.ts';
import { parseControllerFlags } from './flags.ts';
import { registerProjects } from './projects/register.ts';
import { registerServices } from './services/register.ts';

const flags = flagsOrExit(() => parseControllerFlags(process.argv.slice(2)));

const COMPONENT = 'upm-hub-controllers';
const { manager, events } = await controllerProcess(COMPONENT, flags.manager);
registerProjects(manager, events);
const members = registerClusters(manager, events, { staleMs: flags.clusters.staleMs, reportMs: flags.clusters.reportMs });
registerServices(manager, events, members);
registerOperations(manager, events, members, engineTemplates(flags.templates));
await runUntilSignalled(manager);
