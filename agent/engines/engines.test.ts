import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { KAFKA4_VERSION, KAFKA_VERSION, OPENSEARCH_VERSION } from './jvm.ts';
import { apiVersionsRequest, jaasValue, KAFKA_INSTALLS, kafkaInstallFor, localizeKafka, parseApiVersions, properties, propValue } from './kafka.ts';
import { accountStatements, APP_PRIVILEGES, localizeMariadb, sqlValue } from './mariadb.ts';
import { dropSetting, localizeOpensearch } from './opensearch.ts';
import { APP_ACL_RULES, localizeRedis } from './redis.ts';
import { encodeCommand, parseReply, RespError } from './resp.ts';
import { EngineNotRunnable, type EngineEnv } from './types.ts';
import { quantityBytes } from './util.ts';
import { localizeZookeeper } from './zookeeper.ts';

const env: EngineEnv = { unit: 'u-0', address: '127.250.9.1', dataDir: '/vol', runDir: '/run/u-0', credentials: {}, resolve: (h) => h };

describe('localize', () => {
  it('mariadb: node-local keys in the server groups only, the rest unchanged', () => {
    const out = localizeMariadb('[client]\nsocket = /x.sock\n[mariadb]\nserver_id = 7\nbind-address = 0.0.0.0\ndatadir = /var/lib/mysql/data\ntransaction_isolation = READ-COMMITTED\n', env);
    expect(out).toContain('[client]\nsocket = /x.sock\n[mariadb]\n# node-local');
    expect(out).toContain('server_id = 7\nbind-address = 127.250.9.1\ndatadir = /vol/data\n');
    expect(out).toMatch(/\ntransaction_isolation = READ-COMMITTED\n/);
    for (const line of ['socket = /run/u-0/mysqld.sock', 'pid_file = /run/u-0/mysqld.pid', 'user = root']) expect(out).toContain(`\n${line}\n`);
  });

  it('mariadb: adds a server group when the file has none', () => {
    expect(localizeMariadb('# empty\n', env)).toMatch(/\[mariadb\]\n# node-local.*\nbind_address = 127\.250\.9\.1\n/);
  });

  it('redis: listen and source address, data dir; logfile "" (stdout) stays', () => {
    const out = localizeRedis('bind * -::*\nprotected-mode yes\nlogfile ""\ndir /data\nsave 3600 1 300 100\n', env);
    expect(out).toBe('bind 127.250.9.1\nprotected-mode no\nlogfile ""\ndir /vol\nsave 3600 1 300 100\n'
      + '# node-local (unit agent): listen and source address of this node\nbind-source-addr 127.250.9.1\ndaemonize no\n');
  });

  it('zookeeper: local data dir and client address, no listening on all IPs, no missing metrics class', () => {
    const out = localizeZookeeper('#upm:myid=2\ndataDir=/data\nquorumListenOnAllIPs=true\nmetricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\nmetricsProvider.httpPort=7000\nserver.1=127.250.9.1:2888:3888\n', env);
    expect(out).toMatch(/^#upm:myid=2\ndataDir=\/vol\n# node-local.*\nquorumListenOnAllIPs=false\n/);
    expect(out).toMatch(/# node-local.*prometheus.*\n#metricsProvider\.className=.*\n#metricsProvider\.httpPort=7000\nserver\.1=/);
    expect(out).toContain('\nclientPortAddress=127.250.9.1\n');
  });
});

describe('values', () => {
  it('SET GLOBAL values: sizes in bytes, booleans ON/OFF, numbers bare, strings quoted', () => {
    expect(sqlValue('64M')).toBe('67108864');
    expect(sqlValue('1G')).toBe('1073741824');
    expect(sqlValue('true')).toBe('ON');
    expect(sqlValue('OFF')).toBe('OFF');
    expect(sqlValue('0.5')).toBe('0.5');
    expect(sqlValue('READ-COMMITTED')).toBe("'READ-COMMITTED'");
    expect(sqlValue("a'b\\")).toBe("'a\\'b\\\\'");
  });

  it('quantities', () => {
    expect(quantityBytes('179mb')).toBe(179 * 1024 * 1024);
    expect(quantityBytes('2Gi')).toBe(2 * 1024 ** 3);
    expect(quantityBytes('512')).toBe(512);
    expect(quantityBytes('lots')).toBeUndefined();
  });
});

describe('RESP', () => {
  it('encodes commands and parses nested, partial and error replies', () => {
    expect(encodeCommand(['SET', 'k', 'é']).toString()).toBe('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\né\r\n');
    const reply = Buffer.from('*3\r\n$4\r\nname\r\n*2\r\n:1\r\n$-1\r\n+OK\r\n');
    expect(parseReply(reply)?.value).toEqual(['name', [1, null], 'OK']);
    expect(parseReply(reply.subarray(0, 20))).toBeUndefined();
    expect(parseReply(Buffer.from('-ERR nope\r\n'))?.value).toBeInstanceOf(RespError);
  });
});

describe('redis paths', () => {
  it('quotes a data directory with blanks', () => {
    expect(localizeRedis('dir /data\n', { ...env, dataDir: '/my vol/"x"' })).toContain('dir "/my vol/\\"x\\""\n');
  });
});

describe('kafka', () => {
  const kenv: EngineEnv = { ...env, credentials: { 'admin-username': 'admin', 'admin-password': 'p"w\\1', 'app-username': 'upm_app', 'app-password': 'q' }, resolve: (h) => (h.startsWith('k-1.') ? '127.250.9.2' : h) };
  const rendered = [
    '#upm:cluster-id=AE5u3joPWzFQS3Elu1iS7g', '#upm:heap-mb=128',
    'process.roles=broker,controller', 'node.id=1',
    'controller.quorum.voters=1@127.250.9.1:9093,2@k-1.k-headless.ns.svc.cluster.local:9093',
    'listeners=BROKER://:9092,CONTROLLER://:9093', 'advertised.listeners=BROKER://k-1.k-headless.ns.svc.cluster.local:9092',
    'listener.security.protocol.map=BROKER:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT', 'log.dirs=/var/lib/kafka/data/logs', 'num.io.threads=8',
  ].join('\n');

  it('localizes listeners, peers and data; adds the SASL login and a log-cleaner buffer that fits the capped heap', () => {
    const out = localizeKafka(rendered, kenv);
    expect(out).toContain('\nlisteners=BROKER://127.250.9.1:9092,CONTROLLER://127.250.9.1:9093\n');
    expect(out).toContain('\ncontroller.quorum.voters=1@127.250.9.1:9093,2@127.250.9.2:9093\n');
    expect(out).toContain('\nadvertised.listeners=BROKER://127.250.9.2:9092\n');
    expect(out).toContain('\nlog.dirs=/vol/logs\nnum.io.threads=8\n');
    expect(out).toContain(`\nlog.cleaner.dedupe.buffer.size=${(128 * 1024 * 1024) / 8}\n`);
    // Escaped for JAAS (quotes, backslashes), then for the properties file (backslashes again).
    const login = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="p\\\\"w\\\\\\\\1" user_admin="p\\\\"w\\\\\\\\1"';
    // The admin account is the authorizer's super user; the application account is a user of the brokers' listener only.
    expect(out).toContain(`\nsuper.users=User:admin\nlistener.name.broker.plain.sasl.jaas.config=${login} user_upm_app="q";\nlistener.name.controller.plain.sasl.jaas.config=${login};\n`);
    expect(properties(out).get('node.id')).toBe('1');
  });

  it('escapes any password for JAAS and then for the properties file: no value ends its line or changes its characters', () => {
    const hostile = { ...kenv, credentials: { ...kenv.credentials, 'app-password': 'é€😀"\\\r\n\t\u0001 =x;\nsuper.users=User:upm_app' } };
    const out = localizeKafka(rendered, hostile);
    // One super.users line, the admin's: the password's line break is an escape, not a new setting.
    expect(out.match(/^super\.users=.*$/gm)).toEqual(['super.users=User:admin']);
    const broker = /^listener\.name\.broker\.plain\.sasl\.jaas\.config=(.*)$/m.exec(out)?.[1] ?? '';
    expect(broker).toMatch(/^[\x20-\x7e]+$/);
    expect(broker).toContain(' user_upm_app="\\u00e9\\u20ac\\ud83d\\ude00\\\\"\\\\\\\\\\\\r\\\\n\\u0009\\u0001 =x;\\\\nsuper.users=User:upm_app";');
    expect(jaasValue('a"b\\c\nd')).toBe('"a\\"b\\\\c\\nd"');
    expect(propValue('a\\b\u00e9\n')).toBe('a\\\\b\\u00e9\\u000a');
    expect(() => localizeKafka(rendered, { ...kenv, credentials: { ...kenv.credentials, 'app-username': 'x=y' } })).toThrow(/app username "x=y" cannot be a SASL\/PLAIN user/);
  });

  it('adds no login when the listeners are plaintext, and keeps a log-cleaner buffer that fits', () => {
    const plain = `${rendered.replace(/SASL_PLAINTEXT/g, 'PLAINTEXT')}\nlog.cleaner.dedupe.buffer.size=16777216`;
    const out = localizeKafka(plain, kenv);
    expect(out).not.toContain('jaas');
    expect(out).toMatch(/\nnum\.io\.threads=8\nlog\.cleaner\.dedupe\.buffer\.size=16777216\n$/);
  });

  it('speaks ApiVersions v0: the request, and the error code and API count of a response', () => {
    const req = apiVersionsRequest(7, 'x');
    expect(req.toString('hex')).toBe('0000000b' + '0012' + '0000' + '00000007' + '0001' + '78');
    const res = Buffer.from('00000010' + '00000007' + '0000' + '00000001' + '0000' + '0000' + '0009', 'hex');
    expect(parseApiVersions(res, 7)).toEqual({ errorCode: 0, apis: 1 });
    expect(parseApiVersions(res.subarray(0, 9), 7)).toBeUndefined();
    expect(() => parseApiVersions(res, 8)).toThrow(/not an ApiVersions response/);
  });
});

describe('opensearch', () => {
  const rendered = [
    '#upm:heap-mb=128', 'cluster.name: search', 'node.name: search-1', 'path.data: /usr/share/opensearch/data', 'network.host: 0.0.0.0',
    'network.publish_host: s-1.s-headless.ns.svc.cluster.local', 'discovery.seed_hosts:', '  - s-0.s-headless.ns.svc.cluster.local:9300', '  - 127.250.9.9:9300',
    '# first forming only', 'cluster.initial_cluster_manager_nodes:', '  - search-0', '  - search-1', 'bootstrap.memory_lock: false',
  ].join('\n');
  const oenv: EngineEnv = { ...env, resolve: (h) => (h.startsWith('s-0.') ? '127.250.9.3' : h.startsWith('s-1.') ? '127.250.9.1' : h) };

  it('localizes the address, paths and seed hosts; lists stay lists', () => {
    const out = localizeOpensearch(rendered, oenv);
    expect(out).toContain('\nnetwork.host: 127.250.9.1\nnetwork.publish_host: 127.250.9.1\n');
    expect(out).toContain('\npath.data: "/vol"\n');
    expect(out).toContain('\ndiscovery.seed_hosts:\n  - 127.250.9.3:9300\n  - 127.250.9.9:9300\n');
    expect(out).toContain('\npath.logs: "/run/u-0/opensearch/logs"\n');
  });

  it('drops a setting with its list, and nothing else', () => {
    const out = dropSetting(rendered, 'cluster.initial_cluster_manager_nodes');
    expect(out).not.toContain('initial_cluster_manager');
    expect(out).not.toContain('  - search-');
    expect(out).toContain('# first forming only\nbootstrap.memory_lock: false');
    expect(out).toContain('discovery.seed_hosts:\n  - s-0.');
  });
});

describe('Kafka releases', () => {
  const templates = join(import.meta.dirname, '../../config/templates');
  it('every kafka template names (or defaults to) a release the set-up installs, its own version line', () => {
    const files = readdirSync(templates).filter((f) => /^kafka-\d.*\.yaml$/.test(f));
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const f of files) {
      const text = readFileSync(join(templates, f), 'utf8');
      const version = /^ {2}version: "([^"]+)"$/m.exec(text)?.[1] ?? '';
      const line = /^\s*#upm:kafka-version=(\S+)$/m.exec(text)?.[1] ?? '3.9';
      expect([f, line]).toEqual([f, version]);
      expect(KAFKA_INSTALLS[line]?.version.startsWith(`${version}.`)).toBe(true);
    }
    // and each is shipped: installed with the others (kubectl apply -k).
    const shipped = readFileSync(join(templates, 'kustomization.yaml'), 'utf8');
    for (const f of files) expect([f, shipped.includes(`\n  - ${f}\n`)]).toEqual([f, true]);
  });
  it('log with reload4j on 3.9 and log4j2 on 4.1', () => {
    expect(KAFKA_INSTALLS['3.9']?.serverLogging).toMatch(/^-Dlog4j\.configuration=file:.*kafka-3\.9\.\d+\/config\/log4j\.properties$/);
    expect(KAFKA_INSTALLS['4.1']?.serverLogging).toMatch(/^-Dlog4j2\.configurationFile=.*kafka-4\.1\.\d+\/config\/log4j2\.properties$/);
    expect(KAFKA_INSTALLS['4.1']?.toolsLogging).toMatch(/tools-log4j2\.properties$/);
  });
  it('refuses a release this node does not have, naming the ones it has', () => {
    expect(() => kafkaInstallFor('#upm:kafka-version=5.0\nnode.id=1\n')).toThrow(EngineNotRunnable);
    expect(() => kafkaInstallFor('#upm:kafka-version=5.0\n')).toThrow(/no Kafka 5\.0 here \(releases: 3\.9, 4\.1\)/);
  });
});

describe('JVM engine versions', () => {
  it('are the ones the set-up installs (hack/versions.env)', () => {
    const versions = readFileSync(join(import.meta.dirname, '../../hack/versions.env'), 'utf8');
    expect(versions).toContain(`\nKAFKA_VERSION=${KAFKA_VERSION}\n`);
    expect(versions).toContain(`\nKAFKA4_VERSION=${KAFKA4_VERSION}\n`);
    expect(versions).toContain(`\nOPENSEARCH_VERSION=${OPENSEARCH_VERSION}\n`);
  });
});

describe('the application account', () => {
  it('gets data privileges on every database on MariaDB, no global ones, and nothing but SHOW VIEW on mysql and sys', () => {
    const sql = accountStatements('app', 'upm_app', "pa'ss");
    expect(sql).toEqual([
      "CREATE USER IF NOT EXISTS 'upm_app'@'%' IDENTIFIED BY 'pa\\'ss';",
      "ALTER USER 'upm_app'@'%' IDENTIFIED BY 'pa\\'ss';",
      `GRANT ${APP_PRIVILEGES} ON \`%\`.* TO 'upm_app'@'%';`,
      "GRANT SHOW VIEW ON `mysql`.* TO 'upm_app'@'%';",
      "GRANT SHOW VIEW ON `sys`.* TO 'upm_app'@'%';",
    ]);
    expect(sql.join('\n')).not.toMatch(/ON \*\.\*|GRANT OPTION|SUPER|SHUTDOWN|FILE|REPLICATION|RELOAD|PROCESS|CREATE USER ON|ALL PRIVILEGES/);
  });

  it('has the same ACL rules in the Redis pod template as the agent gives it', () => {
    const tpl = readFileSync(join(import.meta.dirname, '..', '..', 'config', 'templates', 'redis-7.2.yaml'), 'utf8');
    const line = tpl.split('\n').find((l) => l.includes('$UPM_APP_USERNAME" "$UPM_APP_PASSWORD"'));
    expect(line).toContain(`on ">%s" ${APP_ACL_RULES.join(' ')}\\n'`);
    expect(APP_ACL_RULES).toEqual(['~*', '&*', '+@all', '-@admin', '-@dangerous', '+info']);
  });
});
