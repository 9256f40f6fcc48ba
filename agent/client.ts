// A typed client of the unit agent's API (used by the Unit Operator and the tests).
import { Agent as Dispatcher, request } from 'undici';
import type { AgentStatus, ApiStatus, BackupRequest, BackupResponse, ConfigPush } from './api.ts';

export class AgentCallError extends Error {
  readonly code: number;
  readonly status?: ApiStatus;
  constructor(code: number, message: string, status?: ApiStatus) {
    super(message);
    this.name = 'AgentCallError';
    this.code = code;
    if (status) this.status = status;
  }
}

// Short timeouts: an agent that does not answer is reported, not waited on; backups get their own.
const dispatcher = new Dispatcher({ connectTimeout: 2000, keepAliveTimeout: 10_000 });

export class AgentClient {
  readonly base: string;
  private readonly token: string;
  constructor(host: string, port: number, token: string) {
    this.base = `http://${host}:${port}`;
    this.token = token;
  }

  status(): Promise<AgentStatus> { return this.call('GET', '/v1/status'); }
  pushConfig(c: ConfigPush): Promise<AgentStatus> { return this.call('PUT', '/v1/config', c); }
  start(): Promise<AgentStatus> { return this.call('POST', '/v1/start'); }
  stop(): Promise<AgentStatus> { return this.call('POST', '/v1/stop', undefined, 120_000); }
  /** With an id, a repeat of the same restart is a no-op (see RestartRequest). */
  restart(id?: string): Promise<AgentStatus> { return this.call('POST', '/v1/restart', id ? { id } : undefined, 120_000); }
  setParameters(parameters: Record<string, string>): Promise<AgentStatus> { return this.call('POST', '/v1/parameters', { parameters }); }
  backup(r: BackupRequest): Promise<BackupResponse> { return this.call('POST', '/v1/backup', r, 15 * 60_000); }
  restore(r: BackupRequest): Promise<AgentStatus> { return this.call('POST', '/v1/restore', r, 15 * 60_000); }

  async call<T>(method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown, timeoutMs = 30_000): Promise<T> {
    const res = await request(`${this.base}${path}`, {
      method, dispatcher, headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) {
      let status: ApiStatus | undefined;
      try { status = JSON.parse(text) as ApiStatus; } catch { /* not a Status */ }
      throw new AgentCallError(res.statusCode, status?.message ?? text, status);
    }
    return JSON.parse(text) as T;
  }
}
