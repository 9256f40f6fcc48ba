// The engine drivers of the unit agent, by engine name. Engines this machine has no binaries for are refused with
// the reason, instead of being faked.
import { existsSync } from 'node:fs';
import { KAFKA_REQUIRES, kafkaDriver } from './kafka.ts';
import { MARIADB_REQUIRES, mariadbDriver } from './mariadb.ts';
import { OPENSEARCH_REQUIRES, opensearchDriver } from './opensearch.ts';
import { REDIS_REQUIRES, redisDriver, redisSentinelDriver, SENTINEL_REQUIRES } from './redis.ts';
import { EngineNotRunnable, type EngineDriver } from './types.ts';
import { installHint, type Requirement } from './util.ts';
import { ZOOKEEPER_REQUIRES, zookeeperDriver } from './zookeeper.ts';

const DRIVERS: Record<string, { driver: EngineDriver; requires: Requirement[] }> = {
  mariadb: { driver: mariadbDriver, requires: MARIADB_REQUIRES },
  redis: { driver: redisDriver, requires: REDIS_REQUIRES },
  'redis-sentinel': { driver: redisSentinelDriver, requires: [...REDIS_REQUIRES, ...SENTINEL_REQUIRES] },
  zookeeper: { driver: zookeeperDriver, requires: ZOOKEEPER_REQUIRES },
  kafka: { driver: kafkaDriver, requires: KAFKA_REQUIRES },
  opensearch: { driver: opensearchDriver, requires: OPENSEARCH_REQUIRES },
};

/** Engines of the platform that have no local binary, and what is missing. */
const NOT_RUNNABLE: Record<string, string> = {
  mysql: "no MySQL 8 package in this machine's registries; MariaDB stands in",
  elasticsearch: 'no Elasticsearch server package in any registry here; OpenSearch 2.19 (engine "opensearch", template opensearch-2.19), the same REST API, is the local stand-in',
  proxysql: 'no proxysql package in the Debian 12 registries',
};

export const localEngines = (): string[] => Object.keys(DRIVERS);

/** The driver of `engine`; throws EngineNotRunnable when this node cannot run it. */
export function driverFor(engine: string): EngineDriver {
  const reason = NOT_RUNNABLE[engine];
  if (reason) throw new EngineNotRunnable(engine, reason);
  const entry = DRIVERS[engine];
  if (!entry) throw new EngineNotRunnable(engine, `no driver for engine "${engine}" (drivers: ${localEngines().join(', ')})`);
  const missing = entry.requires.find((r) => !existsSync(r.path));
  if (missing) throw new EngineNotRunnable(engine, `${missing.path} is missing: ${installHint(missing)}`);
  return entry.driver;
}
