// The hub's aggregated API server under load, measured side by side in one run on a local management cluster:
//   - p50/p99 of get and list through the aggregation layer (kube-apiserver -> upm-apiserver, served from its
//     cache) against the same request on the storage CRD directly (kube-apiserver's own watch cache), with 1,000
//     and 10,000 objects. Goal: get within 1.3x of direct; list no slower than direct.
//   - a user who belongs to 100 of 10,000 projects lists their projects. Goal: p99 under 50 ms.
//   - 100 concurrent watchers: delay from a write to its event at every watcher. Goal: p99 under 100 ms.
//   - the API server's RSS with 10,000 (and 20,000) objects cached.
// Requests are made as an ordinary user (not system:masters), so the server authorizes each with a
// SubjectAccessReview (cached 10 s), as it would in production.
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { parse, stringify } from 'yaml';
import { LocalHub } from '../hack/local/hub.ts';
import { issueCert } from '../hack/local/pki.ts';
import { LocalSystem } from '../hack/local/system.ts';
import { KubeClient } from '../lib/kube/client.ts';

const SMALL = 1_000;
const LARGE = 10_000;
const MEMBER_OF = 100;
const WATCHERS = 100;

const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN; };
const ms = (x: number) => `${x.toFixed(1).padStart(7)} ms`;
function rssMiB(pid: number | undefined): number {
  const line = pid ? readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:')) : undefined;
  return line ? Number(line.split(/\s+/)[1]) / 1024 : NaN;
}

async function pool<T>(items: T[], concurrency: number, fn: (x: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => { while (i < items.length) await fn(items[i++] as T); }));
}

/** Failed requests, by what failed: a loaded machine makes the aggregator time out now and then (503). */
const failures = new Map<string, number>();

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Times a request into `into`; a failure is counted, not fatal. */
async function sample(into: number[], what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    into.push(await timed(fn));
  } catch (err) {
    const key = `${what}: ${String((err as Error).message ?? err).split('\n')[0]?.slice(0, 120)}`;
    failures.set(key, (failures.get(key) ?? 0) + 1);
  }
}

/** A kubeconfig for an ordinary user with a client certificate from the cluster's CA. */
async function userKubeconfig(dir: string, clusterDir: string, adminKubeconfig: string, user: string): Promise<string> {
  const ca = { certPem: await readFile(join(clusterDir, 'pki', 'ca.crt'), 'utf8'), keyPem: await readFile(join(clusterDir, 'pki', 'ca.key'), 'utf8') };
  const pair = await issueCert(ca, { commonName: user, usage: 'client' });
  const admin = parse(await readFile(adminKubeconfig, 'utf8')) as { clusters: { name: string }[] };
  const file = join(dir, `${user}.kubeconfig`);
  await writeFile(file, stringify({
    apiVersion: 'v1', kind: 'Config', clusters: admin.clusters,
    users: [{ name: user, user: { 'client-certificate-data': Buffer.from(pair.certPem).toString('base64'), 'client-key-data': Buffer.from(pair.keyPem).toString('base64') } }],
    contexts: [{ name: user, context: { cluster: admin.clusters[0]?.name, user } }], 'current-context': user,
  }));
  return file;
}

const dir = await mkdtemp(join(tmpdir(), 'upm-bench-apiserver-'));
const sys = await LocalSystem.start(join(dir, 'system'), [{ name: 'mgmt', role: 'management', nodes: 1 }]);
const mgmt = sys.cluster('mgmt');
// No hub controllers: 10,000 projects would mean 10,000 namespaces; only the API server is measured.
const hub = await LocalHub.start(sys.bins.kubectl, mgmt, join(dir, 'hub'), { controllers: false });
const admin = await mgmt.client();
try {
  // An ordinary user who may read clusters in both groups (the storage group only for the comparison).
  await admin.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', { body: {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'bench-reader' },
    rules: [
      { apiGroups: ['upm.io'], resources: ['clusters', 'projects'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['internal.upm.io'], resources: ['clusterrecords', 'projectrecords'], verbs: ['get', 'list', 'watch'] },
    ],
  } });
  await admin.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', { body: {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'bench-reader' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'bench-reader' },
    subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'bench-reader' }],
  } });
  const reader = await KubeClient.fromKubeconfig(await userKubeconfig(dir, join(dir, 'system', 'mgmt'), mgmt.kubeconfig, 'bench-reader'));
  const member = await KubeClient.fromKubeconfig(await userKubeconfig(dir, join(dir, 'system', 'mgmt'), mgmt.kubeconfig, 'bench-member'));

  const createClusters = async (from: number, to: number) => {
    await pool(Array.from({ length: to - from }, (_, i) => from + i), 32, (i) => admin.request('POST', '/apis/internal.upm.io/v1alpha1/clusterrecords', { body: {
      apiVersion: 'internal.upm.io/v1alpha1', kind: 'ClusterRecord',
      metadata: { name: `c-${String(i).padStart(5, '0')}`, labels: { region: `r${i % 10}` } },
      spec: { description: `member cluster ${i}`, region: `r${i % 10}`, zones: ['zone-a', 'zone-b', 'zone-c'], credentials: { secretName: `c-${i}-kubeconfig` } },
    } }));
  };
  const progress = (msg: string) => process.stderr.write(`  [${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
  /** Until the API server's cache holds them all (asked as the admin, who sees every object). */
  const waitCached = async (path: string, count: number) => {
    for (;;) {
      const l = await admin.request<{ items: unknown[] }>('GET', path);
      if (l.items.length >= count) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  // The same get straight to upm-apiserver (the front proxy's certificate and headers, no kube-apiserver), to show
  // which part of an aggregated request is ours and which is the aggregation layer's.
  const pki = join(dir, 'system', 'mgmt', 'pki');
  const alone = new Agent({ connect: { ca: readFileSync(hub.state().caFile, 'utf8'), cert: readFileSync(join(pki, 'front-proxy-client.crt'), 'utf8'), key: readFileSync(join(pki, 'front-proxy-client.key'), 'utf8'), servername: 'localhost' } });
  const getAlone = async (name: string) => {
    const r = await request(`https://127.0.0.1:${hub.state().port}/apis/upm.io/v1alpha1/clusters/${name}`, { dispatcher: alone, headers: { 'x-remote-user': 'bench-reader', 'x-remote-group': 'system:authenticated' } });
    await r.body.text();
    if (r.statusCode !== 200) throw new Error(`direct get ${name}: ${r.statusCode}`);
  };
  // upm-apiserver's own metrics: the connections kube-apiserver opened to it (and with which protocol), and its
  // own time per get, so the aggregation layer's share of a request can be told from ours.
  const ourMetrics = async () => {
    const r = await request(`https://127.0.0.1:${hub.state().port}/metrics`, { dispatcher: alone, headers: { 'x-remote-user': 'bench-admin', 'x-remote-group': 'system:masters' } });
    return r.body.text();
  };
  const metric = (text: string, name: string, match = '') => text.split('\n').filter((l) => l.startsWith(name) && l.includes(match)).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
  const rows: string[] = [];
  const compare = async (n: number) => {
    const names = Array.from({ length: 400 }, (_, i) => `c-${String((i * 7919) % n).padStart(5, '0')}`);
    const gets: Record<'direct' | 'aggregated', number[]> = { direct: [], aggregated: [] };
    for (const name of names.slice(0, 50)) { await reader.request('GET', `/apis/upm.io/v1alpha1/clusters/${name}`); await reader.request('GET', `/apis/internal.upm.io/v1alpha1/clusterrecords/${name}`); }
    const m0 = await ourMetrics();
    for (const name of names) {
      await sample(gets.direct, 'direct get', () => reader.request('GET', `/apis/internal.upm.io/v1alpha1/clusterrecords/${name}`));
      await sample(gets.aggregated, 'aggregated get', () => reader.request('GET', `/apis/upm.io/v1alpha1/clusters/${name}`));
    }
    const m1 = await ourMetrics();
    const conns = (t: string, proto: string) => metric(t, 'upm_apiserver_tls_connections_total', `protocol="${proto}"`);
    const getTime = (t: string, what: string) => metric(t, `apiserver_request_duration_seconds_${what}`, 'verb="get",resource="clusters"');
    const serverSide = ((getTime(m1, 'sum') - getTime(m0, 'sum')) / (getTime(m1, 'count') - getTime(m0, 'count'))) * 1000;
    const opened = { h2: conns(m1, 'h2') - conns(m0, 'h2'), h1: conns(m1, 'http/1.1') - conns(m0, 'http/1.1') };
    const protocols = { h2: conns(m1, 'h2'), h1: conns(m1, 'http/1.1') };
    const lists: Record<'direct' | 'aggregated', number[]> = { direct: [], aggregated: [] };
    const rounds = n >= LARGE ? 20 : 50;
    for (let i = 0; i < rounds + 3; i++) {
      const d = await timed(() => reader.request('GET', '/apis/internal.upm.io/v1alpha1/clusterrecords'));
      const a = await timed(() => reader.request('GET', '/apis/upm.io/v1alpha1/clusters'));
      if (i >= 3) { lists.direct.push(d); lists.aggregated.push(a); } // the first rounds warm both caches
    }
    const own: number[] = [];
    const floor: number[] = [];
    for (const name of names) {
      await sample(own, 'upm-apiserver alone', () => getAlone(name));
      await sample(floor, 'discovery through the aggregator', () => reader.request('GET', '/apis/upm.io/v1alpha1'));
    }
    for (const [op, r] of [['get', gets], ['list', lists]] as const) {
      if (op === 'list') {
        rows.push(`        (of an aggregated get: upm-apiserver alone p50 ${ms(pct(own, 50))} p99 ${ms(pct(own, 99))}, its own time inside an aggregated get (server side) mean ${ms(serverSide)}; the aggregation layer's floor, a static discovery GET through it, p50 ${ms(pct(floor, 50))})`);
        rows.push(`        (connections kube-apiserver opened to upm-apiserver during the ${names.length} aggregated gets: ${opened.h2} HTTP/2, ${opened.h1} HTTP/1.1; since start: ${protocols.h2} HTTP/2, ${protocols.h1} HTTP/1.1)`);
      }
      rows.push(`  ${op.padEnd(5)} ${String(n).padStart(6)} objects   direct p50 ${ms(pct(r.direct, 50))} p99 ${ms(pct(r.direct, 99))}   aggregated p50 ${ms(pct(r.aggregated, 50))} p99 ${ms(pct(r.aggregated, 99))}   ratio p50 ${(pct(r.aggregated, 50) / pct(r.direct, 50)).toFixed(2)}x p99 ${(pct(r.aggregated, 99) / pct(r.direct, 99)).toFixed(2)}x`);
    }
  };

  const t0 = performance.now();
  progress(`creating ${SMALL} clusters`);
  await createClusters(0, SMALL);
  await waitCached('/apis/upm.io/v1alpha1/clusters', SMALL);
  progress('measuring get and list');
  await compare(SMALL);
  progress(`creating ${LARGE - SMALL} more clusters`);
  await createClusters(SMALL, LARGE);
  await waitCached('/apis/upm.io/v1alpha1/clusters', LARGE);
  const loadSeconds = (performance.now() - t0) / 1000;
  progress('measuring get and list');
  await compare(LARGE);
  const rss10k = rssMiB(hub.apiserver.pid);

  // 10,000 projects; bench-member belongs to every 100th.
  progress(`creating ${LARGE} projects`);
  await pool(Array.from({ length: LARGE }, (_, i) => i), 32, (i) => admin.request('POST', '/apis/internal.upm.io/v1alpha1/projectrecords', { body: {
    apiVersion: 'internal.upm.io/v1alpha1', kind: 'ProjectRecord', metadata: { name: `p-${String(i).padStart(5, '0')}` },
    spec: { displayName: `project ${i}`, members: [{ name: `owner-${i}`, role: 'admin' }, { name: `dev-${i % 37}`, role: 'editor' }, ...(i % (LARGE / MEMBER_OF) === 0 ? [{ name: 'bench-member', role: 'viewer' }] : [])] },
  } }));
  await admin.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', { body: {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'bench-member' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'bench-reader' },
    subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'bench-member' }],
  } });
  await waitCached('/apis/upm.io/v1alpha1/projects', LARGE);
  progress('measuring a member\'s project list');
  const mine: number[] = [];
  let seen = 0;
  for (let i = 0; i < 203; i++) {
    const t = await timed(async () => { seen = (await member.request<{ items: unknown[] }>('GET', '/apis/upm.io/v1alpha1/projects')).items.length; });
    if (i >= 3) mine.push(t);
  }
  const allProjects: number[] = [];
  for (let i = 0; i < 13; i++) { const t = await timed(() => reader.request('GET', '/apis/internal.upm.io/v1alpha1/projectrecords')); if (i >= 3) allProjects.push(t); }
  const rss20k = rssMiB(hub.apiserver.pid);

  // 100 watchers through the aggregation layer, then 200 writes; each event's delay is measured at every watcher.
  progress(`${WATCHERS} watchers`);
  const kc = parse(await readFile(join(dir, 'bench-reader.kubeconfig'), 'utf8')) as { users: { user: Record<string, string> }[] };
  const u = kc.users[0]?.user as Record<string, string>;
  const agent = new Agent({ connect: { ca: readFileSync(join(dir, 'system', 'mgmt', 'pki', 'ca.crt'), 'utf8'), cert: Buffer.from(u['client-certificate-data'] as string, 'base64').toString(), key: Buffer.from(u['client-key-data'] as string, 'base64').toString() }, connections: WATCHERS + 8, bodyTimeout: 0 });
  const rv = (await reader.request<{ metadata: { resourceVersion: string } }>('GET', '/apis/upm.io/v1alpha1/clusters', { query: { limit: 1 } })).metadata.resourceVersion;
  const delays: number[] = [];
  const stop = new AbortController();
  let opened = 0;
  const watchers = Array.from({ length: WATCHERS }, async () => {
    const res = await request(`${mgmt.server}/apis/upm.io/v1alpha1/clusters?watch=1&resourceVersion=${rv}`, { dispatcher: agent, signal: stop.signal });
    opened++;
    let buf = '';
    try {
      for await (const chunk of res.body) {
        buf += (chunk as Buffer).toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const sent = Number(/"bench\/sent":"(\d+(?:\.\d+)?)"/.exec(line)?.[1]);
          if (sent) delays.push(performance.timeOrigin + performance.now() - sent);
        }
      }
    } catch { /* aborted */ }
  });
  while (opened < WATCHERS) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 500));
  const WRITES = 200;
  for (let i = 0; i < WRITES; i++) {
    const sent = String(performance.timeOrigin + performance.now());
    await admin.request('PATCH', `/apis/internal.upm.io/v1alpha1/clusterrecords/c-${String(i).padStart(5, '0')}`, { body: { metadata: { annotations: { 'bench/sent': sent } } }, contentType: 'application/merge-patch+json' });
    await new Promise((r) => setTimeout(r, 20));
  }
  const deadline = Date.now() + 10_000;
  while (delays.length < WRITES * WATCHERS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  stop.abort();
  await Promise.allSettled(watchers);
  await agent.close();

  console.log(`upm-apiserver (through kube-apiserver's aggregation layer) vs the storage CRD directly; ordinary user, SAR-authorized`);
  console.log(`  loaded ${LARGE.toLocaleString('en-US')} clusters in ${loadSeconds.toFixed(1)} s`);
  for (const r of rows) console.log(r);
  console.log('  goal: get within 1.3x of direct, list no slower than direct');
  console.log(`a member of ${MEMBER_OF} of ${LARGE.toLocaleString('en-US')} projects lists their projects (${seen} returned): p50 ${ms(pct(mine, 50))} p99 ${ms(pct(mine, 99))}   (all ${LARGE.toLocaleString('en-US')} from the storage CRD directly: p50 ${ms(pct(allProjects, 50))})`);
  console.log('  goal: p99 under 50 ms');
  console.log(`${WATCHERS} watchers, ${WRITES} writes: ${delays.length.toLocaleString('en-US')} of ${(WRITES * WATCHERS).toLocaleString('en-US')} events delivered; write-to-event delay p50 ${ms(pct(delays, 50))} p99 ${ms(pct(delays, 99))} max ${ms(Math.max(...delays))}`);
  console.log('  goal: p99 under 100 ms');
  for (const [what, n] of failures) console.log(`  failed: ${n} x ${what}`);
  console.log(`upm-apiserver RSS: ${rss10k.toFixed(0)} MiB with ${LARGE.toLocaleString('en-US')} objects cached, ${rss20k.toFixed(0)} MiB with ${(2 * LARGE).toLocaleString('en-US')}`);
  await reader.close();
  await member.close();
  await alone.close();
} finally {
  await admin.close();
  await hub.stop();
  await sys.stop();
  if (!process.env.BENCH_KEEP_DIR) await rm(dir, { recursive: true, force: true });
}
