// One short-lived connection to a Redis server or Sentinel for one reconcile pass: no reconnection and no retries,
// so an unreachable server fails the call at once. Authentication is explicit: a server that has no password (a
// local engine runs without the pod's password include) answers AUTH with an error we recognise, and the connection
// goes on without one. Passwords never reach a log or an error message.
import { Redis } from 'ioredis';
import { isNoPasswordConfigured, type Endpoint } from './observe.ts';

export interface Credentials { username?: string; password?: string }

export class Link {
  readonly ep: Endpoint;
  /** The server asked for a password (and accepted ours). */
  readonly authenticated: boolean;
  private readonly client: Redis;

  private constructor(ep: Endpoint, client: Redis, authenticated: boolean) {
    this.ep = ep;
    this.client = client;
    this.authenticated = authenticated;
  }

  static async open(ep: Endpoint, cred: Credentials, timeoutMs = 2000): Promise<Link> {
    const client = new Redis({
      host: ep.host, port: ep.port, lazyConnect: true, connectTimeout: timeoutMs, commandTimeout: timeoutMs * 2,
      maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false, enableOfflineQueue: false,
    });
    client.on('error', () => { /* surfaced by the failing call */ });
    try {
      await client.connect();
      let authenticated = false;
      if (cred.password) {
        try {
          await (cred.username && cred.username !== 'default' ? client.call('AUTH', cred.username, cred.password) : client.call('AUTH', cred.password));
          authenticated = true;
        } catch (err) {
          const msg = err instanceof Error ? err.message : String(err);
          // The cause is left out on purpose: ioredis keeps the AUTH command's arguments (the password) on it.
          // eslint-disable-next-line preserve-caught-error
          if (!isNoPasswordConfigured(msg)) throw new Error(/WRONGPASS|invalid password/i.test(msg) ? 'authentication failed (wrong username or password in the Secret)' : msg.replaceAll(cred.password, '***'));
        }
      }
      return new Link(ep, client, authenticated);
    } catch (err) {
      client.disconnect();
      throw err instanceof Error ? err : new Error(String(err));
    }
  }

  async call(command: string, ...args: (string | number)[]): Promise<unknown> {
    return this.client.call(command, ...args);
  }

  async text(command: string, ...args: (string | number)[]): Promise<string> {
    return String(await this.call(command, ...args));
  }

  close(): void {
    this.client.disconnect();
  }
}

export const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));
