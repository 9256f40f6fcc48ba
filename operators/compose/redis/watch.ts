// Sentinel tells its clients what it decides (+switch-master, +odown, ...) on Pub/Sub channels. The operator
// subscribes to every listed Sentinel of every RedisReplication it reconciles, so that a failover Sentinel makes is
// followed at once instead of at the next periodic pass. A message only wakes the reconcile; what happened is
// always read again from the servers and the Sentinels.
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Endpoint } from './observe.ts';

/** Sentinel events that can change who takes writes, or show that the source is down. */
const CHANNELS = ['+switch-master', '+failover-end', '+odown', '-odown', '+sdown', '-sdown', '+convert-to-slave'];

export interface WatchedSentinel { ep: Endpoint; password?: string }

export class SentinelWatch {
  private readonly wake: (key: string) => void;
  private readonly log: Logger;
  private readonly subs = new Map<string, { signature: string; clients: Redis[] }>();

  constructor(wake: (key: string) => void, log: Logger) {
    this.wake = wake;
    this.log = log;
  }

  /** Subscribes to these Sentinels for `key` (again only when the list or the credentials changed). */
  ensure(key: string, sentinels: WatchedSentinel[]): void {
    const signature = JSON.stringify(sentinels.map((s) => [s.ep.host, s.ep.port, !!s.password]));
    const cur = this.subs.get(key);
    if (cur?.signature === signature) return;
    this.drop(key);
    const clients = sentinels.filter((s) => s.ep.host).map((s) => {
      const c = new Redis({
        host: s.ep.host, port: s.ep.port, ...(s.password ? { password: s.password } : {}),
        enableReadyCheck: false, maxRetriesPerRequest: null, connectTimeout: 2000,
        retryStrategy: (times: number) => Math.min(times * 500, 5000),
      });
      c.on('error', () => { /* reconnects by itself; the reconcile reports unreachable Sentinels */ });
      c.on('message', (channel: string) => {
        this.log.debug({ key, sentinel: `${s.ep.host}:${s.ep.port}`, channel }, 'sentinel event');
        this.wake(key);
      });
      c.subscribe(...CHANNELS).catch(() => { /* retried on reconnect (auto-resubscribe) */ });
      return c;
    });
    this.subs.set(key, { signature, clients });
  }

  drop(key: string): void {
    const cur = this.subs.get(key);
    if (!cur) return;
    for (const c of cur.clients) c.disconnect();
    this.subs.delete(key);
  }

  close(): void {
    for (const key of [...this.subs.keys()]) this.drop(key);
  }
}
