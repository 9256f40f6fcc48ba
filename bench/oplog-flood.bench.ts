// OperationLogs under a hostile tenant, on a local management cluster, through the kube-apiserver aggregation layer:
//   - one user sends 100,000 junk mutating requests (DELETE/PATCH of projects they cannot see, random names) with
//     64 concurrent keep-alive connections, while another user changes their own project every 100 ms. Prints the
//     answers the flooder got, the real changes and the records of them (goal: all), the records of the flooder's
//     requests (goal: none), and the API server's RSS.
//   - the API server's RSS with 20,000 OperationLogs in storage (all cached, each held once).
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { parse, stringify } from 'yaml';
import { LOG_STORAGE } from '../apiserver/audit.ts';
import { LocalHub } from '../hack/local/hub.ts';
import { issueCert } from '../hack/local/pki.ts';
import { LocalSystem } from '../hack/local/system.ts';
import { KubeClient } from '../lib/kube/client.ts';

const FLOOD = 100_000;
const CONCURRENCY = 64;
const STORED = 20_000;

function rssMiB(pid: number | undefined): number {
  const line = pid ? readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:')) : undefined;
  return line ? Number(line.split(/\s+/)[1]) / 1024 : NaN;
}
const progress = (msg: string) => process.stderr.write(`  [${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

/** An undici agent with a fresh client certificate for the user, against kube-apiserver. */
async function userAgent(clusterDir: string, adminKubeconfig: string, user: string): Promise<{ server: string; agent: Agent; kubeconfig: string }> {
  const ca = { certPem: await readFile(join(clusterDir, 'pki', 'ca.crt'), 'utf8'), keyPem: await readFile(join(clusterDir, 'pki', 'ca.key'), 'utf8') };
  const pair = await issueCert(ca, { commonName: user, usage: 'client' });
  const admin = parse(await readFile(adminKubeconfig, 'utf8')) as { clusters: { name: string; cluster: { server: string; 'certificate-authority-data': string } }[] };
  const c = admin.clusters[0]?.cluster;
  if (!c) throw new Error('no cluster in the admin kubeconfig');
  const kubeconfig = join(clusterDir, `${user}.kubeconfig`);
  await writeFile(kubeconfig, stringify({
    apiVersion: 'v1', kind: 'Config', clusters: admin.clusters,
    users: [{ name: user, user: { 'client-certificate-data': Buffer.from(pair.certPem).toString('base64'), 'client-key-data': Buffer.from(pair.keyPem).toString('base64') } }],
    contexts: [{ name: user, context: { cluster: admin.clusters[0]?.name, user } }], 'current-context': user,
  }));
  const agent = new Agent({ connect: { ca: Buffer.from(c['certificate-authority-data'], 'base64').toString('utf8'), cert: pair.certPem, key: pair.keyPem }, connections: CONCURRENCY });
  return { server: c.server, agent, kubeconfig };
}

interface Spec { user: string; verb: string; project?: string; result: { code: number } }

async function storageLogs(admin: KubeClient, ns: string): Promise<Spec[]> {
  const out: Spec[] = [];
  let cont = '';
  do {
    const l = await admin.request<{ metadata: { continue?: string }; items: { spec: Spec }[] }>('GET', `/apis/internal.upm.io/v1alpha1/namespaces/${ns}/${LOG_STORAGE.plural}`, { query: { limit: 1000, ...(cont ? { continue: cont } : {}) } });
    out.push(...l.items.map((i) => i.spec));
    cont = l.metadata.continue ?? '';
  } while (cont);
  return out;
}

const dir = await mkdtemp(join(tmpdir(), 'upm-bench-oplog-'));
const sys = await LocalSystem.start(join(dir, 'system'), [{ name: 'mgmt', role: 'management', nodes: 1 }]);
const mgmt = sys.cluster('mgmt');
const hub = await LocalHub.start(sys.bins.kubectl, mgmt, join(dir, 'hub'), { controllers: false });
const admin = await mgmt.client();
const pid = hub.apiserver.pid;
try {
  const clusterDir = join(dir, 'system', 'mgmt');
  const owner = await userAgent(clusterDir, mgmt.kubeconfig, 'owner');
  const flooder = await userAgent(clusterDir, mgmt.kubeconfig, 'flooder');
  const project = 'victim';
  const created = await request(`${owner.server}/apis/upm.io/v1alpha1/projects`, {
    method: 'POST', dispatcher: owner.agent, headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: project } }),
  });
  if (created.statusCode !== 201) throw new Error(`create project: ${created.statusCode} ${await created.body.text()}`);
  await created.body.dump();
  const rssBefore = rssMiB(pid);

  progress(`flooding ${FLOOD} requests`);
  const statuses: Record<number, number> = {};
  let sent = 0;
  let maxRss = rssBefore;
  let flooding = true;
  const t0 = performance.now();
  const flood = Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (sent < FLOOD) {
      const i = sent++;
      const path = `/apis/upm.io/v1alpha1/projects/${i % 2 ? project : `junk-${i}`}`;
      try {
        const res = await request(`${flooder.server}${path}`, i % 4 === 1
          ? { method: 'PATCH', dispatcher: flooder.agent, headers: { 'content-type': 'application/merge-patch+json' }, body: '{"spec":{"displayName":"x"}}' }
          : { method: 'DELETE', dispatcher: flooder.agent });
        await res.body.dump();
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      } catch {
        statuses[0] = (statuses[0] ?? 0) + 1;
      }
      if (i % 10_000 === 0 && i) progress(`${i} sent`);
    }
  })).finally(() => { flooding = false; });
  const sampler = setInterval(() => { maxRss = Math.max(maxRss, rssMiB(pid)); }, 500);
  let changes = 0;
  let retries = 0;
  while (flooding) {
    const res = await request(`${owner.server}/apis/upm.io/v1alpha1/projects/${project}`, {
      method: 'PATCH', dispatcher: owner.agent, headers: { 'content-type': 'application/merge-patch+json' }, body: JSON.stringify({ spec: { displayName: `change ${changes}` } }),
    });
    await res.body.dump();
    if (res.statusCode === 200) changes++;
    else retries++;
    await new Promise((r) => setTimeout(r, 100));
  }
  await flood;
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  // The records are written asynchronously: wait until the last change's is there (or 60 s).
  let logs: Spec[] = [];
  for (let i = 0; i < 120; i++) {
    logs = await storageLogs(admin, 'upm-system');
    if (logs.filter((l) => l.user === 'owner' && l.verb === 'patch').length >= changes) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const ownerRecords = logs.filter((l) => l.user === 'owner' && l.verb === 'patch' && l.result.code === 200).length;
  const flooderRecords = logs.filter((l) => l.user === 'flooder').length + (await storageLogs(admin, project).catch(() => [])).filter((l) => l.user === 'flooder').length;
  console.log(`flood: ${sent} requests in ${seconds.toFixed(0)} s (${(sent / seconds).toFixed(0)}/s), answers ${JSON.stringify(statuses)}`);
  console.log(`real changes during the flood: ${changes} (${retries} refused and retried); records of them: ${ownerRecords}; records of the flooder's requests: ${flooderRecords}`);
  console.log(`API server RSS: ${rssBefore.toFixed(0)} MiB before, ${maxRss.toFixed(0)} MiB at most during the flood`);

  progress(`writing ${STORED} OperationLogs to storage`);
  await admin.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'oplog-bench' } } });
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < STORED) {
      const i = next++;
      await admin.request('POST', `/apis/internal.upm.io/v1alpha1/namespaces/oplog-bench/${LOG_STORAGE.plural}`, { body: {
        apiVersion: 'internal.upm.io/v1alpha1', kind: LOG_STORAGE.kind, metadata: { generateName: 'patch-projects-', labels: { 'upm.io/project': project, 'upm.io/verb': 'patch', 'upm.io/result': 'Success' } },
        spec: { user: `user-${i % 100}`, groups: ['system:authenticated'], verb: 'patch', apiGroup: 'upm.io', resource: 'projects', name: project, project, time: new Date().toISOString(), userAgent: 'kubectl/v1.33', result: { code: 200, status: 'Success' } },
      } });
    }
  }));
  const meta = { 'x-remote-user': 'bench-admin', 'x-remote-group': 'system:masters' };
  const pki = join(clusterDir, 'pki');
  const direct = new Agent({ connect: { ca: readFileSync(hub.state().caFile, 'utf8'), cert: readFileSync(join(pki, 'front-proxy-client.crt'), 'utf8'), key: readFileSync(join(pki, 'front-proxy-client.key'), 'utf8'), servername: 'localhost' } });
  for (;;) {
    // The server's cache has them all once a list of the namespace at its resourceVersion counts STORED.
    const all = await request(`https://127.0.0.1:${hub.state().port}/apis/upm.io/v1alpha1/namespaces/oplog-bench/operationlogs`, { dispatcher: direct, headers: { ...meta, accept: 'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io' } });
    const n = (JSON.parse(await all.body.text()) as { items?: unknown[] }).items?.length ?? 0;
    if (n >= STORED) break;
    await new Promise((res) => setTimeout(res, 500));
  }
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 2000));
  console.log(`API server RSS with ${STORED} more OperationLogs cached: ${rssMiB(pid).toFixed(0)} MiB`);
  await direct.close();
  await owner.agent.close();
  await flooder.agent.close();
} finally {
  await admin.close();
  await hub.stop();
  await sys.stop();
}
