// Continuous writes and reads through a ZooKeeper ensemble, for tests that must show an operation never left the
// ensemble without a serving majority. One session per server: each writes a counter to its own znode and reads it
// back (a write needs the leader and a quorum; the read must return what was written). Failed operations are kept
// with their times, and the longest stretch in which no write succeeded anywhere is the ensemble's failure window.
import { ZkError, ZkSession } from '../operators/compose/zookeeper/client.ts';
import { tcpExchange } from '../agent/engines/util.ts';

export interface ProbeFailure { server: string; at: number; op: string; error: string }

export interface ProbeReport {
  writes: number;
  reads: number;
  failures: ProbeFailure[];
  /** The longest time (ms) between two successful writes of any session, i.e. with no write succeeding. */
  longestWriteGapMs: number;
  /** When that gap started (epoch ms), for the reader of a failed test. */
  longestWriteGapAt: number;
  /** Reads that returned something other than the value just written (must be 0). */
  staleReads: number;
  /** Every stretch longer than gapThresholdMs with no successful write: [start, length] in ms. */
  writeGaps: [number, number][];
  /** srvr samples of the voters: the fewest answering at all (a running process, serving or electing), the fewest serving as
   * leader or follower, the samples with no leader and with two. */
  minUp: number;
  minServing: number;
  samplesWithoutLeader: number;
  /** Samples where two servers answered "leader": a former leader that has not noticed yet (an older epoch, unable to
   * commit) or, with the same epoch, two leaders of one epoch (split brain, which must never happen). */
  samplesWithTwoLeaders: number;
  samplesWithSplitLeadership: number;
  samples: number;
}

export interface ProberOptions {
  /** Client addresses ("ip:port") of the servers; the list may change while probing (setServers). */
  servers: string[];
  /** Root znode of the probe (created if missing). */
  root: string;
  /** Timeout of one request; a longer stall counts as a failure. */
  opTimeoutMs?: number;
  /** srvr sampling interval. */
  sampleMs?: number;
  /** Write gaps longer than this are listed. */
  gapThresholdMs?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class EnsembleProber {
  private readonly o: Required<ProberOptions>;
  private servers: string[];
  private running = false;
  private loops: Promise<void>[] = [];
  private sampler?: Promise<void>;
  private readonly writeTimes: number[] = [];
  private reads = 0;
  private staleReads = 0;
  private readonly failures: ProbeFailure[] = [];
  private minServing = Number.POSITIVE_INFINITY;
  private minUp = Number.POSITIVE_INFINITY;
  private samples = 0;
  private noLeader = 0;
  private twoLeaders = 0;
  private split = 0;
  private readonly active = new Set<string>();

  constructor(o: ProberOptions) {
    this.o = { opTimeoutMs: 5000, sampleMs: 100, gapThresholdMs: 1500, ...o };
    this.servers = [...o.servers];
  }

  async start(): Promise<void> {
    const s = await ZkSession.open(...hostPort(this.servers[0] ?? ''), { timeoutMs: 10_000 });
    await s.create(this.o.root, '').catch((e: unknown) => { if (!(e instanceof ZkError && e.codeName === 'NodeExists')) throw e; });
    await s.close();
    this.running = true;
    this.sampler = this.sample();
    this.setServers(this.servers);
  }

  /** Probes through these servers from now on (a scaled ensemble); loops for servers no longer listed end. */
  setServers(servers: string[]): void {
    this.servers = [...servers];
    for (const srv of servers) {
      if (this.active.has(srv)) continue;
      this.active.add(srv);
      this.loops.push(this.loop(srv));
    }
  }

  /** Servers whose srvr answers count towards minServing (the ensemble's voters). */
  private voters: string[] | undefined;
  setVoters(servers: string[]): void { this.voters = [...servers]; }

  async stop(): Promise<ProbeReport> {
    this.running = false;
    await Promise.all([...this.loops, this.sampler]);
    const times = [...this.writeTimes].sort((a, b) => a - b);
    let gap = 0;
    let gapAt = 0;
    const gaps: [number, number][] = [];
    for (let i = 1; i < times.length; i++) {
      const d = (times[i] as number) - (times[i - 1] as number);
      if (d > gap) { gap = d; gapAt = times[i - 1] as number; }
      if (d > this.o.gapThresholdMs) gaps.push([times[i - 1] as number, d]);
    }
    return {
      writes: times.length, reads: this.reads, failures: this.failures, longestWriteGapMs: gap, longestWriteGapAt: gapAt, staleReads: this.staleReads,
      writeGaps: gaps, minUp: Number.isFinite(this.minUp) ? this.minUp : 0,
      minServing: Number.isFinite(this.minServing) ? this.minServing : 0, samplesWithoutLeader: this.noLeader, samplesWithTwoLeaders: this.twoLeaders, samplesWithSplitLeadership: this.split, samples: this.samples,
    };
  }

  private async loop(server: string): Promise<void> {
    const path = `${this.o.root}/${server.replace(/[^0-9a-z]/gi, '_')}`;
    let session: ZkSession | undefined;
    let n = 0;
    while (this.running && this.servers.includes(server)) {
      try {
        if (!session || session.isClosed) {
          session = await ZkSession.open(...hostPort(server), { timeoutMs: this.o.opTimeoutMs, sessionTimeoutMs: 6000 });
          await session.create(path, '0').catch((e: unknown) => { if (!(e instanceof ZkError && e.codeName === 'NodeExists')) throw e; });
        }
        const value = `${++n}`;
        await session.setData(path, value);
        this.writeTimes.push(Date.now());
        const { data } = await session.getData(path);
        this.reads++;
        if (data.toString() !== value) this.staleReads++;
        await sleep(20);
      } catch (err) {
        this.failures.push({ server, at: Date.now(), op: 'write/read', error: (err as Error).message });
        await session?.close().catch(() => undefined);
        session = undefined;
        await sleep(100);
      }
    }
    await session?.close().catch(() => undefined);
    this.active.delete(server);
  }

  private async sample(): Promise<void> {
    while (this.running) {
      const targets = this.voters ?? this.servers;
      const answers = await Promise.all(targets.map(async (s) => {
        const [host, port] = hostPort(s);
        const out = await tcpExchange(host, port, 'srvr', 2000).catch(() => undefined);
        const zxid = /^Zxid: (0x[0-9a-f]+)/m.exec(out ?? '')?.[1];
        return { mode: out === undefined ? 'down' : /^Mode: (\S+)/m.exec(out)?.[1] ?? 'up', epoch: zxid ? BigInt(zxid) >> 32n : -1n };
      }));
      const modes = answers.map((a) => a.mode);
      const epochs = answers.filter((a) => a.mode === 'leader').map((a) => a.epoch);
      if (new Set(epochs).size < epochs.length) this.split++;
      this.minUp = Math.min(this.minUp, modes.filter((m) => m !== 'down').length);
      const serving = modes.filter((m) => m === 'leader' || m === 'follower').length;
      const leaders = modes.filter((m) => m === 'leader').length;
      this.samples++;
      this.minServing = Math.min(this.minServing, serving);
      if (leaders === 0) this.noLeader++;
      if (leaders > 1) this.twoLeaders++;
      await sleep(this.o.sampleMs);
    }
  }
}

function hostPort(s: string): [string, number] {
  const i = s.lastIndexOf(':');
  return i < 0 ? [s, 2181] : [s.slice(0, i), Number(s.slice(i + 1))];
}
