// The contract of the services controller (DESIGN.md section 6), written before its parts so they are built against
// one interface:
//   desired/<kind>.ts   one pure function per service kind: the hub service (and its Cluster) -> the member objects
//   status.ts           one pure function: the hub service and the member objects observed -> the hub's status
//   mirror.ts           per member cluster: server-side apply as FIELD_MANAGER, informers filtered by MANAGED_LABEL
//   controller.ts       observe, ask the pure functions, apply through the mirror, write status when it changed
// Every object the hub writes on a member carries the labels below, so the hub watches only what it wrote (never the
// member's pods or events) and maps each watch event back to its hub service.
import type { ClusterRecord } from '../../lib/api/internal.upm.io.generated.ts';
import type { Condition } from '../../lib/conditions.ts';
import type { KubeObject } from '../../lib/kube/types.ts';

/** Server-side apply field manager of every write the hub makes on a member. */
export const FIELD_MANAGER = 'upm-hub';
/** On every object the hub writes on a member: the informers' label selector is `${MANAGED_LABEL}=${MANAGED_VALUE}`. */
export const MANAGED_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_VALUE = 'upm-hub';
/** The hub service an object belongs to: its kind in lower case (`mysqlservice`) and its name. */
export const SERVICE_KIND_LABEL = 'upm.io/service-kind';
export const SERVICE_NAME_LABEL = 'upm.io/service';
/** The project (the hub namespace of the service; the member namespace has the same name). */
export const PROJECT_LABEL = 'upm.io/project';
/** Finalizer on the hub service's storage object: the member objects are removed before it goes. */
export const SERVICE_FINALIZER = 'upm.io/member-objects';

/** A hub service as stored (its storage record), with the fields every kind shares. */
export interface HubService extends KubeObject {
  spec: Record<string, unknown> & {
    version: string;
    placement: { cluster: string; zones?: string[]; nodeGroup?: string };
    deletionPolicy?: 'Delete' | 'Retain';
  };
  status?: ServiceStatus;
}

/**
 * What a desired function returns: the objects to apply on the member, in apply order (the Namespace first), each
 * with apiVersion, kind, metadata.name/namespace and the labels above; or why none can be computed (an unusable spec
 * or Cluster), named by field, which the controller reports as a condition and does not retry until something changes.
 *
 * - The Namespace (named as the service's hub namespace) carries MANAGED_LABEL and PROJECT_LABEL only: the project's
 *   services share it, so no service's labels are on it and deleting a service never deletes it.
 * - Every other object carries all four labels. UnitSet labels reach their Units and pods, and the compose kinds
 *   that make their own UnitSets (ZookeeperEnsemble, KafkaCluster, ElasticsearchCluster) give them their `upm.io/`
 *   labels, so every Unit of a service carries SERVICE_KIND_LABEL and SERVICE_NAME_LABEL. The Unit Operator sets
 *   their managed-by to its own: select Units by UNIT_SELECTOR, never by MANAGED_LABEL.
 * - No Secret is desired: every credentials Secret a compose object names is the `<unitset>-credentials` Secret the
 *   Unit Operator generates on the member (random passwords that never leave it, nor appear in any spec). The
 *   controller reads it on the member to write the hub's connection Secret. With deletionPolicy Retain the UnitSets
 *   keep their claims (pvcRetentionPolicy.whenDeleted Retain) and the Unit Operator does not let such a UnitSet own
 *   its credentials Secret, so deleting the UnitSets is all the controller does (desired/common.ts retainedOf()
 *   names what stays, for status.retained). ZookeeperEnsemble, KafkaCluster and ElasticsearchCluster delete their
 *   UnitSets' volumes with them, so their desired functions refuse Retain (spec.deletionPolicy).
 * - desired/index.ts DESIRED maps each public kind to its function.
 */
export type Desired = { objects: KubeObject[] } | { refused: { field: string; message: string } };
/**
 * `live` is what the member holds now of this service's objects (the mirror's informers; empty before the first
 * apply). A desired function reads from it only what the engine layer owns once the object exists: which server is
 * the source after a failover (MysqlReplication and RedisReplication rewrite their spec.source), the membership of
 * Redis Cluster shards, the KRaft quorum's size and Elasticsearch node sets, fixed at creation. Without it a re-apply
 * would undo a failover.
 */
export type DesiredFn = (svc: HubService, cluster: ClusterRecord, live: KubeObject[]) => Desired;

/** The label selection of every service's Units (of all its UnitSets), for one informer on units.unit.upm.io per member. */
export const UNIT_SELECTOR = `${SERVICE_KIND_LABEL},${SERVICE_NAME_LABEL}`;

/**
 * The member objects of one service, as its informers hold them (including what the engine operators report): what
 * the desired function returned, as the member has it now, plus the Units of its UnitSets (UNIT_SELECTOR) and the
 * member's Nodes (for each unit's zone, from topology.kubernetes.io/zone), when the controller watches them.
 */
export interface Observed {
  /** The Cluster is Ready and the member's informers are synced: what follows is current. */
  reachable: boolean;
  /** Why not, naming the cluster, when not reachable. */
  unreachableReason?: string;
  objects: KubeObject[];
  /** What the desired function returned for this spec (the status compares it with what the member has). */
  desired?: Desired;
  /** The apply failed: the member object and the error, for the Degraded reason. */
  applyError?: { object: string; message: string };
}

export type Phase = 'Pending' | 'Creating' | 'Ready' | 'Updating' | 'Degraded' | 'Failed' | 'Deleting' | 'Stopped';

export interface Endpoint { name: string; role: 'readwrite' | 'readonly' | string; addresses: string[]; port: number }
export interface UnitReport {
  name: string; role?: string; ready: boolean; node?: string; zone?: string;
  /** A MySQL/MariaDB replica's lag behind its source, in seconds, as the compose object reports it. */
  lagSeconds?: number;
  /** The capacity of its data volume (the claim's status.capacity), as its Unit reports it. */
  storage?: string;
}

export interface ServiceStatus {
  observedGeneration?: number;
  phase?: Phase;
  ready?: string;
  version?: string;
  endpoints?: Endpoint[];
  units?: UnitReport[];
  lastFailover?: Record<string, unknown>;
  /** The Secret in the service's namespace on the hub with host, port, user and password of the application account. */
  connectionSecret?: string;
  /** With deletionPolicy Retain: what was kept on the member and where. */
  retained?: { cluster: string; namespace: string; claims: string[]; secrets: string[] };
  conditions?: Condition[];
  [field: string]: unknown;
}

/** Pure: the hub status for this service given what the member shows; the controller writes it only when it differs. */
export type StatusFn = (svc: HubService, observed: Observed, now: Date) => ServiceStatus;
