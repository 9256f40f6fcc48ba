// The unit agent as a process of its own, facing a caller that holds its token: a config file name cannot leave
// the agent's config directory (no "..", no path, no symlink planted in the way), and the engine it starts gets only
// what an engine needs from the environment, never the agent's token or the unit's credentials. And a UnitSet's
// env reaches the engine container only, never the agent's (NODE_OPTIONS would run code in it).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { AgentCallError, AgentClient } from '../../agent/client.ts';
import type { ConfigPush } from '../../agent/api.ts';
import type { EngineTemplateSpec, Unit } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitResource } from '../../lib/api/unit.upm.io.generated.ts';
import { effectiveParameters } from '../../lib/engineconfig.ts';
import { waitFor } from '../../lib/wait.ts';
import { kubectlOk } from '../kubectl.ts';
import { useUnitOperator } from '../unit-operator.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const ADDRESS = '127.251.0.9';
const PORT = 2214;
const TOKEN = 'security-agent-test-token';
const CREDENTIAL = 'hunter2-admin-password';

describe('unit agent process facing a hostile caller', () => {
  let dir: string;
  let agent: ChildProcess;
  const client = new AgentClient(ADDRESS, PORT, TOKEN);
  const runDir = () => join(dir, 'run');
  const outside = () => join(dir, 'outside');
  let push: ConfigPush;

  const refused = async (call: Promise<unknown>): Promise<AgentCallError> => {
    const err = await call.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(AgentCallError);
    return err as AgentCallError;
  };
  /** Every file under a directory, as paths relative to it. */
  const filesUnder = async (d: string): Promise<string[]> => (await readdir(d, { recursive: true }).catch(() => [] as string[])).map(String).sort();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'upm-sec-agent-'));
    await mkdir(outside(), { recursive: true });
    await writeFile(join(outside(), 'victim'), 'untouched\n');
    agent = spawn(process.execPath, [join(ROOT, 'agent/main.ts')], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env, UPM_LOG_LEVEL: 'warn', UPM_ENGINE: 'mariadb', UPM_AGENT_TOKEN: TOKEN, POD_NAME: 'db-0', POD_UID: 'uid-1', POD_IP: ADDRESS,
        'UPM_CRED_admin-password': CREDENTIAL, AWS_SECRET_ACCESS_KEY: 'not-for-the-engine',
        UPM_AGENT_LISTEN: `${ADDRESS}:${PORT}`, UPM_DATA_DIR: join(dir, 'data'), UPM_RUN_DIR: runDir(), UPM_BACKUP_DIR: join(dir, 'backup'),
      },
    });
    await waitFor('agent listening', async () => (await client.status().then(() => true, () => false)), { timeoutMs: 20_000, intervalMs: 100 });
    const spec = (parse(readFileSync(join(ROOT, 'config/templates/mariadb-10.11.yaml'), 'utf8')) as { spec: EngineTemplateSpec }).spec;
    const context = {
      unit: { name: 'db-0', ordinal: 0, fqdn: ADDRESS }, unitSet: { name: 'db', units: 1 }, namespace: 'default', serverId: 1,
      resources: { cpuMillis: 500, memoryMiB: 256, memoryMiB25: 64, memoryMiB50: 128, memoryMiB70: 179 }, peers: [],
    };
    push = {
      revision: 'r1', fileName: 'my.cnf', template: spec.config?.template ?? '', context, specs: spec.parameters ?? [],
      parameters: Object.fromEntries(effectiveParameters(spec.parameters, { innodb_log_file_size: '16M', max_connections: '50' }, context)),
    };
  });
  afterAll(async () => {
    if (agent.exitCode === null) {
      agent.kill('SIGTERM');
      await new Promise((r) => agent.once('exit', r));
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a config file name that is not a plain name, and writes nothing outside its directory', async () => {
    for (const fileName of ['../../../outside/x', '../outside/victim', '/etc/passwd', 'a/b.conf', '..', '.', '.hidden', 'a\\b', 'x\n.conf', `${'a'.repeat(200)}.conf`]) {
      const err = await refused(client.pushConfig({ ...push, fileName }));
      expect([fileName, err.code]).toEqual([fileName, 422]);
      expect(err.status?.details?.causes?.map((c) => c.field)).toEqual(['fileName']);
    }
    expect(await filesUnder(outside())).toEqual(['victim']);
    expect(await readFile(join(outside(), 'victim'), 'utf8')).toBe('untouched\n');
    expect(existsSync(join(dir, 'x'))).toBe(false);
    // A plain name is written where it belongs.
    expect((await client.pushConfig(push)).configRevision).toBe('r1');
    expect(await readFile(join(runDir(), 'config', 'my.cnf'), 'utf8')).toContain('max_connections = 50');
  });

  it('does not follow a symlink planted where the config file goes', async () => {
    const target = join(runDir(), 'config', 'my.cnf');
    await rm(target);
    await symlink(join(outside(), 'victim'), target);
    expect((await client.pushConfig({ ...push, revision: 'r2' })).configRevision).toBe('r2');
    expect(await readFile(join(outside(), 'victim'), 'utf8')).toBe('untouched\n');
    expect((await lstat(target)).isSymbolicLink()).toBe(false);
    expect(await readFile(target, 'utf8')).toContain('max_connections = 50');
  });

  it('starts the engine with what it needs from the environment, and neither the token nor any credential', async () => {
    await client.start();
    // mariadbd keeps its environment readable (Redis overwrites it with its process title).
    const pid = await waitFor('mariadbd started', async () => (await client.status()).pid, { timeoutMs: 120_000, intervalMs: 100 });
    const environ = await waitFor('its environment', async () => (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').filter(Boolean), { timeoutMs: 5_000 });
    const names = environ.map((e) => e.split('=')[0]);
    expect(names).toContain('PATH');
    for (const forbidden of ['UPM_AGENT_TOKEN', 'UPM_CRED_admin-password', 'AWS_SECRET_ACCESS_KEY', 'UPM_AGENT_LISTEN']) expect(names).not.toContain(forbidden);
    for (const secret of [TOKEN, CREDENTIAL]) expect(environ.join('\n')).not.toContain(secret);
  });

  it('refuses a config directory that is a symlink out of the run directory', async () => {
    await client.stop();
    await rm(join(runDir(), 'config'), { recursive: true, force: true });
    await symlink(outside(), join(runDir(), 'config'));
    const err = await refused(client.pushConfig({ ...push, revision: 'r3' }));
    expect(err.code).toBeGreaterThanOrEqual(400);
    expect(err.code).toBeLessThan(500);
    expect(await filesUnder(outside())).toEqual(['victim']);
    expect((await client.status()).configRevision).toBe('r2');
  });
});

describe('UnitSet env', () => {
  const f = useUnitOperator('member1', 'secenv');

  it('reaches the engine container only, never the agent', async () => {
    await kubectlOk('member1', ['apply', '-f', '-'], `
apiVersion: unit.upm.io/v1alpha1
kind: UnitSet
metadata: { name: envy, namespace: ${f.ns} }
spec:
  engine: redis
  version: "7.2"
  units: 1
  env: [{ name: NODE_OPTIONS, value: "--require /data/evil.js" }, { name: TZ, value: UTC }]
`);
    const unit = await waitFor('unit envy-0', async () => (await f.client.get<Unit>(UnitResource, 'envy-0', f.ns).catch(() => undefined)));
    const containers = (unit.spec.template as { spec: { containers: { name: string; env?: { name: string; value?: string }[] }[] } }).spec.containers;
    const envOf = (name: string) => (containers.find((c) => c.name === name)?.env ?? []).map((e) => e.name);
    expect(envOf('redis')).toEqual(expect.arrayContaining(['NODE_OPTIONS', 'TZ']));
    expect(envOf('unit-agent')).not.toContain('NODE_OPTIONS');
    expect(envOf('unit-agent')).not.toContain('TZ');
    expect(envOf('exporter')).not.toContain('NODE_OPTIONS');
  });
});
