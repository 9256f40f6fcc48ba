import { describe, expect, it } from '@jest/globals';
import { Backoff, fieldOf, platformUsernames, scrub } from './controller.ts';
import type { ProxysqlState } from './types.ts';

describe('controller helpers', () => {
  it('backs a failing node off from 1 s doubling to 30 s, and forgets it on success or removal', () => {
    const b = new Backoff();
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      b.fail('ns/p|p0', 0);
      delays.push(b.next(['ns/p|p0'], 0) ?? -1);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect(b.due('ns/p|p0', 29_999)).toBe(false);
    expect(b.due('ns/p|p0', 30_000)).toBe(true);
    b.ok('ns/p|p0');
    expect(b.next(['ns/p|p0'], 0)).toBeUndefined();

    b.fail('ns/p|p0', 0);
    b.fail('ns/p|p1', 0);
    b.fail('ns/q|p0', 0);
    b.retain('ns/p|', ['ns/p|p1']);
    expect([b.due('ns/p|p0', 0), b.due('ns/p|p1', 0), b.due('ns/q|p0', 0)]).toEqual([true, false, false]);
  });

  it('names fields as the spec and the MysqlReplication do', () => {
    expect(fieldOf({ field: 'settings.reader', message: 'must differ from the writer hostgroup (20)' })).toBe('spec.hostgroups.reader: must differ from the writer hostgroup (20)');
    expect(fieldOf({ field: 'checkType', message: 'must be one of ...' })).toBe('spec.hostgroups.checkType: must be one of ...');
    expect(fieldOf({ field: 'topology.replicas[1]', message: '127.0.0.5:3306 is the source\'s address' }))
      .toBe("spec.mysqlReplication: status.topology replicas[1]: 127.0.0.5:3306 is the source's address");
  });

  it('never lets a hash or the monitor password out in an error message', () => {
    const desired: ProxysqlState = {
      mysql_servers: [], mysql_replication_hostgroups: [],
      mysql_users: [{ username: 'app', password: '*72B37E3F4D899EDC98A9363172669E192CE424D5', active: 1, use_ssl: 0, default_hostgroup: 10, default_schema: null, schema_locked: 0, transaction_persistent: 1, fast_forward: 0, backend: 1, frontend: 1, max_connections: 10000, attributes: '', comment: '' }],
      global_variables: { 'mysql-monitor_password': 's3cret-monitor', 'mysql-monitor_writer_is_also_reader': 'false' },
    };
    const text = "near \"'*72B37E3F4D899EDC98A9363172669E192CE424D5', 1\": syntax error; monitor s3cret-monitor; false stays";
    expect(scrub(text, desired)).toBe('near "\'***\', 1": syntax error; monitor ***; false stays');
  });
});

describe('the accounts never copied to ProxySQL', () => {
  const secret = (accounts: Record<string, string>) => ({
    apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' },
    data: Object.fromEntries(Object.entries(accounts).flatMap(([role, user]) => [[`${role}-username`, Buffer.from(user).toString('base64')], [`${role}-password`, Buffer.from('pw').toString('base64')]])),
  });
  it('are the platform accounts of both Secrets, not the application account', () => {
    const mysql = secret({ admin: 'upm_admin', replication: 'upm_repl', monitor: 'upm_monitor', app: 'upm_app' });
    const proxy = secret({ admin: 'proxy_admin', monitor: 'proxy_monitor' });
    expect(platformUsernames(mysql, proxy)).toEqual(['upm_admin', 'upm_repl', 'upm_monitor', 'proxy_admin', 'proxy_monitor']);
    expect(platformUsernames(undefined, undefined)).toEqual([]);
  });
});
