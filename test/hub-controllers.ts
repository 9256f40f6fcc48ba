// The hub controllers as a test may crash them: kill -9 of the running process, then the same command started
// again (its environment and directory), its output to the same log; the pid file follows it.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { readFile, readlink, writeFile } from 'node:fs/promises';
import { waitFor } from '../lib/wait.ts';
import { hubState } from './hub.ts';

/** The pid of the hub controllers now running. */
export async function hubControllersPid(): Promise<number> {
  const pid = Number((await readFile(`${hubState().logs.controllers}.pid`, 'utf8')).trim());
  if (!(pid > 1)) throw new Error(`no pid of the hub controllers: ${pid}`);
  return pid;
}

const gone = async (pid: number) => !existsSync(`/proc/${pid}/cmdline`) || (await readFile(`/proc/${pid}/cmdline`, 'utf8')) === '';

/**
 * kill -9 of the hub controllers (unless already dead), then the same command started again. `env` changes the new
 * process's environment (undefined removes a variable; UPM_CRASH_AT is never carried over). The new process is the
 * caller's to stop. Only a process still alive can be read for its command: a dead one's last command is kept here.
 */
let lastCommand: { argv: string[]; env: Record<string, string>; cwd: string } | undefined;
export async function killAndRestartHubControllers(env: Record<string, string | undefined> = {}): Promise<ChildProcess> {
  const log = hubState().logs.controllers;
  const pid = await hubControllersPid();
  if (!(await gone(pid))) {
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
    const vars = Object.fromEntries((await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    lastCommand = { argv, env: vars, cwd: await readlink(`/proc/${pid}/cwd`) };
    process.kill(pid, 'SIGKILL');
    await waitFor('the hub controllers gone', () => gone(pid), { timeoutMs: 10_000, intervalMs: 50 });
  }
  if (!lastCommand) throw new Error(`the hub controllers (pid ${pid}) died before their command was read`);
  const vars: Record<string, string> = { ...lastCommand.env };
  delete vars.UPM_CRASH_AT;
  for (const [k, v] of Object.entries(env)) { if (v === undefined) delete vars[k]; else vars[k] = v; }
  const out = openSync(log, 'a');
  const child = spawn(lastCommand.argv[0] as string, lastCommand.argv.slice(1), { env: vars, cwd: lastCommand.cwd, stdio: ['ignore', out, out] });
  closeSync(out);
  await writeFile(`${log}.pid`, String(child.pid));
  return child;
}
