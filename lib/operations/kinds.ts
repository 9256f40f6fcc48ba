// What the Operation engine needs to know of each service kind: where its sizes live in the spec (with the CRD
// defaults), the engine's bounds, its template family and its compose object. The API server's service-kinds.ts
// holds the same bounds for its schema; a test keeps the two equal.
type Spec = Record<string, unknown>;

export interface SizeField { path: string[]; default: (spec: Spec) => number; min: number; max: number; odd?: boolean; noun: string }

export interface KindInfo {
  replicas: SizeField;
  shards?: SizeField;
  family: (spec: Spec) => string;
  composeKind: string;
}

export const at = (spec: Spec, path: string[]): unknown => path.reduce<unknown>((v, p) => (v && typeof v === 'object' ? (v as Spec)[p] : undefined), spec);
const num = (spec: Spec, path: string[], dflt: number) => { const v = at(spec, path); return typeof v === 'number' ? v : dflt; };
const modeReplicas = (spec: Spec) => (at(spec, ['topology', 'mode']) === 'standalone' ? 1 : num(spec, ['topology', 'replicas'], 2));
const field = (path: string[], dflt: number | ((s: Spec) => number), min: number, max: number, noun: string, odd?: boolean): SizeField =>
  ({ path, default: typeof dflt === 'number' ? (s) => num(s, path, dflt) : dflt, min, max, noun, ...(odd ? { odd } : {}) });

export const KINDS: Readonly<Record<string, KindInfo>> = {
  MysqlService: { replicas: field(['topology', 'replicas'], modeReplicas, 1, 9, 'servers'), family: (s) => (s.engine === 'mariadb' ? 'mariadb' : 'mysql'), composeKind: 'MysqlReplication' },
  RedisService: { replicas: field(['topology', 'replicas'], modeReplicas, 1, 9, 'servers'), family: () => 'redis', composeKind: 'RedisReplication' },
  RedisClusterService: {
    replicas: field(['topology', 'replicasPerShard'], 1, 0, 5, 'replicas per shard'), shards: field(['topology', 'shards'], 3, 3, 128, 'shards'),
    family: () => 'redis', composeKind: 'RedisCluster',
  },
  KafkaService: { replicas: field(['topology', 'brokers'], 3, 1, 32, 'brokers'), family: () => 'kafka', composeKind: 'KafkaCluster' },
  ZookeeperService: { replicas: field(['topology', 'replicas'], 3, 3, 7, 'servers', true), family: () => 'zookeeper', composeKind: 'ZookeeperEnsemble' },
  ElasticsearchService: {
    replicas: field(['topology', 'dataNodes'], 3, 1, 32, 'data nodes'), family: (s) => (s.distribution === 'opensearch' ? 'opensearch' : 'elasticsearch'),
    composeKind: 'ElasticsearchCluster',
  },
};

/** A merge patch that sets `value` at `path` of a spec. */
export function patchAt(path: string[], value: unknown): Record<string, unknown> {
  let v: unknown = value;
  for (const p of [...path].reverse()) v = { [p]: v };
  return v as Record<string, unknown>;
}
