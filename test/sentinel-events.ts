// What Redis Sentinels announce on their Pub/Sub channels (+try-failover, +switch-master, ...), heard by a test from
// the moment it subscribes: each line is "<sentinel> <channel> <message>".
import { Redis } from 'ioredis';

export interface SentinelEars { heard: string[]; close(): void }

export async function hearSentinels(sentinels: { name: string; host: string }[], channels: string[]): Promise<SentinelEars> {
  const heard: string[] = [];
  const subs = await Promise.all(sentinels.map(async (s) => {
    const r = new Redis({ host: s.host, port: 26379, lazyConnect: true, maxRetriesPerRequest: 0 });
    r.on('error', () => undefined);
    r.on('message', (channel: string, message: string) => { heard.push(`${s.name} ${channel} ${message}`); });
    await r.connect();
    await r.subscribe(...channels);
    return r;
  }));
  return { heard, close: () => { for (const r of subs) r.disconnect(); } };
}
