// The connection Secret of a service: `<service>-connection` in the project's namespace on the hub, with the host and
// port of its readwrite endpoint and, for the engines that have one, the application account (role app) the engine
// templates declare and the unit agents create: user and password copied from the member's `<service>-credentials`
// Secret (the Unit Operator's, labelled with the service). The project's admins and editors may read Secrets in
// their namespace, its viewers may not (config/apiserver/base/user-roles.yaml). What is pure is here; the controller
// reads, compares and writes.
//
// For ZooKeeper the account is a digest user: the ZookeeperEnsemble operator makes the root znode writable by it only
// (world:anyone may read), so clients write after "addauth digest <user>:<password>"; the digest "super" user stays
// the platform's. Kafka's application account is a SASL/PLAIN user of the brokers' listener whose ACLs (the Compose
// Operator's) allow data access only. An ElasticsearchService of distribution OpenSearch hands out its application
// account too, an internal user of the security plugin whose role (the ElasticsearchCluster operator's) has data
// rights on indices only; one of distribution Elasticsearch gets host and port only: Elasticsearch 8 takes only the
// platform's admin account, never handed out, so its clients have no account of their own yet.
import type { KubeObject } from '../../lib/kube/types.ts';
import { MANAGED_LABEL, MANAGED_VALUE, PROJECT_LABEL, SERVICE_KIND_LABEL, SERVICE_NAME_LABEL, type HubService, type ServiceStatus } from './contract.ts';

export const connectionSecretName = (service: string): string => `${service}-connection`;
/** The member Secret with the service's accounts: that of its UnitSet named as the service. */
export const credentialsSecretName = (service: string): string => `${service}-credentials`;

/** The kinds (their label values) whose engines have an application account. */
export const WITH_ACCOUNT: ReadonlySet<string> = new Set(['mysqlservice', 'redisservice', 'redisclusterservice', 'zookeeperservice', 'kafkaservice']);

/** Whether the service's engine has an application account (an ElasticsearchService only with OpenSearch). */
export function withAccount(svc: HubService, kindLabel: string): boolean {
  if (kindLabel === 'elasticsearchservice') return (svc.spec as { distribution?: string }).distribution === 'opensearch';
  return WITH_ACCOUNT.has(kindLabel);
}

export interface SecretObject extends KubeObject { type?: string; data?: Record<string, string> }

const decode = (s: SecretObject | undefined, key: string): string | undefined => {
  const v = s?.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
};

/**
 * Pure: the connection Secret's values (plain text, keys host, port and for services withAccount user and password), or
 * undefined while they are not known (no readwrite endpoint reported yet; the member's credentials Secret without the
 * application account yet). The host is the readwrite Service's DNS name on the member, which stays the same across a
 * failover (the endpoint's addresses do not).
 */
export function connectionValues(svc: HubService, kindLabel: string, status: ServiceStatus, credentials: SecretObject | undefined): Record<string, string> | undefined {
  const rw = status.endpoints?.find((e) => e.role === 'readwrite');
  if (!rw) return undefined;
  const values: Record<string, string> = { host: `${rw.name}.${svc.metadata.namespace ?? ''}.svc`, port: String(rw.port) };
  if (!withAccount(svc, kindLabel)) return values;
  const user = decode(credentials, 'app-username');
  const password = decode(credentials, 'app-password');
  if (!user || !password) return undefined;
  return { ...values, user, password };
}

/** Pure: the Secret as the hub writes it (labelled as the hub's; owned by nothing, see the controller's finalizer). */
export function connectionSecret(svc: HubService, kindLabel: string, values: Record<string, string>): SecretObject {
  return {
    apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
    metadata: {
      name: connectionSecretName(svc.metadata.name ?? ''), namespace: svc.metadata.namespace,
      labels: { [MANAGED_LABEL]: MANAGED_VALUE, [SERVICE_KIND_LABEL]: kindLabel, [SERVICE_NAME_LABEL]: svc.metadata.name ?? '', [PROJECT_LABEL]: svc.metadata.namespace ?? '' },
    },
    data: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

/** Pure: whether the hub's copy holds what is wanted (its data exactly, and the labels). */
export function connectionSettled(want: SecretObject, have: SecretObject | undefined): boolean {
  if (!have) return false;
  const a = want.data ?? {};
  const b = have.data ?? {};
  const sameData = Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);
  const sameLabels = Object.entries(want.metadata.labels ?? {}).every(([k, v]) => have.metadata.labels?.[k] === v);
  return sameData && sameLabels;
}
