// A watch stream served from a resource cache: one JSON event per line, flushed per event. Resumes from a
// resourceVersion out of the cache's history (an in-stream 410 Expired when it is older), sends the current state
// as ADDED first when asked (resourceVersion unset or 0, or sendInitialEvents, which ends with the
// initial-events-end bookmark), bookmarks when allowed, and ends cleanly at timeoutSeconds. Every event but ERROR
// (a v1 Status, as in Go) carries its object, bookmarks included, in the negotiated form: the watched kind,
// PartialObjectMetadata, or a Table of one row (columns in the first event only). An object that stops matching the
// watcher's filter (selectors, visibility) is sent as DELETED, one that starts matching as ADDED.
// A client that does not read what it is sent makes the server hold it: a watch that leaves more than
// maxBufferedBytes unsent for longer than stallMs, or sixteen times that at once, is ended by destroying its
// stream (which frees the buffer; ending it would wait for the client to read), and so is a finished one whose
// last bytes stay unread that long.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CacheEvent, Entry, EventType, ResourceCache } from './cache.ts';
import type { MetaVersion, Output } from './negotiate.ts';
import type { PublicObject, ResourceDefinition } from './resources/types.ts';
import { expired } from './status.ts';
import { bookmarkRow, columnDefinitions, partialObjectMetadata, tableRow, type IncludeObject } from './table.ts';
import { PUBLIC_API_VERSION } from './translate.ts';

export interface WatchParams {
  /** Where to start: undefined or 0 sends the current state first; N resumes after N. */
  resourceVersion: number | undefined;
  sendInitialEvents: boolean;
  allowBookmarks: boolean;
  timeoutSeconds: number;
  output: Output;
  include: IncludeObject;
  filter(entry: Entry): boolean;
}

export interface WatchServerOptions {
  bookmarkIntervalMs: number;
  /** Unsent bytes a watcher may leave for up to stallMs before it is ended (and 16 times that, at least 16 MiB, at once). */
  maxBufferedBytes: number;
  stallMs: number;
  onOpen?(): void;
  onClose?(): void;
  onEvent?(): void;
  /** The watch was ended because its client did not read. */
  onTerminated?(): void;
  /** The stream is open: `unsent` reads the bytes held for it now; what it returns is told, once the stream is
   *  gone, the most it ever held. */
  onHolding?(unsent: () => number): (peakUnsentBytes: number) => void;
}

/** Serves the watch; returns what ends it early (the watcher lost the right to see it). */
export function serveWatch(req: IncomingMessage, res: ServerResponse, cache: ResourceCache, def: ResourceDefinition, p: WatchParams, opts: WatchServerOptions): () => void {
  const tableVersion: MetaVersion = p.output.kind === 'table' || p.output.kind === 'pom' ? p.output.version : 'v1';
  let columnsSent = false;
  let closed = false;
  let lastRv = 0;

  /** An event's object in the negotiated form: the watched kind, PartialObjectMetadata, or a Table of one row. */
  const encodeObject = (obj: PublicObject, json: string | undefined, row: (version: MetaVersion) => Record<string, unknown>): string => {
    if (p.output.kind === 'table') {
      const t: Record<string, unknown> = { kind: 'Table', apiVersion: `meta.k8s.io/${tableVersion}`, metadata: { resourceVersion: obj.metadata.resourceVersion } };
      if (!columnsSent) { t.columnDefinitions = columnDefinitions(def.columns); columnsSent = true; }
      t.rows = [row(tableVersion)];
      return JSON.stringify(t);
    }
    if (p.output.kind === 'pom') return JSON.stringify(partialObjectMetadata(obj, tableVersion));
    return json ?? JSON.stringify(obj);
  };

  const encode = (type: EventType, entry: Entry): string =>
    `{"type":"${type}","object":${encodeObject(entry.obj, entry.json, (v) => tableRow(def, entry.obj, p.include, v, Date.now()))}}\n`;

  const hardLimit = Math.max(16 * 1024 * 1024, 16 * opts.maxBufferedBytes);
  // Bytes not yet handed to the kernel (writableFinished: every byte was, after end; HTTP/2 may not report it).
  const unsent = (): boolean => res.writableFinished !== true && res.writableLength > 0;
  let terminated = false;
  const terminate = (): void => {
    if (terminated || !unsent()) return;
    terminated = true;
    clearTimeout(timers.stall);
    opts.onTerminated?.();
    finish();
    res.destroy();
  };
  // Over the limit, the client has stallMs to drain its backlog ('drain': everything buffered was sent).
  const watchBuffer = (): void => {
    if (res.writableLength > hardLimit) { terminate(); return; }
    if (res.writableLength > opts.maxBufferedBytes && !timers.stall) {
      timers.stall = setTimeout(() => {
        timers.stall = undefined;
        if (res.writableLength > opts.maxBufferedBytes) terminate();
      }, opts.stallMs);
    }
  };
  res.on('drain', () => { clearTimeout(timers.stall); timers.stall = undefined; });

  let peak = 0;
  const write = (chunk: string): void => {
    if (closed) return;
    res.write(chunk);
    if (res.writableLength > peak) peak = res.writableLength;
    watchBuffer();
  };

  const send = (type: EventType, entry: Entry): void => {
    write(encode(type, entry));
    if (entry.rv > lastRv) lastRv = entry.rv;
    opts.onEvent?.();
  };

  // A bookmark is an object of the watched kind with only its resourceVersion (and the initial-events-end
  // annotation), in the same form as every other event: a client that negotiated PartialObjectMetadata or a Table
  // (the garbage collector's metadata informers, kubectl) cannot decode the watched kind at all.
  const bookmark = (rv: number, initialEnd = false): void => {
    const metadata: Record<string, unknown> = { resourceVersion: String(rv) };
    if (initialEnd) metadata.annotations = { 'k8s.io/initial-events-end': 'true' };
    const obj = { apiVersion: PUBLIC_API_VERSION, kind: def.kind, metadata } as PublicObject;
    write(`{"type":"BOOKMARK","object":${encodeObject(obj, undefined, (v) => bookmarkRow(def, obj, p.include, v, initialEnd))}}\n`);
    lastRv = Math.max(lastRv, rv);
  };

  /** What a change means to this watcher, given its filter before and after. */
  const deliver = (e: CacheEvent): void => {
    if (e.rv <= startAfter) return;
    const now = e.type !== 'DELETED' && p.filter(e.entry);
    const before = e.prev !== undefined && p.filter(e.prev);
    if (e.type === 'DELETED') { if (p.filter(e.entry) || before) send('DELETED', e.entry); return; }
    if (now && before) send('MODIFIED', e.entry);
    else if (now) send('ADDED', e.entry);
    else if (before) send('DELETED', e.entry);
  };

  let startAfter = 0;
  const timers: { timeout?: NodeJS.Timeout; bookmark?: NodeJS.Timeout; stall?: NodeJS.Timeout } = {};
  let unsubscribe = (): void => {};
  function finish(): void {
    if (closed) return;
    closed = true;
    clearTimeout(timers.timeout);
    clearTimeout(timers.bookmark);
    unsubscribe();
    opts.onClose?.();
    res.end();
    // Bytes still unsent at the end are held until the client reads them: it gets stallMs for that.
    if (!terminated && unsent()) {
      clearTimeout(timers.stall);
      timers.stall = setTimeout(terminate, opts.stallMs);
      res.once('finish', () => clearTimeout(timers.stall));
      res.once('close', () => clearTimeout(timers.stall));
    }
  }

  // No length: HTTP/1.1 sends it chunked, HTTP/2 as DATA frames.
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
  res.flushHeaders();
  opts.onOpen?.();
  const gone = opts.onHolding?.(() => (res.destroyed ? 0 : res.writableLength));
  res.once('close', () => gone?.(peak));
  req.on('close', finish);
  res.on('error', finish);

  const initial = p.resourceVersion === undefined || p.resourceVersion === 0 || p.sendInitialEvents;
  if (initial) {
    const snap = cache.snapshot();
    startAfter = snap.rv;
    for (const entry of snap.entries) if (p.filter(entry)) send('ADDED', entry);
    if (p.sendInitialEvents) bookmark(snap.rv, true);
  } else {
    const rv = p.resourceVersion as number;
    const events = cache.eventsSince(rv);
    if (events === 'expired') {
      write(`{"type":"ERROR","object":${JSON.stringify(expired(`too old resource version: ${rv} (${cache.oldestResumable})`).status)}}\n`);
      finish();
      return finish;
    }
    startAfter = rv;
    for (const e of events) deliver(e);
    startAfter = Math.max(rv, cache.resourceVersion);
  }
  unsubscribe = cache.subscribe({
    event: deliver,
    progress: () => {},
    end: finish,
  });

  const timeoutMs = p.timeoutSeconds * 1000;
  timers.timeout = setTimeout(() => {
    if (p.allowBookmarks) bookmark(Math.max(lastRv, cache.resourceVersion));
    finish();
  }, timeoutMs);
  if (p.allowBookmarks) {
    const tick = (): void => {
      if (closed) return;
      bookmark(Math.max(lastRv, cache.resourceVersion));
      timers.bookmark = setTimeout(tick, opts.bookmarkIntervalMs);
    };
    timers.bookmark = setTimeout(tick, opts.bookmarkIntervalMs);
  }  return finish;
}
