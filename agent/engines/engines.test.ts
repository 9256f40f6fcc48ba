import { describe, expect, it } from '@jest/globals';
import { localizeMariadb, sqlValue } from './mariadb.ts';
import { localizeRedis } from './redis.ts';
import { encodeCommand, parseReply, RespError } from './resp.ts';
import type { EngineEnv } from './types.ts';
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
