// The agent's HTTP API. Every route but /healthz needs its unit's agent token (compared in constant time);
// bodies are size-limited JSON; every error is a Kubernetes Status with the field and the reason.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Agent, AgentError } from './agent.ts';
import { CONFIG_FILE_NAME, failure, type ApiStatus, type BackupRequest, type ConfigPush, type RestartRequest } from './api.ts';

const MAX_BODY = 4 * 1024 * 1024;

type Handler = (body: unknown) => Promise<unknown>;

export class AgentServer {
  private readonly server: Server;
  private readonly tokenDigest: Buffer;
  private readonly routes: Map<string, Handler>;
  private readonly log: Logger;

  constructor(agent: Agent, token: string, log: Logger) {
    if (!token) throw new Error('the agent needs a token: refusing to serve an unauthenticated API');
    this.tokenDigest = digest(token);
    this.log = log;
    this.routes = new Map<string, Handler>([
      ['GET /v1/status', async () => agent.status()],
      ['PUT /v1/config', async (b) => agent.applyConfig(configPush(b))],
      ['POST /v1/start', async () => agent.start()],
      ['POST /v1/stop', async () => agent.stop()],
      ['POST /v1/restart', async (b) => agent.restart(restartRequest(b).id)],
      ['POST /v1/parameters', async (b) => agent.setParameters(parameters(b))],
      ['POST /v1/backup', async (b) => agent.backup(backupRequest(b))],
      ['POST /v1/restore', async (b) => agent.restore(backupRequest(b))],
    ]);
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.requestTimeout = 15 * 60_000; // backups of big databases take a while
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve((this.server.address() as AddressInfo).port));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => { this.server.close(() => resolve()); this.server.closeAllConnections(); });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'GET' && path === '/healthz') return send(res, 200, { status: 'ok' });
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!token || !timingSafeEqual(digest(token), this.tokenDigest)) {
      req.resume();
      return send(res, 401, failure(401, 'Unauthorized', token ? 'invalid agent token' : 'missing bearer token: the agent API needs the token of its unit'));
    }
    const route = this.routes.get(`${req.method} ${path}`);
    if (!route) {
      req.resume();
      const known = [...this.routes.keys()].some((k) => k.endsWith(` ${path}`));
      return send(res, known ? 405 : 404, failure(known ? 405 : 404, known ? 'MethodNotAllowed' : 'NotFound', `${req.method} ${path} is not part of the agent API`));
    }
    try {
      const body = await readJson(req);
      send(res, 200, await route(body));
    } catch (err) {
      if (err instanceof AgentError) return send(res, err.code, failure(err.code, err.reason, err.message, err.causes));
      this.log.error({ err, path }, 'agent request failed');
      send(res, 500, failure(500, 'InternalError', (err as Error).message));
    }
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function send(res: ServerResponse, code: number, body: unknown | ApiStatus): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new AgentError(413, 'RequestEntityTooLarge', `request body over ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (!size) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new AgentError(400, 'BadRequest', `request body is not valid JSON: ${(err as Error).message}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function bad(field: string, message: string): AgentError {
  return new AgentError(422, 'Invalid', `${field}: ${message}`, [{ field, message, reason: 'FieldValueInvalid' }]);
}

function stringMap(v: unknown, field: string): Record<string, string> {
  if (!isObject(v)) throw bad(field, 'must be an object of strings');
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') throw bad(`${field}[${k}]`, `must be a string, got ${typeof x}`);
  return v as Record<string, string>;
}

function configPush(b: unknown): ConfigPush {
  if (!isObject(b)) throw bad('body', 'must be a config object');
  for (const f of ['revision', 'fileName', 'template'] as const) if (typeof b[f] !== 'string' || !b[f]) throw bad(f, 'must be a non-empty string');
  if (!CONFIG_FILE_NAME.test(b.fileName as string)) throw bad('fileName', 'must be a plain file name (letters, digits, ".", "_", "-"; no directory)');
  if (!isObject(b.context) || !isObject(b.context.unit) || !Array.isArray(b.context.peers)) throw bad('context', 'must be the unit render context');
  if (!Array.isArray(b.specs)) throw bad('specs', 'must be the parameter metadata list');
  stringMap(b.parameters, 'parameters');
  return b as unknown as ConfigPush;
}

function parameters(b: unknown): Record<string, string> {
  if (!isObject(b)) throw bad('body', 'must be {"parameters": {"<key>": "<value>"}}');
  const p = stringMap(b.parameters, 'parameters');
  if (!Object.keys(p).length) throw bad('parameters', 'names no parameter');
  return p;
}

function restartRequest(b: unknown): RestartRequest {
  if (b === undefined) return {};
  if (!isObject(b) || (b.id !== undefined && (typeof b.id !== 'string' || !b.id || b.id.length > 128))) throw bad('id', 'must be a non-empty string of at most 128 characters');
  return typeof b.id === 'string' ? { id: b.id } : {};
}

function backupRequest(b: unknown): BackupRequest {
  if (!isObject(b) || typeof b.path !== 'string') throw bad('path', 'is required: a path relative to the backup location');
  if (b.database !== undefined && (typeof b.database !== 'string' || !/^[A-Za-z0-9_$]{1,64}$/.test(b.database))) throw bad('database', 'must be a database name (letters, digits, _ and $)');
  return { path: b.path, ...(typeof b.database === 'string' ? { database: b.database } : {}) };
}
