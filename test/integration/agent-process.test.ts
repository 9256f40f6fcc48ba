// The unit agent as a process of its own (the shape it has in a pod): configured by its environment, it refuses
// unauthenticated calls, takes its config, starts the real engine only when told to, and stops it on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { AgentCallError, AgentClient } from '../../agent/client.ts';
import type { EngineTemplateSpec } from '../../lib/api/unit.upm.io.generated.ts';
import { waitFor } from '../../lib/wait.ts';
import { effectiveParameters } from '../../lib/engineconfig.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const ADDRESS = '127.251.0.7';
const PORT = 2214;
const TOKEN = 'agent-process-test-token';

const ping = (): Promise<string> => new Promise((resolve) => {
  const s = connect({ host: ADDRESS, port: 6379 }, () => s.write('PING\r\n'));
  s.on('data', (d) => { resolve(d.toString()); s.end(); });
  s.on('error', () => resolve('unreachable'));
});

describe('unit agent process', () => {
  let dir: string;
  let agent: ChildProcess;
  const client = new AgentClient(ADDRESS, PORT, TOKEN);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'upm-agent-'));
    agent = spawn(process.execPath, [join(ROOT, 'agent/main.ts')], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env, UPM_LOG_LEVEL: 'warn', UPM_ENGINE: 'redis', UPM_AGENT_TOKEN: TOKEN, POD_NAME: 'cache-0', POD_UID: 'uid-1', POD_IP: ADDRESS,
        UPM_AGENT_LISTEN: `${ADDRESS}:${PORT}`, UPM_DATA_DIR: join(dir, 'data'), UPM_RUN_DIR: join(dir, 'run'), UPM_BACKUP_DIR: join(dir, 'backup'),
      },
    });
    await waitFor('agent listening', async () => (await client.status().then(() => true, () => false)), { timeoutMs: 20_000, intervalMs: 100 });
  });
  afterAll(async () => {
    if (agent.exitCode === null) agent.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a call without its token', async () => {
    const err = await new AgentClient(ADDRESS, PORT, '').start().catch((e: unknown) => e);
    expect((err as AgentCallError).code).toBe(401);
  });

  it('does not start the engine before it is told to, then renders the config and starts it', async () => {
    expect((await client.status()).state).toBe('Stopped');
    expect(await ping()).toBe('unreachable');
    const noConfig = await client.start().catch((e: unknown) => e) as AgentCallError;
    expect(noConfig.code).toBe(409);
    const spec = (parse(readFileSync(join(ROOT, 'config/templates/redis-7.2.yaml'), 'utf8')) as { spec: EngineTemplateSpec }).spec;
    const context = {
      unit: { name: 'cache-0', ordinal: 0, fqdn: ADDRESS }, unitSet: { name: 'cache', units: 1 }, namespace: 'default', serverId: 1,
      resources: { cpuMillis: 500, memoryMiB: 128, memoryMiB25: 32, memoryMiB50: 64, memoryMiB70: 89 }, peers: [],
    };
    const parameters = Object.fromEntries(effectiveParameters(spec.parameters, { 'maxmemory-policy': 'allkeys-lru' }, context));
    const st = await client.pushConfig({ revision: 'r1', fileName: 'redis.conf', template: spec.config?.template ?? '', context, parameters, specs: spec.parameters ?? [] });
    expect(st).toMatchObject({ configRevision: 'r1', state: 'Stopped', restartRequired: false });
    await client.start();
    await waitFor('redis serving', async () => (await client.status()).state === 'Running', { timeoutMs: 20_000, intervalMs: 100 });
    expect(await ping()).toBe('+PONG\r\n');
    expect((await client.status()).pid).toBeGreaterThan(0);
  });

  it('restarts the engine once per restart id: the same id again is a no-op, a bad one a 422', async () => {
    const first = (await client.status()).pid ?? 0;
    const st = await client.restart('op-1');
    expect(st.restartId).toBe('op-1');
    await waitFor('redis serving after the restart', async () => (await client.status()).state === 'Running', { timeoutMs: 20_000, intervalMs: 100 });
    const second = (await client.status()).pid ?? 0;
    expect(second).toBeGreaterThan(0);
    expect(second).not.toBe(first);
    expect((await client.restart('op-1')).pid).toBe(second);
    expect((await client.status()).pid).toBe(second);
    const bad = await client.call('POST', '/v1/restart', { id: 7 }).catch((e: unknown) => e) as AgentCallError;
    expect(bad.code).toBe(422);
  });

  it('stops the engine when the agent is terminated', async () => {
    const pid = (await client.status()).pid ?? 0;
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
    expect(agent.exitCode).toBe(0);
    expect(() => process.kill(pid, 0)).toThrow();
    expect(await ping()).toBe('unreachable');
  });
});
