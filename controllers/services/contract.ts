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
 */
export type Desired = { objects: KubeObject[] } | { refused: { field: string; message: string } };
export type DesiredFn = (svc: HubService, cluster: ClusterRecord) => Desired;

/** The member objects of one service, as its informers hold them (including what the engine operators report). */
export interface Observed {
  /** The Cluster is Ready and the member's informers are synced: what follows is current. */
  reachable: boolean;
  /** Why not, naming the cluster, when not reachable. */
  unreachableReason?: string;
  objects: KubeObject[];
}

export type Phase = 'Pending' | 'Creating' | 'Ready' | 'Updating' | 'Degraded' | 'Failed' | 'Deleting';

export interface Endpoint { name: string; role: 'readwrite' | 'readonly' | string; addresses: string[]; port: number }
export interface UnitReport { name: string; role?: string; ready: boolean; node?: string; zone?: string }

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
