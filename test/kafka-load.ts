// A producer for the Kafka suites and benchmark that keeps the books: numbered messages sent with acks=all
// (idempotent, one worker per partition so that each partition's batches stay in order), every acknowledged
// message recorded with the partition and offset the cluster gave it, and every batch's latency. A batch that fails
// after the client's own retries is sent again (possibly written twice: a duplicate is no loss); a message counts as
// acknowledged only once a send returned its offset. Afterwards `verify` reads the topic back with Kafka's own
// console consumer and checks that every acknowledged message is at its offset.
import { writeFile } from 'node:fs/promises';
import { Producer, ProduceAcks, stringSerializers } from '@platformatic/kafka';
import { kafkaTool } from '../agent/engines/kafka.ts';

export interface LoadOptions {
  /** "host:port" of the brokers. */
  bootstrap: string[];
  username: string;
  password: string;
  topic: string;
  partitions: number;
  /** Messages to acknowledge in all. */
  total: number;
  /** Messages per batch (one produce request). */
  batch: number;
  /** Messages per second while paced (see unpace). */
  ratePerSecond: number;
}

export interface Acked { partition: number; offset: number }
export interface BatchLatency { at: number; ms: number; ok: boolean }

const idOf = (n: number): string => `m-${String(n).padStart(7, '0')}`;

export class AckedProducer {
  readonly acked = new Map<string, Acked>();
  readonly latencies: BatchLatency[] = [];
  failedSends = 0;
  lastError = '';
  private readonly o: LoadOptions;
  private readonly producers: Producer<string, string, string, string>[] = [];
  private paced = true;
  private stopped = false;
  private next = 0;
  private done: Promise<void> | undefined;

  constructor(o: LoadOptions) {
    this.o = o;
  }

  start(): void {
    const workers = Array.from({ length: this.o.partitions }, (_, p) => this.worker(p));
    this.done = Promise.all(workers).then(() => undefined);
  }

  /** Sends the rest as fast as the cluster takes it. */
  unpace(): void {
    this.paced = false;
  }

  /** Resolves once every message is acknowledged (or stop() was called). */
  async finished(): Promise<void> {
    await this.done;
    await Promise.all(this.producers.map((p) => p.close().catch(() => undefined)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.finished();
  }

  private async worker(partition: number): Promise<void> {
    const producer = new Producer<string, string, string, string>({
      clientId: `upm-load-${partition}`, bootstrapBrokers: this.o.bootstrap,
      sasl: { mechanism: 'PLAIN', username: this.o.username, password: this.o.password },
      serializers: stringSerializers, acks: ProduceAcks.ALL, idempotent: true,
      retries: 20, retryDelay: 250, timeout: 10_000, connectTimeout: 3000, metadataMaxAge: 5000,
    });
    this.producers.push(producer);
    const interval = (1000 * this.o.batch * this.o.partitions) / this.o.ratePerSecond;
    let due = performance.now();
    while (!this.stopped) {
      const first = this.next;
      const count = Math.min(this.o.batch, this.o.total - first);
      if (count <= 0) return;
      this.next += count;
      const ids = Array.from({ length: count }, (_, i) => idOf(first + i));
      if (this.paced) {
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        due = Math.max(due + interval, performance.now() - interval);
      }
      // The same batch again until it is acknowledged; its latency is the client's: from the first send to the ack.
      const t0 = performance.now();
      for (;;) {
        try {
          const r = await producer.send({ messages: ids.map((id) => ({ topic: this.o.topic, partition, key: id, value: id })) });
          const base = Number(r.offsets?.find((x) => x.partition === partition)?.offset ?? -1);
          if (base < 0) throw new Error(`no offset for partition ${partition} in the acknowledgement`);
          this.latencies.push({ at: Date.now(), ms: performance.now() - t0, ok: true });
          ids.forEach((id, i) => this.acked.set(id, { partition, offset: base + i }));
          break;
        } catch (err) {
          this.failedSends++;
          this.lastError = err instanceof Error ? err.message : String(err);
          if (this.stopped) return;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }
  }
}

/** Writes the client properties of Kafka's own tools for a SASL/PLAIN account (owner-only: it holds the password). */
export async function writeClientConfig(path: string, auth: { username: string; password: string }): Promise<string> {
  await writeFile(path, ['security.protocol=SASL_PLAINTEXT', 'sasl.mechanism=PLAIN',
    `sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="${auth.username}" password="${auth.password}";`].join('\n'), { mode: 0o600 });
  return path;
}

export interface Verification { acked: number; consumed: number; missing: string[]; misplaced: string[]; duplicates: number }

/**
 * Reads every partition of the topic from the beginning with Kafka's console consumer (through `bootstrap`, as the
 * admin account of `clientConfig`) and checks each acknowledged message is at the offset its acknowledgement gave.
 * `version`: the Kafka release whose tools read (3.9's unless said).
 */
export async function verify(acked: Map<string, Acked>, topic: string, bootstrap: string, clientConfig: string, version?: string): Promise<Verification> {
  const release = version ? { version } : {};
  const ends = await kafkaTool('verify', 'org.apache.kafka.tools.GetOffsetShell', ['--bootstrap-server', bootstrap, '--command-config', clientConfig, '--topic', topic, '--time', '-1'], { timeoutMs: 120_000, ...release });
  const total = ends.trim().split('\n').reduce((n, l) => n + Number(l.split(':').at(-1) ?? 0), 0);
  const out = await kafkaTool('verify', 'org.apache.kafka.tools.consumer.ConsoleConsumer', [
    '--bootstrap-server', bootstrap, '--consumer.config', clientConfig, '--topic', topic, '--from-beginning', '--max-messages', String(total),
    '--timeout-ms', '120000', '--property', 'print.partition=true', '--property', 'print.offset=true',
  ], { timeoutMs: 300_000, ...release });
  const at = new Map<string, string>();
  const seen = new Map<string, number>();
  for (const line of out.split('\n')) {
    const m = /Partition:(\d+)\s+Offset:(\d+)\s+(\S+)/.exec(line);
    if (!m) continue;
    at.set(`${m[1]}:${m[2]}`, m[3] ?? '');
    seen.set(m[3] ?? '', (seen.get(m[3] ?? '') ?? 0) + 1);
  }
  const missing: string[] = [];
  const misplaced: string[] = [];
  for (const [id, a] of acked) {
    if (!seen.has(id)) missing.push(id);
    else if (at.get(`${a.partition}:${a.offset}`) !== id) misplaced.push(`${id} (expected at ${a.partition}:${a.offset}, found ${at.get(`${a.partition}:${a.offset}`) ?? 'nothing'})`);
  }
  const duplicates = [...seen.values()].reduce((n, c) => n + c - 1, 0);
  return { acked: acked.size, consumed: at.size, missing, misplaced, duplicates };
}

/** p50/p99/max of the batch latencies recorded in [from, to]. */
export function latencyPercentiles(xs: BatchLatency[], from = 0, to = Number.POSITIVE_INFINITY): { n: number; p50: number; p99: number; max: number } {
  const s = xs.filter((x) => x.ok && x.at >= from && x.at <= to).map((x) => x.ms).sort((a, b) => a - b);
  const q = (f: number) => s[Math.min(s.length - 1, Math.floor(f * s.length))] ?? Number.NaN;
  return { n: s.length, p50: q(0.5), p99: q(0.99), max: s.at(-1) ?? Number.NaN };
}
