// Helpers the engine drivers share: running client tools without a shell, atomic file writes, size quantities,
// one-shot TCP exchanges, and rewriting key/value lines of config files in place.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { connect, isIP } from 'node:net';
import { dirname } from 'node:path';

/** A file the driver needs on this node, and the Debian package that ships it (or how else it is installed). */
export type Requirement = { path: string; debianPackage: string } | { path: string; install: string };

/** What to do about a missing requirement, for the NotRunnable message. */
export const installHint = (r: Requirement): string => ('install' in r ? r.install : `install the Debian package ${r.debianPackage}`);

export interface RunOptions {
  /** Written to the tool's stdin (keeps passwords and SQL out of the process list). */
  input?: string;
  timeoutMs?: number;
}

/** Runs a tool with an argument array (no shell); rejects with the tool's own message when it fails. */
export function run(what: string, command: string, args: string[], opts: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { timeout: opts.timeoutMs ?? 30_000, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        reject(new Error(`${what}: ${toolMessage(stderr, stdout, err)}`));
      });
    child.stdin?.on('error', () => undefined); // the tool may exit before reading all of its input
    child.stdin?.end(opts.input ?? '');
  });
}

function toolMessage(stderr: string, stdout: string, err: Error & { code?: unknown; killed?: boolean }): string {
  const text = (stderr.trim() || stdout.trim()).split('\n').slice(-5).join(' | ');
  if (err.killed) return `timed out${text ? `: ${text}` : ''}`;
  return text || err.message;
}

/**
 * Runs a tool with stdin and/or stdout connected to files (dumps and restores can be larger than memory).
 * Rejects with the tool's stderr when it exits non-zero.
 */
export async function runWithFiles(what: string, command: string, args: string[], files: { stdin?: string; stdout?: string }): Promise<void> {
  const input = files.stdin ? await open(files.stdin, 'r') : undefined;
  const output = files.stdout ? await open(files.stdout, 'w') : undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(command, args, { stdio: [input?.fd ?? 'ignore', output?.fd ?? 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
      child.on('error', (err) => reject(new Error(`${what}: ${err.message}`)));
      child.on('close', (code, signal) => {
        if (code === 0) return resolve();
        reject(new Error(`${what}: ${command} exited with ${signal ?? code}${stderr.trim() ? `: ${stderr.trim()}` : ''}`));
      });
    });
    await output?.sync();
  } finally {
    await input?.close();
    await output?.close();
  }
}

/** Writes `target` through a temporary file in the same directory and a rename, so a failure leaves no half file. */
export async function writeAtomically(target: string, write: (tmp: string) => Promise<void>): Promise<number> {
  await mkdir(dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await write(tmp);
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return (await stat(target)).size;
}

/** Copies a file atomically (and durably: the copy is fsynced before the rename). */
export function copyAtomically(source: string, target: string): Promise<number> {
  return writeAtomically(target, async (tmp) => {
    await copyFile(source, tmp);
    const fh = await open(tmp, 'r+');
    try { await fh.sync(); } finally { await fh.close(); }
  });
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

const UNIT_POWER: Record<string, number> = { k: 1, m: 2, g: 3, t: 4 };

/** Bytes of a size such as 64M, 512mb, 1.5G or 2Gi (binary multiples, as MariaDB and Redis read them). */
export function quantityBytes(value: string): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)([kmgt])?i?b?$/i.exec(value.trim());
  if (!m?.[1]) return undefined;
  const power = m[2] ? UNIT_POWER[m[2].toLowerCase()] ?? 0 : 0;
  return Math.round(Number(m[1]) * 1024 ** power);
}

/** Sends `payload` over TCP and returns everything the server writes until it closes (or `timeoutMs`). */
export function tcpExchange(host: string, port: number, payload: string | Buffer, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host, port });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`)));
    socket.on('connect', () => socket.end(payload));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', (hadError) => { if (!hadError) resolve(Buffer.concat(chunks).toString()); });
  });
}

/** How one config format writes a key/value line. */
export interface LineSyntax {
  /** The key and value of a setting line; undefined for comments, blanks and anything else. */
  parse(line: string): { key: string; value: string } | undefined;
  format(key: string, value: string): string;
  /** Spellings of one key that the engine treats alike (e.g. MariaDB's - and _). */
  normalize?(key: string): string;
}

/** A new value, or a function of the old one that returns undefined to keep the line as it is. */
export type Rewrite = string | ((old: string) => string | undefined);

export interface RewriteOptions {
  /** A comment put above the rewritten line of a key, saying why this node differs. */
  notes?: ReadonlyMap<string, string>;
}

/**
 * Rewrites the value of every line whose (normalized) key is in `rewrites`, keeping the key's spelling and every
 * other line. Returns the new lines and the keys that were found.
 */
export function rewriteLines(lines: string[], syntax: LineSyntax, rewrites: ReadonlyMap<string, Rewrite>, opts: RewriteOptions = {}): { lines: string[]; found: Set<string> } {
  const norm = syntax.normalize ?? ((k: string) => k);
  const found = new Set<string>();
  const out = lines.flatMap((line) => {
    const kv = syntax.parse(line);
    if (!kv) return [line];
    const key = norm(kv.key);
    const rewrite = rewrites.get(key);
    if (rewrite === undefined) return [line];
    found.add(key);
    const value = typeof rewrite === 'string' ? rewrite : rewrite(kv.value);
    if (value === undefined || value === kv.value) return [line];
    const note = opts.notes?.get(key);
    return [...(note ? [`# node-local (unit agent): ${note}`] : []), syntax.format(kv.key, value)];
  });
  return { lines: out, found };
}

/** A host of a rendered config as this node reaches it: a DNS name through the node's resolver, an address as it is. */
export function resolveHost(env: { resolve(host: string): string }, host: string): string {
  return isIP(host) ? host : env.resolve(host);
}

/** Calls `check` until it returns a value; unlike a probe loop, an error ends the wait at once. */
export async function poll<T>(what: string, check: () => Promise<T | undefined>, opts: { timeoutMs: number; intervalMs: number }): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
}
