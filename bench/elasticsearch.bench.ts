// ElasticsearchCluster on real OpenSearch 2.19 (the local stand-in for Elasticsearch 8): from the object's creation to a
// green cluster of three nodes (seen by polling the nodes themselves every 100 ms, and as the operator reports it),
// each node's resident memory (idle, then with 10,000 documents), and the duration of a rolling restart (replica
// allocation paused, one node at a time, the next only at green); then a scale out to four and back to three (the
// leaving node drained of its shards before it goes).
import { readFileSync } from 'node:fs';
import { ElasticsearchClusterResource, type ElasticsearchCluster } from '../lib/api/compose.upm.io.generated.ts';
import { UnitResource, type Unit } from '../lib/api/unit.upm.io.generated.ts';
import { Resources } from '../lib/kube/resources.ts';
import type { KubeObject } from '../lib/kube/types.ts';
import { waitFor } from '../lib/wait.ts';
import { startComposeBenchSystem } from './lib/compose-system.ts';

const DOCS = Number(process.env.BENCH_DOCS ?? 10_000);
const MEMORY = process.env.BENCH_MEMORY ?? '512Mi';

const s = await startComposeBenchSystem('elasticsearch');
const { client: c, ns } = s;
const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
try {
  const units = async () => (await c.list<Unit>(UnitResource, { namespace: ns, labelSelector: 'unit.upm.io/unitset=logs-nodes' })).items
    .filter((u) => !u.metadata.deletionTimestamp).sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '', 'en', { numeric: true }));
  // OpenSearch's security plugin refuses anonymous calls: the admin account of the cluster's credentials Secret.
  let auth = '';
  const http = async <T>(ip: string, method: string, path: string, body?: string | object, timeoutMs = 60_000): Promise<T> => {
    if (!auth) {
      const secret = await c.get<KubeObject & { data?: Record<string, string> }>(Resources.secrets, 'logs-credentials', ns);
      const v = (k: string) => Buffer.from(secret.data?.[k] ?? '', 'base64').toString();
      auth = `Basic ${Buffer.from(`${v('admin-username')}:${v('admin-password')}`).toString('base64')}`;
    }
    const res = await fetch(`http://${ip}:9200${path}`, {
      method, signal: AbortSignal.timeout(timeoutMs),
      headers: { authorization: auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
    return JSON.parse(text) as T;
  };
  const esc = () => c.get<ElasticsearchCluster>(ElasticsearchClusterResource, 'logs', ns);
  const ready = (what: string, extra: (e: ElasticsearchCluster) => boolean = () => true) => waitFor(what, async () => {
    const e = await esc();
    return e.status?.ready === true && e.status.observedGeneration === e.metadata.generation && extra(e) ? e : undefined;
  }, { timeoutMs: 900_000, intervalMs: 100 });
  const rss = async () => (await units()).map((u) => {
    const pid = u.status?.engine?.pid ?? 0;
    const kb = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    return `${u.metadata.name} ${Math.round(kb / 1024)} MiB`;
  });

  // Formation: from the object's creation to green with three nodes, as the nodes say it and as the operator does.
  const t0 = performance.now();
  await c.create<ElasticsearchCluster>(ElasticsearchClusterResource, {
    apiVersion: 'compose.upm.io/v1alpha1', kind: 'ElasticsearchCluster', metadata: { name: 'logs', namespace: ns },
    spec: { engine: 'opensearch', version: '2.19', nodeSets: [{ name: 'nodes', units: 3, resources: { limits: { cpu: '1', memory: MEMORY } } }] },
  });
  await waitFor('green with three nodes', async () => {
    for (const u of await units()) {
      if (!u.status?.podIP) continue;
      try {
        const h = await http<{ status: string; number_of_nodes: number }>(u.status.podIP, 'GET', '/_cluster/health', undefined, 2000);
        if (h.status === 'green' && h.number_of_nodes === 3) return true;
      } catch { /* not serving yet */ }
    }
    return false;
  }, { timeoutMs: 900_000, intervalMs: 100 });
  const green = performance.now() - t0;
  await ready('ElasticsearchCluster Ready');
  const reported = performance.now() - t0;
  const idle = await rss();

  // 10,000 documents with one replica.
  const ips = (await units()).map((u) => u.status?.podIP ?? '');
  await http(ips[0]!, 'PUT', '/docs', { settings: { number_of_shards: 3, number_of_replicas: 1 } });
  const t1 = performance.now();
  for (let start = 0; start < DOCS; start += 2500) {
    const n = Math.min(2500, DOCS - start);
    const bulk = Array.from({ length: n }, (_, i) => `{"index":{"_id":"${start + i}"}}\n{"n":${start + i},"text":"document ${start + i}"}\n`).join('');
    const r = await http<{ errors: boolean }>(ips[(start / 2500) % 3]!, 'POST', '/docs/_bulk', bulk, 120_000);
    if (r.errors) throw new Error('bulk indexing reported errors');
  }
  await http(ips[0]!, 'POST', '/docs/_refresh');
  const indexed = performance.now() - t1;
  // The index's 6 shard copies and the security plugin's index, one copy per data node.
  await ready('green with the index', (e) => e.status?.shards?.active === 6 + 3);
  const loaded = await rss();

  // Rolling restart.
  const t2 = performance.now();
  await c.patch(ElasticsearchClusterResource, 'logs', { spec: { restartedAt: new Date().toISOString() } }, 'merge', { namespace: ns });
  const restarted = await ready('rolling restart done', (e) => (e.status?.lastRestart?.nodes ?? []).length === 3 && !e.status?.restart);
  const restart = performance.now() - t2;
  const count = (await http<{ count: number }>(ips[1]!, 'GET', '/docs/_count')).count;

  // Scale out to four and back in to three.
  const nodes = (n: number) => c.patch(ElasticsearchClusterResource, 'logs', [{ op: 'replace', path: '/spec/nodeSets/0/units', value: n }], 'json', { namespace: ns });
  const t3 = performance.now();
  await nodes(4);
  await ready('four nodes, green', (e) => e.status?.nodes === '4/4');
  const out = performance.now() - t3;
  const t4 = performance.now();
  await nodes(3);
  const scaledIn = await ready('three nodes again', (e) => e.status?.nodes === '3/3' && !e.status.scaleIn && !!e.status.lastScaleIn);
  const inMs = performance.now() - t4;
  const after = (await http<{ count: number }>(ips[0]!, 'GET', '/docs/_count')).count;

  console.log(`ElasticsearchCluster on OpenSearch 2.19, 3 nodes (heap 256 MiB each, memory limit ${MEMORY}):`);
  console.log(`  green cluster of 3 (polled on the nodes):   ${sec(green)}`);
  console.log(`  ElasticsearchCluster Ready:                 ${sec(reported)}`);
  console.log(`  RSS idle:                                   ${idle.join(', ')}`);
  console.log(`  indexing ${DOCS} documents (bulk, 1 replica):  ${sec(indexed)}`);
  console.log(`  RSS with the documents:                     ${loaded.join(', ')}`);
  console.log(`  rolling restart of 3 nodes:                 ${sec(restart)} (status.lastRestart: ${restarted.status?.lastRestart?.seconds} s, order ${restarted.status?.lastRestart?.nodes?.join(' -> ')}); ${count} documents after`);
  console.log(`  scale out 3 -> 4 (to Ready, green):         ${sec(out)}`);
  console.log(`  scale in 4 -> 3 (drain, vote-exclude, remove): ${sec(inMs)} (status.lastScaleIn: ${scaledIn.status?.lastScaleIn?.seconds} s); ${after} documents after`);
} finally {
  await s.stop();
}
