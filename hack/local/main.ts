// `npm start`: starts the local UPM system in the foreground (etcd, a management cluster and two member clusters
// with fake nodes) and stops every process on Ctrl-C. A second invocation while one runs reports it and exits.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileLogger } from '../../lib/log.ts';
import { installEngine, startOperator } from './engine.ts';
import { LocalHub } from './hub.ts';
import { EngineRuntime } from './runtime.ts';
import type { ManagedProcess } from './process.ts';
import { LocalSystem } from './system.ts';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    fresh: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log(`usage: npm start [-- --dir DIR] [-- --fresh]
Starts the local UPM system and keeps it running until Ctrl-C.
  --dir DIR   where state, kubeconfigs and logs live (default: $UPM_STATE_DIR or ~/.local/state/upm/local)
  --fresh     discard the state of earlier runs (etcd data, certificates) first`);
  process.exit(0);
}

const stateRoot = process.env.UPM_STATE_DIR ?? join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'upm');
const dir = values.dir ?? join(stateRoot, 'local');
const pidFile = join(dir, 'upm.pid');

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** Where everything is, as one block of text: printed with one write, so a reader never sees half of it. */
function describe(state: import('./system.ts').SystemState, seconds?: number): string {
  const lines = [seconds === undefined ? 'UPM local system is already running.' : `UPM local system is up (${seconds.toFixed(1)} s).`];
  for (const [name, c] of Object.entries(state.clusters)) lines.push(`  ${name.padEnd(8)} ${c.role.padEnd(10)} kubeconfig: ${c.kubeconfig}`);
  const mgmt = Object.values(state.clusters).find((c) => c.role === 'management');
  lines.push('', `kubectl ${'v1.36'}: ${join(state.binDir, 'kubectl')}`);
  if (mgmt) lines.push(`Try:\n  ${join(state.binDir, 'kubectl')} --kubeconfig ${mgmt.kubeconfig} get nodes`);
  lines.push(`Logs: ${dir}/<cluster>/logs`);
  return lines.join('\n');
}

if (existsSync(pidFile)) {
  const pid = Number(readFileSync(pidFile, 'utf8'));
  if (pid && alive(pid) && existsSync(join(dir, 'state.json'))) {
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    process.stdout.write(`${describe(state)}\n(process ${pid}; stop it with Ctrl-C in its terminal or kill ${pid})\n`);
    process.exit(0);
  }
}
if (values.fresh) rmSync(dir, { recursive: true, force: true });

const started = Date.now();
console.log(`Starting the local UPM system in ${dir} ...`);
let sys: LocalSystem;
try {
  sys = await LocalSystem.start(dir);
} catch (err) {
  console.error(`failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
// The engine layer in every member cluster: CRDs, templates, admission policy, the Unit and Compose Operators, and the engine
// runtime that runs the real engine (and its unit agent) behind every data pod.
const operators: ManagedProcess[] = [];
const runtimes: EngineRuntime[] = [];
let hub: LocalHub | undefined;
const stopEngines = () => Promise.all(runtimes.map((r) => r.stop()));
try {
  for (const [name, spec] of Object.entries(sys.state().clusters)) {
    if (spec.role !== 'member') continue;
    const cluster = sys.cluster(name);
    await installEngine(sys.bins.kubectl, cluster.kubeconfig);
    runtimes.push(await EngineRuntime.start({
      cluster: name, kubeconfig: cluster.kubeconfig, dir: join(dir, name, 'engines'),
      log: fileLogger(join(dir, name, 'logs', 'engine-runtime.log'), { cluster: name }),
    }));
    operators.push((await startOperator('unit', cluster, join(dir, name))).process);
    operators.push((await startOperator('compose', cluster, join(dir, name))).process);
  }
  // The hub in the management cluster: the public upm.io API (aggregated API server) and the hub controllers.
  for (const [name, spec] of Object.entries(sys.state().clusters)) {
    const members = Object.entries(sys.state().clusters).filter(([, c]) => c.role === 'member').map(([m]) => sys.cluster(m));
    if (spec.role === 'management') hub = await LocalHub.start(sys.bins.kubectl, sys.cluster(name), join(dir, name, 'hub'), { members });
  }
  if (hub) operators.push(...hub.processes);
} catch (err) {
  console.error(`failed to install the engine layer: ${err instanceof Error ? err.message : String(err)}`);
  await Promise.all(operators.map((p) => p.stop()));
  await stopEngines();
  await sys.stop();
  process.exit(1);
}
writeFileSync(pidFile, String(process.pid));
const state = sys.state();
const kubectl = join(state.binDir, 'kubectl');
const block = [describe(state, (Date.now() - started) / 1000),
  `Unit Operator, Compose Operator and engine runtime running in every member cluster (logs: ${dir}/<member>/logs/{unit-operator,compose-operator,engine-runtime}.log).
Real engines run here for MariaDB, Redis, Redis Sentinel, ZooKeeper, Kafka and OpenSearch; other engines are reported as not runnable locally. Try:
  ${kubectl} --kubeconfig ${state.clusters.member1?.kubeconfig} apply -f config/samples/redis-unitset.yaml
  ${kubectl} --kubeconfig ${state.clusters.member1?.kubeconfig} get us,un`];
if (hub) {
  const mgmt = Object.values(state.clusters).find((c) => c.role === 'management');
  block.push(`The hub's public API (upm.io) is served through the management cluster (API server on 127.0.0.1:${hub.state().port}, log ${hub.state().logs.apiserver}). Try:
  ${kubectl} --kubeconfig ${mgmt?.kubeconfig} api-resources --api-group=upm.io`);
}
// One write: whoever reads the output (a person, a script, the e2e test) gets the whole block at once.
process.stdout.write(`${block.join('\n')}\n\nPress Ctrl-C to stop.\n`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping ...`);
  await Promise.all(operators.map((p) => p.stop()));
  await stopEngines();
  await sys.stop();
  rmSync(pidFile, { force: true });
  console.log('stopped.');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
// A control-plane process that dies on its own is reported; the rest keep running so its logs can be read.
for (const p of [...sys.processes, ...operators]) {
  void p.exited.then((code) => { if (!stopping) console.error(`${p.name} exited (code ${code}); see ${p.logFile}`); });
}
