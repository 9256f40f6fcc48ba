// `node agent/main.ts`: the unit agent as a process of its own, configured by its environment as a pod gives it.
// The engine runs as the agent's child, so the agent belongs in the engine's container (as its entrypoint) or in a
// sidecar sharing the pod's process namespace. The local engine runtime hosts the same Agent in-process instead.
//   UPM_ENGINE, UPM_AGENT_TOKEN (required), POD_NAME, POD_UID, POD_IP, UPM_DATA_DIR, UPM_RUN_DIR, UPM_BACKUP_DIR,
//   UPM_AGENT_LISTEN (host:port, default 0.0.0.0:2214), UPM_CRED_<role>-username / -password (the unit's accounts)
import { hostname } from 'node:os';
import { newLogger } from '../lib/log.ts';
import { Agent } from './agent.ts';
import { AGENT_PORT, CREDENTIALS_ENV_PREFIX, ENV_AGENT_TOKEN, ENV_ENGINE } from './api.ts';
import { driverFor } from './engines/index.ts';
import { EngineNotRunnable, type EngineDriver } from './engines/types.ts';
import { AgentServer } from './server.ts';

const env = process.env;
const engine = env[ENV_ENGINE] ?? '';
const log = newLogger({ component: 'unit-agent', pod: env.POD_NAME ?? hostname(), engine });
let driver: EngineDriver | { notRunnable: string };
try {
  driver = driverFor(engine);
} catch (err) {
  if (!(err instanceof EngineNotRunnable)) throw err;
  driver = { notRunnable: err.message };
  log.error(err.message);
}
const [host = '0.0.0.0', port = String(AGENT_PORT)] = (env.UPM_AGENT_LISTEN ?? '').split(':').filter(Boolean);
const agent = new Agent({
  pod: env.POD_NAME ?? hostname(), podUID: env.POD_UID ?? '', engine, driver,
  env: {
    unit: env.POD_NAME ?? hostname(),
    address: env.POD_IP ?? host,
    dataDir: env.UPM_DATA_DIR ?? '/data',
    runDir: env.UPM_RUN_DIR ?? '/run/upm',
    credentials: Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith(CREDENTIALS_ENV_PREFIX)).map(([k, v]) => [k.slice(CREDENTIALS_ENV_PREFIX.length), v ?? ''])),
    resolve: (h) => h, // cluster DNS resolves peers' names
  },
  backupRoot: env.UPM_BACKUP_DIR ?? '/backup',
  log,
});
const server = new AgentServer(agent, env[ENV_AGENT_TOKEN] ?? '', log);
const bound = await server.listen(host, Number(port));
log.info({ host, port: bound }, 'agent serving');

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping the engine and the agent');
  await server.close();
  await agent.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
