// The extension server against clients that try to exhaust its memory (or the kube-apiserver's), each tried on a
// real API server process of the suite's own, started with the bounds under test set small: concurrent watches per
// user and overall (429 beyond them), a watcher that stops reading (ended, counted, the server's RSS bounded),
// a resourceVersionMatch=Exact list (paginated by limit/continue like any other), random bearer tokens (a bounded
// number of TokenReviews and a bounded token cache), a request body that stalls or trickles (408, connection
// closed) and requests to random paths (no new metric series).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { dirname, join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Agent, request } from 'undici';
import { storageResource } from '../../apiserver/cache.ts';
import { RESOURCES } from '../../apiserver/resources/index.ts';
import type { ResourceDefinition } from '../../apiserver/resources/types.ts';
import { STORAGE_API_VERSION } from '../../apiserver/translate.ts';
import { freePort } from '../../hack/local/ports.ts';
import { ManagedProcess } from '../../hack/local/process.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { waitFor } from '../../lib/wait.ts';
import { client, testState, uniqueName } from '../env.ts';
import { asUser, describeHub, frontProxyCert, hubState, MGMT, useProject, type ClientCert } from '../hub.ts';

const GV = '/apis/upm.io/v1alpha1';
const ADMIN = asUser('upm-admin', ['system:masters']);
const MIB = 1024 * 1024;
const mysql = RESOURCES.find((d) => d.plural === 'mysqlservices') as ResourceDefinition;
const MYSQL_STORAGE = storageResource(mysql);

function vmRssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** The sum of a metric's samples whose labels contain every `with` pair; NaN when the metric has none. */
function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = NaN;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum = (Number.isNaN(sum) ? 0 : sum) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** TokenReviews the server sent, by its own count (tokens it did not review for lack of budget are not). */
const reviewsSent = (text: string): number => metricSum(text, 'upm_apiserver_tokenreviews_total') - (metricSum(text, 'upm_apiserver_tokenreviews_total', { result: 'throttled' }) || 0);

/** How many series (label sets) a metric has. */
const seriesOf = (text: string, name: string): number => text.split('\n').filter((l) => l.startsWith(`${name}{`)).length;

/** An API server process of the suite's own, with the shared hub's identity, certificate and storage, and its own flags. */
class OwnServer {
  readonly port: number;
  private readonly proc: ManagedProcess;
  private readonly agents = new Map<string, Agent>();
  private readonly ca: string;

  private constructor(port: number, proc: ManagedProcess) {
    this.port = port;
    this.proc = proc;
    this.ca = readFileSync(hubState().caFile, 'utf8');
  }

  static async start(name: string, flags: string[]): Promise<OwnServer> {
    const dir = dirname(dirname(hubState().caFile));
    const port = await freePort();
    const proc = ManagedProcess.start({
      name, command: process.execPath, logFile: join(testState().dir, `${uniqueName(name)}.log`),
      args: [join(import.meta.dirname, '..', '..', 'apiserver', 'main.ts'), '--kubeconfig', join(dir, 'apiserver.kubeconfig'), '--port', String(port),
        '--tls-cert-file', join(dir, 'pki', 'tls.crt'), '--tls-private-key-file', join(dir, 'pki', 'tls.key'), ...flags],
    });
    const s = new OwnServer(port, proc);
    await waitFor(`${name} ready`, async () => (await s.call('GET', '/readyz')).status === 200, {
      timeoutMs: 60_000, intervalMs: 250, failFast: () => (proc.running ? undefined : `exited: ${proc.tail()}`),
    });
    return s;
  }

  get pid(): number {
    const pid = this.proc.pid;
    if (!pid) throw new Error('the server has no pid yet');
    return pid;
  }

  get tls(): { ca: string; servername: string } { return { ca: this.ca, servername: 'localhost' }; }

  async call(method: string, path: string, opts: { cert?: ClientCert; headers?: Record<string, string | string[]>; body?: string } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
    const key = opts.cert ? opts.cert.cert.slice(-80) : 'none';
    let agent = this.agents.get(key);
    if (!agent) this.agents.set(key, agent = new Agent({ connect: { ...this.tls, cert: opts.cert?.cert, key: opts.cert?.key }, connections: 32 }));
    const res = await request(`https://127.0.0.1:${this.port}${path}`, { method: method as 'GET', headers: opts.headers, body: opts.body, dispatcher: agent });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  }

  async metrics(cert: ClientCert): Promise<string> {
    const r = await this.call('GET', '/metrics', { cert, headers: ADMIN });
    if (r.status !== 200) throw new Error(`/metrics: ${r.status} ${r.text}`);
    return r.text;
  }

  /** A watch read as it arrives: its status, headers, the events so far; close() ends it from our side. */
  watch(path: string, cert: ClientCert, headers: Record<string, string | string[]>): Promise<OpenWatch> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: this.port, path, method: 'GET', headers, ...this.tls, cert: cert.cert, key: cert.key, agent: false }, (res: IncomingMessage) => {
        const w: OpenWatch = { status: res.statusCode ?? 0, headers: res.headers, text: '', ended: false, close: () => req.destroy() };
        res.setEncoding('utf8');
        res.on('data', (d: string) => { w.text += d; });
        res.on('close', () => { w.ended = true; });
        res.on('error', () => { w.ended = true; });
        // A refusal is a whole body; a watch is open once its headers are here.
        if (w.status !== 200) res.on('end', () => resolve(w));
        else resolve(w);
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** A raw TLS connection with the given certificate, for requests we write byte by byte. */
  raw(cert: ClientCert): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: this.port, ...this.tls, cert: cert.cert, key: cert.key }, () => resolve(s));
      s.once('error', reject);
    });
  }

  async stop(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.close()));
    await this.proc.stop();
  }
}

interface OpenWatch { status: number; headers: Record<string, string | string[] | undefined>; text: string; ended: boolean; close(): void }

const storageObject = (namespace: string, name: string, annotations: Record<string, string> = {}) => ({
  apiVersion: STORAGE_API_VERSION, kind: MYSQL_STORAGE.kind, metadata: { name, namespace, annotations },
  spec: { version: '8.0', placement: { cluster: 'member1' } },
});

describeHub('the extension server against memory exhaustion', () => {
  const project = useProject('secmem');
  let fp: ClientCert;
  let storage: KubeClient;
  /** Small bounds on watches, TokenReviews and request bodies. */
  let tight: OwnServer;

  beforeAll(async () => {
    fp = await frontProxyCert();
    storage = await client(MGMT);
    tight = await OwnServer.start('upm-apiserver-tight', [
      '--max-watches-per-user', '3', '--max-watches', '5', '--token-review',
      '--token-review-qps', '5', '--token-review-burst', '10', '--token-review-max-inflight', '4', '--token-cache-size', '5',
      '--request-body-timeout-seconds', '3',
    ]);
  }, 90_000);

  afterAll(async () => {
    await tight?.stop();
    await storage?.close();
  });

  it('answers a watch beyond the per-user and the overall cap with 429, a TooManyRequests Status and Retry-After', async () => {
    const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((u) => asUser(`${u}-${uniqueName('w').slice(2)}`));
    const watch = (user: Record<string, string | string[]>) => tight.watch(`${GV}/projects?watch=1`, fp, user);
    const open: OpenWatch[] = [];
    try {
      for (let i = 0; i < 3; i++) open.push(await watch(alice as Record<string, string>));
      expect(open.map((w) => w.status)).toEqual([200, 200, 200]);
      const perUser = await watch(alice as Record<string, string>);
      expect(perUser.status).toBe(429);
      expect(perUser.headers['retry-after']).toMatch(/^\d+$/);
      expect(JSON.parse(perUser.text)).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'TooManyRequests', code: 429 });
      // Bob has watches of his own to open, up to the overall cap (5).
      for (let i = 0; i < 2; i++) open.push(await watch(bob as Record<string, string>));
      expect(open.map((w) => w.status)).toEqual([200, 200, 200, 200, 200]);
      const overall = await watch(carol as Record<string, string>);
      expect(overall.status).toBe(429);
      expect(JSON.parse(overall.text)).toMatchObject({ reason: 'TooManyRequests', code: 429 });
      expect(overall.headers['retry-after']).toMatch(/^\d+$/);
      // A watch that ends gives its place back.
      open.shift()?.close();
      await waitFor('a place for carol', async () => {
        const w = await watch(carol as Record<string, string>);
        if (w.status === 200) { open.push(w); return true; }
        return false;
      }, { timeoutMs: 10_000, intervalMs: 200 });
      // An admin (system:masters) is not held to the caps.
      const admin = await watch(ADMIN);
      open.push(admin);
      expect(admin.status).toBe(200);
    } finally {
      for (const w of open) w.close();
    }
  });

  it('pages a resourceVersionMatch=Exact list by limit and continue, all at that resourceVersion', async () => {
    const names = Array.from({ length: 150 }, (_, i) => `exact-${String(i).padStart(3, '0')}`);
    for (let i = 0; i < names.length; i += 15) {
      await Promise.all(names.slice(i, i + 15).map((n) => storage.create(MYSQL_STORAGE, storageObject(project, n))));
    }
    const at = (await storage.list(MYSQL_STORAGE, { namespace: project })).metadata.resourceVersion as string;
    // A change after that resourceVersion, which the Exact list must not show.
    await storage.create(MYSQL_STORAGE, storageObject(project, 'exact-later'));
    const path = `${GV}/namespaces/${project}/mysqlservices`;
    const seen: string[] = [];
    const pages: number[] = [];
    let cont = '';
    do {
      const q = cont ? `limit=40&continue=${encodeURIComponent(cont)}` : `limit=40&resourceVersion=${at}&resourceVersionMatch=Exact`;
      const r = await tight.call('GET', `${path}?${q}`, { cert: fp, headers: ADMIN });
      if (r.status !== 200) throw new Error(`page ${pages.length + 1}: ${r.status} ${r.text}`);
      const list = JSON.parse(r.text) as { metadata: { resourceVersion: string; continue?: string }; items: { metadata: { name: string } }[] };
      expect(list.metadata.resourceVersion).toBe(at);
      expect(list.items.length).toBeLessThanOrEqual(40);
      pages.push(list.items.length);
      seen.push(...list.items.map((o) => o.metadata.name));
      cont = list.metadata.continue ?? '';
    } while (cont && pages.length < 20);
    expect(pages.length).toBeGreaterThanOrEqual(4);
    expect(seen).toEqual(names);
    // Without a limit the whole list, as before.
    const all = await tight.call('GET', `${path}?resourceVersion=${at}&resourceVersionMatch=Exact`, { cert: fp, headers: ADMIN });
    expect((JSON.parse(all.text) as { items: unknown[] }).items).toHaveLength(150);
    process.stdout.write(`Exact list of 150 objects with limit=40: pages ${pages.join(', ')}\n`);
  });

  it('reviews a bounded number of random bearer tokens and keeps a bounded token cache', async () => {
    // The kube-apiserver's own count (no sample yet before its first TokenReview).
    const kubeMetrics = async () => metricSum(String((await storage.raw('GET', '/metrics', { headers: { accept: 'text/plain' } })).body), 'apiserver_request_total', { resource: 'tokenreviews', verb: 'POST' }) || 0;
    const before = await kubeMetrics();
    const statuses: Record<number, number> = {};
    const started = Date.now();
    const N = 400;
    let next = 0;
    await Promise.all(Array.from({ length: 20 }, async () => {
      while (next < N) {
        next++;
        const r = await tight.call('GET', `${GV}/projects`, { headers: { authorization: `Bearer ${randomBytes(24).toString('base64url')}` } });
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      }
    }));
    const seconds = (Date.now() - started) / 1000;
    const reviews = (await kubeMetrics()) - before;
    const m = await tight.metrics(fp);
    const cache = metricSum(m, 'upm_apiserver_token_cache_entries');
    const ours = reviewsSent(m);
    process.stdout.write(`${N} random tokens in ${seconds.toFixed(1)} s: answers ${JSON.stringify(statuses)}, TokenReviews at the kube-apiserver ${reviews}, by the server's count ${ours} (${['rejected', 'error', 'throttled'].map((r) => `${r} ${metricSum(m, 'upm_apiserver_tokenreviews_total', { result: r })}`).join(', ')}), token cache ${cache} entries\n`);
    // The bucket: burst 10, 5/s; nothing but 401 (reviewed) or 429 (not reviewed, try again later).
    expect(reviews).toBeLessThanOrEqual(10 + 5 * Math.ceil(seconds + 1));
    expect(Object.keys(statuses).sort()).toEqual(['401', '429']);
    expect(ours).toBeLessThanOrEqual(10 + 5 * Math.ceil(seconds + 1));
    // More tokens were reviewed than the cache holds: it keeps the most recent.
    expect(ours).toBeGreaterThan(5);
    expect(cache).toBeLessThanOrEqual(5);
    // A refused token asked again soon costs no second review.
    await new Promise((r) => setTimeout(r, 1500));
    const token = `Bearer ${randomBytes(24).toString('base64url')}`;
    expect((await tight.call('GET', `${GV}/projects`, { headers: { authorization: token } })).status).toBe(401);
    const once = reviewsSent(await tight.metrics(fp));
    for (let i = 0; i < 5; i++) expect((await tight.call('GET', `${GV}/projects`, { headers: { authorization: token } })).status).toBe(401);
    expect(reviewsSent(await tight.metrics(fp))).toBe(once);
    // A real token still authenticates once the flood is over (its service account may be refused, never 401).
    const real = /token: (\S+)/.exec(readFileSync(join(dirname(dirname(hubState().caFile)), 'apiserver.kubeconfig'), 'utf8'))?.[1];
    expect((await tight.call('GET', `${GV}/projects`, { headers: { authorization: `Bearer ${real}` } })).status).not.toBe(401);
  });

  it('cuts off a request body that stalls or trickles with 408 and closes the connection', async () => {
    const head = (length: number) => `POST ${GV}/namespaces/${project}/mysqlservices HTTP/1.1\r\nHost: localhost\r\nX-Remote-User: upm-admin\r\n`
      + `X-Remote-Group: system:masters\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
    const attempt = async (trickle: boolean): Promise<{ ms: number; answer: string }> => {
      const s = await tight.raw(fp);
      let answer = '';
      s.on('data', (d: Buffer) => { answer += d.toString(); });
      const closed = new Promise<void>((r) => s.once('close', () => r()));
      s.on('error', () => undefined);
      const started = Date.now();
      s.write(head(1000));
      s.write('{"apiVersion":');
      const timer = trickle ? setInterval(() => { if (!s.destroyed) s.write(' '); }, 300) : undefined;
      const limit = new Promise<void>((r) => setTimeout(r, 20_000));
      await Promise.race([closed, limit]);
      clearInterval(timer);
      const ms = Date.now() - started;
      s.destroy();
      return { ms, answer };
    };
    for (const trickle of [false, true]) {
      const { ms, answer } = await attempt(trickle);
      process.stdout.write(`body ${trickle ? 'trickled a byte per 300 ms' : 'stalled'}: cut off after ${ms} ms with ${JSON.stringify(answer.split('\r\n')[0])}\n`);
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
      expect(answer).toContain('"code":408');
      expect(ms).toBeLessThan(15_000);
    }
    // An honest request still goes through.
    const ok = await tight.call('POST', `${GV}/namespaces/${project}/mysqlservices?dryRun=All`, {
      cert: fp, headers: { ...ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'MysqlService', metadata: { name: 'honest' }, spec: { version: '8.0', placement: { cluster: 'member1' } } }),
    });
    expect(ok.status).toBe(201);
  });

  it('makes no new metric series for requests to random paths', async () => {
    const names = ['apiserver_request_total', 'apiserver_request_duration_seconds_count'];
    const before = await tight.metrics(fp);
    const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];
    const rnd = () => randomBytes(5).toString('hex');
    const paths = [
      () => `${GV}/${rnd()}`, () => `${GV}/namespaces/${project}/${rnd()}/${rnd()}`, () => `/apis/${rnd()}/v1/${rnd()}`,
      () => `/api/v1/${rnd()}`, () => `/${rnd()}`, () => `${GV}/watch/${rnd()}`, () => `/apis/upm.io/${rnd()}/projects`,
    ];
    let i = 0;
    await Promise.all(Array.from({ length: 10 }, async () => {
      while (i < 1000) {
        const n = i++;
        const path = (paths[n % paths.length] as () => string)();
        // Most as the admin (authenticated and authorized), some with no credentials at all.
        await tight.call(methods[n % methods.length] as string, path, n % 5 === 0 ? {} : { cert: fp, headers: ADMIN });
      }
    }));
    const after = await tight.metrics(fp);
    for (const name of names) {
      process.stdout.write(`${name}: ${seriesOf(before, name)} series before 1,000 requests to random paths, ${seriesOf(after, name)} after\n`);
      expect(seriesOf(after, name) - seriesOf(before, name)).toBeLessThanOrEqual(40);
    }
  });

  describeHub('a watcher that stops reading', () => {
    let server: OwnServer;
    beforeAll(async () => {
      server = await OwnServer.start('upm-apiserver-slowwatch', ['--watch-max-buffered-bytes', String(MIB), '--watch-stall-seconds', '1']);
    }, 90_000);
    afterAll(async () => { await server?.stop(); });

    it('is ended and counted while others get every event, and the server holds no buffer for it', async () => {
      const ns = project;
      const objects = ['big-0', 'big-1', 'big-2', 'big-3'];
      for (const n of objects) await storage.create(MYSQL_STORAGE, storageObject(ns, n));
      const now = async () => (await storage.list(MYSQL_STORAGE, { namespace: ns })).metadata.resourceVersion as string;
      const path = (rv: string) => `${GV}/namespaces/${ns}/mysqlservices?watch=1&resourceVersion=${rv}`;
      const reader = await server.watch(path(await now()), fp, ADMIN);
      expect(reader.status).toBe(200);
      const registered = async () => metricSum(await server.metrics(fp), 'apiserver_registered_watchers', { resource: 'mysqlservices' });
      const changes = () => reader.text.match(/"type":"MODIFIED"/g)?.length ?? 0;
      // Rounds of changes of ~120 KiB to each object: BATCH changes are ~17 MiB of events for every watcher.
      const BATCH = 148;
      const flood = async (): Promise<number> => {
        const before = vmRssKiB(server.pid);
        const seen = changes();
        for (let i = 0; i < BATCH; i += objects.length) {
          await Promise.all(objects.map((n) => storage.patch(MYSQL_STORAGE, n, { metadata: { annotations: { filler: randomBytes(90 * 1024).toString('base64') } } }, 'merge', { namespace: ns })));
        }
        await waitFor('the reader has every change', () => changes() >= seen + BATCH, { timeoutMs: 60_000, intervalMs: 250 });
        // Past the grace period (1 s), with time to end what is stalled.
        await new Promise((r) => setTimeout(r, 5_000));
        return vmRssKiB(server.pid) - before;
      };
      // The same changes twice: first with the reader alone (what the changes themselves cost: the cache, its
      // history), then with watchers that never read a byte.
      const alone = await flood();
      const STALLED = 16;
      const stalled: TLSSocket[] = [];
      const head = `GET ${path(await now())} HTTP/1.1\r\nHost: localhost\r\nX-Remote-User: upm-admin\r\nX-Remote-Group: system:masters\r\n\r\n`;
      for (let i = 0; i < STALLED; i++) {
        const s = await server.raw(fp);
        s.on('error', () => undefined);
        s.write(head);
        s.pause();
        stalled.push(s);
      }
      await waitFor('every watch open', async () => (await registered()) === STALLED + 1, { timeoutMs: 15_000, intervalMs: 200 });
      const withStalled = await flood();
      const m = await server.metrics(fp);
      const terminated = metricSum(m, 'apiserver_terminated_watchers_total', { resource: 'mysqlservices' });
      const open = metricSum(m, 'apiserver_registered_watchers', { resource: 'mysqlservices' });
      const peaks = (le: number) => metricSum(m, 'upm_apiserver_watch_peak_unsent_bytes_bucket', { resource: 'mysqlservices', le: String(le) });
      const heldNow = metricSum(m, 'upm_apiserver_watch_unsent_bytes', { resource: 'mysqlservices' });
      process.stdout.write(`${BATCH} changes of ~120 KiB: server RSS grew ${Math.round(alone / 1024)} MiB with one reading watcher, ${Math.round(withStalled / 1024)} MiB with ${STALLED} stalled ones besides; terminated ${terminated}, still registered ${open}; ended watches that held over 1 MiB ${STALLED - peaks(MIB)}, over 16.5 MiB ${STALLED - peaks(16.5 * MIB)}; unsent now ${heldNow} bytes\n`);
      expect(terminated).toBe(STALLED);
      expect(open).toBe(1);
      // The server's own account, which RSS (freed memory is not returned at once, and how much arrives in the
      // grace second depends on the machine's speed) cannot give: each stalled watch held more than the limit (so
      // it really was stalled), never more than the hard cap (16 MiB) and one event, and nothing is held for it now.
      expect(metricSum(m, 'upm_apiserver_watch_peak_unsent_bytes_count', { resource: 'mysqlservices' })).toBe(STALLED);
      expect(peaks(MIB)).toBe(0);
      expect(peaks(16.5 * MIB)).toBe(STALLED);
      expect(heldNow).toBeLessThan(MIB);
      // Unbounded, each would hold the whole batch (~17 MiB, ~270 MiB for 16) and keep it.
      expect(withStalled - alone).toBeLessThan(16 * 16 * 1024);
      // The reader is unaffected: still open, and it had every change.
      expect(reader.ended).toBe(false);
      // Every one of the test's changes, each told by its own filler: the hub's services controller may also write
      // these services (their status), which the reader rightly sees too.
      const fillers = new Set(reader.text.split('\n').filter((l) => l.includes('"type":"MODIFIED"'))
        .map((l) => (JSON.parse(l) as { object?: { metadata?: { annotations?: Record<string, string> } } }).object?.metadata?.annotations?.filler));
      fillers.delete(undefined);
      expect(fillers.size).toBe(2 * BATCH);
      reader.close();
      for (const s of stalled) s.destroy();
    }, 300_000);
  });
});
