// Manifests several suites start from, written once.

/** A MariaDB 10.11 UnitSet of `units` small servers (the MySQL stand-in here), as YAML. */
export function mariadbUnitSet(namespace: string, units: number, name = 'db'): string {
  return `
apiVersion: unit.upm.io/v1alpha1
kind: UnitSet
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  engine: mariadb
  version: "10.11"
  units: ${units}
  resources: { limits: { cpu: "1", memory: 256Mi } }
  storage: [{ name: data, size: 1Gi, mountPath: /var/lib/mysql }]
  parameters: { innodb_log_file_size: 16M, max_connections: "100" }
`;
}

/** A Redis 7.2 UnitSet of `units` small servers with a data volume, as YAML. */
export function redisUnitSet(namespace: string, units: number, name = 'kv'): string {
  return `
apiVersion: unit.upm.io/v1alpha1
kind: UnitSet
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  engine: redis
  version: "7.2"
  units: ${units}
  resources: { limits: { cpu: 500m, memory: 256Mi } }
  storage: [{ name: data, size: 1Gi, mountPath: /data }]
`;
}

/** Redis 7.2: a UnitSet `rs` of three servers, one `rs-sentinel` of three Sentinels, and the RedisReplication `rs`. */
export function redisWithSentinels(namespace: string, sentinel = { downAfterMilliseconds: 2000, failoverTimeoutMilliseconds: 10000 }): string {
  return `
apiVersion: unit.upm.io/v1alpha1
kind: UnitSet
metadata: { name: rs, namespace: ${namespace} }
spec:
  engine: redis
  version: "7.2"
  units: 3
  resources: { limits: { cpu: 500m, memory: 256Mi } }
  storage: [{ name: data, size: 1Gi, mountPath: /data }]
  # A master with no replica refuses writes: a former source that restarts cannot take any before it is re-pointed.
  parameters: { min-replicas-to-write: "1" }
---
apiVersion: unit.upm.io/v1alpha1
kind: UnitSet
metadata: { name: rs-sentinel, namespace: ${namespace} }
spec:
  engine: redis-sentinel
  version: "7.2"
  units: 3
  resources: { limits: { cpu: 200m, memory: 64Mi } }
  storage: [{ name: data, size: 1Gi, mountPath: /data }]
---
apiVersion: compose.upm.io/v1alpha1
kind: RedisReplication
metadata: { name: rs, namespace: ${namespace} }
spec:
  secretName: rs-credentials
  source: { name: rs-0, unit: rs-0 }
  replicas: [{ name: rs-1, unit: rs-1 }, { name: rs-2, unit: rs-2 }]
  sentinel:
    secretName: rs-sentinel-credentials
    nodes: [{ name: s0, unit: rs-sentinel-0 }, { name: s1, unit: rs-sentinel-1 }, { name: s2, unit: rs-sentinel-2 }]
    downAfterMilliseconds: ${sentinel.downAfterMilliseconds}
    failoverTimeoutMilliseconds: ${sentinel.failoverTimeoutMilliseconds}
`;
}

/** That UnitSet with three units and a MysqlReplication "db" over them: db-0 the source, quick failover. */
export function mariadbReplication(namespace: string): string {
  return `${mariadbUnitSet(namespace, 3)}---
apiVersion: compose.upm.io/v1alpha1
kind: MysqlReplication
metadata: { name: db, namespace: ${namespace} }
spec:
  secretName: db-credentials
  source: { name: db-0, unit: db-0 }
  replicas: [{ name: db-1, unit: db-1 }, { name: db-2, unit: db-2 }]
  failover: { downAfterSeconds: 3 }
`;
}
