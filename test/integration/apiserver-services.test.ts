// The six data service kinds through the public API, one table of cases, with the real kubectl against the real
// management cluster: discovery (short names, the upm category), explain, create with the storage's defaults, the
// Table columns of each kind, -o wide, the kind's own schema and CEL rules, the checks every service gets against
// its Cluster (which must exist and have the zones, node group and storage class asked for, as read from the
// member) and the engine templates, storage that may only grow, and the project roles that cover every kind.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitFor } from '../../lib/wait.ts';
import { uniqueName } from '../env.ts';
import { describeHub, kubectlAs, kubectlOkAs, useProject, userKubeconfig } from '../hub.ts';

const k = (args: string[], input?: string) => kubectlAs(undefined, args, input);
const ok = (args: string[], input?: string) => kubectlOkAs(undefined, args, input);

interface Case {
  plural: string;
  short: string;
  kind: string;
  spec: Record<string, unknown>;
  header: RegExp;
  row: RegExp;
  wide: string[];
  explain: string[];
  /** Specs (merged over the valid one) and what the refusal says. */
  bad: [Record<string, unknown>, string][];
}

const CASES: Case[] = [
  {
    plural: 'mysqlservices', short: 'mysql', kind: 'MysqlService',
    spec: { version: '8.0', topology: { mode: 'semisync', replicas: 3 }, options: { proxysql: { enabled: true, replicas: 2 } } },
    header: /^NAME\s+ENGINE\s+VERSION\s+MODE\s+REPLICAS\s+CLUSTER\s+READY\s+PHASE\s+AGE$/, row: /\s+mysql\s+8\.0\s+semisync\s+3\s+member1\s/,
    wide: ['SOURCE'], explain: ['mode', 'replicas'],
    bad: [
      [{ version: '5.1' }, 'spec.version: Unsupported value: "5.1": no engine template mysql-5.1; supported values: "8.0", "8.4"'],
      [{ engine: 'mariadb' }, 'spec.version: Unsupported value: "8.0": no engine template mariadb-8.0; supported values: "10.11"'],
      [{ version: '10.11' }, 'spec.engine: Invalid value: "mysql": version "10.11" is a version of mariadb: set spec.engine to mariadb'],
      [{ engine: 'percona' }, 'spec.engine: Unsupported value: "percona": supported values: "mysql", "mariadb"'],
      [{ deletionPolicy: 'Orphan' }, 'spec.deletionPolicy: Unsupported value: "Orphan": supported values: "Delete", "Retain"'],
      [{ topology: { mode: 'standalone', replicas: 2 } }, 'spec.topology.replicas: must be 1 when spec.topology.mode is standalone'],
    ],
  },
  {
    plural: 'redisservices', short: 'redis', kind: 'RedisService',
    spec: { version: '7.2', topology: { mode: 'replication', replicas: 3 }, options: { sentinel: { enabled: true, replicas: 5, quorum: 3 } } },
    header: /^NAME\s+VERSION\s+MODE\s+REPLICAS\s+SENTINELS\s+CLUSTER\s+READY\s+PHASE\s+AGE$/, row: /\s+7\.2\s+replication\s+3\s+5\s+member1\s/,
    wide: ['MASTER'], explain: ['mode', 'replicas'],
    bad: [
      [{ topology: { mode: 'standalone' } }, 'spec.options.sentinel.enabled: Sentinel needs replicas: set spec.topology.mode to replication'],
      [{ options: { sentinel: { enabled: true, replicas: 3, quorum: 5 } } }, 'spec.options.sentinel.quorum: may not exceed spec.options.sentinel.replicas'],
      [{ options: { sentinel: { enabled: true, replicas: 4 } } }, 'spec.options.sentinel.replicas: Unsupported value: 4: supported values: 3, 5, 7'],
      [{ version: '7.4' }, 'spec.version: Unsupported value: "7.4": no engine template redis-7.4; supported values: "7.2"'],
    ],
  },
  {
    plural: 'redisclusterservices', short: 'rediscluster', kind: 'RedisClusterService',
    spec: { version: '7.2', topology: { shards: 6, replicasPerShard: 1 } },
    header: /^NAME\s+VERSION\s+SHARDS\s+REPLICAS PER SHARD\s+CLUSTER\s+READY\s+PHASE\s+AGE$/, row: /\s+7\.2\s+6\s+1\s+member1\s/,
    wide: ['SLOTS'], explain: ['shards', 'replicasPerShard'],
    bad: [
      [{ topology: { shards: 2 } }, 'spec.topology.shards: Invalid value: 2'],
      [{ version: '6.2' }, 'spec.version: Unsupported value: "6.2": no engine template redis-6.2'],
    ],
  },
  {
    plural: 'kafkaservices', short: 'kafka', kind: 'KafkaService',
    spec: { version: '3.9', topology: { brokers: 3 }, options: { defaultReplicationFactor: 3 } },
    header: /^NAME\s+VERSION\s+BROKERS\s+CONTROLLERS\s+CLUSTER\s+READY\s+PHASE\s+AGE$/, row: /\s+3\.9\s+3\s+0\s+member1\s/,
    wide: ['ACTIVE CONTROLLER'], explain: ['brokers', 'dedicatedControllers'],
    bad: [
      [{ topology: { brokers: 2 }, options: { defaultReplicationFactor: 3 } }, 'spec.options.defaultReplicationFactor: may not exceed spec.topology.brokers'],
      [{ topology: { dedicatedControllers: 2 } }, 'spec.topology.dedicatedControllers: Unsupported value: 2: supported values: 0, 1, 3, 5'],
    ],
  },
  {
    plural: 'zookeeperservices', short: 'zk', kind: 'ZookeeperService',
    spec: { version: '3.8', topology: { replicas: 5 } },
    header: /^NAME\s+VERSION\s+REPLICAS\s+CLUSTER\s+READY\s+PHASE\s+AGE$/, row: /\s+3\.8\s+5\s+member1\s/,
    wide: ['LEADER'], explain: ['replicas'],
    bad: [
      [{ topology: { replicas: 4 } }, 'spec.topology.replicas: must be odd (1, 3, 5 or 7): an ensemble needs a majority'],
      [{ deletionPolicy: 'Retain' }, 'spec.deletionPolicy: Retain is not supported for this kind: its ZookeeperEnsemble deletes the volumes of its servers with it'],
      [{ version: '3.4' }, 'spec.version: Unsupported value: "3.4": no engine template zookeeper-3.4; supported values: "3.8"'],
    ],
  },
  {
    plural: 'elasticsearchservices', short: 'es', kind: 'ElasticsearchService',
    spec: { distribution: 'opensearch', version: '2.19', topology: { dataNodes: 3, dedicatedMasters: 3 } },
    header: /^NAME\s+DISTRIBUTION\s+VERSION\s+DATA NODES\s+MASTERS\s+CLUSTER\s+READY\s+PHASE\s+AGE$/, row: /\s+opensearch\s+2\.19\s+3\s+3\s+member1\s/,
    wide: ['HEALTH'], explain: ['dataNodes', 'dedicatedMasters'],
    bad: [
      [{ distribution: 'elasticsearch' }, 'spec.version: Unsupported value: "2.19": no engine template elasticsearch-2.19; supported values: "8.17"'],
      [{ distribution: 'solr' }, 'spec.distribution: Unsupported value: "solr": supported values: "elasticsearch", "opensearch"'],
    ],
  },
];

const merge = (a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> => {
  const out = { ...a };
  for (const [key, v] of Object.entries(b)) {
    const cur = out[key];
    out[key] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' ? merge(cur as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
};

describeHub('the six data service kinds', () => {
  const project = useProject('svc');
  const placement = { cluster: 'member1', zones: ['zone-a', 'zone-b'], nodeGroup: 'zone-a' };
  const manifest = (c: Case, name: string, spec: Record<string, unknown> = {}) => JSON.stringify({
    apiVersion: 'upm.io/v1alpha1', kind: c.kind, metadata: { name, namespace: project }, spec: merge({ ...c.spec, placement }, spec),
  });

  // A second Cluster, to try to move services to.
  const elsewhere = uniqueName('elsewhere');
  beforeAll(async () => {
    await ok(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'Cluster', metadata: { name: elsewhere }, spec: {} }));
  });
  afterAll(async () => {
    await k(['delete', 'cluster', elsewhere, '--wait=false', '--ignore-not-found']);
  });

  it('lists every kind in discovery, in the upm category, with its short name', async () => {
    const out = await ok(['api-resources', '--api-group=upm.io', '--no-headers', '--categories=upm']);
    const rows = Object.fromEntries(out.trim().split('\n').map((l) => { const c = l.trim().split(/\s+/); return [c[0], c.slice(1).join(' ')]; }));
    for (const c of CASES) expect(rows[c.plural]).toBe(`${c.short} upm.io/v1alpha1 true ${c.kind}`);
  });

  describe.each(CASES)('$kind', (c) => {
    const name = `${c.short}-1`;

    it('is created with the defaults of its schema, printed with its columns, and explained', async () => {
      expect((await ok(['apply', '-f', '-'], manifest(c, name))).trim()).toBe(`${c.kind.toLowerCase()}.upm.io/${name} created`);
      const got = JSON.parse(await ok(['get', c.short, name, '-n', project, '-o', 'json'])) as { spec: { storage?: { size?: string }; placement: unknown } };
      expect(got.spec.storage?.size).toBe('10Gi'); // the storage CRD's default
      expect(got.spec.placement).toEqual(placement);
      const table = await ok(['get', c.plural, '-n', project]);
      expect(table.split('\n')[0]).toMatch(c.header);
      expect(table.split('\n').find((l) => l.startsWith(`${name} `))).toMatch(c.row);
      const wide = (await ok(['get', c.short, '-n', project, '-o', 'wide'])).split('\n')[0] ?? '';
      for (const col of c.wide) expect(wide).toContain(col);
      const explained = await ok(['explain', `${c.plural}.spec.topology`]);
      expect(explained).toContain(`KIND:       ${c.kind}`);
      for (const f of c.explain) expect(explained).toMatch(new RegExp(`\\b${f}\\s+<integer>|\\b${f}\\s+<string>`));
    });

    it('refuses what its schema and its rules refuse, naming the field, and stores nothing', async () => {
      for (const [spec, message] of c.bad) {
        const r = await k(['create', '-f', '-'], manifest(c, `${c.short}-bad`, spec));
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(message);
        expect(r.stderr).not.toContain('internal.upm.io');
        expect(r.stderr).not.toContain('Record');
      }
      expect((await k(['get', c.short, `${c.short}-bad`, '-n', project])).stderr).toContain('NotFound');
    });

    it('stays on the Cluster it was placed on: spec.placement.cluster cannot change', async () => {
      // Moving it would leave the old member's objects behind: delete it and create it there instead.
      const moved = await k(['patch', c.short, name, '-n', project, '--type', 'merge', '-p', JSON.stringify({ spec: { placement: { cluster: elsewhere } } })]);
      expect(moved.code).not.toBe(0);
      expect(moved.stderr).toContain(`The ${c.kind} "${name}" is invalid: spec.placement.cluster: Invalid value: "${elsewhere}": spec.placement.cluster: is immutable`);
      expect(moved.stderr).not.toContain('internal.upm.io');
      expect(await ok(['get', c.short, name, '-n', project, '-o', 'jsonpath={.spec.placement.cluster}'])).toBe('member1');
    });

    it('is checked against its Cluster, and its storage may only grow', async () => {
      const wrong = await k(['create', '-f', '-'], manifest(c, `${c.short}-bad`, { placement: { zones: ['zone-a', 'zone-x'], nodeGroup: 'gpu' }, storage: { storageClassName: 'slow' } }));
      expect(wrong.stderr).toContain(`The ${c.kind} "${c.short}-bad" is invalid`);
      expect(wrong.stderr).toContain('spec.placement.zones[1]: Unsupported value: "zone-x": supported values: "zone-a", "zone-b", "zone-c"');
      expect(wrong.stderr).toContain('spec.placement.nodeGroup: Unsupported value: "gpu": supported values: "zone-a", "zone-b", "zone-c"');
      // member1's storage classes as read from it (other suites add classes of their own there for a while)
      expect(wrong.stderr).toMatch(/spec\.storage\.storageClassName: Unsupported value: "slow": supported values: ("[^"]+", )*"kwok-volume"/);
      const nowhere = await k(['create', '-f', '-'], manifest(c, `${c.short}-bad`, { placement: { cluster: 'nowhere' } }));
      expect(nowhere.stderr).toContain('spec.placement.cluster: Not found: "nowhere": no Cluster of that name');
      await ok(['patch', c.short, name, '-n', project, '--type', 'merge', '-p', '{"spec":{"storage":{"size":"20Gi"}}}']);
      const shrink = await k(['patch', c.short, name, '-n', project, '--type', 'merge', '-p', '{"spec":{"storage":{"size":"5Gi"}}}']);
      expect(shrink.stderr).toContain('spec.storage.size: may only grow');
      expect(await ok(['get', c.short, name, '-n', project, '-o', 'jsonpath={.spec.storage.size}'])).toBe('20Gi');
    });
  });

  it('takes MariaDB for MySQL, whose engine then stays, and deletes data with a service unless told to retain it', async () => {
    const c = CASES[0]!;
    const maria = `${c.short}-maria`;
    await ok(['create', '-f', '-'], manifest(c, maria, { engine: 'mariadb', version: '10.11', deletionPolicy: 'Retain' }));
    expect(await ok(['get', c.short, maria, '-n', project, '-o', 'jsonpath={.spec.engine} {.spec.version} {.spec.deletionPolicy}'])).toBe('mariadb 10.11 Retain');
    expect((await ok(['get', c.short, maria, '-n', project, '--no-headers'])).trim()).toMatch(new RegExp(`^${maria}\\s+mariadb\\s+10\\.11\\s`));
    const changed = await k(['patch', c.short, maria, '-n', project, '--type', 'merge', '-p', '{"spec":{"engine":"mysql","version":"8.4"}}']);
    expect(changed.stderr).toContain('spec.engine: is immutable');
    for (const x of CASES) expect(await ok(['get', x.short, `${x.short}-1`, '-n', project, '-o', 'jsonpath={.spec.deletionPolicy}'])).toBe('Delete');
  });

  it('shows every kind with `kubectl get upm`', async () => {
    const all = await ok(['get', 'upm', '-n', project, '-o', 'name']);
    for (const c of CASES) expect(all).toContain(`${c.kind.toLowerCase()}.upm.io/${c.short}-1`);
  });

  it("gives a project's roles every kind: editors create, viewers read", async () => {
    const suffix = uniqueName('r').slice(2);
    const [ed, vi] = [`ed-${suffix}`, `vi-${suffix}`];
    const kc = { [ed]: await userKubeconfig(ed), [vi]: await userKubeconfig(vi) };
    await ok(['patch', 'project', project, '--type', 'json', '-p', JSON.stringify([{ op: 'add', path: '/spec/members/-', value: { name: ed, role: 'editor' } }, { op: 'add', path: '/spec/members/-', value: { name: vi, role: 'viewer' } }])]);
    await waitFor('roles bound', async () => (await kubectlAs(kc[ed], ['auth', 'can-i', 'create', 'zookeeperservices.upm.io', '-n', project])).stdout.trim() === 'yes', { timeoutMs: 20_000 });
    for (const c of CASES) {
      expect((await kubectlOkAs(kc[ed], ['create', '-f', '-'], manifest(c, `${c.short}-ed`))).trim()).toBe(`${c.kind.toLowerCase()}.upm.io/${c.short}-ed created`);
      expect(await kubectlOkAs(kc[vi], ['get', c.plural, '-n', project, '-o', 'name'])).toContain(`${c.short}-ed`);
      const r = await kubectlAs(kc[vi], ['create', '-f', '-'], manifest(c, `${c.short}-vi`));
      expect(r.stderr).toContain(`User "${vi}" cannot create resource "${c.plural}" in API group "upm.io" in the namespace "${project}"`);
    }
  });
});
