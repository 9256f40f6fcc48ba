// A MysqlService on its member: the project's namespace, a UnitSet "<name>" of MySQL or MariaDB servers and the
// MysqlReplication "<name>" over them (its credentials: the UnitSet's own "<name>-credentials"); with
// spec.options.proxysql.enabled also a UnitSet "<name>-proxysql" of ProxySQL 2.7 and the ProxysqlSync "<name>"
// that keeps them in step with the replication. Pure.
import type { ClusterRecord } from '../../../lib/api/internal.upm.io.generated.ts';
import type { MysqlReplication } from '../../../lib/api/compose.upm.io.generated.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import type { Desired, DesiredFn, HubService } from '../contract.ts';
import {
  basics, invalid, isRefusal, liveObject, memberObject, numAt, parametersOf, projectNamespace, replicationMembers, resourcesOf, specOf, strAt, unitNames, unitSet,
} from './common.ts';

export const KIND = 'MysqlService';
export const DATA_PATH = '/var/lib/mysql';
/** The one ProxySQL template there is (config/templates/proxysql-2.7.yaml). */
export const PROXYSQL_VERSION = '2.7';
const PROXYSQL_RESOURCES = { limits: { cpu: '500m', memory: '256Mi' } };

export const proxysqlName = (svc: HubService): string => `${svc.metadata.name ?? ''}-proxysql`;

export const desiredMysql: DesiredFn = (svc: HubService, cluster: ClusterRecord, live: KubeObject[]): Desired => {
  const name = svc.metadata.name ?? '';
  const b = basics(svc, cluster, '-proxysql-headless');
  if (isRefusal(b)) return b;
  const { placement, storage } = b;

  const engine = strAt(svc, ['engine'], 'mysql');
  const mode = strAt(svc, ['topology', 'mode'], 'async');
  const wanted = mode === 'standalone' ? 1 : numAt(svc, ['topology', 'replicas'], 2);
  if (mode === 'semisync' && wanted < 2) return invalid('spec.topology.replicas', wanted, 'semisync needs a replica to acknowledge each commit');
  const members = replicationMembers(name, wanted, liveObject<MysqlReplication>(live, 'MysqlReplication', name));

  const objects: KubeObject[] = [
    projectNamespace(svc),
    unitSet(svc, KIND, {
      name, engine, version: svc.spec.version, units: members.units, placement, mountPath: DATA_PATH, storage,
      resources: resourcesOf(svc), parameters: parametersOf(svc),
    }),
    memberObject(svc, KIND, 'compose.upm.io/v1alpha1', 'MysqlReplication', name, {
      engine,
      mode: mode === 'semisync' ? 'semisync' : 'async',
      secretName: `${name}-credentials`,
      source: { name: members.source, unit: members.source },
      replicas: members.replicas.map((u) => ({ name: u, unit: u })),
      // Only when turned off: leaving it out keeps the member's default (on), and turning it on again drops the field.
      ...(specOf(svc, 'options', 'failover', 'automatic') === false ? { failover: { enabled: false } } : {}),
    }),
  ];
  if (specOf(svc, 'options', 'proxysql', 'enabled') === true) {
    const ps = proxysqlName(svc);
    const units = numAt(svc, ['options', 'proxysql', 'replicas'], 1);
    objects.splice(2, 0, unitSet(svc, KIND, { name: ps, engine: 'proxysql', version: PROXYSQL_VERSION, units, placement, resources: PROXYSQL_RESOURCES, lifecycle: false }));
    objects.push(memberObject(svc, KIND, 'compose.upm.io/v1alpha1', 'ProxysqlSync', name, {
      mysqlReplication: name,
      secretName: `${ps}-credentials`,
      proxysql: unitNames(ps, units).map((u) => ({ name: u, unit: u })),
    }));
  }
  return { objects };
};
