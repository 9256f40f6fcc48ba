// The shapes the Operation engine works on, shared by the API server (plan preview) and the hub controllers (runs).
// Pure data: the Operation as stored, the world a step looks at, the effects a step asks for, and the decisions the
// planner returns. Nothing here talks to a server.
import type { OperationRecordStatus } from '../api/internal.upm.io.generated.ts';
import type { Condition } from '../conditions.ts';
import type { OfferedStorageClass } from '../inventory.ts';
import type { KubeObject } from '../kube/types.ts';
import type { EngineTemplateInfo } from '../templates.ts';

/** Step and status as the CRD has them (crds/hub), with conditions as lib/conditions.ts writes them. */
export type StepStatus = NonNullable<OperationRecordStatus['steps']>[number];
export type StepPhase = StepStatus['phase'];
export type OperationPhase = NonNullable<OperationRecordStatus['phase']>;
export type OperationStatus = Omit<OperationRecordStatus, 'conditions'> & { conditions?: Condition[] };

export interface OperationSpec {
  type: string;
  target: { kind: string; name: string };
  cancel?: boolean;
  timeoutSeconds?: number;
  scale?: { replicas?: number; shards?: number; resources?: Record<string, unknown>; storage?: { size?: string | number } };
  upgrade?: { version?: string };
  reconfigure?: { parameters?: Record<string, string> };
  switchover?: { candidate?: string };
  failover?: { candidate?: string };
  restart?: { servers?: string[] };
}

export interface Operation extends KubeObject {
  spec: OperationSpec;
  status?: OperationStatus;
}

export interface ServiceUnit { name: string; role?: string; ready: boolean; lagSeconds?: number; storage?: string }

/** A hub service record (any kind) as the steps read it: its spec, and the status the services controller writes. */
export interface ServiceView extends KubeObject {
  spec: Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    phase?: string;
    ready?: string;
    version?: string;
    source?: string;
    units?: ServiceUnit[];
    conditions?: Condition[];
    [field: string]: unknown;
  };
}

/** Everything a step's checks may look at, read now. */
export interface World {
  /** The target service's record, when it exists. */
  service?: ServiceView;
  /** The member Cluster the service is placed on: whether the hub's heartbeat says it is Ready, the storage classes it offers. */
  cluster?: { name: string; ready: boolean; message?: string; storageClasses?: OfferedStorageClass[] };
  /** The engine templates of the hub (`<family>-<version>`). */
  templates: ReadonlyMap<string, EngineTemplateInfo>;
  /** The member's compose object of the service (MysqlReplication ...), when the caller read it. */
  compose?: KubeObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };
  /** The other Operations on the same service (any phase). */
  others: Operation[];
  now: Date;
}

/** What a check found; `fatal` refuses the Operation before anything changes, otherwise the step waits. */
export interface Check { ok: boolean; message: string; fatal?: boolean }

/** A change a step makes: a merge patch of the hub service record's spec, or of the member's compose object. */
export type Effect =
  | { on: 'service'; patch: Record<string, unknown>; what: string }
  | { on: 'compose'; kind: string; name: string; patch: Record<string, unknown>; what: string };

/** The next thing to do for one Operation. */
export type Decision =
  | { kind: 'done' }
  | { kind: 'queue'; waitingFor: string; message: string }
  | { kind: 'wait'; step?: string; message: string; afterMs: number }
  | { kind: 'run'; step: string; effect?: Effect; message: string; afterMs: number }
  | { kind: 'retry'; step: string; message: string; afterMs: number }
  | { kind: 'complete'; step: string; message: string }
  | { kind: 'finish'; message: string }
  | { kind: 'fail'; step?: string; message: string }
  | { kind: 'cancel'; message: string };
