// The Kafka and OpenSearch drivers against the real engines from Maven Central jars (installed by the project's
// set-up), run as loopback processes: config rendered from the real EngineTemplate, localized, prepared, started
// and exercised as the agent will, then restarted on the same data. Kafka once per release (3.9 and 4.1), each with
// its own CLIs; its application account has a password with every character the config files could misread, and
// may use the data once the Compose Operator's admin client has granted its ACLs, never administer.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { driverFor } from '../../agent/engines/index.ts';
import { adminClientConfig, jaasValue, KAFKA_INSTALLS, kafkaTool, propValue } from '../../agent/engines/kafka.ts';
import { clusterHealth, HTTP_PORT, OPENSEARCH_UID, rest } from '../../agent/engines/opensearch.ts';
import type { EngineEnv } from '../../agent/engines/types.ts';
import { transportCredentials } from '../../lib/transportcerts.ts';
import { appAcls, principalOf } from '../../operators/compose/kafka/acls.ts';
import { KafkaAdmin } from '../../operators/compose/kafka/admin.ts';
import { alive, context, engineEnv, install, listening, Processes, render, start, template } from '../engine-harness.ts';

// One /24 of 127.251.0.0/16 per run, so that concurrent runs rarely meet; every engine binds only these addresses.
const NET = 1 + Math.floor(Math.random() * 250);
const address = (host: number): string => `127.251.${NET}.${host}`;
const MEMORY_MIB = 512;

/** The effective uid of a process. */
const euidOf = (pid: number): number => Number(/^Uid:\s+[0-9]+\s+([0-9]+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

let base: string;
const procs = new Processes();
beforeAll(async () => { base = await mkdtemp(join(tmpdir(), 'upm-jvm-engines-')); });
afterAll(async () => {
  await procs.stopAll();
  await rm(base, { recursive: true, force: true });
});

// The application account's password: a quote, backslashes, a line break with what would be a setting after it,
// a tab, non-ASCII (the properties file is read as ISO-8859-1) and a character outside the BMP.
const APP_PASSWORD = 'app "pw"\\n\\\n#x\nsuper.users=User:upm_app\té€😀';
const credentials = { 'admin-username': 'admin', 'admin-password': 'kafka-"pw"\\1', 'app-username': 'upm_app', 'app-password': APP_PASSWORD };

describe.each([['kafka-3.9', 0], ['kafka-4.1', 1]] as const)('kafka driver (%s)', (tpl, i) => {
  const driver = driverFor('kafka');
  const version = KAFKA_INSTALLS[tpl.slice('kafka-'.length)]?.version;
  // Addresses and names of their own: the releases run one after the other in one directory.
  const host = (n: number) => address(n + 20 * i);
  // A single unit: the internal topics cannot have three replicas.
  const overrides = { 'offsets.topic.replication.factor': '1', 'transaction.state.log.replication.factor': '1', 'transaction.state.log.min.isr': '1' };
  const ctx = context(`events${i}`, 0, 1, MEMORY_MIB);
  let env: EngineEnv;
  let configPath: string;
  let child: ChildProcess;
  const tool = (main: string, args: string[], input?: string) => kafkaTool(env.unit, main, args, { timeoutMs: 60_000, ...(version ? { version } : {}), ...(input === undefined ? {} : { input }) });
  const bootstrap = () => ['--bootstrap-server', `${env.address}:9092`];

  beforeAll(async () => {
    env = engineEnv(base, ctx.unit.name, host(1), new Map([[ctx.unit.fqdn, host(1)]]), credentials);
    const rendered = render(template(tpl), ctx, overrides, env);
    const t0 = Date.now();
    configPath = await install(driver, env, rendered.text, 'server.properties');
    const t1 = Date.now();
    child = await start(procs, driver, env, configPath);
    process.stdout.write(`${tpl}: format ${t1 - t0} ms, start+probe ${Date.now() - t1} ms\n`);
  });
  afterAll(() => procs.stop(child));

  it('runs the release its template names, logging through that release\'s logging config', async () => {
    expect(version).toBeDefined();
    expect(readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0')).toContain(KAFKA_INSTALLS[tpl.slice('kafka-'.length)]?.lib);
    // The broker's own start-up log line, which only shows if its logging config was read.
    expect(await readFile(join(env.runDir, 'engine.log'), 'utf8')).toContain(`Kafka version: ${version}`);
  });

  it('formats the storage once with the cluster ID of the rendered config, and serves on this node\'s address only', async () => {
    const config = await readFile(configPath, 'utf8');
    const clusterId = /^#upm:cluster-id=(.*)$/m.exec(config)?.[1];
    expect(clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const meta = await readFile(join(env.dataDir, 'logs', 'meta.properties'), 'utf8');
    expect(meta).toContain(`cluster.id=${clusterId}`);
    expect(meta).toContain('node.id=1');
    expect(config).toContain(`listeners=BROKER://${env.address}:9092,CONTROLLER://${env.address}:9093`);
    expect(config).toMatch(/^listener\.name\.broker\.plain\.sasl\.jaas\.config=.*user_admin=/m);
    // Every listener of the process (broker, controller, nothing else) is on the unit's address.
    const sockets = listening(child.pid ?? 0);
    expect(sockets.sort()).toEqual([`${env.address}:9092`, `${env.address}:9093`]);
  });

  it('takes SASL/PLAIN clients with the admin account: a topic, a message produced with acks=all and consumed', async () => {
    const auth = adminClientConfig(env);
    await tool('org.apache.kafka.tools.TopicCommand', [...bootstrap(), '--command-config', auth, '--create', '--topic', 'orders', '--partitions', '1', '--replication-factor', '1']);
    // Kafka 4 moved the console producer from the broker's jar to the tools'.
    await tool(version?.startsWith('3.') ? 'kafka.tools.ConsoleProducer' : 'org.apache.kafka.tools.ConsoleProducer', [...bootstrap(), '--producer.config', auth, '--producer-property', 'acks=all', '--topic', 'orders'], 'apple\npear\nfig\n');
    const got = await tool('org.apache.kafka.tools.consumer.ConsoleConsumer', [...bootstrap(), '--consumer.config', auth, '--topic', 'orders', '--partition', '0', '--offset', 'earliest', '--max-messages', '3', '--timeout-ms', '30000']);
    expect(got.trim().split('\n')).toEqual(['apple', 'pear', 'fig']);
  });

  it('takes the application account with its password as it is, lets it use the data by its ACLs, and refuses it administration', async () => {
    const app = join(env.runDir, 'app.properties');
    const login = `org.apache.kafka.common.security.plain.PlainLoginModule required username=${jaasValue('upm_app')} password=${jaasValue(APP_PASSWORD)};`;
    await writeFile(app, ['security.protocol=SASL_PLAINTEXT', 'sasl.mechanism=PLAIN', `sasl.jaas.config=${propValue(login)}`, ''].join('\n'), { mode: 0o600 });
    // Logged in, but no ACL yet: the authorizer lets it do nothing.
    await expect(tool('org.apache.kafka.tools.TopicCommand', [...bootstrap(), '--command-config', app, '--create', '--topic', 'early', '--partitions', '1', '--replication-factor', '1']))
      .rejects.toThrow(/TopicAuthorizationException|ClusterAuthorizationException|not authorized/i);
    // The ACLs as the Compose Operator grants them: once, then nothing more to do.
    const admin = new KafkaAdmin({ username: 'admin', password: credentials['admin-password'] });
    admin.setAddresses([`${env.address}:9092`]);
    try {
      expect(await admin.ensureAcls(principalOf('upm_app'), appAcls('upm_app'))).toHaveLength(appAcls('upm_app').length);
      expect(await admin.ensureAcls(principalOf('upm_app'), appAcls('upm_app'))).toEqual([]);
    } finally { await admin.close(); }
    await tool('org.apache.kafka.tools.TopicCommand', [...bootstrap(), '--command-config', app, '--create', '--topic', 'app-orders', '--partitions', '1', '--replication-factor', '1']);
    await tool(version?.startsWith('3.') ? 'kafka.tools.ConsoleProducer' : 'org.apache.kafka.tools.ConsoleProducer', [...bootstrap(), '--producer.config', app, '--producer-property', 'acks=all', '--topic', 'app-orders'], 'kiwi\nlime\n');
    // Read in a consumer group of its own (group ACLs), from the admin's topic too.
    const got = await tool('org.apache.kafka.tools.consumer.ConsoleConsumer', [...bootstrap(), '--consumer.config', app, '--topic', 'app-orders', '--group', 'app-readers', '--from-beginning', '--max-messages', '2', '--timeout-ms', '30000']);
    expect(got.trim().split('\n')).toEqual(['kiwi', 'lime']);
    const theirs = await tool('org.apache.kafka.tools.consumer.ConsoleConsumer', [...bootstrap(), '--consumer.config', app, '--topic', 'orders', '--group', 'app-readers', '--from-beginning', '--max-messages', '3', '--timeout-ms', '30000']);
    expect(theirs.trim().split('\n')).toEqual(['apple', 'pear', 'fig']);
    // Administration is refused with Kafka's authorization errors: deleting a topic, a broker setting, an ACL.
    await expect(tool('org.apache.kafka.tools.TopicCommand', [...bootstrap(), '--command-config', app, '--delete', '--topic', 'orders'])).rejects.toThrow(/TopicAuthorizationException/);
    await expect(tool('kafka.admin.ConfigCommand', [...bootstrap(), '--command-config', app, '--entity-type', 'brokers', '--entity-name', '1', '--alter', '--add-config', 'num.io.threads=2'])).rejects.toThrow(/ClusterAuthorizationException/);
    await expect(tool(version?.startsWith('3.') ? 'kafka.admin.AclCommand' : 'org.apache.kafka.tools.AclCommand', [...bootstrap(), '--command-config', app, '--add', '--allow-principal', 'User:upm_app', '--operation', 'All', '--cluster'])).rejects.toThrow(/ClusterAuthorizationException/);
    // The topic is still there, as the admin sees it.
    expect(await tool('org.apache.kafka.tools.TopicCommand', [...bootstrap(), '--command-config', adminClientConfig(env), '--list'])).toMatch(/^orders$/m);
  });

  it('changes dynamic broker settings live, and reports the broker\'s error for a bad value', async () => {
    const pid = child.pid;
    await driver.setLive?.(env, new Map([['num.io.threads', '4'], ['log.retention.bytes', '1048576'], ['unclean.leader.election.enable', 'true']]));
    const live = await driver.readLive?.(env, ['num.io.threads', 'log.retention.bytes', 'unclean.leader.election.enable', 'num.partitions']);
    expect(Object.fromEntries(live ?? [])).toEqual({ 'num.io.threads': '4', 'log.retention.bytes': '1048576', 'unclean.leader.election.enable': 'true', 'num.partitions': '1' });
    expect(alive(child)).toBe(true);
    expect(child.pid).toBe(pid);
    await expect(driver.setLive?.(env, new Map([['num.io.threads', '0']]))).rejects.toThrow(new RegExp(`ConfigCommand on ${ctx.unit.name}: .*num\\.io\\.threads`));
  });

  it('restarts on the same data without formatting again; dynamic settings and messages survive', async () => {
    const meta = join(env.dataDir, 'logs', 'meta.properties');
    const before = await stat(meta);
    await procs.stop(child, driver.launch(env, configPath).stopSignal);
    expect(child.exitCode).toBe(143); // the JVM's exit after its shutdown hooks ran on SIGTERM
    await driver.prepare(env, configPath);
    expect((await stat(meta)).mtimeMs).toBe(before.mtimeMs);
    child = await start(procs, driver, env, configPath);
    expect((await driver.readLive?.(env, ['num.io.threads']))?.get('num.io.threads')).toBe('4');
    const got = await tool('org.apache.kafka.tools.consumer.ConsoleConsumer', [...bootstrap(), '--consumer.config', adminClientConfig(env), '--topic', 'orders', '--partition', '0', '--offset', 'earliest', '--max-messages', '3', '--timeout-ms', '30000']);
    expect(got.trim().split('\n')).toEqual(['apple', 'pear', 'fig']);
  });

  it('refuses storage formatted for another cluster, naming both cluster IDs', async () => {
    const other = context('other', 0, 1, MEMORY_MIB);
    const here = { ...env, resolve: () => env.address };
    const rendered = render(template(tpl), other, overrides, here);
    await expect(install(driver, here, rendered.text, 'other.properties')).rejects.toThrow(/belongs to Kafka cluster [A-Za-z0-9_-]{22}, but the config names cluster [A-Za-z0-9_-]{22}/);
  });

  it('separates the roles with upm.quorum.units: a dedicated controller and a broker that joins its quorum', async () => {
    const units = [0, 1].map((o) => context(`split${i}`, o, 2, MEMORY_MIB));
    const hosts = new Map(units.map((c, o) => [c.unit.fqdn, host(11 + o)]));
    const envs = units.map((c) => engineEnv(base, c.unit.name, hosts.get(c.unit.fqdn) ?? '', hosts, credentials));
    const split = { ...overrides, 'upm.quorum.units': '1' };
    const configs = await Promise.all(units.map((c, o) => install(driver, envs[o] as EngineEnv, render(template(tpl), c, split, envs[o] as EngineEnv).text, 'server.properties')));
    expect(await readFile(configs[0] ?? '', 'utf8')).toMatch(/^process\.roles=controller$/m);
    expect(await readFile(configs[1] ?? '', 'utf8')).toMatch(/^process\.roles=broker$/m);
    const [controller, broker] = await Promise.all(envs.map((e, o) => start(procs, driver, e, configs[o] ?? '')));
    expect(listening(controller?.pid ?? 0)).toEqual([`${envs[0]?.address}:9093`]);
    expect(listening(broker?.pid ?? 0)).toEqual([`${envs[1]?.address}:9092`]);
    const quorum = await kafkaTool(units[1]?.unit.name ?? '', 'org.apache.kafka.tools.MetadataQuorumCommand', ['--bootstrap-server', `${envs[1]?.address}:9092`, '--command-config', adminClientConfig(envs[1] as EngineEnv), 'describe', '--status'], version ? { version } : {});
    expect(quorum).toMatch(/LeaderId:\s+1\b/);
    expect(quorum).toMatch(/CurrentVoters:\s+\[\{"id": 1, [^{}]*\}\]$/m); // the controller alone
    expect(quorum).toMatch(/CurrentObservers:\s+\[\{"id": 2\b/);
    await Promise.all([broker, controller].map((c) => (c ? procs.stop(c) : undefined)));
  });
});

describe('opensearch driver', () => {
  const driver = driverFor('opensearch');
  const ctx = context('search', 0, 1, MEMORY_MIB);
  let env: EngineEnv;
  let configPath: string;
  let child: ChildProcess;

  beforeAll(async () => {
    // The security plugin's admin account (a hostile password) and the cluster's transport TLS material.
    const accounts = { 'admin-username': 'upm_admin', 'admin-password': 'os-"pw"\\1 €$x\n', ...(await transportCredentials('opensearch')) };
    env = engineEnv(base, ctx.unit.name, address(2), new Map([[ctx.unit.fqdn, address(2)]]), accounts);
    const rendered = render(template('opensearch-2.19'), ctx, {}, env);
    configPath = await install(driver, env, rendered.text, 'opensearch.yml');
    const t0 = Date.now();
    child = await start(procs, driver, env, configPath);
    await driver.bootstrap?.(env);
    process.stdout.write(`opensearch: start+probe ${Date.now() - t0} ms\n`);
  });

  it('bootstraps a cluster of its own unit, serving on this node\'s address only, not as root', async () => {
    const effective = await readFile(join(env.runDir, 'opensearch', 'config', 'opensearch.yml'), 'utf8');
    expect(effective).toMatch(/^cluster\.initial_cluster_manager_nodes:\n {2}- search-0$/m);
    expect(effective).toContain(`network.host: ${env.address}`);
    const health = await clusterHealth(env, false);
    expect(health).toMatchObject({ number_of_nodes: 1 });
    expect(listening(child.pid ?? 0).sort()).toEqual([`${env.address}:9200`, `${env.address}:9300`]);
    if (process.getuid?.() === 0) expect(euidOf(child.pid ?? 0)).toBe(OPENSEARCH_UID);
  });

  it('refuses anonymous requests and a wrong password; its files hold no password in clear', async () => {
    expect((await fetch(`http://${env.address}:${HTTP_PORT}/_cluster/health`)).status).toBe(401);
    const wrong = Buffer.from('upm_admin:wrong').toString('base64');
    expect((await fetch(`http://${env.address}:${HTTP_PORT}/_cluster/health`, { headers: { authorization: `Basic ${wrong}` } })).status).toBe(401);
    const users = await readFile(join(env.runDir, 'opensearch', 'config', 'opensearch-security', 'internal_users.yml'), 'utf8');
    expect(users).toMatch(/hash: "\$2[aby]\$12\$/);
    expect(users).not.toContain(env.credentials['admin-password']);
    const key = await stat(join(env.runDir, 'opensearch', 'config', 'upm-transport', 'node-key.pem'));
    expect(key.mode & 0o077).toBe(0);
  });

  it('indexes and counts documents', async () => {
    await rest(env, 'PUT', '/books', { settings: { number_of_shards: 1, number_of_replicas: 0 } });
    for (const [i, title] of ['Dune', 'Emma', 'Ulysses'].entries()) await rest(env, 'PUT', `/books/_doc/${i}?refresh=true`, { title });
    expect(await rest(env, 'GET', '/books/_count')).toMatchObject({ count: 3 });
    expect((await clusterHealth(env, false))?.status).toBe('green');
  });

  it('changes cluster settings live, reads static ones from the node, and reports a bad value', async () => {
    await driver.setLive?.(env, new Map([['search.max_buckets', '1000'], ['cluster.routing.allocation.disk.watermark.low', '80%']]));
    const live = await driver.readLive?.(env, ['search.max_buckets', 'cluster.routing.allocation.disk.watermark.low', 'thread_pool.write.queue_size', 'node.store.allow_mmap']);
    expect(Object.fromEntries(live ?? [])).toEqual({
      'search.max_buckets': '1000', 'cluster.routing.allocation.disk.watermark.low': '80%', 'thread_pool.write.queue_size': '10000', 'node.store.allow_mmap': 'false',
    });
    expect(alive(child)).toBe(true);
    await expect(driver.setLive?.(env, new Map([['search.max_buckets', 'lots']]))).rejects.toThrow(/PUT \/_cluster\/settings on search-0: 400 .*search\.max_buckets/);
  });

  it('restarts on the same data without the initial cluster-manager nodes, and keeps documents and settings', async () => {
    const { cluster_uuid: uuid } = await rest<{ cluster_uuid: string }>(env, 'GET', '/');
    await procs.stop(child);
    await driver.prepare(env, configPath);
    child = await start(procs, driver, env, configPath);
    const effective = await readFile(join(env.runDir, 'opensearch', 'config', 'opensearch.yml'), 'utf8');
    expect(effective).not.toContain('cluster.initial_cluster_manager_nodes');
    expect(effective).toContain('discovery.seed_hosts:');
    expect((await rest<{ cluster_uuid: string }>(env, 'GET', '/')).cluster_uuid).toBe(uuid);
    // Ready means the node has joined its cluster; its shards recover from disk right after.
    expect(await rest(env, 'GET', '/_cluster/health?wait_for_status=green&timeout=30s')).toMatchObject({ status: 'green' });
    expect(await rest(env, 'GET', '/books/_count')).toMatchObject({ count: 3 });
    expect((await driver.readLive?.(env, ['search.max_buckets']))?.get('search.max_buckets')).toBe('1000');
  });
});
