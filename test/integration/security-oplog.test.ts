// OperationLogs against a hostile tenant, through the real kube-apiserver aggregation layer: a user flooding
// mutating requests at a project they cannot see leaves that project's log untouched and gets 429s, while every
// real change another user makes during the flood is recorded; the server's memory stays under its limit; a
// project re-created under the same name does not inherit the old one's log; and retention removes the records
// beyond the count and older than the age.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Agent, request } from 'undici';
import { parse } from 'yaml';
import { LOG_STORAGE } from '../../apiserver/audit.ts';
import { STORAGE_API_VERSION } from '../../apiserver/translate.ts';
import { OperationLogRetention } from '../../apiserver/retention.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { waitFor } from '../../lib/wait.ts';
import { client, uniqueName } from '../env.ts';
import { closeAgents, describeHub, hubState, kubectlAs, kubectlOkAs, userKubeconfig } from '../hub.ts';

const FLOOD_MS = 40_000;
const CONCURRENCY = 32;
/** The API server Deployment's memory limit (config/apiserver/apiserver.yaml). */
const RSS_LIMIT_KIB = 1024 * 1024;

interface Spec { user: string; verb: string; resource: string; name?: string; project?: string; result: { code: number } }
interface Log { metadata: { name: string; labels?: Record<string, string> }; spec: Spec }

/** An undici agent that is the kubeconfig's user against kube-apiserver (its front door, the aggregation layer). */
async function agentOf(kubeconfigFile: string): Promise<{ server: string; agent: Agent }> {
  const kc = parse(await readFile(kubeconfigFile, 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
    users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
  };
  const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
  const c = kc.clusters[0]?.cluster;
  const u = kc.users[0]?.user;
  if (!c || !u) throw new Error(`${kubeconfigFile}: no cluster or user`);
  return {
    server: c.server,
    agent: new Agent({ connect: { ca: b64(c['certificate-authority-data']), cert: b64(u['client-certificate-data']), key: b64(u['client-key-data']) }, connections: CONCURRENCY, keepAliveTimeout: 30_000 }),
  };
}

function vmRssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

async function storageLogs(storage: KubeClient, ns: string): Promise<Log[]> {
  const out: Log[] = [];
  let cont = '';
  do {
    const list = await storage.request<{ metadata: { continue?: string }; items: Log[] }>('GET', `/apis/${STORAGE_API_VERSION}/namespaces/${ns}/${LOG_STORAGE.plural}`, { query: { limit: 500, ...(cont ? { continue: cont } : {}) } });
    out.push(...list.items);
    cont = list.metadata.continue ?? '';
  } while (cont);
  return out;
}

describeHub('OperationLogs against a flooding tenant', () => {
  const suffix = uniqueName('f').slice(2);
  const owner = `owner-${suffix}`;
  const flooder = `flooder-${suffix}`;
  const heir = `heir-${suffix}`;
  const project = uniqueName('pv');
  const kc: Record<string, string> = {};
  let storage: KubeClient;
  const agents: Agent[] = [];

  beforeAll(async () => {
    for (const u of [owner, flooder, heir]) kc[u] = await userKubeconfig(u);
    storage = await client('mgmt');
    await kubectlOkAs(kc[owner], ['create', '-f', '-'], JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: project } }));
  });

  afterAll(async () => {
    await kubectlAs(undefined, ['delete', 'project', project, '--wait=false', '--ignore-not-found']);
    await Promise.all(agents.map((a) => a.close()));
    await storage?.close();
    await closeAgents();
  });

  it('keeps the log of a project the flooder cannot see untouched, records every real change, and answers the flood 429', async () => {
    const pid = hubState().apiserverPid;
    if (!pid) throw new Error('the hub state has no API server pid');
    const projectUid = JSON.parse(await kubectlOkAs(kc[owner], ['get', 'project', project, '-o', 'json'])).metadata.uid as string;
    const bad = await agentOf(kc[flooder] as string);
    const good = await agentOf(kc[owner] as string);
    agents.push(bad.agent, good.agent);
    const statuses: Record<number, number> = {};
    let sent = 0;
    let limited: { retryAfter: string; body: string } | undefined;
    let maxRss = vmRssKiB(pid);
    const until = Date.now() + FLOOD_MS;
    const junk = (i: number): { method: 'DELETE' | 'PATCH'; path: string; body?: string } => {
      // Random names, and the victim's own project (which the flooder cannot see): both are 404s to them.
      if (i % 3 === 0) return { method: 'PATCH', path: `/apis/upm.io/v1alpha1/projects/${project}`, body: '{"spec":{"displayName":"pwned"}}' };
      if (i % 3 === 1) return { method: 'DELETE', path: `/apis/upm.io/v1alpha1/projects/${project}` };
      return { method: 'DELETE', path: `/apis/upm.io/v1alpha1/projects/junk-${i}-${Math.random().toString(36).slice(2, 10)}` };
    };
    const flood = Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < until) {
        const j = junk(sent++);
        try {
          const res = await request(`${bad.server}${j.path}`, {
            method: j.method, body: j.body, dispatcher: bad.agent,
            headers: j.body ? { 'content-type': 'application/merge-patch+json' } : {},
          });
          if (res.statusCode === 429 && !limited) limited = { retryAfter: String(res.headers['retry-after']), body: await res.body.text() };
          else await res.body.dump();
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        } catch {
          statuses[0] = (statuses[0] ?? 0) + 1;
        }
      }
    }));
    const rss = setInterval(() => { maxRss = Math.max(maxRss, vmRssKiB(pid)); }, 500);
    // The owner's real changes during the flood, as a client does them: retried after 429/503 as Retry-After says.
    let changes = 0;
    let ownerRetries = 0;
    for (let i = 0; Date.now() < until - 2000; i++) {
      for (;;) {
        const res = await request(`${good.server}/apis/upm.io/v1alpha1/projects/${project}`, {
          method: 'PATCH', dispatcher: good.agent, headers: { 'content-type': 'application/merge-patch+json' },
          body: JSON.stringify({ spec: { displayName: `change ${i}` } }),
        });
        await res.body.dump();
        if (res.statusCode === 200) { changes++; break; }
        if (res.statusCode !== 429 && res.statusCode !== 503) throw new Error(`the owner's change ${i}: ${res.statusCode}`);
        ownerRetries++;
        await new Promise((r) => setTimeout(r, 1000 * Number(res.headers['retry-after'] ?? 1)));
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    await flood;
    clearInterval(rss);
    maxRss = Math.max(maxRss, vmRssKiB(pid));
    const total = Object.values(statuses).reduce((a, b) => a + b, 0);
    process.stdout.write(`flood: ${total} requests in ${FLOOD_MS / 1000} s by ${flooder} (${JSON.stringify(statuses)}); ${changes} real changes by ${owner} (${ownerRetries} retries); API server VmRSS max ${Math.round(maxRss / 1024)} MiB\n`);

    expect(statuses[429] ?? 0).toBeGreaterThan(0);
    // A Kubernetes Status that tells the client when to come back.
    expect(Number(limited?.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(limited?.body ?? '{}')).toMatchObject({ kind: 'Status', code: 429, reason: 'TooManyRequests', details: { retryAfterSeconds: Number(limited?.retryAfter) } });
    expect(statuses[200] ?? 0).toBe(0);
    expect(changes).toBeGreaterThan(10);
    expect(maxRss).toBeLessThan(RSS_LIMIT_KIB);

    // Every change is recorded, once, under the project's uid; nothing of the flooder's is recorded anywhere.
    let mine: Log[] = [];
    await waitFor('the owner\'s changes recorded', async () => {
      mine = (await storageLogs(storage, 'upm-system')).filter((l) => l.spec.project === project && l.spec.user === owner && l.spec.verb === 'patch');
      return mine.length >= changes;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    expect(mine.length).toBe(changes);
    expect(mine.every((l) => l.spec.result.code === 200 && l.metadata.labels?.['upm.io/project-uid'] === projectUid)).toBe(true);
    const flooders = [...await storageLogs(storage, 'upm-system'), ...await storageLogs(storage, project)].filter((l) => l.spec.user === flooder);
    expect(flooders).toEqual([]);
    // The project's log as its owner sees it: their create and their changes only.
    const seen = (JSON.parse(await kubectlOkAs(kc[owner], ['get', 'operationlogs', '-n', 'upm-system', '-o', 'json'])) as { items: Log[] }).items.filter((l) => l.spec.project === project);
    expect(seen.length).toBe(changes + 1);
    expect(seen.every((l) => l.spec.user === owner)).toBe(true);
    process.stdout.write(`records: ${mine.length} of ${changes} changes; ${flooders.length} of the flooder's ${total} requests\n`);
  }, 180_000);

  it('does not show a re-created project the records of the old one', async () => {
    await kubectlOkAs(kc[owner], ['delete', 'project', project, '--wait=false']);
    await waitFor('the old project gone', async () => (await kubectlAs(undefined, ['get', 'project', project])).stderr.includes('NotFound'), { timeoutMs: 90_000, intervalMs: 500 });
    await kubectlOkAs(kc[heir], ['create', '-f', '-'], JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: project } }));
    const uid = JSON.parse(await kubectlOkAs(kc[heir], ['get', 'project', project, '-o', 'json'])).metadata.uid as string;
    const old = (await storageLogs(storage, 'upm-system')).filter((l) => l.spec.project === project && l.spec.user === owner);
    expect(old.length).toBeGreaterThan(1); // the old records are still there (an admin sees them)...
    const seen = (JSON.parse(await kubectlOkAs(kc[heir], ['get', 'operationlogs', '-n', 'upm-system', '-o', 'json'])) as { items: Log[] }).items.filter((l) => l.spec.project === project);
    // ...but the new project's members see its own history only: the heir's create.
    expect(seen.map((l) => [l.spec.user, l.spec.verb])).toEqual([[heir, 'create']]);
    expect(seen[0]?.metadata.labels?.['upm.io/project-uid']).toBe(uid);
  }, 150_000);

  it('removes the records beyond the count and older than the age', async () => {
    const ns = uniqueName('oplog-retention');
    await storage.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
    try {
      const write = (i: number) => storage.request('POST', `/apis/${STORAGE_API_VERSION}/namespaces/${ns}/${LOG_STORAGE.plural}`, {
        body: { apiVersion: STORAGE_API_VERSION, kind: LOG_STORAGE.kind, metadata: { name: `r-${String(i).padStart(2, '0')}` }, spec: { user: 'u', verb: 'patch', resource: 'projects', time: new Date().toISOString(), result: { code: 200 } } },
      });
      for (let i = 0; i < 7; i++) await write(i);
      await new Promise((r) => setTimeout(r, 1100)); // creationTimestamp has a resolution of a second
      for (let i = 7; i < 12; i++) await write(i);
      const byCount = await new OperationLogRetention(storage, { maxAgeMs: 0, maxCount: 5 }, { namespace: ns }).sweep();
      expect(byCount).toEqual({ seen: 12, deleted: 7, failed: 0 });
      expect((await storageLogs(storage, ns)).map((l) => l.metadata.name).sort()).toEqual(['r-07', 'r-08', 'r-09', 'r-10', 'r-11']);
      // The periodic sweep, by age: once the records are older than 2 s, they go.
      const stop = new AbortController();
      const running = new OperationLogRetention(storage, { maxAgeMs: 2000, maxCount: 0 }, { namespace: ns }).run(stop.signal, 300);
      await waitFor('records older than 2 s removed', async () => (await storageLogs(storage, ns)).length === 0, { timeoutMs: 20_000, intervalMs: 300 });
      stop.abort();
      await running;
    } finally {
      await storage.raw('DELETE', `/api/v1/namespaces/${ns}`);
    }
  }, 60_000);

  it('stops the periodic sweep when stopped in the middle of one, without waiting for the next', async () => {
    // Stopped right after it began: the sweep's first list is under way, so the abort event has fired before the
    // sweeper waits for its next round. The API server's close awaits this; an hour's wait is a hung shutdown.
    const stop = new AbortController();
    const running = new OperationLogRetention(storage, { maxAgeMs: 3_600_000, maxCount: 0 }, { namespace: uniqueName('oplog-none') }).run(stop.signal, 3_600_000);
    stop.abort();
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      running.then(() => 'stopped'),
      new Promise<string>((resolve) => { timer = setTimeout(() => resolve('still waiting for the next sweep'), 30_000); }),
    ]);
    clearTimeout(timer);
    expect(outcome).toBe('stopped');
  }, 60_000);
});
