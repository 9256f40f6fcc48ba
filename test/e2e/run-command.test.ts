// The README's run command from a clean clone: `npm start` brings up the local system and prints kubeconfig paths;
// `kubectl --kubeconfig <printed path> get nodes` shows Ready fake nodes in every cluster; a UnitSet applied to a
// member cluster comes up (its Unit Operator runs); a second `npm start`
// while it runs only reports it; Ctrl-C leaves no process behind; starting again reuses the state.
// The clone is of the committed HEAD, exactly what a user (and CI) gets.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from '@jest/globals';
import { waitFor } from '../../lib/wait.ts';
import { controlsProcesses } from '../env.ts';

const run = promisify(execFile);
const repoRoot = join(import.meta.dirname, '..', '..');

function npmStart(cwd: string, env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
  let out = '';
  // Its own process group, so a signal to the group is what Ctrl-C in a terminal does.
  const child = spawn('npm', ['start'], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  return { child, output: () => out };
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

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

// Skipped against an existing cluster (UPM_TEST_KUBECONFIG): it starts and stops a whole local system of its own.
(controlsProcesses() ? describe : describe.skip)('the README run command', () => {
  let tmp = '';
  const started: ChildProcess[] = [];
  afterAll(async () => {
    for (const c of started) if (c.pid && c.exitCode === null) try { process.kill(-c.pid, 'SIGKILL'); } catch { /* gone */ }
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('starts from a clean clone, serves kubectl, reports a second start, and stops clean on Ctrl-C', async () => {
    tmp = await mkdtemp(join(tmpdir(), 'upm-e2e-run-'));
    const clone = join(tmp, 'upm');
    execFileSync('git', ['clone', '--quiet', repoRoot, clone]);
    const env: NodeJS.ProcessEnv = { ...process.env, UPM_STATE_DIR: join(tmp, 'state') };
    delete env.UPM_BIN_DIR; // the clone finds (or builds) the binaries itself
    const stateDir = join(tmp, 'state', 'local');

    const first = npmStart(clone, env);
    started.push(first.child);
    await waitFor('"is up"', () => /UPM local system is up/.test(first.output()), {
      timeoutMs: 300_000, intervalMs: 250, failFast: () => (first.child.exitCode !== null ? first.output() : undefined),
    });
    const out = first.output();
    const kubeconfigs = [...out.matchAll(/kubeconfig: (\S+)/g)].map((m) => m[1] as string);
    expect(kubeconfigs).toHaveLength(3);
    const kubectl = /^\s*(\S+\/kubectl) --kubeconfig/m.exec(out)?.[1] as string;
    expect(kubectl).toBeTruthy();
    for (const kc of kubeconfigs) {
      const { stdout } = await run(kubectl, ['--kubeconfig', kc, 'get', 'nodes', '--no-headers']);
      const statuses = stdout.trim().split('\n').map((l) => l.split(/\s+/)[1]);
      expect(statuses).toEqual(['Ready', 'Ready', 'Ready']);
    }

    // The Unit Operator runs in the member clusters: the sample UnitSet comes up.
    const member1 = kubeconfigs.find((k) => k.includes('member1')) as string;
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

    const second = await run('npm', ['start'], { cwd: clone, env });
    expect(second.stdout).toContain('already running');

    const pids = recordedPids(stateDir);
    expect(pids.length).toBeGreaterThanOrEqual(15); // etcd + 3 x (apiserver, KCM, scheduler, KWOK) + 2 Unit Operators
    const exited = new Promise<number | null>((resolve) => first.child.once('exit', resolve));
    process.kill(-(first.child.pid as number), 'SIGINT');
    await exited;
    await waitFor('every process gone, engines included', () => [...pids, ...enginePids].every((p) => !alive(p)), { timeoutMs: 30_000 });

    // Run it again: it comes up on the state it left.
    const again = npmStart(clone, env);
    started.push(again.child);
    await waitFor('"is up" again', () => /UPM local system is up/.test(again.output()), {
      timeoutMs: 120_000, intervalMs: 250, failFast: () => (again.child.exitCode !== null ? again.output() : undefined),
    });
    const againExited = new Promise<number | null>((resolve) => again.child.once('exit', resolve));
    const pidsAgain = recordedPids(stateDir);
    process.kill(-(again.child.pid as number), 'SIGINT');
    await againExited;
    await waitFor('every process gone again', () => pidsAgain.every((p) => !alive(p)), { timeoutMs: 30_000 });
  }, 600_000);
});
