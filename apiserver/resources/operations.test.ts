import { describe, expect, it } from '@jest/globals';
import { KINDS } from '../../lib/operations/kinds.ts';
import { previewOperation, progress, validateOperation } from './operations.ts';
import { placementCauses, templateCauses } from './services.ts';
import { SERVICE_KINDS, serviceKindOf } from './service-kinds.ts';
import type { HookContext, PublicObject } from './types.ts';

const obj = (kind: string, name: string, spec: Record<string, unknown>, status?: Record<string, unknown>, namespace = 'p'): PublicObject =>
  ({ apiVersion: 'upm.io/v1alpha1', kind, metadata: { name, namespace }, spec, ...(status ? { status } : {}) });

const world: Record<string, PublicObject[]> = {
  clusters: [
    { apiVersion: 'upm.io/v1alpha1', kind: 'Cluster', metadata: { name: 'm1' }, spec: { zones: ['a', 'b'], nodeGroups: [{ name: 'big' }], storageClasses: [{ name: 'fast' }] } },
    // read from the member by the clusters controller; the spec restricts the zones
    {
      apiVersion: 'upm.io/v1alpha1', kind: 'Cluster', metadata: { name: 'm2' }, spec: { zones: ['a', 'b'] },
      status: {
        zones: ['a', 'b', 'c'],
        nodeGroups: [{ name: 'a', zones: ['a'], nodeSelector: { z: 'a' } }, { name: 'c', zones: ['c'], nodeSelector: { z: 'c' } }],
        storageClasses: [{ name: 'fixed', default: false, allowVolumeExpansion: false }, { name: 'grow', default: true, allowVolumeExpansion: true }],
      },
    },
    { apiVersion: 'upm.io/v1alpha1', kind: 'Cluster', metadata: { name: 'bare' }, spec: {}, status: { zones: [], nodeGroups: [], storageClasses: [] } },
  ],
  mysqlservices: [obj('MysqlService', 'db', { version: '8.0', placement: { cluster: 'm1' }, topology: { mode: 'async', replicas: 2 }, storage: { size: '20Gi' } }), obj('MysqlService', 'solo', { version: '8.0', placement: { cluster: 'm1' }, topology: { mode: 'standalone' } }),
    obj('MysqlService', 'pinned', { version: '8.0', placement: { cluster: 'm2' }, topology: { mode: 'async', replicas: 2 }, storage: { size: '20Gi', storageClassName: 'fixed' } })],
  zookeeperservices: [obj('ZookeeperService', 'zk', { version: '3.8', placement: { cluster: 'm1' } })],
  kafkaservices: [obj('KafkaService', 'k', { version: '3.9', placement: { cluster: 'm1' } })],
  redisclusterservices: [obj('RedisClusterService', 'rc', { version: '7.2', placement: { cluster: 'm1' }, topology: { shards: 3, replicasPerShard: 0 } })],
  operations: [
    obj('Operation', 'bk', { type: 'Backup', target: { kind: 'MysqlService', name: 'db' } }, { phase: 'Succeeded' }),
    obj('Operation', 'bk-running', { type: 'Backup', target: { kind: 'MysqlService', name: 'db' } }, { phase: 'Running' }),
    obj('Operation', 'mk', { type: 'Create', target: { kind: 'MysqlService', name: 'db' } }, { phase: 'Running' }),
  ],
};
const key = (o: PublicObject) => (o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name ?? '');
const ctx: HookContext = {
  user: { name: 'u', groups: [], extra: {} },
  seesAll: async () => true,
  lookup: (p, k) => world[p]?.find((o) => key(o) === k),
  listCached: (p) => world[p] ?? [],
  projectsOf: () => new Set(),
  roleIn: () => undefined,
  engineTemplates: new Map(['mysql-8.0', 'mysql-8.4', 'mariadb-10.11', 'redis-7.2', 'redis-sentinel-7.2', 'zookeeper-3.8', 'kafka-3.9', 'elasticsearch-8.17', 'opensearch-2.19'].map((t) => [t, { engine: t.replace(/-[0-9.]+$/, ''), parameters: [] }])),
  getCore: async () => undefined,
};
const op = (spec: Record<string, unknown>) => obj('Operation', 'op', spec);
const causes = (spec: Record<string, unknown>) => validateOperation(op(spec), undefined, ctx).map((c) => `${c.field}: ${c.message}`);

describe('Operation validation', () => {
  it('needs a target that exists and a type its kind supports', () => {
    expect(causes({ type: 'Restart', target: { kind: 'MysqlService', name: 'db' } })).toEqual([]);
    expect(causes({ type: 'Restart', target: { kind: 'MysqlService', name: 'nope' } })).toEqual(['spec.target.name: Not found: "nope": no MysqlService of that name in namespace p']);
    expect(causes({ type: 'Switchover', target: { kind: 'KafkaService', name: 'k' } })[0]).toMatch(/^spec.type: Unsupported value: "Switchover": a KafkaService supports "Create", "Scale"/);
    expect(causes({ type: 'CreateDatabase', target: { kind: 'ZookeeperService', name: 'zk' }, database: { name: 'x' } })[0]).toContain('spec.type: Unsupported value: "CreateDatabase"');
  });

  it('checks Scale against the service: range, odd ensembles, standalone, shards, storage that only grows, no-op', () => {
    expect(causes({ type: 'Scale', target: { kind: 'MysqlService', name: 'db' }, scale: { replicas: 3 } })).toEqual([]);
    expect(causes({ type: 'Scale', target: { kind: 'MysqlService', name: 'db' }, scale: { replicas: 12 } })).toEqual(['spec.scale.replicas: Invalid value: 12: a MysqlService has 1 to 9 servers']);
    expect(causes({ type: 'Scale', target: { kind: 'MysqlService', name: 'solo' }, scale: { replicas: 3 } })).toEqual(['spec.scale.replicas: Forbidden: a standalone MysqlService has one server; change spec.topology.mode first']);
    expect(causes({ type: 'Scale', target: { kind: 'ZookeeperService', name: 'zk' }, scale: { replicas: 4 } })).toEqual(['spec.scale.replicas: Invalid value: 4: must be odd: a ZookeeperService needs a majority of its servers']);
    expect(causes({ type: 'Scale', target: { kind: 'ZookeeperService', name: 'zk' }, scale: { shards: 4 } })).toEqual(['spec.scale.shards: Forbidden: a ZookeeperService has no shards']);
    expect(causes({ type: 'Scale', target: { kind: 'RedisClusterService', name: 'rc' }, scale: { shards: 6 } })).toEqual([]);
    expect(causes({ type: 'Scale', target: { kind: 'MysqlService', name: 'db' }, scale: { storage: { size: '10Gi' } } })).toEqual(['spec.scale.storage.size: Invalid value: "10Gi": storage may only grow (the MysqlService has 20Gi)']);
    expect(causes({ type: 'Scale', target: { kind: 'MysqlService', name: 'db' }, scale: { storage: { size: '40Gi' } } })).toEqual([]);
    // on a class the member does not let grow
    expect(causes({ type: 'Scale', target: { kind: 'MysqlService', name: 'pinned' }, scale: { storage: { size: '40Gi' } } })).toEqual(['spec.scale.storage.size: Forbidden: the storage class "fixed" of Cluster "m2" does not allow volume expansion']);
    expect(causes({ type: 'Scale', target: { kind: 'MysqlService', name: 'pinned' }, scale: { replicas: 3 } })).toEqual([]);
    expect(causes({ type: 'Scale', target: { kind: 'KafkaService', name: 'k' }, scale: { replicas: 3 } })).toEqual(['spec.scale: Invalid value: nothing to change: the KafkaService "k" already has that size']);
  });

  it('checks Upgrade, Switchover, Restore and a second Create', () => {
    expect(causes({ type: 'Upgrade', target: { kind: 'MysqlService', name: 'db' }, upgrade: { version: '8.4' } })).toEqual([]);
    expect(causes({ type: 'Upgrade', target: { kind: 'MysqlService', name: 'db' }, upgrade: { version: '9.1' } })).toEqual(['spec.upgrade.version: Unsupported value: "9.1": no engine template mysql-9.1']);
    expect(causes({ type: 'Upgrade', target: { kind: 'MysqlService', name: 'db' }, upgrade: { version: '5.7' } })).toEqual(['spec.upgrade.version: Invalid value: "5.7": a downgrade from 8.0 is not supported']);
    expect(causes({ type: 'Upgrade', target: { kind: 'MysqlService', name: 'db' }, upgrade: { version: '8.0' } })).toEqual(['spec.upgrade.version: Invalid value: "8.0": the MysqlService already runs 8.0']);
    expect(causes({ type: 'Switchover', target: { kind: 'MysqlService', name: 'solo' } })).toEqual(['spec.type: Invalid value: "Switchover": the MysqlService "solo" has no replica to hand over to']);
    expect(causes({ type: 'Failover', target: { kind: 'RedisClusterService', name: 'rc' } })).toEqual(['spec.type: Invalid value: "Failover": the RedisClusterService "rc" has no replica to hand over to']);
    expect(causes({ type: 'Restore', target: { kind: 'MysqlService', name: 'db' }, restore: { backup: 'bk' } })).toEqual([]);
    expect(causes({ type: 'Restore', target: { kind: 'MysqlService', name: 'db' }, restore: { backup: 'bk-running' } })).toEqual(['spec.restore.backup: Invalid value: "bk-running": the backup has not succeeded (phase Running)']);
    expect(causes({ type: 'Restore', target: { kind: 'MysqlService', name: 'db' }, restore: { backup: 'mk' } })).toEqual(['spec.restore.backup: Invalid value: "mk": Operation "mk" is a Create, not a Backup']);
    expect(causes({ type: 'Create', target: { kind: 'MysqlService', name: 'db' } })).toEqual(['spec.type: Duplicate value: "Create": Operation "mk" already creates MysqlService "db"']);
  });

  it('keeps the spec as created, but for spec.cancel', () => {
    const old = op({ type: 'Restart', target: { kind: 'MysqlService', name: 'db' } });
    expect(validateOperation(op({ type: 'Restart', target: { kind: 'MysqlService', name: 'db' }, cancel: true }), old, ctx)).toEqual([]);
    expect(validateOperation(op({ type: 'Restart', target: { kind: 'MysqlService', name: 'db' }, restart: { servers: ['db-1'] } }), old, ctx)[0]?.field).toBe('spec');
  });

  it('shows progress as steps done of steps planned', () => {
    expect(progress(obj('Operation', 'x', {}, { steps: [{ name: 'a', phase: 'Succeeded' }, { name: 'b', phase: 'Skipped' }, { name: 'c', phase: 'Running' }] }))).toBe('2/3');
    expect(progress(obj('Operation', 'x', {}))).toBe('');
  });
});

describe('service placement and templates', () => {
  const svc = (spec: Record<string, unknown>) => obj('RedisService', 'r', { version: '7.2', placement: { cluster: 'm1' }, ...spec });
  const all = (spec: Record<string, unknown>) => [...placementCauses(svc(spec), undefined, ctx), ...templateCauses(serviceKindOf('RedisService')!, svc(spec), ctx)].map((c) => `${c.field}: ${c.message}`);

  it("checks the cluster's zones, node groups and storage classes", () => {
    expect(all({})).toEqual([]);
    expect(all({ placement: { cluster: 'm9' } })).toEqual(['spec.placement.cluster: Not found: "m9": no Cluster of that name']);
    expect(all({ placement: { cluster: 'm1', zones: ['a', 'z'], nodeGroup: 'tiny' }, storage: { storageClassName: 'slow' } })).toEqual([
      'spec.placement.zones[1]: Unsupported value: "z": supported values: "a", "b"',
      'spec.placement.nodeGroup: Unsupported value: "tiny": supported values: "big"',
      'spec.storage.storageClassName: Unsupported value: "slow": supported values: "fast"',
    ]);
  });

  it('checks what was read from the member, within the spec, and refuses to grow storage its class cannot', () => {
    const on = (spec: Record<string, unknown>) => all({ ...spec, placement: { cluster: 'm2', ...(spec.placement as object | undefined) } });
    expect(on({ placement: { zones: ['a', 'b'], nodeGroup: 'a' }, storage: { storageClassName: 'fixed' } })).toEqual([]);
    expect(on({ placement: { zones: ['c', 'x'], nodeGroup: 'c' }, storage: { storageClassName: 'fast' } })).toEqual([
      'spec.placement.zones[0]: Unsupported value: "c": supported values: "a", "b"',
      'spec.placement.zones[1]: Unsupported value: "x": supported values: "a", "b"',
      'spec.placement.nodeGroup: Unsupported value: "c": supported values: "a"',
      'spec.storage.storageClassName: Unsupported value: "fast": supported values: "fixed", "grow"',
    ]);
    expect(all({ placement: { cluster: 'bare', zones: ['a'], nodeGroup: 'a' }, storage: { storageClassName: 'x' } })).toEqual([
      'spec.placement.zones[0]: Unsupported value: "a": the Cluster "bare" has no zones',
      'spec.placement.nodeGroup: Unsupported value: "a": the Cluster "bare" has no node groups',
      'spec.storage.storageClassName: Unsupported value: "x": the Cluster "bare" has no storage classes',
    ]);
    const grow = (cls: string | undefined, from: string, to: string) => placementCauses(
      svc({ placement: { cluster: 'm2' }, storage: { size: to, ...(cls ? { storageClassName: cls } : {}) } }),
      svc({ placement: { cluster: 'm2' }, storage: { size: from, ...(cls ? { storageClassName: cls } : {}) } }), ctx,
    ).map((c) => `${c.field}: ${c.message}`);
    expect(grow('fixed', '10Gi', '20Gi')).toEqual(['spec.storage.size: Forbidden: the storage class "fixed" of Cluster "m2" does not allow volume expansion']);
    expect(grow('fixed', '10Gi', '10Gi')).toEqual([]);
    expect(grow('grow', '10Gi', '20Gi')).toEqual([]);
    expect(grow(undefined, '10Gi', '20Gi')).toEqual([]); // the default class grows
  });

  it('needs a template for the version, and for Sentinel when it is enabled', () => {
    expect(all({ version: '7.4' })).toEqual(['spec.version: Unsupported value: "7.4": no engine template redis-7.4; supported values: "7.2"']);
    expect(all({ options: { sentinel: { enabled: true } } })).toEqual([]);
    const es = obj('ElasticsearchService', 'e', { distribution: 'opensearch', version: '8.17', placement: { cluster: 'm1' } });
    expect(templateCauses(serviceKindOf('ElasticsearchService')!, es, ctx).map((c) => `${c.field}: ${c.message}`)).toEqual([
      'spec.version: Unsupported value: "8.17": no engine template opensearch-8.17; supported values: "2.19"',
      'spec.distribution: Invalid value: "opensearch": version "8.17" is a version of elasticsearch: set spec.distribution to elasticsearch',
    ]);
  });

  it('checks a MySQL version against the templates of its engine, mysql by default or mariadb', () => {
    const mysql = (spec: Record<string, unknown>) => templateCauses(serviceKindOf('MysqlService')!, obj('MysqlService', 'm', { placement: { cluster: 'm1' }, ...spec }), ctx).map((c) => `${c.field}: ${c.message}`);
    expect(mysql({ version: '8.4' })).toEqual([]);
    expect(mysql({ engine: 'mysql', version: '8.0' })).toEqual([]);
    expect(mysql({ engine: 'mariadb', version: '10.11' })).toEqual([]);
    expect(mysql({ version: '10.11' })).toEqual([
      'spec.version: Unsupported value: "10.11": no engine template mysql-10.11; supported values: "8.0", "8.4"',
      'spec.engine: Invalid value: "mysql": version "10.11" is a version of mariadb: set spec.engine to mariadb',
    ]);
    expect(mysql({ engine: 'mariadb', version: '8.0' })).toEqual([
      'spec.version: Unsupported value: "8.0": no engine template mariadb-8.0; supported values: "10.11"',
      'spec.engine: Invalid value: "mariadb": version "8.0" is a version of mysql: set spec.engine to mysql',
    ]);
    expect(mysql({ engine: 'mariadb', version: '11.4' })).toEqual(['spec.version: Unsupported value: "11.4": no engine template mariadb-11.4; supported values: "10.11"']);
  });
});

describe('Operation plan preview', () => {
  it('returns the steps as they would run, each precondition evaluated now', () => {
    const st = previewOperation(op({ type: 'Upgrade', target: { kind: 'MysqlService', name: 'db' }, upgrade: { version: '8.4' } }), ctx);
    expect((st.steps as { name: string; message: string }[]).map((s) => `${s.name}: ${s.message}`)).toEqual([
      // m1 has no heartbeat in this world, and db no status: the check would wait for both.
      'check: would wait: cluster m1: not Ready; service db: no status yet',
      'set-version: would change: set the version to 8.4 (a rolling update, one server at a time)',
      'wait-ready: would wait: wait until every server runs 8.4 and is ready',
    ]);
    const missing = previewOperation(op({ type: 'Upgrade', target: { kind: 'MysqlService', name: 'db' }, upgrade: { version: '9.1' } }), ctx);
    expect((missing.steps as { message: string }[])[0]?.message).toBe('would fail: template mysql-9.1: missing');
    // Operation mk (a Create) runs on db: the preview says this one would wait for it.
    expect(missing).toMatchObject({ waitingFor: 'mk', message: 'would wait for Operation mk on the same service; would fail at step check' });
  });

  it('uses the same engine bounds as the API (lib/operations/kinds.ts and service-kinds.ts)', () => {
    for (const k of SERVICE_KINDS) {
      const mine = KINDS[k.kind];
      expect([k.kind, mine?.replicas.path, mine?.replicas.min, mine?.replicas.max, !!mine?.replicas.odd]).toEqual([k.kind, k.scale.replicas.path, k.scale.replicas.min, k.scale.replicas.max, !!k.scale.replicas.odd]);
      expect([mine?.shards?.path, mine?.shards?.min]).toEqual([k.scale.shards?.path, k.scale.shards?.min]);
      for (const spec of [{}, { topology: { mode: 'standalone' } }, { topology: { replicas: 5, brokers: 4, dataNodes: 2, replicasPerShard: 2, shards: 6 } }]) {
        expect(mine?.replicas.default(spec)).toBe(k.scale.replicas.default(spec));
      }
      expect(mine?.family({ engine: 'mariadb', distribution: 'opensearch' })).toBe(k.family({ engine: 'mariadb', distribution: 'opensearch' }));
    }
  });
});
