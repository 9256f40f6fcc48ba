// A watch stream served from a resource cache: one JSON event per line, flushed per event. Resumes from a
// resourceVersion out of the cache's history (an in-stream 410 Expired when it is older), sends the current state
// as ADDED first when asked (resourceVersion unset or 0, or sendInitialEvents, which ends with the
// initial-events-end bookmark), bookmarks when allowed, Tables with one row per event when the client asked for a
// Table (columns in the first event only), and ends cleanly at timeoutSeconds. An object that stops matching the
// watcher's filter (selectors, visibility) is sent as DELETED, one that starts matching as ADDED.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CacheEvent, Entry, EventType, ResourceCache } from './cache.ts';
import type { Output } from './negotiate.ts';
import type { ResourceDefinition } from './resources/types.ts';
import { expired } from './status.ts';
import { partialObjectMetadata, tableRow, columnDefinitions, type IncludeObject } from './table.ts';
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
  /** A watcher that falls this far behind (unsent bytes) is ended, so a slow client cannot hold the server's memory. */
  maxBufferedBytes: number;
  onOpen?(): void;
  onClose?(): void;
  onEvent?(): void;
}

export function serveWatch(req: IncomingMessage, res: ServerResponse, cache: ResourceCache, def: ResourceDefinition, p: WatchParams, opts: WatchServerOptions): void {
  const tableVersion = p.output.kind === 'table' || p.output.kind === 'pom' ? p.output.version : 'v1';
  let columnsSent = false;
  let closed = false;
  let lastRv = 0;

  const encode = (type: EventType, entry: Entry): string => {
    if (p.output.kind === 'table') {
      const t: Record<string, unknown> = { kind: 'Table', apiVersion: `meta.k8s.io/${tableVersion}`, metadata: { resourceVersion: String(entry.rv) } };
      if (!columnsSent) { t.columnDefinitions = columnDefinitions(def.columns); columnsSent = true; }
      t.rows = [tableRow(def, entry.obj, p.include, tableVersion, Date.now())];
      return `{"type":"${type}","object":${JSON.stringify(t)}}\n`;
    }
    if (p.output.kind === 'pom') return `{"type":"${type}","object":${JSON.stringify(partialObjectMetadata(entry.obj, tableVersion))}}\n`;
    return `{"type":"${type}","object":${entry.json}}\n`;
  };

  const write = (chunk: string): void => {
    if (closed) return;
    res.write(chunk);
    if (res.writableLength > opts.maxBufferedBytes) finish();
  };

  const send = (type: EventType, entry: Entry): void => {
    write(encode(type, entry));
    if (entry.rv > lastRv) lastRv = entry.rv;
    opts.onEvent?.();
  };

  const bookmark = (rv: number, initialEnd = false): void => {
    const metadata: Record<string, unknown> = { resourceVersion: String(rv) };
    if (initialEnd) metadata.annotations = { 'k8s.io/initial-events-end': 'true' };
    write(`{"type":"BOOKMARK","object":${JSON.stringify({ kind: def.kind, apiVersion: PUBLIC_API_VERSION, metadata })}}\n`);
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
  const timers: { timeout?: NodeJS.Timeout; bookmark?: NodeJS.Timeout } = {};
  let unsubscribe = (): void => {};
  function finish(): void {
    if (closed) return;
    closed = true;
    clearTimeout(timers.timeout);
    clearTimeout(timers.bookmark);
    unsubscribe();
    opts.onClose?.();
    res.end();
  }

  // No length: HTTP/1.1 sends it chunked, HTTP/2 as DATA frames.
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
  res.flushHeaders();
  opts.onOpen?.();
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
      return;
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
  }
}
