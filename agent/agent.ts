// The unit agent's core: owns one engine process next to it. It renders the engine's config from the template and
// the unit's values, starts it only when told to, watches it (readiness, unexpected exits, restarts with backoff),
// applies parameter changes live where the engine allows it and otherwise marks a restart as required, and runs
// the day-2 actions (backup, restore). Operations are serialised: a start never interleaves with a config change.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import type { Logger } from 'pino';
import { renderConfig, type RenderContext } from '../lib/engineconfig.ts';
import { validateParameters } from '../lib/paramcheck.ts';
import { CONFIG_FILE_NAME, type AgentStatus, type BackupRequest, type BackupResponse, type ConfigPush, type EngineState, type StatusCause } from './api.ts';
import type { EngineDriver, EngineEnv, LaunchSpec } from './engines/types.ts';

export class AgentError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly causes?: StatusCause[];
  constructor(code: number, reason: string, message: string, causes?: StatusCause[]) {
    super(message);
    this.name = 'AgentError';
    this.code = code;
    this.reason = reason;
    if (causes) this.causes = causes;
  }
}

export interface AgentOptions {
  pod: string;
  podUID: string;
  engine: string;
  /** The driver, or why this engine cannot run here (reported as state NotRunnable, never faked). */
  driver: EngineDriver | { notRunnable: string };
  env: EngineEnv;
  /** Root under which backups are written and read (a backup volume or an object-store mount). */
  backupRoot: string;
  log: Logger;
  /** Wraps the engine command (the local runtime ties the engine's life to its own). */
  wrap?: (spec: LaunchSpec, pidFile: string) => { command: string; args: string[] };
  /** How often a running engine is probed (ms). */
  livenessIntervalMs?: number;
  /** How long a start may take before it is reported as stuck (ms). */
  startTimeoutMs?: number;
}

interface AppliedConfig { push: ConfigPush; path: string }

const STOP_GRACE_MS = 60_000;
const MAX_BACKOFF_MS = 30_000;

export class Agent extends EventEmitter {
  private readonly o: AgentOptions;
  private readonly driver?: EngineDriver;
  private state: EngineState;
  private message = '';
  private ready = false;
  private wantRunning = false;
  private child?: ChildProcess;
  private enginePid?: number;
  private startedAt?: string;
  private restarts = 0;
  private restartId?: string;
  private crashStreak = 0;
  private relaunchTimer?: NodeJS.Timeout;
  private livenessTimer?: NodeJS.Timeout;
  private config?: AppliedConfig;
  private pending = new Set<string>();
  private exited?: Promise<void>;
  private expectingExit = false;
  private queue: Promise<unknown> = Promise.resolve();
  private lastEmitted = '';
  private closed = false;

  constructor(o: AgentOptions) {
    super();
    this.o = o;
    if ('notRunnable' in o.driver) {
      this.state = 'NotRunnable';
      this.message = o.driver.notRunnable;
    } else {
      this.driver = o.driver;
      this.state = 'Stopped';
    }
  }

  status(): AgentStatus {
    return {
      pod: this.o.pod, podUID: this.o.podUID, engine: this.o.engine,
      state: this.state, ready: this.ready,
      ...(this.enginePid && this.child ? { pid: this.enginePid } : {}),
      ...(this.startedAt && this.child ? { startedAt: this.startedAt } : {}),
      restarts: this.restarts,
      ...(this.restartId ? { restartId: this.restartId } : {}),
      configRevision: this.config?.push.revision ?? '',
      restartRequired: this.pending.size > 0,
      pendingRestart: [...this.pending].sort(),
      parameters: this.config?.push.parameters ?? {},
      message: this.message,
    };
  }

  /** Runs one operation after the previous one finished (a simple mutex). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private changed(): void {
    const s = JSON.stringify(this.status());
    if (s === this.lastEmitted) return;
    this.lastEmitted = s;
    this.emit('change', this.status());
  }

  private requireDriver(): EngineDriver {
    if (!this.driver) throw new AgentError(409, 'NotRunnable', this.message);
    return this.driver;
  }

  // ---- configuration ----

  /** Writes the config file for this revision; applies what changed live, or marks it as needing a restart. */
  applyConfig(push: ConfigPush): Promise<AgentStatus> {
    return this.serial(async () => {
      const errors = validateParameters(this.o.engine, push.specs, push.parameters, 'parameters');
      if (errors.length) throw invalid(errors.map((e) => ({ field: e.field, message: e.message, reason: 'FieldValueInvalid' })));
      if (!push.template || !push.fileName) throw invalid([{ field: 'template', message: 'config template and file name are required', reason: 'FieldValueRequired' }]);
      const driver = this.requireDriver();
      const prev = this.config;
      const path = await this.configPath(push.fileName);
      await writeAtomic(path, driver.localize(this.render(push.template, push.parameters, push.context), this.o.env));
      this.config = { push, path };
      if (this.child && prev) await this.applyChanges(driver, prev.push, push);
      else this.pending.clear(); // the next start reads the new file
      this.o.log.info({ revision: push.revision, pending: [...this.pending] }, 'config applied');
      this.changed();
      return this.status();
    });
  }

  /**
   * Where a config file is written: a plain name, in the run directory's own config directory (not a symlink out of
   * it). The file itself is replaced by rename, which never follows a symlink planted in its place.
   */
  private async configPath(fileName: string): Promise<string> {
    if (!CONFIG_FILE_NAME.test(fileName)) throw invalid([{ field: 'fileName', message: 'must be a plain file name (letters, digits, ".", "_", "-"; no directory)', reason: 'FieldValueInvalid' }]);
    const dir = join(this.o.env.runDir, 'config');
    await mkdir(dir, { recursive: true });
    const [st, real, run] = await Promise.all([lstat(dir), realpath(dir), realpath(this.o.env.runDir)]);
    if (!st.isDirectory() || real !== join(run, 'config')) throw new AgentError(409, 'Conflict', 'the config directory is not a directory of the run directory: nothing is written through a symlink');
    return join(real, fileName);
  }

  /** Day-2 parameter change: validated against the template's metadata, applied like a config change. */
  setParameters(changes: Record<string, string>): Promise<AgentStatus> {
    if (!this.config) return Promise.reject(new AgentError(409, 'NoConfig', 'the agent has no config yet; the operator pushes it first'));
    const cur = this.config.push;
    const errors = validateParameters(this.o.engine, cur.specs, changes, 'parameters');
    if (errors.length) throw invalid(errors.map((e) => ({ field: e.field, message: e.message, reason: 'FieldValueInvalid' })));
    return this.applyConfig({ ...cur, parameters: { ...cur.parameters, ...changes } });
  }

  /** The config text for the given values, with peer and own host names resolved on this node. */
  private render(template: string, parameters: Record<string, string>, ctx: RenderContext): string {
    const resolve = this.o.env.resolve;
    const local: RenderContext = {
      ...ctx,
      unit: { ...ctx.unit, fqdn: resolve(ctx.unit.fqdn) },
      peers: ctx.peers.map((p) => ({ ...p, fqdn: resolve(p.fqdn) })),
    };
    return renderConfig(template, new Map(Object.entries(parameters)), local);
  }

  private async applyChanges(driver: EngineDriver, prev: ConfigPush, next: ConfigPush): Promise<void> {
    const keys = new Set([...Object.keys(prev.parameters), ...Object.keys(next.parameters)]);
    const changed = [...keys].filter((k) => prev.parameters[k] !== next.parameters[k]);
    // Anything besides parameter values (template, identity, peers, resources) needs a restart, unless the engine
    // already runs with it.
    const [before, after] = [this.render(prev.template, prev.parameters, prev.context), this.render(next.template, prev.parameters, next.context)];
    if (before !== after && !(await this.runsAlready(driver, before, after))) this.pending.add('config');
    const specOf = new Map(next.specs.map((s) => [s.key, s]));
    const live = new Map<string, string>();
    for (const k of changed) {
      const v = next.parameters[k];
      if (specOf.get(k)?.dynamic && driver.setLive && v !== undefined) live.set(k, v);
      else this.pending.add(k);
    }
    if (!live.size || !driver.setLive) return;
    try {
      await driver.setLive(this.o.env, live);
      this.message = `applied ${[...live.keys()].join(', ')} live`;
    } catch (err) {
      for (const k of live.keys()) this.pending.add(k);
      this.message = `live change failed, restart required: ${(err as Error).message}`;
      this.o.log.warn({ err, keys: [...live.keys()] }, 'live change failed');
    }
  }

  /** Whether the running engine already has a structural change (asked of the driver; a failed check means no). */
  private async runsAlready(driver: EngineDriver, before: string, after: string): Promise<boolean> {
    if (!driver.runsAlready) return false;
    try {
      const yes = await driver.runsAlready(this.o.env, before, after);
      if (yes) this.message = 'the running engine already has this config; no restart needed';
      return yes;
    } catch (err) {
      this.o.log.warn({ err }, 'could not tell whether the engine already runs with the new config');
      return false;
    }
  }

  // ---- process control ----

  start(): Promise<AgentStatus> {
    return this.serial(async () => {
      this.requireDriver();
      if (!this.config) throw new AgentError(409, 'NoConfig', 'the agent has no config yet; the operator pushes it first');
      this.wantRunning = true;
      if (!this.child) await this.launch();
      return this.status();
    });
  }

  stop(): Promise<AgentStatus> {
    return this.serial(async () => {
      this.wantRunning = false;
      await this.terminate();
      return this.status();
    });
  }

  /**
   * Stops and starts the engine. With an id, the same id again restarts nothing: the id is recorded before the
   * engine is touched, so a caller that died before it heard the answer can ask again safely.
   */
  restart(id?: string): Promise<AgentStatus> {
    return this.serial(async () => {
      this.requireDriver();
      if (!this.config) throw new AgentError(409, 'NoConfig', 'the agent has no config yet; the operator pushes it first');
      if (id && id === this.restartId) return this.status();
      if (id) this.restartId = id;
      this.wantRunning = true;
      await this.terminate();
      await this.launch();
      return this.status();
    });
  }

  private async launch(): Promise<void> {
    const driver = this.requireDriver();
    const cfg = this.config as AppliedConfig;
    clearTimeout(this.relaunchTimer);
    this.state = 'Starting';
    this.ready = false;
    this.message = 'starting';
    this.pending.clear();
    this.changed();
    try {
      await mkdir(this.o.env.dataDir, { recursive: true });
      await mkdir(this.o.env.runDir, { recursive: true });
      await driver.prepare(this.o.env, cfg.path);
    } catch (err) {
      this.state = 'Crashed';
      this.message = `preparing the data directory failed: ${(err as Error).message}`;
      this.changed();
      this.scheduleRelaunch();
      return;
    }
    const spec = driver.launch(this.o.env, cfg.path);
    const pidFile = join(this.o.env.runDir, `${this.o.engine}.pid`);
    // The previous launch's pid must never be read as this one's (it would be reported, and signalled on stop).
    await rm(pidFile, { force: true });
    const cmd = this.o.wrap ? this.o.wrap(spec, pidFile) : { command: spec.command, args: spec.args };
    const log = await open(join(this.o.env.runDir, `${this.o.engine}.log`), 'a');
    const child = spawn(cmd.command, cmd.args, {
      stdio: [this.o.wrap ? 'pipe' : 'ignore', log.fd, log.fd],
      env: engineEnvironment(process.env, spec.env),
    });
    await log.close();
    this.child = child;
    // Under a wrapper, child.pid is the wrapper's: the engine's own pid is known only once the wrapper wrote it.
    this.enginePid = this.o.wrap ? undefined : child.pid;
    this.startedAt = new Date().toISOString();
    this.expectingExit = false;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => { this.onExit(child, code, signal); resolve(); }));
    if (this.o.wrap) void this.readPid(pidFile, child);
    this.o.log.info({ pid: child.pid, command: spec.command }, 'engine launched');
    void this.awaitReady(driver, child);
  }

  /** Waits for the wrapper to write the engine's pid, however slow a loaded machine makes it: giving up would
   *  report the wrapper's pid, and a signal meant for the engine would then leave the engine running. */
  private async readPid(pidFile: string, child: ChildProcess): Promise<void> {
    while (this.child === child) {
      const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
      if (pid > 0) { this.enginePid = pid; this.changed(); return; }
      await sleep(20);
    }
  }

  private async awaitReady(driver: EngineDriver, child: ChildProcess): Promise<void> {
    const deadline = Date.now() + (this.o.startTimeoutMs ?? 180_000);
    while (this.child === child && !(await driver.probe(this.o.env))) {
      if (Date.now() > deadline) {
        this.message = 'the engine did not become ready in time; see its log';
        this.changed();
      }
      await sleep(100);
    }
    if (this.child !== child) return;
    try {
      await driver.bootstrap?.(this.o.env);
    } catch (err) {
      this.message = `bootstrap failed: ${(err as Error).message}`;
      this.o.log.error({ err }, 'bootstrap failed');
      this.changed();
      return void setTimeout(() => { if (this.child === child) void this.awaitReady(driver, child); }, 1000);
    }
    this.state = 'Running';
    this.ready = true;
    this.message = 'running';
    this.o.log.info({ pid: this.enginePid }, 'engine ready');
    this.changed();
    this.watchLiveness(driver, child);
  }

  private watchLiveness(driver: EngineDriver, child: ChildProcess): void {
    clearInterval(this.livenessTimer);
    const stableSince = Date.now();
    this.livenessTimer = setInterval(() => {
      if (this.child !== child) return clearInterval(this.livenessTimer);
      if (Date.now() - stableSince > 60_000) this.crashStreak = 0;
      void driver.probe(this.o.env).then((ok) => {
        if (this.child !== child || this.state !== 'Running') return;
        this.ready = ok;
        this.message = ok ? 'running' : 'the engine does not answer its readiness probe';
        this.changed();
      });
    }, this.o.livenessIntervalMs ?? 2000);
    this.livenessTimer.unref();
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.ready = false;
    clearInterval(this.livenessTimer);
    if (this.expectingExit) {
      this.state = 'Stopped';
      this.message = 'stopped';
    } else {
      this.state = 'Crashed';
      this.message = `the engine exited unexpectedly (${signal ? `signal ${signal}` : `code ${code}`})`;
      this.o.log.warn({ code, signal }, 'engine exited unexpectedly');
      this.scheduleRelaunch();
    }
    this.changed();
  }

  /** Restarts a crashed engine the operator wants running, with exponential backoff (as a kubelet would). */
  private scheduleRelaunch(): void {
    if (!this.wantRunning || this.closed) return;
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.crashStreak);
    this.crashStreak++;
    clearTimeout(this.relaunchTimer);
    this.relaunchTimer = setTimeout(() => {
      void this.serial(async () => {
        if (this.wantRunning && !this.child && !this.closed) {
          this.restarts++;
          await this.launch();
        }
      });
    }, delay);
    this.relaunchTimer.unref();
  }

  private async terminate(): Promise<void> {
    clearTimeout(this.relaunchTimer);
    const child = this.child;
    if (!child) {
      if (this.state === 'Crashed' || this.state === 'Starting') { this.state = 'Stopped'; this.message = 'stopped'; this.changed(); }
      return;
    }
    this.expectingExit = true;
    this.state = 'Stopping';
    this.ready = false;
    this.message = 'stopping';
    this.changed();
    const signal = this.driver?.launch(this.o.env, this.config?.path ?? '').stopSignal ?? 'SIGTERM';
    child.kill(signal);
    const killer = setTimeout(() => {
      if (this.enginePid && this.enginePid !== child.pid) try { process.kill(this.enginePid, 'SIGKILL'); } catch { /* gone */ }
      child.kill('SIGKILL');
    }, STOP_GRACE_MS);
    await this.exited;
    clearTimeout(killer);
  }

  // ---- day-2 actions ----

  backup(req: BackupRequest): Promise<BackupResponse> {
    return this.serial(async () => {
      const driver = this.requireDriver();
      if (!driver.backup) throw new AgentError(422, 'NotSupported', `engine ${this.o.engine} has no backup support`);
      if (this.state !== 'Running') throw new AgentError(409, 'NotRunning', `the engine is ${this.state}; a backup needs it running`);
      const target = this.backupPath(req.path);
      const t0 = Date.now();
      const r = await driver.backup(this.o.env, target, { ...(req.database ? { database: req.database } : {}) });
      this.o.log.info({ path: req.path, bytes: r.bytes }, 'backup written');
      return { path: req.path, bytes: r.bytes, format: r.format, durationMs: Date.now() - t0 };
    });
  }

  restore(req: BackupRequest): Promise<AgentStatus> {
    return this.serial(async () => {
      const driver = this.requireDriver();
      if (!driver.restore) throw new AgentError(422, 'NotSupported', `engine ${this.o.engine} has no restore support`);
      const source = this.backupPath(req.path);
      if (!(await stat(source).catch(() => undefined))?.isFile()) throw invalid([{ field: 'path', message: `no backup at "${req.path}"`, reason: 'FieldValueNotFound' }]);
      const opts = req.database ? { database: req.database } : {};
      if (driver.restoreNeedsStop) {
        const wasRunning = !!this.child;
        await this.terminate();
        await driver.restore(this.o.env, source, opts);
        if (wasRunning || this.wantRunning) await this.launch();
      } else {
        if (this.state !== 'Running') throw new AgentError(409, 'NotRunning', `the engine is ${this.state}; a restore needs it running`);
        await driver.restore(this.o.env, source, opts);
      }
      this.o.log.info({ path: req.path }, 'backup restored');
      return this.status();
    });
  }

  /** A backup path inside the backup root: relative, no "..", so a caller cannot write anywhere else. */
  private backupPath(p: string | undefined): string {
    if (typeof p !== 'string' || !p || isAbsolute(p) || normalize(p).split(sep).includes('..') || p.length > 1024) {
      throw invalid([{ field: 'path', message: 'must be a relative path inside the backup location, without ".."', reason: 'FieldValueInvalid' }]);
    }
    return join(this.o.backupRoot, normalize(p));
  }

  /** Stops the engine (gracefully) and every timer: the pod is going away. */
  async close(): Promise<void> {
    this.closed = true;
    this.wantRunning = false;
    await this.serial(() => this.terminate());
    clearInterval(this.livenessTimer);
    this.removeAllListeners();
  }
}

function invalid(causes: StatusCause[]): AgentError {
  return new AgentError(422, 'Invalid', causes.map((c) => `${c.field}: ${c.message}`).join('; '), causes);
}

/** What an engine needs of the agent's environment; the agent's token and the unit's credentials stay with it. */
const ENGINE_ENV = new Set(['PATH', 'HOME', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'JAVA_HOME']);

export function engineEnvironment(agentEnv: NodeJS.ProcessEnv, own: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(agentEnv)) if (v !== undefined && (ENGINE_ENV.has(k) || k.startsWith('LC_'))) out[k] = v;
  return { ...out, ...own };
}

async function writeAtomic(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  // A fresh name created exclusively: a file or symlink someone put at a predictable name is never written through.
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, content, { mode: 0o600, flag: 'wx' });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
