// What a hostile tenant can send the hub API, through the real kubectl and the real API server: engine parameters
// that would add directives to a member's config file are refused at the API, naming the field, for each of the six
// service kinds (the same check the member's Unit Operator and agent run).
import { describe, expect, it } from '@jest/globals';
import { describeHub, kubectlAs, kubectlOkAs, useProject } from '../hub.ts';

const k = (args: string[], input?: string) => kubectlAs(undefined, args, input);
const ok = (args: string[], input?: string) => kubectlOkAs(undefined, args, input);

interface ParamCase { kind: string; short: string; spec: Record<string, unknown>; key: string; hostile: string; good: string }

const PARAMS: ParamCase[] = [
  { kind: 'MysqlService', short: 'mysql', spec: { version: '8.0' }, key: 'long_query_time', hostile: '1\nskip-grant-tables', good: '0.5' },
  { kind: 'RedisService', short: 'redis', spec: { version: '7.2' }, key: 'save', hostile: '3600 1\nuser x on nopass ~* +@all', good: '900 1' },
  { kind: 'RedisClusterService', short: 'rediscluster', spec: { version: '7.2' }, key: 'save', hostile: '3600 1\r\nuser x on nopass ~* +@all', good: '900 1' },
  { kind: 'KafkaService', short: 'kafka', spec: { version: '3.9' }, key: 'num.partitions', hostile: '1\nauthorizer.class.name=x', good: '3' },
  { kind: 'ZookeeperService', short: 'zk', spec: { version: '3.8' }, key: '4lw.commands.whitelist', hostile: 'srvr\\\nskipACL=yes', good: 'srvr,ruok' },
  { kind: 'ElasticsearchService', short: 'es', spec: { distribution: 'opensearch', version: '2.19' }, key: 'cluster.name', hostile: 'x ], path.data: [ /tmp', good: 'search' },
];

describeHub('hostile input to the hub API', () => {
  const project = useProject('sech');
  const placement = { cluster: 'member1' };
  const manifest = (c: ParamCase, name: string, parameters: Record<string, string>) => JSON.stringify({
    apiVersion: 'upm.io/v1alpha1', kind: c.kind, metadata: { name, namespace: project }, spec: { ...c.spec, placement, options: { parameters } },
  });

  describe('engine parameters in spec.options.parameters', () => {
    it.each(PARAMS.map((c) => [c.kind, c] as const))('%s: refuses a value that would add a directive, and unknown keys', async (_kind, c) => {
      const bad = await k(['create', '-f', '-'], manifest(c, `${c.short}-inject`, { [c.key]: c.hostile }));
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain(`The ${c.kind} "${c.short}-inject" is invalid`);
      expect(bad.stderr).toContain(`spec.options.parameters[${c.key}]: Invalid value`);
      const unknown = await k(['create', '-f', '-'], manifest(c, `${c.short}-inject`, { 'skip-grant-tables': 'yes' }));
      expect(unknown.stderr).toContain('spec.options.parameters[skip-grant-tables]');
      expect((await k(['get', c.short, `${c.short}-inject`, '-n', project])).stderr).toContain('NotFound');
      // An ordinary value of the same parameter is taken.
      expect((await ok(['create', '-f', '-'], manifest(c, `${c.short}-fine`, { [c.key]: c.good }))).trim()).toBe(`${c.kind.toLowerCase()}.upm.io/${c.short}-fine created`);
    });
  });

});
