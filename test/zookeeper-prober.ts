// Continuous writes and reads through a ZooKeeper ensemble, for tests that must show an operation never left the
// ensemble without a serving majority. One writer session per server writes a counter to its own znode; once a write
// is acknowledged, a reader session on another server syncs and reads the znode back. ZooKeeper promises a session
// its own writes, and any session what was committed before its `sync`, but not linearizable reads across sessions
// without one: a read through another server after sync that returns an older value than one already acknowledged is a
// stale read, which must never happen. ZooKeeper's sync is not a quorum operation, though: it relies on a leader that
// lost its followers stepping down before they elect another (timeouts; the ZooKeeper paper, section 4.4). A server
// still of an older epoch than the write (a deposed leader that has not noticed, or a follower of one) can answer a
// sync and a read with what it has: such reads are counted apart, as ZooKeeper does not promise otherwise. Failed operations are kept with their times; the stretches with no successful
// write anywhere are reported for the reader (how long they last is a speed, measured in bench/, not asserted here).
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
  /**
   * Acknowledged writes another server still did not show after a sync and a second look a second later: a write
   * the ensemble lost or rolled back (must be 0).
   */
  staleReads: number;
  /** Examples of stale reads: "reader server: wrote n via writer server, read m". */
  staleExamples: string[];
  /**
   * Older values read once after a sync through another server, then caught up. ZooKeeper's sync does not make a
   * read at another server linearizable: a leader may answer a sync before it applied a commit a follower already
   * acknowledged, and a deposed leader may still answer for a moment. Counted and printed, not a failure.
   */
  laggingReads: number;
  laggingExamples: string[];
  /** When the last write was acknowledged (epoch ms), 0 if none was. */
  lastWriteAt: number;
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
  /** Digest credentials ("user:password") every session adds: the ensemble's application account may write, anonymous clients may not. */
  auth?: string;
  /** Timeout of one request; a longer stall counts as a failure (generous: a server's JVM may be slow while another starts). */
  opTimeoutMs?: number;
  /** srvr sampling interval. */
  sampleMs?: number;
  /** How long a srvr may take; a server that does not answer in this time counts as down (a failed poll is a violation). */
  srvrTimeoutMs?: number;
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
  private readonly staleExamples: string[] = [];
  private lagging = 0;
  private readonly laggingExamples: string[] = [];
  private readonly failures: ProbeFailure[] = [];
  private minServing = Number.POSITIVE_INFINITY;
  private minUp = Number.POSITIVE_INFINITY;
  private samples = 0;
  private noLeader = 0;
  private twoLeaders = 0;
  private split = 0;
  private readonly active = new Set<string>();

  constructor(o: ProberOptions) {
    this.o = { opTimeoutMs: 20_000, sampleMs: 100, srvrTimeoutMs: 10_000, gapThresholdMs: 1500, auth: '', ...o };
    this.servers = [...o.servers];
  }

  async start(): Promise<void> {
    const s = await ZkSession.open(...hostPort(this.servers[0] ?? ''), { timeoutMs: 10_000 });
    if (this.o.auth) await s.addDigestAuth(this.o.auth);
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

  /** Writes acknowledged so far, for a test waiting for traffic. */
  get writes(): number { return this.writeTimes.length; }

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
      staleExamples: this.staleExamples.slice(0, 10), laggingReads: this.lagging, laggingExamples: this.laggingExamples.slice(0, 10), lastWriteAt: times.at(-1) ?? 0,
      writeGaps: gaps, minUp: Number.isFinite(this.minUp) ? this.minUp : 0,
      minServing: Number.isFinite(this.minServing) ? this.minServing : 0, samplesWithoutLeader: this.noLeader, samplesWithTwoLeaders: this.twoLeaders, samplesWithSplitLeadership: this.split, samples: this.samples,
    };
  }

  /** The server after `server` in the list: where its writes are read back. */
  private readerFor(server: string): string {
    const i = this.servers.indexOf(server);
    return this.servers[(i + 1) % this.servers.length] ?? server;
  }

  private async loop(server: string): Promise<void> {
    const path = `${this.o.root}/${server.replace(/[^0-9a-z]/gi, '_')}`;
    const open = async (s: string) => {
      const z = await ZkSession.open(...hostPort(s), { timeoutMs: this.o.opTimeoutMs, sessionTimeoutMs: this.o.opTimeoutMs });
      if (this.o.auth) await z.addDigestAuth(this.o.auth).catch(async (e: unknown) => { await z.close(); throw e; });
      return z;
    };
    let session: ZkSession | undefined;
    let reader: { server: string; session: ZkSession } | undefined;
    let n = 0;
    while (this.running && this.servers.includes(server)) {
      let op = 'write';
      try {
        if (!session || session.isClosed) {
          session = await open(server);
          await session.create(path, '0').catch((e: unknown) => { if (!(e instanceof ZkError && e.codeName === 'NodeExists')) throw e; });
        }
        const value = ++n;
        const wrote = await session.setData(path, String(value));
        this.writeTimes.push(Date.now());
        // Acknowledged: through another server, after a sync, the value must be this one (only this loop writes it).
        op = 'sync/read';
        const other = this.readerFor(server);
        if (reader?.server !== other || reader.session.isClosed) {
          await reader?.session.close().catch(() => undefined);
          reader = { server: other, session: await open(other) };
        }
        const { session: rs } = reader;
        const look = async () => { await rs.sync(path); return Number((await rs.getData(path)).data.toString()); };
        const got = await look();
        this.reads++;
        if (got < value) {
          const epochs = `epoch ${wrote.mzxid >> 32n} write, read from epoch ${reader.session.lastZxid >> 32n}`;
          const example = `${other}: wrote ${value} via ${server}, read ${got} (${epochs})`;
          await sleep(1000);
          const again = await look();
          if (again >= value) { this.lagging++; this.laggingExamples.push(example); }
          else { this.staleReads++; this.staleExamples.push(`${example}, then ${again} a second later`); }
        }
        await sleep(20);
      } catch (err) {
        this.failures.push({ server: op === 'write' ? server : reader?.server ?? server, at: Date.now(), op, error: (err as Error).message });
        if (op === 'write') { await session?.close().catch(() => undefined); session = undefined; }
        else { await reader?.session.close().catch(() => undefined); reader = undefined; }
        await sleep(100);
      }
    }
    await session?.close().catch(() => undefined);
    await reader?.session.close().catch(() => undefined);
    this.active.delete(server);
  }

  private async sample(): Promise<void> {
    while (this.running) {
      const targets = this.voters ?? this.servers;
      const answers = await Promise.all(targets.map(async (s) => {
        const [host, port] = hostPort(s);
        const out = await tcpExchange(host, port, 'srvr', this.o.srvrTimeoutMs).catch(() => undefined);
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
