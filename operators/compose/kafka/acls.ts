// The application account's rights on a Kafka cluster, as ACLs of the brokers' StandardAuthorizer (the engine
// templates name the admin account its only super user). The account is a client of the data, not of the cluster:
// it produces to, consumes from, creates and describes topics, uses consumer groups and transactional producers; it
// may not delete or alter topics, change any configuration, create ACLs or touch the cluster (no ACL on the cluster
// resource, none with DELETE, ALTER or ALTER_CONFIGS). The names are the wildcard: the account is the one every
// application of the service shares. What is pure is here; admin.ts reads and creates them.
import { AclOperations, AclPermissionTypes, ResourcePatternTypes, ResourceTypes, type Acl } from '@platformatic/kafka';

/** The (resource type, operation) pairs granted, each on every name (the literal wildcard "*"). */
const GRANTS: [Acl['resourceType'], Acl['operation'][]][] = [
  [ResourceTypes.TOPIC, [AclOperations.READ, AclOperations.WRITE, AclOperations.CREATE, AclOperations.DESCRIBE, AclOperations.DESCRIBE_CONFIGS]],
  [ResourceTypes.GROUP, [AclOperations.READ, AclOperations.DESCRIBE]],
  [ResourceTypes.TRANSACTIONAL_ID, [AclOperations.WRITE, AclOperations.DESCRIBE]],
];

export const principalOf = (username: string): string => `User:${username}`;

/** Pure: every ACL the application account `username` is to have. */
export function appAcls(username: string): Acl[] {
  return GRANTS.flatMap(([resourceType, ops]) => ops.map((operation) => ({
    resourceType, resourceName: '*', resourcePatternType: ResourcePatternTypes.LITERAL,
    principal: principalOf(username), host: '*', operation, permissionType: AclPermissionTypes.ALLOW,
  })));
}

const keyOf = (a: Acl): string => [a.resourceType, a.resourceName, a.resourcePatternType, a.principal, a.host, a.operation, a.permissionType].join('\u0000');

/** Pure: the wanted ACLs the cluster does not have (ACLs it has beyond them are left alone: the admin's to give). */
export function missingAcls(wanted: Acl[], existing: Acl[]): Acl[] {
  const have = new Set(existing.map(keyOf));
  return wanted.filter((a) => !have.has(keyOf(a)));
}

/** Pure: "TOPIC:READ,WRITE; GROUP:READ" for Events and conditions. */
export function describeAcls(acls: Acl[]): string {
  const byType = new Map<string, string[]>();
  const name = (table: Record<string, number>, v: number) => Object.keys(table).find((k) => table[k] === v) ?? String(v);
  for (const a of acls) {
    const t = name(ResourceTypes, a.resourceType);
    byType.set(t, [...(byType.get(t) ?? []), name(AclOperations, a.operation)]);
  }
  return [...byType].map(([t, ops]) => `${t}:${ops.join(',')}`).join('; ');
}
