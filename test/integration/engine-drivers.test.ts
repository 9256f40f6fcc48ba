// The unit agent's engine drivers against the real Debian binaries, run as loopback processes: each engine's config
// is rendered from its real EngineTemplate, localized, initialised, started and exercised as the agent will.
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { driverFor } from '../../agent/engines/index.ts';
import { MARIADB_CLIENT } from '../../agent/engines/mariadb.ts';
import { redisCommand } from '../../agent/engines/resp.ts';
import { EngineNotRunnable, type EngineEnv } from '../../agent/engines/types.ts';
import { quantityBytes, run } from '../../agent/engines/util.ts';
import { zookeeperMode } from '../../agent/engines/zookeeper.ts';
import { waitFor } from '../../lib/wait.ts';
import { alive, context, engineEnv, install, Processes, render, start, template, type Rendered } from '../engine-harness.ts';

// One /24 of 127.250.0.0/16 per run, so that concurrent runs rarely meet; every engine binds only these addresses.
const NET = 1 + Math.floor(Math.random() * 250);
const address = (host: number): string => `127.250.${NET}.${host}`;

let base: string;
const procs = new Processes();
beforeAll(async () => { base = await mkdtemp(join(tmpdir(), 'upm-engines-')); });
afterAll(async () => {
  await procs.stopAll();
  await rm(base, { recursive: true, force: true });
});

describe('driverFor', () => {
  it('returns the local drivers and refuses engines without a local binary, saying what is missing', () => {
    expect(driverFor('mariadb').engine).toBe('mariadb');
    expect(driverFor('redis-sentinel').engine).toBe('redis-sentinel');
    expect(() => driverFor('mysql')).toThrow(EngineNotRunnable);
    expect(() => driverFor('mysql')).toThrow(/no MySQL 8 package.*MariaDB stands in/);
    for (const e of ['elasticsearch', 'proxysql']) expect(() => driverFor(e)).toThrow(/no .*package/);
    expect(() => driverFor('elasticsearch')).toThrow(/OpenSearch 2.19 .*is the local stand-in/);
    expect(driverFor('kafka').engine).toBe('kafka');
    expect(driverFor('opensearch').engine).toBe('opensearch');
    expect(() => driverFor('cassandra')).toThrow(/no driver/);
  });
});

describe('mariadb driver', () => {
  const driver = driverFor('mariadb');
  const credentials = {
    'admin-username': 'upm_admin', 'admin-password': `adm'in"\\pw`,
    'replication-username': 'upm_repl', 'replication-password': 'repl-pw',
    'monitor-username': 'upm_monitor', 'monitor-password': 'mon-pw',
  };
  const ctx = context('db', 2, 3);
  let env: EngineEnv;
  let rendered: Rendered;
  let configPath: string;
  let child: ChildProcess;

  const overSocket = async (sql: string): Promise<string> => (await run('sql', MARIADB_CLIENT, ['--no-defaults', `--socket=${join(env.runDir, 'mysqld.sock')}`, '--user=root', '-BN', '-e', sql])).trim();
  const overTcp = async (role: 'admin' | 'replication' | 'monitor', sql: string): Promise<string> => (await run(`sql as ${role}`, MARIADB_CLIENT, [
    '--no-defaults', `--host=${env.address}`, '--port=3306', `--user=${credentials[`${role}-username`]}`, `--password=${credentials[`${role}-password`]}`, '-BN', '-e', sql,
  ])).trim();
  const uptime = async (): Promise<number> => Number(await overSocket("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'UPTIME'"));

  beforeAll(async () => {
    env = engineEnv(base, ctx.unit.name, address(1), new Map([[ctx.unit.fqdn, address(1)]]), credentials);
    // The template's 512M redo log is no resource of the unit: a user override keeps the test's disk use small.
    rendered = render(template('mariadb-10.11'), ctx, { innodb_log_file_size: '48M' }, env);
    const t0 = Date.now();
    configPath = await install(driver, env, rendered.text, 'my.cnf');
    const t1 = Date.now();
    child = await start(procs, driver, env, configPath);
    await driver.bootstrap?.(env);
    process.stdout.write(`mariadb: prepare ${t1 - t0} ms, start+probe+bootstrap ${Date.now() - t1} ms\n`);
  });

  it('runs with the rendered settings, on this node\'s address and paths', async () => {
    const live = await driver.readLive?.(env, ['server_id', 'innodb_buffer_pool_size', 'max_connections', 'bind_address', 'report_host', 'datadir', 'thread_handling']);
    expect(live?.get('server_id')).toBe(String(ctx.serverId));
    expect(live?.get('innodb_buffer_pool_size')).toBe(String(quantityBytes(rendered.params.get('innodb_buffer_pool_size') ?? '')));
    expect(live?.get('max_connections')).toBe(rendered.params.get('max_connections'));
    expect(live?.get('bind_address')).toBe(env.address);
    expect(live?.get('report_host')).toBe(env.address);
    expect(live?.get('datadir')).toBe(`${join(env.dataDir, 'data')}/`);
    expect(live?.get('thread_handling')).toBe(rendered.params.get('thread_handling'));
  });

  it('creates the platform accounts outside the binlog; admin logs in over TCP', async () => {
    await driver.bootstrap?.(env); // idempotent: a second start runs it again
    expect(await overTcp('admin', 'SELECT CURRENT_USER()')).toBe('upm_admin@%');
    expect(await overTcp('replication', 'SELECT CURRENT_USER()')).toBe('upm_repl@%');
    expect(await overTcp('monitor', "SHOW GRANTS FOR CURRENT_USER()")).toMatch(/GRANT SELECT, PROCESS, BINLOG MONITOR, SLAVE MONITOR ON \*\.\*/);
    expect(await overTcp('admin', "SHOW GRANTS FOR CURRENT_USER()")).toMatch(/ALL PRIVILEGES ON \*\.\* TO `upm_admin`@`%`.*WITH GRANT OPTION/);
    expect(await overSocket('SELECT @@GLOBAL.gtid_binlog_pos')).toBe('');
  });

  it('prepare leaves an initialised data directory alone', async () => {
    const before = (await stat(join(env.dataDir, 'data', 'mysql'))).ino;
    await driver.prepare(env, configPath);
    expect((await stat(join(env.dataDir, 'data', 'mysql'))).ino).toBe(before);
  });

  it('changes settings live without a restart, and reports the engine\'s error for a bad value', async () => {
    const up = await uptime();
    await driver.setLive?.(env, new Map([['max_connections', '77'], ['max_allowed_packet', '32M'], ['tx_isolation', 'READ-COMMITTED'], ['slow_query_log', 'false']]));
    const live = await driver.readLive?.(env, ['max_connections', 'max_allowed_packet', 'tx_isolation', 'slow_query_log']);
    expect(Object.fromEntries(live ?? [])).toEqual({ max_connections: '77', max_allowed_packet: '33554432', tx_isolation: 'READ-COMMITTED', slow_query_log: '0' });
    expect(alive(child)).toBe(true);
    expect(await uptime()).toBeGreaterThanOrEqual(up);
    await expect(driver.setLive?.(env, new Map([['max_connections', 'lots']]))).rejects.toThrow(/SET GLOBAL.*Incorrect argument type to variable 'max_connections'/);
    await expect(driver.setLive?.(env, new Map([['max_connections; DROP DATABASE mysql', '1']]))).rejects.toThrow(/not a MariaDB system variable/);
  });

  it('backs up a database, and restores it after it was dropped', async () => {
    await overTcp('admin', 'CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(20)); INSERT INTO shop.orders VALUES (1, "apple"), (2, "pear"), (3, "fig")');
    const target = join(base, 'backups', 'shop.sql');
    const result = await driver.backup?.(env, target, { database: 'shop' });
    expect(result).toMatchObject({ path: target, format: 'mariadb-dump' });
    expect(result?.bytes).toBe((await stat(target)).size);
    expect(await readFile(target, 'utf8')).toMatch(/CREATE TABLE `orders`/);
    await overTcp('admin', 'DROP DATABASE shop');
    await driver.restore?.(env, target, { database: 'shop' });
    expect(await overTcp('admin', 'SELECT GROUP_CONCAT(item ORDER BY id) FROM shop.orders')).toBe('apple,pear,fig');
  });

  it('stops cleanly on SIGTERM', async () => {
    await procs.stop(child, driver.launch(env, configPath).stopSignal);
    expect(child.exitCode).toBe(0);
  });
});

describe('redis and sentinel drivers', () => {
  const driver = driverFor('redis');
  const sentinel = driverFor('redis-sentinel');
  const ctx = context('cache', 0, 1);
  let env: EngineEnv;
  let rendered: Rendered;
  let configPath: string;
  let child: ChildProcess;
  const redis = (...args: string[]) => redisCommand(env.address, 6379, args);

  beforeAll(async () => {
    env = engineEnv(base, ctx.unit.name, address(2), new Map([[ctx.unit.fqdn, address(2)]]));
    rendered = render(template('redis-7.2'), ctx, {}, env);
    configPath = await install(driver, env, rendered.text, 'redis.conf');
    const t0 = Date.now();
    child = await start(procs, driver, env, configPath);
    process.stdout.write(`redis: start+probe ${Date.now() - t0} ms\n`);
  });

  it('runs with the rendered settings on this node\'s address', async () => {
    expect(await redis('PING')).toBe('PONG');
    const live = await driver.readLive?.(env, ['maxmemory', 'appendonly', 'bind', 'bind-source-addr', 'protected-mode', 'dir', 'replica-announce-ip']);
    expect(live?.get('maxmemory')).toBe(String(quantityBytes(rendered.params.get('maxmemory') ?? '')));
    expect(live?.get('appendonly')).toBe(rendered.params.get('appendonly'));
    expect(live?.get('bind')).toBe(env.address);
    expect(live?.get('bind-source-addr')).toBe(env.address);
    expect(live?.get('protected-mode')).toBe('no');
    expect(live?.get('dir')).toBe(env.dataDir);
    expect(live?.get('replica-announce-ip')).toBe(env.address);
  });

  it('changes maxmemory-policy live, and reports a bad value', async () => {
    await driver.setLive?.(env, new Map([['maxmemory-policy', 'allkeys-lru'], ['maxmemory', '64mb']]));
    expect(Object.fromEntries((await driver.readLive?.(env, ['maxmemory-policy', 'maxmemory'])) ?? [])).toEqual({ 'maxmemory-policy': 'allkeys-lru', maxmemory: String(64 * 1024 * 1024) });
    expect(alive(child)).toBe(true);
    await expect(driver.setLive?.(env, new Map([['maxmemory-policy', 'sometimes']]))).rejects.toThrow(/CONFIG SET.*maxmemory-policy/);
  });

  it('takes an RDB backup, and restores it (engine stopped) over a flushed data set', async () => {
    for (let i = 0; i < 100; i++) await redis('SET', `key:${i}`, `value-${i}`);
    const target = join(base, 'backups', 'cache.rdb');
    const result = await driver.backup?.(env, target, {});
    expect(result).toMatchObject({ path: target, format: 'rdb' });
    expect(result?.bytes).toBeGreaterThan(0);
    await redis('FLUSHALL');
    expect(await redis('DBSIZE')).toBe(0);
    expect(driver.restoreNeedsStop).toBe(true);
    // A clean stop writes the (now empty) AOF and RDB: the restore must win over both.
    await procs.stop(child);
    await driver.restore?.(env, target, {});
    child = await start(procs, driver, env, configPath);
    expect(await redis('DBSIZE')).toBe(100);
    expect(await redis('GET', 'key:42')).toBe('value-42');
    expect((await driver.readLive?.(env, ['appendonly']))?.get('appendonly')).toBe('yes');
    // The data survive one more restart from the AOF that the restore seeded.
    await procs.stop(child);
    child = await start(procs, driver, env, configPath);
    expect(await redis('DBSIZE')).toBe(100);
  });

  it('restores an RDB backup with appendonly no (RDB file only, no AOF directory)', async () => {
    const octx = context('plain', 0, 1);
    const oenv = engineEnv(base, octx.unit.name, address(4), new Map([[octx.unit.fqdn, address(4)]]));
    const oconfig = await install(driver, oenv, render(template('redis-7.2'), octx, { appendonly: 'no' }, oenv).text, 'redis.conf');
    const plain = (...args: string[]) => redisCommand(oenv.address, 6379, args);
    let ochild = await start(procs, driver, oenv, oconfig);
    await plain('MSET', 'a', '1', 'b', '2');
    const target = join(base, 'backups', 'plain.rdb');
    await driver.backup?.(oenv, target, {});
    await plain('FLUSHALL');
    await procs.stop(ochild);
    await driver.restore?.(oenv, target, {});
    expect(await stat(join(oenv.dataDir, 'appendonlydir')).then(() => true, () => false)).toBe(false);
    ochild = await start(procs, driver, oenv, oconfig);
    expect(await plain('MGET', 'a', 'b')).toEqual(['1', '2']);
    await procs.stop(ochild);
  });

  it('runs a sentinel from a writable config that answers PING on 26379 and monitors the redis', async () => {
    const sctx = context('sentinel', 0, 1);
    const senv = engineEnv(base, sctx.unit.name, address(3), new Map([[sctx.unit.fqdn, address(3)]]));
    const srendered = render(template('redis-sentinel-7.2'), sctx, {}, senv);
    expect(srendered.text).toContain(`sentinel announce-ip ${senv.address}`);
    const sconfig = await install(sentinel, senv, srendered.text, 'sentinel.conf');
    const t0 = Date.now();
    await start(procs, sentinel, senv, sconfig);
    process.stdout.write(`sentinel: start+probe ${Date.now() - t0} ms\n`);
    const sent = (...args: string[]) => redisCommand(senv.address, 26379, args);
    expect(await sent('PING')).toBe('PONG');
    expect(await sent('SENTINEL', 'MONITOR', 'cache', env.address, '6379', '1')).toBe('OK');
    await sentinel.setLive?.(senv, new Map([['down-after-milliseconds', '2000']]));
    const master = await sent('SENTINEL', 'MASTER', 'cache');
    expect(Array.isArray(master) && master.join(' ')).toMatch(new RegExp(`ip ${env.address.replace(/\./g, '\\.')} port 6379 .*down-after-milliseconds 2000`));
    expect((await sentinel.readLive?.(senv, ['resolve-hostnames']))?.get('resolve-hostnames')).toBe('yes');
    // Sentinel persisted the monitor by rewriting its config file.
    await waitFor('sentinel config rewrite', async () => (await readFile(sconfig, 'utf8')).includes('sentinel monitor cache'), { timeoutMs: 5000 });
  });
});

describe('zookeeper driver', () => {
  const driver = driverFor('zookeeper');
  const units = [0, 1, 2].map((o) => context('zk', o, 3));
  const hosts = new Map(units.map((c, i) => [c.unit.fqdn, address(11 + i)]));
  let envs: EngineEnv[];

  beforeAll(async () => {
    envs = units.map((c) => engineEnv(base, c.unit.name, hosts.get(c.unit.fqdn) ?? '', hosts));
    const configs = await Promise.all(units.map((c, i) => install(driver, envs[i] as EngineEnv, render(template('zookeeper-3.8'), c, {}, envs[i] as EngineEnv).text, 'zoo.cfg')));
    const t0 = Date.now();
    await Promise.all(envs.map((e, i) => start(procs, driver, e, configs[i] ?? '')));
    process.stdout.write(`zookeeper: 3-node quorum serving in ${Date.now() - t0} ms\n`);
  });

  it('localizes the ensemble to loopback addresses and writes myid', async () => {
    const env = envs[1] as EngineEnv;
    const cfg = await readFile(join(env.runDir, 'zoo.cfg'), 'utf8');
    expect(cfg).toContain(`clientPortAddress=${env.address}`);
    expect(cfg).toContain(`dataDir=${env.dataDir}`);
    expect(cfg).toContain('quorumListenOnAllIPs=false');
    expect(cfg).toMatch(/^#metricsProvider.className=/m);
    expect(cfg).toContain(`server.3=${address(13)}:2888:3888`);
    expect((await readFile(join(env.dataDir, 'myid'), 'utf8')).trim()).toBe('2');
  });

  it('forms a quorum with exactly one leader', async () => {
    const modes = await waitFor('leader and followers', async () => {
      const m = await Promise.all(envs.map((e) => zookeeperMode(e)));
      return m.every((x) => x === 'leader' || x === 'follower') ? m : undefined;
    }, { timeoutMs: 30_000 });
    expect(modes.filter((m) => m === 'leader')).toHaveLength(1);
    expect(modes.filter((m) => m === 'follower')).toHaveLength(2);
  });
});
