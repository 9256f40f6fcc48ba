// Shared by the engine driver suites: renders an engine's config from its real EngineTemplate as the Unit Operator
// does (host names resolved as the agent does), localizes and prepares it as the agent does, and runs the engine as
// a supervised child process that the suite stops at the end.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { EngineDriver, EngineEnv, LaunchSpec } from '../agent/engines/types.ts';
import type { EngineTemplateSpec } from '../lib/api/unit.upm.io.generated.ts';
import { waitFor } from '../lib/wait.ts';
import { effectiveParameters, renderConfig, unitSetId, type RenderContext } from '../lib/engineconfig.ts';

const ROOT = join(import.meta.dirname, '..');
const MEMORY_MIB = 256;

// --- rendering as the Unit Operator does, with the host names resolved as the agent does -----------------------

export function template(name: string): EngineTemplateSpec {
  return (parse(readFileSync(join(ROOT, 'config/templates', `${name}.yaml`), 'utf8')) as { spec: EngineTemplateSpec }).spec;
}

export const fqdn = (set: string, ordinal: number): string => `${set}-${ordinal}.${set}-headless.engines.svc.cluster.local`;

export function context(set: string, ordinal: number, units: number, mem = MEMORY_MIB): RenderContext {
  return {
    unit: { name: `${set}-${ordinal}`, ordinal, fqdn: fqdn(set, ordinal) },
    unitSet: { name: set, units, id: unitSetId(`engines/${set}`) },
    namespace: 'engines',
    serverId: ordinal + 1,
    resources: { cpuMillis: 500, memoryMiB: mem, memoryMiB25: Math.floor(mem * 0.25), memoryMiB50: Math.floor(mem * 0.5), memoryMiB70: Math.floor(mem * 0.7) },
    peers: Array.from({ length: units }, (_, o) => ({ name: `${set}-${o}`, ordinal: o, id: o + 1, fqdn: fqdn(set, o) })),
  };
}

export interface Rendered { text: string; params: Map<string, string> }

export function render(spec: EngineTemplateSpec, ctx: RenderContext, overrides: Record<string, string>, env: EngineEnv): Rendered {
  const params = effectiveParameters(spec.parameters, overrides, ctx);
  let text = renderConfig(spec.config?.template ?? '', params, ctx);
  for (const host of [ctx.unit.fqdn, ...ctx.peers.map((p) => p.fqdn)]) {
    if (text.includes(host)) text = text.split(host).join(env.resolve(host));
  }
  return { text, params };
}

export function engineEnv(base: string, unit: string, addr: string, hosts: Map<string, string>, credentials: Record<string, string> = {}): EngineEnv {
  return {
    unit, address: addr, dataDir: join(base, unit, 'data'), runDir: join(base, unit, 'run'), credentials,
    resolve(host) {
      const a = hosts.get(host);
      if (!a) throw new Error(`unknown host ${host}`);
      return a;
    },
  };
}

/** Localizes the rendered config, writes it to the run directory and prepares the data directory. */
export async function install(driver: EngineDriver, env: EngineEnv, rendered: string, fileName: string): Promise<string> {
  await mkdir(env.runDir, { recursive: true });
  const configPath = join(env.runDir, fileName);
  await writeFile(configPath, driver.localize(rendered, env));
  await driver.prepare(env, configPath);
  return configPath;
}

// --- processes --------------------------------------------------------------------------------------------------

export class Processes {
  private readonly running = new Set<ChildProcess>();

  start(spec: LaunchSpec, logFile: string): ChildProcess {
    const out = openSync(logFile, 'a');
    const child = spawn(spec.command, spec.args, { stdio: ['ignore', out, out], env: { ...process.env, ...spec.env } });
    closeSync(out);
    this.running.add(child);
    child.on('exit', () => this.running.delete(child));
    return child;
  }

  /** SIGTERM (or the driver's stop signal), then SIGKILL after the grace period. */
  async stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  stopAll(): Promise<void[]> {
    return Promise.all([...this.running].map((c) => this.stop(c)));
  }
}

export const logTail = (file: string): string => {
  try { return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n'); } catch { return ''; }
};

/** Starts the engine and waits for its probe; fails at once (with the log) if the process exits. */
export async function start(procs: Processes, driver: EngineDriver, env: EngineEnv, configPath: string): Promise<ChildProcess> {
  const spec = driver.launch(env, configPath);
  const log = join(env.runDir, 'engine.log');
  const child = procs.start(spec, log);
  await waitFor(`${env.unit} to serve`, () => driver.probe(env), {
    timeoutMs: 90_000, intervalMs: 200,
    failFast: () => (child.exitCode !== null || child.signalCode !== null ? `exited (${child.exitCode ?? child.signalCode}):\n${logTail(log)}` : undefined),
  });
  return child;
}

export const alive = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

/** The TCP addresses a process listens on ("host:port"), from ss. */
export function listening(pid: number): string[] {
  const out = execFileSync('ss', ['-Hltnp'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(`pid=${pid},`))
    .map((l) => (l.trim().split(/\s+/)[3] ?? '').replace(/^\[::ffff:([0-9.]+)\]/, '$1'))
    .sort();
}
