// spec.stopped and spec.restart of every kind, as the member gets them: each UnitSet of the service carries them (the
// restart order, and the servers of a restart of some only, cut to its own units; a UnitSet holding none of those is
// not asked), ProxySQL's carries neither, and the kinds that restart in their own order get the request's id as their
// compose object's restartedAt.
import { describe, expect, it } from '@jest/globals';
import type { UnitSet } from '../../../lib/api/unit.upm.io.generated.ts';
import type { HubService } from '../contract.ts';
import { desiredElasticsearch } from './elasticsearch.ts';
import { CLUSTER, find, objectsOf, service } from './fixtures.testing.ts';
import { desiredKafka } from './kafka.ts';
import { desiredMysql } from './mysql.ts';
import { desiredRedis } from './redis.ts';
import { desiredRedisCluster } from './rediscluster.ts';
import { desiredZookeeper } from './zookeeper.ts';

const spec = (objs: ReturnType<typeof objectsOf>, kind: string, name: string) => find<UnitSet>(objs, kind, name).spec;
const restart = { id: 'r1', order: ['db-2', 'db-1', 'db-0', 'db-sentinel-9'] };
/** The kinds whose compose object makes its own UnitSets: the service kind, its desired function, its compose kind, a spec. */
const COMPOSE_KINDS: [string, (s: HubService) => ReturnType<typeof desiredKafka>, string, Record<string, unknown>][] = [
  ['ZookeeperService', (s) => desiredZookeeper(s, CLUSTER, []), 'ZookeeperEnsemble', { version: '3.8' }],
  ['KafkaService', (s) => desiredKafka(s, CLUSTER, []), 'KafkaCluster', { version: '3.9' }],
  ['ElasticsearchService', (s) => desiredElasticsearch(s, CLUSTER, []), 'ElasticsearchCluster', { version: '2.19', distribution: 'opensearch' }],
];

describe('spec.stopped and spec.restart on the member', () => {
  it('MySQL: the servers\' UnitSet carries both, the order cut to its units; ProxySQL\'s carries neither', () => {
    const svc = service('MysqlService', 'db', { engine: 'mariadb', version: '10.11', topology: { replicas: 3 }, options: { proxysql: { enabled: true } }, stopped: true, restart });
    const objs = objectsOf(desiredMysql(svc, CLUSTER, []));
    expect(spec(objs, 'UnitSet', 'db')).toMatchObject({ stopped: true, restart: { id: 'r1', order: ['db-2', 'db-1', 'db-0'] } });
    const ps = spec(objs, 'UnitSet', 'db-proxysql');
    expect(ps.stopped).toBeUndefined();
    expect(ps.restart).toBeUndefined();
    const running = objectsOf(desiredMysql(service('MysqlService', 'db', { engine: 'mariadb', version: '10.11' }), CLUSTER, []));
    expect(spec(running, 'UnitSet', 'db').stopped).toBeUndefined();
    expect(spec(running, 'UnitSet', 'db').restart).toBeUndefined();
  });

  it('Redis: the servers and the Sentinels stop and restart, each UnitSet with the order of its own units', () => {
    const svc = service('RedisService', 'db', { version: '7.2', topology: { replicas: 3 }, options: { sentinel: { enabled: true } }, stopped: true, restart });
    const objs = objectsOf(desiredRedis(svc, CLUSTER, []));
    expect(spec(objs, 'UnitSet', 'db')).toMatchObject({ stopped: true, restart: { id: 'r1', order: ['db-2', 'db-1', 'db-0'] } });
    const s = spec(objs, 'UnitSet', 'db-sentinel');
    expect(s.stopped).toBe(true);
    expect(s.restart).toEqual({ id: 'r1' });
  });

  it('some servers only: the UnitSet holding them restarts just those (spec.restart.units); a UnitSet holding none is not asked', () => {
    const some = { id: 'r1', order: ['db-2', 'db-0'], servers: ['db-2', 'db-0'] };
    const mysql = objectsOf(desiredMysql(service('MysqlService', 'db', { engine: 'mariadb', version: '10.11', topology: { replicas: 3 }, options: { proxysql: { enabled: true } }, restart: some }), CLUSTER, []));
    expect(spec(mysql, 'UnitSet', 'db').restart).toEqual({ id: 'r1', order: ['db-2', 'db-0'], units: ['db-2', 'db-0'] });
    expect(spec(mysql, 'UnitSet', 'db-proxysql').restart).toBeUndefined();
    const redis = objectsOf(desiredRedis(service('RedisService', 'db', { version: '7.2', topology: { replicas: 3 }, options: { sentinel: { enabled: true } }, restart: { id: 'r1', servers: ['db-1'] } }), CLUSTER, []));
    expect(spec(redis, 'UnitSet', 'db').restart).toEqual({ id: 'r1', units: ['db-1'] });
    expect(spec(redis, 'UnitSet', 'db-sentinel').restart).toBeUndefined();
  });

  it('Redis Cluster: one UnitSet with both', () => {
    const svc = service('RedisClusterService', 'db', { version: '7.2', stopped: true, restart: { id: 'r1', order: ['db-5', 'db-0'] } });
    expect(spec(objectsOf(desiredRedisCluster(svc, CLUSTER, [])), 'UnitSet', 'db')).toMatchObject({ stopped: true, restart: { id: 'r1', order: ['db-5', 'db-0'] } });
  });

  it('ZooKeeper, Kafka, OpenSearch: the id is the compose object\'s restartedAt; nothing without a request', () => {
    for (const [kind, fn, compose, base] of COMPOSE_KINDS) {
      expect(find(objectsOf(fn(service(kind, 'db', { ...base, restart: { id: 'r1' } }))), compose, 'db').spec.restartedAt).toBe('r1');
      expect(find(objectsOf(fn(service(kind, 'db', base))), compose, 'db').spec.restartedAt).toBeUndefined();
    }
  });

  it('ZooKeeper, Kafka: a restart of some servers names them as the compose object\'s restartUnits; a restart of all does not', () => {
    for (const [kind, fn, compose, base] of COMPOSE_KINDS.filter(([k]) => k !== 'ElasticsearchService')) {
      const some = find(objectsOf(fn(service(kind, 'db', { ...base, restart: { id: 'r2', servers: ['db-1'] } }))), compose, 'db').spec;
      expect(`${kind}: ${JSON.stringify([some.restartedAt, some.restartUnits])}`).toBe(`${kind}: ["r2",["db-1"]]`);
      expect(find(objectsOf(fn(service(kind, 'db', { ...base, restart: { id: 'r1' } }))), compose, 'db').spec.restartUnits).toBeUndefined();
    }
  });

  it('ZooKeeper, Kafka, OpenSearch: spec.stopped goes to the compose object, which stops its own UnitSets; nothing while running', () => {
    for (const [kind, fn, compose, base] of COMPOSE_KINDS) {
      const stopped = objectsOf(fn(service(kind, 'db', { ...base, stopped: true })));
      expect(`${kind}: ${String(find(stopped, compose, 'db').spec.stopped)}`).toBe(`${kind}: true`);
      // The compose object makes the UnitSets: the hub sends none of its own.
      expect(stopped.filter((o) => o.kind === 'UnitSet')).toEqual([]);
      expect(find(objectsOf(fn(service(kind, 'db', { ...base, stopped: false }))), compose, 'db').spec.stopped).toBeUndefined();
      expect(find(objectsOf(fn(service(kind, 'db', base))), compose, 'db').spec.stopped).toBeUndefined();
    }
  });
});
