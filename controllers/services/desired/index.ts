// The desired function of each service kind, by its public kind (contract.ts DesiredFn).
import type { DesiredFn } from '../contract.ts';
import { desiredElasticsearch } from './elasticsearch.ts';
import { desiredKafka } from './kafka.ts';
import { desiredMysql } from './mysql.ts';
import { desiredRedis } from './redis.ts';
import { desiredRedisCluster } from './rediscluster.ts';
import { desiredZookeeper } from './zookeeper.ts';

export const DESIRED: Readonly<Record<string, DesiredFn>> = {
  MysqlService: desiredMysql,
  RedisService: desiredRedis,
  RedisClusterService: desiredRedisCluster,
  ZookeeperService: desiredZookeeper,
  KafkaService: desiredKafka,
  ElasticsearchService: desiredElasticsearch,
};
