// What a hostile tenant can send the hub API, through the real kubectl and the real API server: engine parameters
// that would add directives to a member's config file are refused at the API, naming the field, for each of the six
// service kinds (the same check the member's Unit Operator and agent run); a field selector is authorized for the
// name it filters by, so escaping a comma cannot list objects a user's RBAC resourceNames do not name.
import { describe, expect, it } from '@jest/globals';
import { waitFor } from '../../lib/wait.ts';
import { uniqueName } from '../env.ts';
import { asUser, describeHub, direct, frontProxyCert, kubectlAs, kubectlOkAs, useProject, userKubeconfig } from '../hub.ts';

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

  describe('field selectors', () => {
    it('authorizes a list for the name its field selector filters by, however the selector is escaped', async () => {
      const user = `fs-${uniqueName('u').slice(2)}`;
      const kc = await userKubeconfig(user);
      const svc = (name: string) => JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'MysqlService', metadata: { name, namespace: project }, spec: { version: '8.0', placement } });
      await ok(['create', '-f', '-'], svc('allowed'));
      await ok(['create', '-f', '-'], svc('secret1'));
      await ok(['create', 'role', 'one-service', '-n', project, '--verb=get,list,watch', '--resource=mysqlservices.upm.io', '--resource-name=allowed']);
      await ok(['create', 'rolebinding', 'one-service', '-n', project, '--role=one-service', `--user=${user}`]);
      const list = (selector: string) => kubectlAs(kc, ['get', 'mysqlservices', '-n', project, '--field-selector', selector, '-o', 'name']);
      await waitFor('the user lists the one name', async () => (await list('metadata.name=allowed')).stdout === 'mysqlservice.upm.io/allowed\n', { timeoutMs: 15_000 });
      expect((await list('metadata.name==allowed,metadata.namespace=' + project)).stdout).toBe('mysqlservice.upm.io/allowed\n');
      // The escaped comma makes one term (name != "z,metadata.name=allowed"): a list of everything, not of "allowed".
      for (const selector of ['metadata.name!=z\\,metadata.name=allowed', 'metadata.name!=z\\,metadata.name==allowed', ' metadata.name != z\\,metadata.name=allowed']) {
        const r = await list(selector);
        expect(r.stdout).not.toContain('secret1');
        expect(r.stderr).toContain('forbidden');
      }
      // The same through the server's own port, as the front proxy would send it: 403, never a list.
      const fp = await frontProxyCert();
      const q = encodeURIComponent('metadata.name!=z\\,metadata.name=allowed');
      const direct403 = await direct('GET', `/apis/upm.io/v1alpha1/namespaces/${project}/mysqlservices?fieldSelector=${q}`, { cert: fp, headers: asUser(user) });
      expect(direct403.status).toBe(403);
      expect(direct403.text).not.toContain('secret1');
    });
  });
});
