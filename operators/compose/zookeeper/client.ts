// A small ZooKeeper client: one session over ZooKeeper's own wire protocol (length-prefixed jute records), with
// just the requests the operator and its tests use: digest authentication, reconfig, ACLs, and plain create / get /
// set / delete / sync. The pure-JavaScript npm client has no reconfig request (and drops the connection on a reply type it
// does not know), and the other one is a native binding compiled at install; ZooKeeper's Java CLI would need a JVM
// per call. Requests are pipelined; ZooKeeper answers each session's requests in order.
import { connect, type Socket } from 'node:net';

/** Request types (ZooDefs.OpCode). */
const OP = { create: 1, delete: 2, getData: 4, setData: 5, getACL: 6, setACL: 7, sync: 9, ping: 11, reconfig: 16, closeSession: -11, auth: 100 } as const;
const XID_WATCH = -1;
const XID_PING = -2;
const XID_AUTH = -4;
/** ZooDefs.Perms: read, write, create, delete, admin (setACL); ALL is every one of them. */
export const PERMS = { read: 1, write: 2, create: 4, delete: 8, admin: 16, all: 31 } as const;

/** One entry of a znode's ACL: permissions for an identity of a scheme (world:anyone, digest:user:base64(sha1)). */
export interface Acl { perms: number; scheme: string; id: string }
/** The ACL create has always used here (ZooDefs.Ids.OPEN_ACL_UNSAFE): everyone may do everything. */
export const OPEN_ACL: readonly Acl[] = [{ perms: PERMS.all, scheme: 'world', id: 'anyone' }];

/** ZooKeeper's error codes (KeeperException.Code) that callers here tell apart. */
export const ZK_ERRORS: Record<number, string> = {
  [-4]: 'ConnectionLoss', [-7]: 'OperationTimeout', [-8]: 'BadArguments', [-13]: 'NewConfigNoQuorum',
  [-14]: 'ReconfigInProgress', [-101]: 'NoNode', [-102]: 'NoAuth', [-103]: 'BadVersion', [-110]: 'NodeExists',
  [-112]: 'SessionExpired', [-115]: 'AuthFailed', [-118]: 'SessionMoved', [-123]: 'ReconfigDisabled',
};

export class ZkError extends Error {
  /** ZooKeeper's code (negative), or 0 for a connection that failed or timed out. */
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'ZkError';
    this.code = code;
  }
  get codeName(): string { return ZK_ERRORS[this.code] ?? (this.code ? `error ${this.code}` : 'ConnectionFailed'); }
}

export interface Stat { czxid: bigint; mzxid: bigint; version: number; aversion: number; dataLength: number; numChildren: number }

// ---- jute encoding ----

class Writer {
  private readonly parts: Buffer[] = [];
  int(v: number): this { const b = Buffer.alloc(4); b.writeInt32BE(v); this.parts.push(b); return this; }
  long(v: bigint): this { const b = Buffer.alloc(8); b.writeBigInt64BE(v); this.parts.push(b); return this; }
  bool(v: boolean): this { this.parts.push(Buffer.from([v ? 1 : 0])); return this; }
  buffer(v: Buffer | undefined): this { if (!v) return this.int(-1); this.int(v.length); this.parts.push(v); return this; }
  string(v: string | undefined): this { return this.buffer(v === undefined ? undefined : Buffer.from(v, 'utf8')); }
  acl(list: readonly Acl[]): this { this.int(list.length); for (const a of list) this.int(a.perms).string(a.scheme).string(a.id); return this; }
  /** The record, prefixed with its length (one frame). */
  frame(): Buffer { const body = Buffer.concat(this.parts); const len = Buffer.alloc(4); len.writeInt32BE(body.length); return Buffer.concat([len, body]); }
}

export class Reader {
  private off = 0;
  private readonly b: Buffer;
  constructor(b: Buffer) { this.b = b; }
  int(): number { const v = this.b.readInt32BE(this.off); this.off += 4; return v; }
  long(): bigint { const v = this.b.readBigInt64BE(this.off); this.off += 8; return v; }
  bool(): boolean { return this.b.readUInt8(this.off++) !== 0; }
  buffer(): Buffer | undefined { const n = this.int(); if (n < 0) return undefined; const v = this.b.subarray(this.off, this.off + n); this.off += n; return v; }
  string(): string { return this.buffer()?.toString('utf8') ?? ''; }
  stat(): Stat {
    const czxid = this.long(); const mzxid = this.long(); this.long(); this.long(); // ctime, mtime
    const version = this.int(); this.int(); const aversion = this.int(); this.long(); // cversion, ephemeralOwner
    const dataLength = this.int(); const numChildren = this.int(); this.long(); // pzxid
    return { czxid, mzxid, version, aversion, dataLength, numChildren };
  }
  acl(): Acl[] {
    const n = this.int();
    return Array.from({ length: Math.max(0, n) }, () => ({ perms: this.int(), scheme: this.string(), id: this.string() }));
  }
  get remaining(): number { return this.b.length - this.off; }
}

/** Splits a byte stream into frames (each a 4-byte length and a body). */
export class Framer {
  private pending: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Buffer[] = [];
    while (this.pending.length >= 4) {
      const n = this.pending.readInt32BE(0);
      if (n < 0 || n > 64 * 1024 * 1024) throw new Error(`bad frame length ${n}`);
      if (this.pending.length < 4 + n) break;
      out.push(this.pending.subarray(4, 4 + n));
      this.pending = this.pending.subarray(4 + n);
    }
    return out;
  }
}

// ---- the session ----

export interface SessionOptions {
  /** Time to connect and for each request to be answered. */
  timeoutMs?: number;
  /** The session timeout asked for (the server clamps it to its min/max). */
  sessionTimeoutMs?: number;
}

interface Pending { xid: number; op: string; resolve: (r: Reader) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }

export class ZkSession {
  readonly address: string;
  private readonly socket: Socket;
  private readonly timeoutMs: number;
  private readonly pending: Pending[] = [];
  private authWaiter?: { resolve: () => void; reject: (e: Error) => void };
  private xid = 1;
  private closed?: Error;
  private pinger?: NodeJS.Timeout;
  /** The session id the server gave (for logs). */
  sessionId = 0n;

  private constructor(socket: Socket, address: string, timeoutMs: number) {
    this.socket = socket;
    this.address = address;
    this.timeoutMs = timeoutMs;
  }

  /** Connects and creates a session (a write through the ensemble's leader: it fails while there is none). */
  static open(host: string, port: number, opts: SessionOptions = {}): Promise<ZkSession> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const address = `${host}:${port}`;
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      socket.setNoDelay(true);
      const s = new ZkSession(socket, address, timeoutMs);
      const framer = new Framer();
      let established = false;
      const fail = (e: Error) => { if (!established) { established = true; socket.destroy(); reject(e); } else s.fail(e); };
      const timer = setTimeout(() => fail(new ZkError(0, `${address}: no session within ${timeoutMs} ms`)), timeoutMs);
      socket.on('connect', () => {
        socket.write(new Writer().int(0).long(0n).int(opts.sessionTimeoutMs ?? 10_000).long(0n).buffer(Buffer.alloc(16)).bool(false).frame());
      });
      socket.on('data', (chunk: Buffer) => {
        let frames: Buffer[];
        try { frames = framer.push(chunk); } catch (e) { fail(e as Error); return; }
        for (const f of frames) {
          if (!established) {
            clearTimeout(timer);
            const r = new Reader(f);
            r.int();
            const negotiated = r.int();
            s.sessionId = r.long();
            if (negotiated <= 0) { fail(new ZkError(-112, `${address}: the server refused the session`)); return; }
            established = true;
            s.startPinging(negotiated);
            resolve(s);
            continue;
          }
          s.onFrame(f);
        }
      });
      socket.on('error', (e) => { clearTimeout(timer); fail(new ZkError(0, `${address}: ${e.message}`)); });
      socket.on('close', () => { clearTimeout(timer); fail(new ZkError(-4, `${address}: connection closed`)); });
    });
  }

  /** Adds digest credentials ("user:password") to the session. */
  addDigestAuth(credentials: string): Promise<void> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new ZkError(-7, `${this.address}: authentication not answered within ${this.timeoutMs} ms`)), this.timeoutMs);
      this.authWaiter = { resolve: () => { clearTimeout(timer); resolve(); }, reject: (e) => { clearTimeout(timer); reject(e); } };
      this.socket.write(new Writer().int(XID_AUTH).int(OP.auth).int(0).string('digest').buffer(Buffer.from(credentials, 'utf8')).frame());
    });
  }

  /** Creates a znode; its ACL is everyone's unless given (an account's own: digest of the user this session added). */
  async create(path: string, data: Buffer | string, flags = 0, acl: readonly Acl[] = OPEN_ACL): Promise<string> {
    const body = new Writer().string(path).buffer(Buffer.from(data)).acl(acl).int(flags);
    return (await this.request('create', OP.create, body)).string();
  }

  async getACL(path: string): Promise<{ acl: Acl[]; stat: Stat }> {
    const r = await this.request('getACL', OP.getACL, new Writer().string(path));
    return { acl: r.acl(), stat: r.stat() };
  }

  /** Replaces a znode's ACL if its ACL version is still `aversion` (-1: whatever it is). */
  async setACL(path: string, acl: readonly Acl[], aversion = -1): Promise<Stat> {
    return (await this.request('setACL', OP.setACL, new Writer().string(path).acl(acl).int(aversion))).stat();
  }

  async getData(path: string): Promise<{ data: Buffer; stat: Stat }> {
    const r = await this.request('getData', OP.getData, new Writer().string(path).bool(false));
    return { data: r.buffer() ?? Buffer.alloc(0), stat: r.stat() };
  }

  async setData(path: string, data: Buffer | string, version = -1): Promise<Stat> {
    return (await this.request('setData', OP.setData, new Writer().string(path).buffer(Buffer.from(data)).int(version))).stat();
  }

  async delete(path: string, version = -1): Promise<void> {
    await this.request('delete', OP.delete, new Writer().string(path).int(version));
  }

  /** Brings the connected server up to date with the leader (before a read that must see the latest commit). */
  async sync(path = '/'): Promise<void> {
    await this.request('sync', OP.sync, new Writer().string(path));
  }

  /**
   * Incremental reconfiguration: `joining` server lines ("server.4=host:2888:3888:participant") and `leaving` ids.
   * Returns the configuration ZooKeeper committed (its server lines and "version=<hex>").
   */
  async reconfig(joining: string[], leaving: number[], fromConfig = -1n): Promise<string> {
    const body = new Writer().string(joining.length ? joining.join(',') : undefined).string(leaving.length ? leaving.join(',') : undefined).string(undefined).long(fromConfig);
    return ((await this.request('reconfig', OP.reconfig, body)).buffer() ?? Buffer.alloc(0)).toString('utf8');
  }

  /** Closes the session (so its ephemeral state goes at once) and the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.request('closeSession', OP.closeSession, new Writer()).catch(() => undefined);
    this.fail(new ZkError(-4, `${this.address}: session closed`));
  }

  get isClosed(): boolean { return !!this.closed; }
  /** The server's last zxid, as its latest reply said (its upper 32 bits are the epoch of the leader it follows). */
  lastZxid = 0n;

  private request(op: string, type: number, body: Writer): Promise<Reader> {
    if (this.closed) return Promise.reject(this.closed);
    const xid = this.xid++;
    const head = new Writer().int(xid).int(type).frame().subarray(4);
    const payload = body.frame().subarray(4);
    const len = Buffer.alloc(4);
    len.writeInt32BE(head.length + payload.length);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new ZkError(-7, `${this.address}: ${op} not answered within ${this.timeoutMs} ms`)), this.timeoutMs);
      this.pending.push({ xid, op, resolve, reject, timer });
      this.socket.write(Buffer.concat([len, head, payload]));
    });
  }

  private onFrame(f: Buffer): void {
    const r = new Reader(f);
    const xid = r.int();
    this.lastZxid = r.long();
    const err = r.int();
    if (xid === XID_PING || xid === XID_WATCH) return;
    if (xid === XID_AUTH) {
      const w = this.authWaiter;
      this.authWaiter = undefined;
      if (err === 0) w?.resolve(); else w?.reject(new ZkError(err, `${this.address}: authentication failed (${ZK_ERRORS[err] ?? err})`));
      return;
    }
    const p = this.pending.shift();
    if (!p) return;
    clearTimeout(p.timer);
    if (p.xid !== xid) { this.fail(new ZkError(-4, `${this.address}: reply ${xid} out of order (expected ${p.xid})`)); p.reject(this.closed as Error); return; }
    if (err !== 0) p.reject(new ZkError(err, `${this.address}: ${p.op}: ${ZK_ERRORS[err] ?? `error ${err}`}`));
    else p.resolve(r);
  }

  private startPinging(sessionTimeoutMs: number): void {
    this.pinger = setInterval(() => { if (!this.closed) this.socket.write(new Writer().int(XID_PING).int(OP.ping).frame()); }, Math.max(200, Math.floor(sessionTimeoutMs / 3)));
    this.pinger.unref();
  }

  private fail(e: Error): void {
    if (this.closed) return;
    this.closed = e;
    clearInterval(this.pinger);
    for (const p of this.pending.splice(0)) { clearTimeout(p.timer); p.reject(e); }
    this.authWaiter?.reject(e);
    this.authWaiter = undefined;
    this.socket.destroy();
  }
}
