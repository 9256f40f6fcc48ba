// Real MariaDB behind simulated pods: the Unit Operator drives each pod's unit agent, the local engine runtime runs
// mariadbd on the pod's loopback address. Shown here: three reachable servers configured from the template, a
// dynamic parameter applied live, a static one rolled unit by unit, stop/start keeping data, backup and restore,
// and an agent that refuses unauthenticated calls and bad parameters.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { AgentCallError, AgentClient } from '../../agent/client.ts';
import { readUnitAgentToken } from '../../agent/tokens.ts';
import { AGENT_PORT } from '../../agent/api.ts';
import type { Unit, UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { kubectlOk } from '../kubectl.ts';
import { useUnitOperator } from '../unit-operator.ts';
import { mariadbUnitSet } from '../fixtures.ts';
import { watchStates } from '../watch-states.ts';

const run = promisify(execFile);
const CLUSTER = 'member1';
type Secret = KubeObject & { data?: Record<string, string> };
type ConfigMap = KubeObject & { data?: Record<string, string> };
type Pod = KubeObject & { status?: { podIP?: string } };
const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

describe('MariaDB units on real engines', () => {
  const f = useUnitOperator(CLUSTER, 'mdb', { engines: true });
  let c: KubeClient;
  let ns: string;
  let admin: { user: string; password: string };
  beforeAll(() => { c = f.client; ns = f.ns; });

  const units = async () => (await c.list<Unit>(UnitResource, { namespace: ns, labelSelector: 'unit.upm.io/unitset=db' })).items
    .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  const ip = async (unit: string) => (await c.get<Pod>(Resources.pods, unit, ns)).status?.podIP ?? '';
  const sql = async (unit: string, query: string): Promise<string> => {
    const { stdout } = await run('mariadb', ['-h', await ip(unit), '-P', '3306', '-u', admin.user, `-p${admin.password}`, '-N', '-B', '-e', query], { timeout: 20_000 });
    return stdout.trim();
  };
  const waitReady = (generationToo = true) => waitFor('UnitSet db Ready', async () => {
    const us = await c.get<UnitSet>(UnitSetResource, 'db', ns);
    return us.status?.phase === 'Ready' && us.status.readyUnits === 3 && (!generationToo || us.status.observedGeneration === us.metadata.generation);
  }, { timeoutMs: 120_000, intervalMs: 250 });
  const agentOf = async (unit: string) => {
    return new AgentClient(await ip(unit), AGENT_PORT, await readUnitAgentToken(c, ns, unit));
  };

  it('brings up three reachable mariadbd servers whose config came from the template', async () => {
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], mariadbUnitSet(ns, 3));
    await waitReady();
    const secret = await c.get<Secret>(Resources.secrets, 'db-credentials', ns);
    admin = { user: b64(secret.data?.['admin-username']), password: b64(secret.data?.['admin-password']) };
    const list = await units();
    expect(list.map((u) => [u.status?.phase, u.status?.engine?.state, u.status?.engine?.ready])).toEqual(Array(3).fill(['Ready', 'Running', true]));
    const ips = await Promise.all(list.map((u) => ip(u.metadata.name ?? '')));
    expect(new Set(ips).size).toBe(3);
    for (const a of ips) expect(a).toMatch(/^127\./);
    // server_id from the ordinal; the buffer pool from 70% of the 256Mi limit (179M, rounded up by InnoDB to its
    // chunk size at most); innodb_log_file_size from the override.
    for (const [o, u] of ['db-0', 'db-1', 'db-2'].entries()) {
      const [serverId, pool, logFile, maxConn] = (await sql(u, 'SELECT @@server_id, @@innodb_buffer_pool_size, @@innodb_log_file_size, @@max_connections')).split('\t').map(Number);
      expect(serverId).toBe(o + 1);
      expect(pool).toBeGreaterThanOrEqual(179 * 1024 * 1024);
      expect(pool).toBeLessThanOrEqual(256 * 1024 * 1024);
      expect(logFile).toBe(16 * 1024 * 1024);
      expect(maxConn).toBe(100);
      const cm = await c.get<ConfigMap>(Resources.configMaps, `${u}-config`, ns);
      expect(cm.data?.['my.cnf']).toContain(`server_id = ${o + 1}`);
      expect(cm.data?.['my.cnf']).toContain('innodb_buffer_pool_size = 179M');
    }
  }, 240_000);

  const podUids = () => Promise.all(['db-0', 'db-1', 'db-2'].map(async (u) => (await c.get<Pod>(Resources.pods, u, ns)).metadata.uid));

  it('applies a dynamic parameter to every unit live, without restarting anything', async () => {
    const before = await units();
    const uidsBefore = await podUids();
    await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'us', 'db', '--type', 'merge', '-p', '{"spec":{"parameters":{"max_connections":"321"}}}']);
    await waitFor('max_connections 321 everywhere', async () => (await Promise.all(['db-0', 'db-1', 'db-2'].map((u) => sql(u, 'SELECT @@GLOBAL.max_connections')))).every((v) => v === '321'), { timeoutMs: 60_000 });
    await waitReady();
    const after = await units();
    for (const [i, u] of after.entries()) {
      expect(u.status?.engine?.pid).toBe(before[i]?.status?.engine?.pid);
      expect(u.status?.engine?.startedAt).toBe(before[i]?.status?.engine?.startedAt);
      expect(u.spec.revision).toBe(before[i]?.spec.revision); // no pod rollout
      expect(u.status?.configRevision).toBe(u.spec.configRevision);
    }
    expect(await podUids()).toEqual(uidsBefore);
  }, 240_000);

  it('rolls a static parameter out one unit at a time, restarting engines but not pods', async () => {
    const before = await units();
    const uidsBefore = await podUids();
    // Every state the units pass through (a watch event each), so a moment with two units down cannot slip by.
    let maxDown = 0;
    let worst = '';
    const order: string[] = [];
    const watch = await watchStates<Unit>(c, UnitResource, { namespace: ns, labelSelector: 'unit.upm.io/unitset=db' }, (all) => {
      const down = [...all.values()].filter((u) => !u.status?.ready || u.status.configRevision !== u.spec.configRevision);
      if (down.length > maxDown) worst = down.map((u) => `${u.metadata.name}(ready=${u.status?.ready} spec=${u.spec.configRevision} status=${u.status?.configRevision})`).join(' ');
      maxDown = Math.max(maxDown, down.length);
      for (const u of down) if (!order.includes(u.metadata.name ?? '') && u.spec.configRevision !== before.find((b) => b.metadata.name === u.metadata.name)?.spec.configRevision) order.push(u.metadata.name ?? '');
    });
    await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'us', 'db', '--type', 'merge', '-p', '{"spec":{"parameters":{"innodb_log_buffer_size":"32M"}}}']);
    await waitFor('every unit restarted with the new setting', async () => {
      const list = await units();
      return list.every((u, i) => u.status?.ready && u.status.configRevision === u.spec.configRevision && u.status.engine?.pid !== before[i]?.status?.engine?.pid);
    }, { timeoutMs: 120_000, intervalMs: 250 });
    await waitReady();
    await watch.stop();
    expect({ maxDown, worst: maxDown > 1 ? worst : '' }).toEqual({ maxDown: 1, worst: '' });
    expect(order).toEqual(['db-2', 'db-1', 'db-0']); // highest ordinal first
    for (const u of ['db-0', 'db-1', 'db-2']) expect(await sql(u, 'SELECT @@innodb_log_buffer_size')).toBe(String(32 * 1024 * 1024));
    // The max_connections change from before survived the restarts (it is in the config file too).
    for (const u of ['db-0', 'db-1', 'db-2']) expect(await sql(u, 'SELECT @@max_connections')).toBe('321');
    expect(await podUids()).toEqual(uidsBefore);
  }, 300_000);

  it('stops and starts a unit through spec.startup, keeping its data', async () => {
    await sql('db-2', "CREATE DATABASE keep; CREATE TABLE keep.t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO keep.t VALUES (1, 'before-stop'), (2, 'still-here')");
    await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'un', 'db-2', '--type', 'merge', '-p', '{"spec":{"startup":false}}']);
    await waitFor('db-2 stopped', async () => {
      const u = await c.get<Unit>(UnitResource, 'db-2', ns);
      return u.status?.phase === 'Stopped' && u.status.engine?.state === 'Stopped' && u.status.ready === false;
    }, { timeoutMs: 60_000 });
    await expect(sql('db-2', 'SELECT 1')).rejects.toThrow(/Can't connect|Lost connection/);
    const table = await kubectlOk(CLUSTER, ['-n', ns, 'get', 'un', 'db-2']);
    expect(table).toMatch(/db-2\s+Stopped\s+false\s+\S+\s+127\.\S+\s+Stopped/);
    await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'un', 'db-2', '--type', 'merge', '-p', '{"spec":{"startup":true}}']);
    await waitFor('db-2 Ready again', async () => (await c.get<Unit>(UnitResource, 'db-2', ns)).status?.phase === 'Ready', { timeoutMs: 60_000 });
    expect(await sql('db-2', 'SELECT GROUP_CONCAT(v ORDER BY id) FROM keep.t')).toBe('before-stop,still-here');
  }, 180_000);

  it('backs up a database and restores it through the agent', async () => {
    await sql('db-0', "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(40)); INSERT INTO shop.orders VALUES (1, 'apple'), (2, 'pear'), (3, 'plum')");
    const agent = await agentOf('db-0');
    const backup = await agent.backup({ path: `${ns}/shop.sql`, database: 'shop' });
    expect(backup.format).toBe('mariadb-dump');
    expect(backup.bytes).toBeGreaterThan(100);
    await sql('db-0', "DELETE FROM shop.orders WHERE id > 1; INSERT INTO shop.orders VALUES (9, 'intruder')");
    expect(await sql('db-0', 'SELECT GROUP_CONCAT(item ORDER BY id) FROM shop.orders')).toBe('apple,intruder');
    await agent.restore({ path: `${ns}/shop.sql`, database: 'shop' });
    expect(await sql('db-0', 'SELECT GROUP_CONCAT(item ORDER BY id) FROM shop.orders')).toBe('apple,pear,plum');
  });

  it('refuses calls without the agent token and rejects bad parameters and paths with the field named', async () => {
    const good = await agentOf('db-0');
    const host = await ip('db-0');
    for (const token of ['', 'not-the-token']) {
      const err = await new AgentClient(host, AGENT_PORT, token).status().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AgentCallError);
      expect((err as AgentCallError).code).toBe(401);
      expect((err as AgentCallError).status?.reason).toBe('Unauthorized');
    }
    // Nothing changed through an unauthenticated call either.
    const noAuth = await new AgentClient(host, AGENT_PORT, 'x').stop().catch((e: unknown) => e);
    expect((noAuth as AgentCallError).code).toBe(401);
    expect((await good.status()).state).toBe('Running');

    const unknown = await good.setParameters({ no_such_setting: '1' }).catch((e: unknown) => e) as AgentCallError;
    expect(unknown.code).toBe(422);
    expect(unknown.status?.details?.causes).toEqual([expect.objectContaining({ field: 'parameters[no_such_setting]', message: expect.stringContaining('unknown parameter') })]);
    const range = await good.setParameters({ max_connections: '5' }).catch((e: unknown) => e) as AgentCallError;
    expect(range.code).toBe(422);
    expect(range.message).toContain('parameters[max_connections]: must be >= 10');
    const path = await good.backup({ path: '../../etc/passwd' }).catch((e: unknown) => e) as AgentCallError;
    expect(path.code).toBe(422);
    expect(path.status?.details?.causes?.[0]?.field).toBe('path');
    expect(await sql('db-0', 'SELECT @@max_connections')).toBe('321');

    // A valid day-2 change through the agent applies live.
    const st = await good.setParameters({ max_connections: '222' });
    expect(st.restartRequired).toBe(false);
    expect(await sql('db-0', 'SELECT @@max_connections')).toBe('222');
  });
});
