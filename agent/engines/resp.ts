// A minimal Redis (RESP2) client: one connection per command, enough for probes, CONFIG, INFO and SENTINEL calls
// without spawning redis-cli.
import { connect } from 'node:net';

export type RespValue = string | number | null | RespError | RespValue[];

/** An error reply ("-ERR ...") from the server. */
export class RespError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RespError';
  }
}

export function encodeCommand(args: readonly string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const a of args) parts.push(`$${Buffer.byteLength(a)}\r\n${a}\r\n`);
  return Buffer.from(parts.join(''));
}

interface Parsed { value: RespValue; next: number }

/** Parses one reply at `at`; undefined when the buffer does not hold all of it yet. */
export function parseReply(buf: Buffer, at = 0): Parsed | undefined {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[at] ?? 0);
  const line = buf.toString('utf8', at + 1, eol);
  const next = eol + 2;
  switch (type) {
    case '+': return { value: line, next };
    case '-': return { value: new RespError(line), next };
    case ':': return { value: Number(line), next };
    case '$': return parseBulk(buf, Number(line), next);
    case '*': return parseArray(buf, Number(line), next);
    default: throw new Error(`unexpected RESP reply type ${JSON.stringify(type)}`);
  }
}

function parseBulk(buf: Buffer, length: number, at: number): Parsed | undefined {
  if (length < 0) return { value: null, next: at };
  if (buf.length < at + length + 2) return undefined;
  return { value: buf.toString('utf8', at, at + length), next: at + length + 2 };
}

function parseArray(buf: Buffer, count: number, at: number): Parsed | undefined {
  if (count < 0) return { value: null, next: at };
  const items: RespValue[] = [];
  let next = at;
  for (let i = 0; i < count; i++) {
    const item = parseReply(buf, next);
    if (!item) return undefined;
    items.push(item.value);
    next = item.next;
  }
  return { value: items, next };
}

/** Sends one command and resolves with its reply; an error reply rejects (as a RespError). */
export function redisCommand(host: string, port: number, args: readonly string[], timeoutMs = 5000): Promise<RespValue> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const socket = connect({ host, port });
    const fail = (err: Error) => { socket.destroy(); reject(err); };
    socket.setTimeout(timeoutMs, () => fail(new Error(`${args[0] ?? ''} to ${host}:${port}: no reply within ${timeoutMs} ms`)));
    socket.on('connect', () => socket.write(encodeCommand(args)));
    socket.on('error', fail);
    socket.on('close', () => reject(new Error(`${args[0] ?? ''} to ${host}:${port}: connection closed before a reply`)));
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      let parsed: Parsed | undefined;
      try { parsed = parseReply(buf); } catch (err) { return fail(err as Error); }
      if (!parsed) return;
      socket.end();
      if (parsed.value instanceof RespError) reject(parsed.value);
      else resolve(parsed.value);
    });
  });
}

/** "k:v" lines of an INFO reply as a map. */
export function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

/** A flat [k1, v1, k2, v2] reply (CONFIG GET, SENTINEL MASTER) as a map. */
export function pairs(reply: RespValue): Map<string, string> {
  const out = new Map<string, string>();
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out.set(String(reply[i]), String(reply[i + 1]));
  return out;
}
