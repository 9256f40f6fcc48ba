// The hub driving many members: N member clusters x M services each (issue: 20 x 50; BENCH_MEMBERS / BENCH_SERVICES
// choose smaller, e.g. 4 x 10). Each member is a bare kube-apiserver on the shared etcd with the unit.upm.io and
// compose.upm.io CRDs (no controller manager, scheduler, KWOK or operators: the hub only writes objects there), with
// an audit log, registered with the hub as an administrator would (LocalHub: identity, kubeconfig Secret, Cluster).
// The hub's controllers run as their own process. Prints:
//   - hub write to member object: from the create of a MysqlService through the public API (and later an edit of its
//     replicas) to the UnitSet present (changed) on the member, seen by a watch there; p50 / p99 / max (goal p99 <= 1 s);
//   - the hub's requests to each member at steady state, from the members' audit logs (user upm-hub), per minute,
//     watches apart (goal: none beyond the watches);
//   - the hub controllers' RSS with all N x M services (goal <= 300 MiB with 1,000).
import { createReadStream, readFileSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { UnitSetResource, type UnitSet } from '../lib/api/unit.upm.io.generated.ts';
import { Informer } from '../lib/informer.ts';
import type { KubeClient } from '../lib/kube/client.ts';
import { LocalCluster } from '../hack/local/cluster.ts';
import { LocalHub } from '../hack/local/hub.ts';
import { LocalSystem } from '../hack/local/system.ts';
import { waitFor } from '../lib/wait.ts';

const run = promisify(execFile);
const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 20);
const SERVICES = Number(process.env.BENCH_SERVICES ?? 50);
/** Concurrent hub writes (creates, then edits). */
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
/** The steady-state window over which the hub's requests to the members are counted. */
const STEADY_S = Number(process.env.BENCH_STEADY_SECONDS ?? 60);
/** Hub writes made one at a time after the bulk (creates, then edits). */
const PACED = Number(process.env.BENCH_PACED ?? 20);
const PROJECT = 'fanout';
const HUB_USER = 'system:serviceaccount:upm-system:upm-hub';
const root = join(import.meta.dirname, '..');

const progress = (msg: string) => process.stderr.write(`  [${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
function rssMiB(pid: number | undefined): number {
  const line = pid ? readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:')) : undefined;
  return line ? Number(line.split(/\s+/)[1]) / 1024 : NaN;
}
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN; };
const fmt = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

async function pool<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => { while (next < items.length) await fn(items[next++] as T); }));
}

interface AuditEvent { verb: string; user: { username: string }; objectRef?: { resource?: string }; stageTimestamp: string; stage: string }
/** The hub's completed requests in an audit log between two times, by verb/resource. */
async function hubRequests(file: string, from: number, to: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const lines = createInterface({ input: createReadStream(file) });
  for await (const line of lines) {
    if (!line.includes(HUB_USER)) continue;
    const e = JSON.parse(line) as AuditEvent;
    const t = Date.parse(e.stageTimestamp);
    if (e.user.username !== HUB_USER || t < from || t >= to) continue;
    const k = `${e.verb} ${e.objectRef?.resource ?? '-'}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

const dir = await mkdtemp(join(tmpdir(), 'upm-bench-fanout-'));
const policy = join(dir, 'audit-policy.yaml');
await writeFile(policy, 'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n');
progress(`starting the management cluster and ${MEMBERS} bare member API servers`);
const sys = await LocalSystem.start(join(dir, 'system'), [{ name: 'mgmt', role: 'management', nodes: 1 }]);
const members: LocalCluster[] = [];
const audit = (name: string) => join(dir, 'system', name, 'audit.log');
let hub: LocalHub | undefined;
const clients: KubeClient[] = [];
const abort = new AbortController();
try {
  await pool(Array.from({ length: MEMBERS }, (_, i) => `fan${i}`), 4, async (name) => {
    const c = await LocalCluster.start({
      name, dir: join(dir, 'system', name), etcdUrl: sys.etcd.url, bins: sys.bins, nodes: 0,
      components: { controllerManager: false, scheduler: false, kwok: false },
      apiserverArgs: [`--audit-policy-file=${policy}`, `--audit-log-path=${audit(name)}`, '--audit-log-maxsize=0'],
    });
    members.push(c);
    await run(sys.bins.kubectl, ['--kubeconfig', c.kubeconfig, 'apply', '--server-side', '-k', join(root, 'crds')], { maxBuffer: 16 << 20 });
  });
  members.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  progress('starting the hub and registering the members');
  const mgmt = sys.cluster('mgmt');
  hub = await LocalHub.start(sys.bins.kubectl, mgmt, join(dir, 'hub'), { members });
  const controllersPid = hub.processes[1]?.pid;
  const admin = await mgmt.client();
  clients.push(admin);
  await admin.request('POST', '/apis/upm.io/v1alpha1/projects', { body: { apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: PROJECT } } });
  await waitFor('the project namespace', async () => { try { await admin.request('GET', `/api/v1/namespaces/${PROJECT}`); return true; } catch { return false; } }, { timeoutMs: 30_000, intervalMs: 250 });

  // Watches on every member: when each UnitSet appears, and when its units change.
  const seen = new Map<string, number>();
  /** When each UnitSet was first seen with a number of units ("<member>/<name>/<units>"). */
  const reached = new Map<string, number>();
  const onUs = (member: string) => (us: UnitSet) => {
    const key = `${member}/${us.metadata.name ?? ''}`;
    const t = performance.now();
    if (!seen.has(key)) seen.set(key, t);
    if (!reached.has(`${key}/${us.spec?.units}`)) reached.set(`${key}/${us.spec?.units}`, t);
  };
  await Promise.all(members.map(async (m) => {
    const c = await m.client();
    clients.push(c);
    const inf = new Informer<UnitSet>(c, UnitSetResource, { namespace: PROJECT });
    const h = onUs(m.name);
    inf.addHandler({ onAdd: h, onUpdate: (_, b) => h(b) });
    inf.run(abort.signal).catch(() => undefined);
    await inf.waitForSync();
  }));

  const services = members.flatMap((m) => Array.from({ length: SERVICES }, (_, j) => ({ member: m.name, name: `db-${j}` })));
  const memberKey = (s: { member: string; name: string }) => `${s.member}/${s.member}-${s.name}`;
  const rssBefore = rssMiB(controllersPid);
  const createdAt = new Map<string, number>();
  const create = async (batch: typeof services, concurrency = CONCURRENCY) => {
    await pool(batch, concurrency, async (s) => {
      createdAt.set(memberKey(s), performance.now());
      await admin.request('POST', `/apis/upm.io/v1alpha1/namespaces/${PROJECT}/mysqlservices`, { body: {
        apiVersion: 'upm.io/v1alpha1', kind: 'MysqlService', metadata: { name: `${s.member}-${s.name}`, namespace: PROJECT },
        spec: { engine: 'mariadb', version: '10.11', topology: { mode: 'semisync', replicas: 3 }, placement: { cluster: s.member }, resources: { cpu: '1', memory: '256Mi' }, storage: { size: '1Gi' } },
      } });
    });
    // The member object is named after the hub service.
    await waitFor('every UnitSet on its member', async () => batch.every((s) => seen.has(memberKey(s))), { timeoutMs: 600_000, intervalMs: 250 });
    return batch.map((s) => (seen.get(memberKey(s)) as number) - (createdAt.get(memberKey(s)) as number));
  };
  // A member's first service starts the hub's mirror of it (its informers): measured apart from the rest, one member
  // at a time, so the figure is the latency of starting one member's mirror, not 20 started at once on 2 cores.
  progress(`creating the first MysqlService of each member through the hub, one at a time`);
  const firstLat: number[] = [];
  for (const s of services.filter((x) => x.name === 'db-0')) firstLat.push(...await create([s], 1));
  const rest = services.filter((s) => s.name !== 'db-0');
  progress(`creating ${rest.length} more MysqlServices through the hub (${CONCURRENCY} at a time)`);
  const t0 = performance.now();
  const createLat = rest.length ? await create(rest) : [NaN];
  const placedSeconds = (performance.now() - t0) / 1000;

  progress(`steady state: counting the hub's requests to the members for ${STEADY_S} s`);
  await new Promise((r) => setTimeout(r, 15_000));
  const from = Date.now();
  let rssMax = rssMiB(controllersPid);
  const sampler = setInterval(() => { rssMax = Math.max(rssMax, rssMiB(controllersPid)); }, 1000);
  await new Promise((r) => setTimeout(r, STEADY_S * 1000));
  clearInterval(sampler);
  const to = Date.now();
  const rssSteady = rssMiB(controllersPid);
  // The audit log is written asynchronously (batched): let it catch up.
  await new Promise((r) => setTimeout(r, 3000));
  const perMember = await Promise.all(members.map(async (m) => ({ member: m.name, reqs: await hubRequests(audit(m.name), from, to), size: (await stat(audit(m.name))).size })));

  // One hub write at a time on the settled hub (each waits for its member object): the latency of a write, not of
  // a backlog. A new service on a member already mirrored, then an edit of an existing one (replicas 3 -> 5).
  progress(`${PACED} paced creates and ${PACED} paced edits, one at a time`);
  const pacedCreate: number[] = [];
  const pacedEdit: number[] = [];
  for (let k = 0; k < PACED; k++) {
    const s = { member: members[k % members.length]?.name ?? '', name: `p-${k}` };
    const t = performance.now();
    await admin.request('POST', `/apis/upm.io/v1alpha1/namespaces/${PROJECT}/mysqlservices`, { body: {
      apiVersion: 'upm.io/v1alpha1', kind: 'MysqlService', metadata: { name: `${s.member}-${s.name}`, namespace: PROJECT },
      spec: { engine: 'mariadb', version: '10.11', topology: { mode: 'semisync', replicas: 3 }, placement: { cluster: s.member }, resources: { cpu: '1', memory: '256Mi' }, storage: { size: '1Gi' } },
    } });
    await waitFor('the paced UnitSet', async () => seen.has(memberKey(s)), { timeoutMs: 60_000, intervalMs: 5 });
    pacedCreate.push((seen.get(memberKey(s)) as number) - t);
    await new Promise((r) => setTimeout(r, 300));
  }
  for (let k = 0; k < PACED; k++) {
    const s = services[Math.floor((k * services.length) / PACED)] as (typeof services)[number];
    const t = performance.now();
    await admin.request('PATCH', `/apis/upm.io/v1alpha1/namespaces/${PROJECT}/mysqlservices/${s.member}-${s.name}`, {
      body: JSON.stringify({ spec: { topology: { replicas: 5 } } }), contentType: 'application/merge-patch+json',
    });
    await waitFor('the paced edit', async () => reached.has(`${memberKey(s)}/5`), { timeoutMs: 60_000, intervalMs: 5 });
    pacedEdit.push((reached.get(`${memberKey(s)}/5`) as number) - t);
    await new Promise((r) => setTimeout(r, 300));
  }

  progress(`editing ${services.length} MysqlServices at once (replicas -> 4)`);
  const editAt = new Map<string, number>();
  await pool(services, CONCURRENCY, async (s) => {
    editAt.set(memberKey(s), performance.now());
    await admin.request('PATCH', `/apis/upm.io/v1alpha1/namespaces/${PROJECT}/mysqlservices/${s.member}-${s.name}`, {
      body: JSON.stringify({ spec: { topology: { replicas: 4 } } }), contentType: 'application/merge-patch+json',
    });
  });
  await waitFor('every UnitSet at 4 units', async () => services.every((s) => reached.has(`${memberKey(s)}/4`)), { timeoutMs: 600_000, intervalMs: 250 });
  const editLat = services.map((s) => (reached.get(`${memberKey(s)}/4`) as number) - (editAt.get(memberKey(s)) as number));
  const rssEnd = rssMiB(controllersPid);

  const minutes = (to - from) / 60_000;
  const nonWatch = perMember.map((p) => Object.entries(p.reqs).filter(([k]) => !k.startsWith('watch ')).reduce((a, [, n]) => a + n, 0) / minutes);
  const kinds: Record<string, number> = {};
  for (const p of perMember) for (const [k, n] of Object.entries(p.reqs)) kinds[k] = (kinds[k] ?? 0) + n;

  console.log(`hub fan-out: ${MEMBERS} members x ${SERVICES} services = ${services.length} MysqlServices (MariaDB, 3 units), ${CONCURRENCY} hub writes at a time`);
  console.log(`${rest.length} creates (after each member's first) all on their members after ${placedSeconds.toFixed(1)} s (${(rest.length / placedSeconds).toFixed(1)}/s)`);
  console.log('| figure | p50 | p99 | max | goal |');
  console.log('|---|---|---|---|---|');
  console.log(`| one write at a time: create on the hub -> UnitSet on the member | ${fmt(pct(pacedCreate, 50))} | ${fmt(pct(pacedCreate, 99))} | ${fmt(Math.max(...pacedCreate))} | p99 <= 1 s |`);
  console.log(`| one write at a time: edit on the hub (replicas) -> UnitSet changed on the member | ${fmt(pct(pacedEdit, 50))} | ${fmt(pct(pacedEdit, 99))} | ${fmt(Math.max(...pacedEdit))} | p99 <= 1 s |`);
  console.log(`| first service of a member, one at a time: create on the hub -> UnitSet on the member | ${fmt(pct(firstLat, 50))} | ${fmt(pct(firstLat, 99))} | ${fmt(Math.max(...firstLat))} | p99 <= 1 s |`);
  console.log(`| burst of ${rest.length} creates, ${CONCURRENCY} at a time: create on the hub -> UnitSet on the member | ${fmt(pct(createLat, 50))} | ${fmt(pct(createLat, 99))} | ${fmt(Math.max(...createLat))} | p99 <= 1 s |`);
  console.log(`| burst of ${services.length} edits, ${CONCURRENCY} at a time: edit on the hub -> UnitSet changed on the member | ${fmt(pct(editLat, 50))} | ${fmt(pct(editLat, 99))} | ${fmt(Math.max(...editLat))} | p99 <= 1 s |`);
  console.log(`| hub requests per minute per member at steady state, watches apart | ${pct(nonWatch, 50).toFixed(1)} | ${pct(nonWatch, 99).toFixed(1)} | ${Math.max(...nonWatch).toFixed(1)} | 0 |`);
  console.log(`hub requests to all members over ${(minutes * 60).toFixed(0)} s of steady state (verb resource: count): ${JSON.stringify(kinds)}`);
  console.log(`hub controllers RSS: ${rssBefore.toFixed(0)} MiB before the services; with ${services.length} services ${rssSteady.toFixed(0)} MiB at steady state (max ${rssMax.toFixed(0)}), ${rssEnd.toFixed(0)} MiB after the edits (goal <= 300 MiB with 1,000)`);
} finally {
  abort.abort();
  for (const c of clients) await c.close().catch(() => undefined);
  await hub?.stop();
  await Promise.all(members.map((m) => m.stop()));
  await sys.stop();
  if (process.env.BENCH_KEEP_DIR) console.log(`  logs kept in ${dir}`);
  else await rm(dir, { recursive: true, force: true });
}
