// Child processes of the local control plane. Each runs under reaper.sh, so it dies with us even when we are
// killed without a chance to clean up; a normal exit, an uncaught error or Ctrl-C stops them explicitly.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const reaper = join(dirname(fileURLToPath(import.meta.url)), 'reaper.sh');
const live = new Set<ManagedProcess>();

process.once('exit', () => {
  for (const p of live) p.signal('SIGKILL');
});

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Started again a second after it ends on its own (a crash, a kill -9), as a Deployment's pod would be: what a
   * test that kills the process expects of the system it shares with other suites. stop() and kill() end it for good.
   */
  restartOnExit?: boolean;
}

export class ManagedProcess {
  readonly name: string;
  readonly logFile: string;
  readonly exited: Promise<number | null>;
  private child: ChildProcess;
  private readonly pidFile: string;
  private exitCode: number | null | undefined;
  private realPid: number | undefined;
  private ending = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private finish: (code: number | null) => void = () => {};

  private readonly spec: ProcessSpec;

  private constructor(spec: ProcessSpec, pidFile: string) {
    this.spec = spec;
    this.name = spec.name;
    this.logFile = spec.logFile;
    this.pidFile = pidFile;
    let done: (code: number | null) => void = () => {};
    this.exited = new Promise((resolve) => { done = resolve; });
    const onExit = (code: number | null): void => {
      if (spec.restartOnExit && !this.ending) {
        rmSync(this.pidFile, { force: true });
        this.realPid = undefined;
        this.restartTimer = setTimeout(() => {
          this.restartTimer = undefined;
          this.child = this.spawn();
          this.child.once('exit', onExit);
        }, 1000);
        return;
      }
      this.finish(code);
    };
    this.finish = (code: number | null): void => {
      this.exitCode = code;
      live.delete(this);
      done(code);
    };
    this.child = this.spawn();
    this.child.once('exit', onExit);
  }

  private spawn(): ChildProcess {
    const out = openSync(this.spec.logFile, 'a');
    // A test may ask for one start with another environment (a crash point): <log>.env, read once.
    const overrides = `${this.spec.logFile}.env`;
    let env = this.spec.env ?? process.env;
    if (this.spec.restartOnExit && existsSync(overrides)) {
      env = { ...env };
      for (const [k, v] of Object.entries(JSON.parse(readFileSync(overrides, 'utf8')) as Record<string, string | null>)) {
        if (v === null) delete env[k]; else env[k] = v;
      }
      rmSync(overrides, { force: true });
    }
    rmSync(this.pidFile, { force: true }); // a PID left by an earlier run must never be signalled
    const child = spawn(reaper, [this.pidFile, this.spec.command, ...this.spec.args], {
      stdio: ['pipe', out, out],
      env,
      cwd: this.spec.cwd,
    });
    closeSync(out);
    return child;
  }

  static start(spec: ProcessSpec): ManagedProcess {
    const p = new ManagedProcess(spec, `${spec.logFile}.pid`);
    live.add(p);
    return p;
  }

  get running(): boolean { return this.exitCode === undefined; }

  /** PID of the real process (not the reaper), once it has started. */
  get pid(): number | undefined {
    if (this.realPid === undefined && existsSync(this.pidFile)) {
      const n = Number(readFileSync(this.pidFile, 'utf8').trim());
      if (n > 0) this.realPid = n;
    }
    return this.realPid;
  }

  signal(sig: NodeJS.Signals): void {
    const pid = this.pid;
    try {
      if (pid) process.kill(pid, sig);
      else this.child.kill(sig);
    } catch {
      // already gone
    }
  }

  /** Not started again from now on; a restart waiting for its second ends the process at once. */
  private end(): void {
    this.ending = true;
    if (this.restartTimer) { clearTimeout(this.restartTimer); this.restartTimer = undefined; this.finish(null); }
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves when the process is gone. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.end();
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** kill -9, as a crash would. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.end();
    this.signal('SIGKILL');
    await this.exited;
  }

  /** The last lines of its log, for error messages. */
  tail(lines = 20): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

/** Stops every process still running (used on Ctrl-C and by test teardown). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

export function liveProcesses(): ManagedProcess[] {
  return [...live];
}
