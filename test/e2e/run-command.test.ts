// The README's run command from a clean clone: `npm start` brings up the local system and prints kubeconfig paths;
// `kubectl --kubeconfig <printed path> get nodes` shows Ready fake nodes in every cluster; a UnitSet applied to a
// member cluster comes up (its Unit Operator runs); a second `npm start` while it runs only reports it; Ctrl-C
// leaves no process behind; starting again reuses the state (an object created before is there); kill -9 of the
// command leaves no process behind either; `--fresh` starts from nothing; `--dir DIR` keeps the state in DIR.
// The clone is of the committed HEAD, exactly what a user (and CI) gets. The cases run in order on one clone.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from '@jest/globals';
import { waitFor } from '../../lib/wait.ts';
import { describeLocal } from '../env.ts';

const run = promisify(execFile);
const repoRoot = join(import.meta.dirname, '..', '..');
// The last line of the block `npm start` prints once everything is up; the test parses the block only after it.
const END_OF_BLOCK = /^Press Ctrl-C to stop\.$/m;
// A start takes about 10 s with cached binaries; the first one from a clone also installs npm packages.
const FIRST_START_MS = 300_000;
const START_MS = 120_000;
// "Within seconds": the reapers poll their parent every second and give a process 5 s to stop before killing it.
// 30 s is that with slack for a loaded machine.
const CHILDREN_GONE_MS = 30_000;

interface Started { child: ChildProcess; output: () => string; kubeconfigs: string[]; kubectl: string }

/** Starts `npm start [args]` in its own process group (as a terminal would) and waits for its complete block. */
async function npmStart(cwd: string, env: NodeJS.ProcessEnv, args: string[], timeoutMs: number, started: ChildProcess[]): Promise<Started> {
  let out = '';
  const child = spawn('npm', ['start', ...(args.length ? ['--', ...args] : [])], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  await waitFor('the "is up" block, complete', () => /UPM local system is up/.test(out) && END_OF_BLOCK.test(out), {
    timeoutMs, intervalMs: 250, failFast: () => (child.exitCode !== null ? out : undefined),
  });
  const kubeconfigs = [...out.matchAll(/kubeconfig: (\S+)/g)].map((m) => m[1] as string);
  const kubectl = /^\s*(\S+\/kubectl) --kubeconfig/m.exec(out)?.[1] ?? '';
  return { child, output: () => out, kubeconfigs, kubectl };
}

/** Ctrl-C in its terminal: SIGINT to the whole process group; resolves when the command has exited. */
async function interrupt(s: Started): Promise<void> {
  const exited = new Promise<number | null>((resolve) => s.child.once('exit', resolve));
  process.kill(-(s.child.pid as number), 'SIGINT');
  await exited;
}

/** PIDs of every control-plane process the system started (their reapers record them next to the logs). */
function recordedPids(stateDir: string): number[] {
  const pids: number[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.log.pid')) pids.push(Number(readFileSync(p, 'utf8')));
    }
  };
  if (existsSync(stateDir)) walk(stateDir);
  return pids;
}

/**
 * Live processes that belong to a run: in its process group, or naming its state directory in their command line
 * (a process that left the group would still carry its data or config path). Zombies are already dead.
 */
function processesOf(pgid: number, stateDir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z') continue;
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      if (Number(pgrp) === pgid || cmd.includes(stateDir)) found.push(`${name} ${cmd.slice(0, 160)}`);
    } catch { /* exited while we looked */ }
  }
  return found;
}

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

// Skipped against an existing cluster (UPM_TEST_KUBECONFIG): it starts, kills and restarts whole local systems of its own.
describeLocal('the README run command', () => {
  let tmp = '';
  let clone = '';
  let env: NodeJS.ProcessEnv = {};
  let stateDir = '';
  let kubectl = '';
  const started: ChildProcess[] = [];
  const marker = `made-before-restart-${process.pid}`;
  const getMarker = async (kubeconfig: string) =>
    run(kubectl, ['--kubeconfig', kubeconfig, 'get', 'configmap', 'e2e-marker', '-n', 'default', '-o', 'jsonpath={.data.value}']);
  const mgmtOf = (s: Started) => s.kubeconfigs.find((k) => k.includes('/mgmt/')) as string;
  const member1Of = (s: Started) => s.kubeconfigs.find((k) => k.includes('/member1/')) as string;

  afterAll(async () => {
    // Every group, even one whose npm has exited: what it left behind (after kill -9 of the command) is still in it.
    for (const c of started) if (c.pid) try { process.kill(-c.pid, 'SIGKILL'); } catch { /* gone */ }
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('starts from a clean clone, serves kubectl, reports a second start, and stops clean on Ctrl-C', async () => {
    tmp = await mkdtemp(join(tmpdir(), 'upm-e2e-run-'));
    clone = join(tmp, 'upm');
    execFileSync('git', ['clone', '--quiet', repoRoot, clone]);
    env = { ...process.env, UPM_STATE_DIR: join(tmp, 'state') };
    delete env.UPM_BIN_DIR; // the clone finds (or builds) the binaries itself
    stateDir = join(tmp, 'state', 'local');

    const first = await npmStart(clone, env, [], FIRST_START_MS, started);
    expect(first.kubeconfigs).toHaveLength(3);
    expect(first.kubectl).toBeTruthy();
    kubectl = first.kubectl;
    for (const kc of first.kubeconfigs) {
      expect(kc.startsWith(stateDir)).toBe(true);
      const { stdout } = await run(kubectl, ['--kubeconfig', kc, 'get', 'nodes', '--no-headers']);
      const statuses = stdout.trim().split('\n').map((l) => l.split(/\s+/)[1]);
      expect(statuses).toEqual(['Ready', 'Ready', 'Ready']);
    }

    // The Unit Operator runs in the member clusters: the sample UnitSet comes up.
    const member1 = member1Of(first);
    await run(kubectl, ['--kubeconfig', member1, 'apply', '-f', join(clone, 'config/samples/redis-unitset.yaml')]);
    await waitFor('sample UnitSet Ready', async () =>
      (await run(kubectl, ['--kubeconfig', member1, 'get', 'us/cache', '-o', 'jsonpath={.status.ready} {.status.phase}'])).stdout === '3/3 Ready',
    { timeoutMs: 60_000, intervalMs: 500 });
    // ...with a real Redis server behind every unit, reachable on the unit's loopback address.
    const ips = (await run(kubectl, ['--kubeconfig', member1, 'get', 'un', '-l', 'unit.upm.io/unitset=cache', '-o', 'jsonpath={.items[*].status.podIP}'])).stdout.split(' ');
    expect(ips).toHaveLength(3);
    for (const ip of ips) expect((await run('redis-cli', ['-h', ip, 'PING'])).stdout.trim()).toBe('PONG');
    const enginePids = (await run(kubectl, ['--kubeconfig', member1, 'get', 'un', '-l', 'unit.upm.io/unitset=cache', '-o', 'jsonpath={.items[*].status.engine.pid}'])).stdout.split(' ').map(Number);
    expect(enginePids.every((p) => p > 0 && alive(p))).toBe(true);
    // An object in the management cluster, for the restart to find.
    await run(kubectl, ['--kubeconfig', mgmtOf(first), 'create', 'configmap', 'e2e-marker', '-n', 'default', `--from-literal=value=${marker}`]);

    const second = await run('npm', ['start'], { cwd: clone, env });
    expect(second.stdout).toContain('already running');

    const pids = recordedPids(stateDir);
    expect(pids.length).toBeGreaterThanOrEqual(15); // etcd + 3 x (apiserver, KCM, scheduler, KWOK) + 2 Unit Operators
    await interrupt(first);
    await waitFor('every process gone, engines included', () => [...pids, ...enginePids].every((p) => !alive(p)), { timeoutMs: CHILDREN_GONE_MS });
  }, FIRST_START_MS + 180_000);

  let restarted: Started | undefined;
  it('starts again on the state it left: the object created before the restart is there, the UnitSet Ready again', async () => {
    expect(kubectl).toBeTruthy(); // the first case ran
    restarted = await npmStart(clone, env, [], START_MS, started);
    expect((await getMarker(mgmtOf(restarted))).stdout).toBe(marker);
    const member1 = member1Of(restarted);
    await waitFor('sample UnitSet Ready after the restart', async () =>
      (await run(kubectl, ['--kubeconfig', member1, 'get', 'us/cache', '-o', 'jsonpath={.status.ready} {.status.phase}'])).stdout === '3/3 Ready',
    { timeoutMs: 90_000, intervalMs: 500 });
  }, START_MS + 120_000);

  it('after kill -9 of the command, every child process (engines included) stops within 30 s', async () => {
    const s = restarted as Started;
    expect(s).toBeDefined();
    const pgid = s.child.pid as number;
    // The command itself (node hack/local/main.ts, behind npm and the shell) records its PID in the state dir.
    const commandPid = Number(readFileSync(join(stateDir, 'upm.pid'), 'utf8'));
    expect(alive(commandPid)).toBe(true);
    const before = processesOf(pgid, stateDir);
    // etcd, 3 x (apiserver, KCM, scheduler, KWOK), operators, hub, 3 Redis servers, each under its reaper.
    expect(before.length).toBeGreaterThanOrEqual(30);
    expect(before.some((p) => p.includes('redis-server'))).toBe(true);
    process.kill(commandPid, 'SIGKILL');
    let left: string[] = [];
    await waitFor('no process of the killed run left', () => (left = processesOf(pgid, stateDir)).length === 0, {
      timeoutMs: CHILDREN_GONE_MS, intervalMs: 500,
    }).catch((err: unknown) => { throw new Error(`${(err as Error).message}; still running:\n${left.join('\n')}`); });
  }, 60_000);

  it('--fresh starts from nothing: the object created earlier is gone', async () => {
    expect(kubectl).toBeTruthy();
    const fresh = await npmStart(clone, env, ['--fresh'], START_MS, started);
    expect(fresh.kubeconfigs.every((k) => k.startsWith(stateDir))).toBe(true);
    await expect(getMarker(mgmtOf(fresh))).rejects.toThrow(/NotFound|not found/);
    await expect(run(kubectl, ['--kubeconfig', member1Of(fresh), 'get', 'us/cache'])).rejects.toThrow(/NotFound|not found/);
    await interrupt(fresh);
  }, START_MS + 60_000);

  it('--dir DIR keeps the state in DIR and leaves the default state alone', async () => {
    expect(kubectl).toBeTruthy();
    const other = join(tmp, 'elsewhere');
    const defaultState = statSync(join(stateDir, 'state.json')).mtimeMs;
    const s = await npmStart(clone, env, ['--dir', other], START_MS, started);
    expect(s.kubeconfigs).toHaveLength(3);
    expect(s.kubeconfigs.every((k) => k.startsWith(`${other}/`))).toBe(true);
    expect(Number(readFileSync(join(other, 'upm.pid'), 'utf8'))).toBeGreaterThan(0);
    expect(existsSync(join(other, 'etcd'))).toBe(true);
    const { stdout } = await run(kubectl, ['--kubeconfig', mgmtOf(s), 'get', 'nodes', '--no-headers']);
    expect(stdout.trim().split('\n')).toHaveLength(3);
    expect(existsSync(join(stateDir, 'upm.pid'))).toBe(false); // the --fresh run stopped clean and this one runs elsewhere
    expect(statSync(join(stateDir, 'state.json')).mtimeMs).toBe(defaultState);
    const pids = recordedPids(other);
    await interrupt(s);
    await waitFor('every process of the --dir run gone', () => pids.every((p) => !alive(p)), { timeoutMs: CHILDREN_GONE_MS });
  }, START_MS + 60_000);
});
