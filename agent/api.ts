// The unit agent's HTTP API, shared by the agent (server) and its callers (the Unit Operator, tests).
// Every call but GET /healthz needs "Authorization: Bearer <token>"; errors are Kubernetes Status objects.
import type { ParameterSpec, RenderContext } from '../lib/engineconfig.ts';

export const AGENT_PORT = 2214;
export const AGENT_CONTAINER = 'unit-agent';
/**
 * Secret (per namespace, read by the operators only) holding the key each unit's agent token is derived from (see
 * tokens.ts); each unit's token is in a Secret of its own, under the same key name.
 */
export const AGENT_TOKEN_SECRET = 'upm-agent-auth';
export const AGENT_TOKEN_KEY = 'token';
/** Environment variables the agent reads (the pod template sets them). */
export const ENV_AGENT_TOKEN = 'UPM_AGENT_TOKEN';
export const ENV_ENGINE = 'UPM_ENGINE';
/** envFrom prefix of the unit's credentials Secret in the agent container. */
export const CREDENTIALS_ENV_PREFIX = 'UPM_CRED_';
/** A config file name: one plain name (no directory, no "..", no leading dot), written in the agent's config directory. */
export const CONFIG_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export type EngineState = 'Stopped' | 'Starting' | 'Running' | 'Stopping' | 'Crashed' | 'NotRunnable';

/** What the agent knows about its engine: the truth the Unit's status reports. */
export interface AgentStatus {
  pod: string;
  podUID: string;
  engine: string;
  state: EngineState;
  /** The engine answers its readiness probe. */
  ready: boolean;
  pid?: number;
  startedAt?: string;
  /** Unexpected exits the agent restarted the engine after. */
  restarts: number;
  /** The id of the last restart asked for with one (POST /v1/restart {"id"}): a repeat of it restarts nothing. */
  restartId?: string;
  /** Revision of the config the agent last applied (the unit's ConfigMap hash). */
  configRevision: string;
  /** Settings that changed but take effect only after a restart. */
  restartRequired: boolean;
  pendingRestart: string[];
  /** The effective parameters written to the config file. */
  parameters: Record<string, string>;
  message: string;
}

/** The inputs of the unit's config file: what the agent renders it from (stored in the unit's ConfigMap). */
export interface ConfigInput {
  fileName: string;
  template: string;
  context: RenderContext;
  parameters: Record<string, string>;
  specs: ParameterSpec[];
}

export interface ConfigPush extends ConfigInput { revision: string }

/** Restart request: with an id, a repeat of the same request (an operator that died before recording it) is a no-op. */
export interface RestartRequest { id?: string }

export interface BackupRequest {
  /** Path relative to the agent's backup root (a volume or object-store mount), e.g. "db1/2026-11-25.sql". */
  path: string;
  database?: string;
}

export interface BackupResponse { path: string; bytes: number; format: string; durationMs: number }

export interface StatusCause { field?: string; message: string; reason?: string }
export interface ApiStatus {
  kind: 'Status';
  apiVersion: 'v1';
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  code: number;
  details?: { causes?: StatusCause[] };
}

export function failure(code: number, reason: string, message: string, causes?: StatusCause[]): ApiStatus {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code, ...(causes ? { details: { causes } } : {}) };
}
