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
