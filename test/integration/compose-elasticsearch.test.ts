// ElasticsearchCluster on real OpenSearch 2.19 nodes (the local stand-in for Elasticsearch 8: the same REST API for
// everything the operator uses), each one behind a simulated pod of the engine runtime: formation from one node set,
// 10,000 documents kept through a scale 3 -> 4 -> 3 (the leaving node drained of every shard and taken out of the
// voting configuration before it goes) and a rolling restart (replica allocation paused, one node at a time, the next
// only at green), a kill -9 of the elected cluster manager under a write load, bad specs refused, and a cluster of
// two node sets with their own roles.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ElasticsearchCluster } from '../../lib/api/compose.upm.io.generated.ts';
import { ElasticsearchClusterResource } from '../../lib/api/compose.upm.io.generated.ts';
import type { Unit, UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { kubectl, kubectlOk } from '../kubectl.ts';
import { accountOf, searchHttp, statusOf, type SearchAccount } from '../search-http.ts';
import { useUnitOperator } from '../unit-operator.ts';

const CLUSTER = 'member2';
const DOCS = 10_000;
type Event = KubeObject & { reason?: string; message?: string; type?: string; involvedObject?: { name?: string }; firstTimestamp?: string };
interface Health { status: string; number_of_nodes: number; unassigned_shards: number; relocating_shards: number }

describe('ElasticsearchCluster on real OpenSearch', () => {
  const f = useUnitOperator(CLUSTER, 'cesearch', { engines: true, compose: true });
  let c: KubeClient;
  let ns: string;
  beforeAll(() => { c = f.client; ns = f.ns; });

  const esc = (name = 'logs') => c.get<ElasticsearchCluster>(ElasticsearchClusterResource, name, ns);
  const unitsOf = async (unitSet: string) => (await c.list<Unit>(UnitResource, { namespace: ns, labelSelector: `unit.upm.io/unitset=${unitSet}` })).items
    .filter((u) => !u.metadata.deletionTimestamp).sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '', 'en', { numeric: true }));
  /** A pod keeps its address across restarts (the runtime derives it from the pod's name). */
  const addresses = new Map<string, string>();
  const ipOf = async (unit: string) => {
    const known = addresses.get(unit);
    if (known) return known;
    const ip = (await c.get<Unit>(UnitResource, unit, ns)).status?.podIP ?? '';
    if (ip) addresses.set(unit, ip);
    return ip;
  };
  const pids = async (unitSet: string) => Object.fromEntries((await unitsOf(unitSet)).map((u) => [u.metadata.name ?? '', u.status?.engine?.pid ?? 0]));

  /** The platform's admin account of a cluster (the security plugin refuses anonymous requests). */
  const admins = new Map<string, SearchAccount>();
  const adminOf = async (cluster: string): Promise<SearchAccount> => {
    const known = admins.get(cluster);
    if (known) return known;
    const account = accountOf((await c.get<KubeObject & { data?: Record<string, string> }>(Resources.secrets, `${cluster}-credentials`, ns)).data, 'admin');
    admins.set(cluster, account);
    return account;
  };
  const http = async <T>(unit: string, method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<T> =>
    searchHttp<T>(`${await ipOf(unit)}:9200`, method, path, body, timeoutMs, await adminOf(unit.split('-')[0] ?? ''));
  /** The first node of `names` that answers. */
  const anyHttp = async <T>(names: string[], method: string, path: string, body?: unknown): Promise<T> => {
    let last: unknown;
    for (const n of names) {
      try { return await http<T>(n, method, path, body, 10_000); } catch (err) { last = err; }
    }
    throw last;
  };
  const nodes3 = ['logs-nodes-0', 'logs-nodes-1', 'logs-nodes-2'];
  const count = async (index: string) => (await anyHttp<{ count: number }>(nodes3, 'GET', `/${index}/_count`)).count;

  /** Waits until the cluster object is ready (and `extra` holds); on a timeout the error carries its status. */
  const waitReady = async (what: string, extra: (e: ElasticsearchCluster) => boolean = () => true, timeoutMs = 300_000, name = 'logs') => {
    try {
      return await waitFor(what, async () => { const e = await esc(name); return e.status?.ready === true && e.status.observedGeneration === e.metadata.generation && extra(e) ? e : undefined; }, { timeoutMs, intervalMs: 500 });
    } catch (err) {
      const st = (await esc(name)).status;
      throw new Error(`${(err as Error).message}; phase ${st?.phase}; conditions ${JSON.stringify(st?.conditions)}; topology ${JSON.stringify(st?.topology)}`, { cause: err });
    }
  };
  const events = async (name = 'logs') => (await c.list<Event>(Resources.events, { namespace: ns })).items
    .filter((e) => e.involvedObject?.name === name).sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  const patch = (body: object, name = 'logs') => kubectlOk(CLUSTER, ['-n', ns, 'patch', 'esc', name, '--type', 'merge', '-p', JSON.stringify(body)]);
  const setUnits = (units: number) => kubectlOk(CLUSTER, ['-n', ns, 'patch', 'esc', 'logs', '--type', 'json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/nodeSets/0/units', value: units }])]);

  /**
   * Samples the cluster while something runs: health, the nodes in it, allocation settings, shards per node. Polling,
   * because OpenSearch keeps no history of these that outlives a node: the health changes are logged only by the
   * elected cluster manager, which a rolling restart also restarts. Every read is of a node's own applied cluster state
   * (local=true), which any live node answers without a manager: a sample that no node answers is a failed poll, and
   * every failed poll is recorded, for the test to count as a violation (it never hides a moment it could not see).
   */
  function sampler(names: string[]) {
    const samples: { at: number; health?: Health; nodes: string[]; enable?: string; exclude?: string; shards: Record<string, number>; units?: number }[] = [];
    const failed: string[] = [];
    let running = true;
    const done = (async () => {
      while (running) {
        const s: (typeof samples)[number] = { at: Date.now(), nodes: [], shards: {} };
        try {
          s.health = await anyHttp<Health>(names, 'GET', '/_cluster/health?local=true');
          s.nodes = Object.values((await anyHttp<{ nodes: Record<string, { name: string }> }>(names, 'GET', '/_cluster/state/nodes?local=true')).nodes).map((n) => n.name).sort();
          const settings = await anyHttp<{ persistent: Record<string, string> }>(names, 'GET', '/_cluster/settings?flat_settings=true&local=true');
          s.enable = settings.persistent['cluster.routing.allocation.enable'];
          s.exclude = settings.persistent['cluster.routing.allocation.exclude._name'];
          for (const a of await anyHttp<{ node: string; shards: string }[]>(names, 'GET', '/_cat/allocation?format=json&h=node,shards&local=true')) s.shards[a.node] = Number(a.shards);
          s.units = (await c.get<UnitSet>(UnitSetResource, 'logs-nodes', ns)).spec.units;
          samples.push(s);
        } catch (err) { failed.push(`${new Date(s.at).toISOString()}: ${(err as Error).message}`); }
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    return { samples, stop: async () => { running = false; await done; return { samples, failed }; } };
  }

  it('forms a green cluster of three OpenSearch nodes from one node set', async () => {
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], `
apiVersion: compose.upm.io/v1alpha1
kind: ElasticsearchCluster
metadata: { name: logs, namespace: ${ns} }
spec:
  engine: opensearch
  version: "2.19"
  nodeSets:
    - name: nodes
      units: 3
      resources: { limits: { cpu: "1", memory: 512Mi } }
`);
    const e = await waitReady('cluster of three ready');
    expect(e.status).toMatchObject({ health: 'green', nodes: '3/3', nodeCount: 3, dataNodes: 3, clusterName: 'logs', phase: 'Ready' });
    expect(e.status?.bootstrap?.initialManagers).toEqual(nodes3);
    expect(e.status?.bootstrap?.formedAt).toBeTruthy();
    expect(nodes3).toContain(e.status?.clusterManager);
    expect(Object.values(e.status?.topology ?? {}).map((t) => [t.joined, t.roles])).toEqual(nodes3.map(() => [true, ['cluster_manager', 'data', 'ingest']]));
    // The UnitSet the operator made: Managed updates, the cluster's name and the shared seeds.
    const us = await c.get<UnitSet>(UnitSetResource, 'logs-nodes', ns);
    expect(us.spec.updateStrategy?.type).toBe('Managed');
    expect(us.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'ElasticsearchCluster', name: 'logs' });
    expect(us.spec.parameters).toMatchObject({ 'cluster.name': 'logs', 'node.roles': 'cluster_manager, data, ingest', 'upm.initial.managers': nodes3.join(',') });
    const health = await http<{ cluster_name: string; number_of_nodes: number }>('logs-nodes-1', 'GET', '/_cluster/health');
    expect(health).toMatchObject({ cluster_name: 'logs', number_of_nodes: 3 });
    const table = await kubectlOk(CLUSTER, ['-n', ns, 'get', 'esc']);
    expect(table).toMatch(/NAME\s+ENGINE\s+VERSION\s+HEALTH\s+NODES\s+MANAGER\s+PHASE\s+AGE/);
    expect(table).toMatch(/logs\s+opensearch\s+2\.19\s+green\s+3\/3\s+logs-nodes-\d\s+Ready/);
    expect(await kubectlOk(CLUSTER, ['-n', ns, 'get', 'compose', '-o', 'name'])).toContain('elasticsearchcluster.compose.upm.io/logs');
    expect((await events()).map((x) => x.reason)).toEqual(expect.arrayContaining(['CreatedNodeSet', 'ClusterFormed']));
  }, 420_000);

  it(`indexes ${DOCS} documents with one replica`, async () => {
    await http('logs-nodes-0', 'PUT', '/docs', { settings: { number_of_shards: 3, number_of_replicas: 1 } });
    for (let start = 0; start < DOCS; start += 2500) {
      const bulk = Array.from({ length: 2500 }, (_, i) => `{"index":{"_id":"${start + i}"}}\n{"n":${start + i},"text":"document ${start + i}"}\n`).join('');
      const r = await http<{ errors: boolean }>(nodes3[start % 3]!, 'POST', '/docs/_bulk', bulk, 120_000);
      expect(r.errors).toBe(false);
    }
    await http('logs-nodes-0', 'POST', '/docs/_refresh');
    expect(await count('docs')).toBe(DOCS);
    // The status counts every shard copy: the index's 6 and the security plugin's index, one copy per data node
    // (auto_expand_replicas 0-all).
    await waitReady('green with the index', (e) => e.status?.shards?.active === 6 + 3);
    expect(await http('logs-nodes-0', 'GET', '/_cluster/health/docs')).toMatchObject({ status: 'green', active_shards: 6 });
  }, 300_000);

  it('makes the application account with data rights only, and a hostile password set in the Secret takes over', async () => {
    const e = await waitReady('application account granted', (x) => x.status?.conditions?.find((k) => k.type === 'AppAccount')?.status === 'True');
    expect(e.status?.conditions?.find((k) => k.type === 'AppAccount')?.message).toMatch(/^the application account upm_app may read, write/);
    type Secret = KubeObject & { data?: Record<string, string> };
    const app = accountOf((await c.get<Secret>(Resources.secrets, 'logs-credentials', ns)).data, 'app');
    expect(app.user).toBe('upm_app');
    const as = async (account: SearchAccount | undefined, method: string, path: string, body?: unknown) => searchHttp(`${await ipOf('logs-nodes-0')}:9200`, method, path, body, 30_000, account);
    await as(app, 'PUT', '/app-data', { settings: { number_of_shards: 1, number_of_replicas: 1 } });
    expect(await as(app, 'POST', '/app-data/_doc?refresh=true', { n: 1 })).toMatchObject({ result: 'created' });
    expect(await as(app, 'GET', '/app-data/_count')).toMatchObject({ count: 1 });
    expect(await statusOf(as(app, 'PUT', '/_cluster/settings', { persistent: { 'search.max_buckets': 100 } }))).toBe(403);
    expect(await statusOf(as(app, 'GET', '/_plugins/_security/api/internalusers'))).toBe(403);
    expect(await statusOf(as(undefined, 'GET', '/app-data/_count'))).toBe(401);

    // Quotes, a backslash, a newline, non-ASCII and a dollar sign: the Secret's new password is the account's.
    const hostile = 'q"\'\\ \n€ü$x${HOME}';
    await c.patch(Resources.secrets, 'logs-credentials', { data: { 'app-password': Buffer.from(hostile).toString('base64') } }, 'merge', { namespace: ns });
    const changed = { user: app.user, password: hostile };
    await waitFor('the new password logs in', () => statusOf(as(changed, 'GET', '/app-data/_count')).then((s) => s === 200), { timeoutMs: 60_000, intervalMs: 500 });
    expect(await statusOf(as(app, 'GET', '/app-data/_count'))).toBe(401);
    expect(await as(changed, 'POST', '/app-data/_doc?refresh=true', { n: 2 })).toMatchObject({ result: 'created' });
    expect(await statusOf(as(changed, 'PUT', '/_cluster/settings', { persistent: { 'search.max_buckets': 100 } }))).toBe(403);
    expect((await events()).filter((x) => x.reason === 'AppAccount').map((x) => x.message).join('\n')).toMatch(/set the application account upm_app's password/);
    // No event or status carries a password.
    expect(JSON.stringify([await esc(), await events()])).not.toContain('€ü$x');
    await http('logs-nodes-0', 'DELETE', '/app-data');
  }, 420_000);

  it('scales out 3 -> 4: the new node joins and takes shards, no other node restarts', async () => {
    const before = await pids('logs-nodes');
    await setUnits(4);
    const e = await waitReady('four nodes', (x) => x.status?.nodes === '4/4', 300_000);
    expect(e.status?.topology?.['logs-nodes-3']).toMatchObject({ joined: true, nodeSet: 'nodes' });
    await waitFor('shards on the new node', async () => (await esc()).status?.topology?.['logs-nodes-3']?.shards ?? 0, { timeoutMs: 120_000, intervalMs: 500 });
    await waitReady('green at four', () => true);
    expect(await count('docs')).toBe(DOCS);
    // Seeds name the first three units of the set, so growing it changes no node's config: nothing restarted.
    const after = await pids('logs-nodes');
    for (const n of nodes3) expect(after[n]).toBe(before[n]);
  }, 420_000);

  it('scales in 4 -> 3: the leaving node is drained and vote-excluded before it goes, even across an operator crash', async () => {
    const before = await pids('logs-nodes');
    const watch = sampler([...nodes3, 'logs-nodes-3']);
    // The operator dies right after it excluded the node from allocation; the next one carries on from the cluster's state.
    await f.restartCompose({ UPM_CRASH_AT: 'elasticsearch-after-exclude' });
    const crashed = f.compose;
    await setUnits(3);
    await waitFor('the operator to crash after the exclusion', () => crashed?.signalCode === 'SIGKILL', { timeoutMs: 120_000, intervalMs: 200 });
    await f.restartCompose();
    const e = await waitReady('three nodes again', (x) => x.status?.nodes === '3/3' && !x.status.scaleIn, 420_000);
    const { samples, failed } = await watch.stop();
    // Every poll answered (two or more nodes were always up; the operator's crash does not touch them).
    expect(failed).toEqual([]);
    expect(samples.some((s) => s.exclude?.split(',').includes('logs-nodes-3'))).toBe(true);
    // From the moment the UnitSet shrank, the leaving node held no shard.
    const shrunk = samples.filter((s) => s.units === 3 && s.nodes.includes('logs-nodes-3'));
    for (const s of shrunk) expect(s.shards['logs-nodes-3'] ?? 0).toBe(0);
    expect(samples.filter((s) => s.units === 4).some((s) => (s.shards['logs-nodes-3'] ?? 0) > 0)).toBe(true);
    expect(e.status?.lastScaleIn?.nodes).toEqual(['logs-nodes-3']);
    // Neither scaling restarted anything, nor did status say so.
    expect(e.status?.lastRestart).toBeUndefined();
    expect(e.status?.topology?.['logs-nodes-3']).toBeUndefined();
    const reasons = (await events()).map((x) => `${x.reason}: ${x.message}`);
    const at = (re: RegExp) => reasons.findIndex((r) => re.test(r));
    expect(at(/^AllocationExclusion: excluded logs-nodes-3/)).toBeGreaterThanOrEqual(0);
    expect(at(/^VotingExclusion: took logs-nodes-3 out/)).toBeGreaterThan(at(/^AllocationExclusion: excluded logs-nodes-3/));
    expect(at(/^Resizing: scaled logs-nodes in from 4 to 3/)).toBeGreaterThan(at(/^VotingExclusion: took logs-nodes-3 out/));
    expect(at(/^VotingExclusionsCleared/)).toBeGreaterThan(at(/^Resizing: scaled logs-nodes in/));
    // What it set is lifted again, and the cluster kept every document.
    const settings = await anyHttp<{ persistent: Record<string, string> }>(nodes3, 'GET', '/_cluster/settings?flat_settings=true');
    expect(settings.persistent['cluster.routing.allocation.exclude._name']).toBeUndefined();
    const coord = await anyHttp<{ metadata: { cluster_coordination: { voting_config_exclusions: unknown[] } } }>(nodes3, 'GET', '/_cluster/state/metadata?filter_path=metadata.cluster_coordination');
    expect(coord.metadata.cluster_coordination.voting_config_exclusions).toEqual([]);
    expect((await c.list<KubeObject>(Resources.persistentVolumeClaims, { namespace: ns })).items.map((p) => p.metadata.name)).not.toContain('logs-nodes-3-data');
    expect(await count('docs')).toBe(DOCS);
    const after = await pids('logs-nodes');
    for (const n of nodes3) expect(after[n]).toBe(before[n]);
  }, 600_000);

  it('restarts every node, one at a time with replica allocation paused, the next only at green, the manager last', async () => {
    const before = await unitsOf('logs-nodes');
    const manager = (await esc()).status?.clusterManager;
    const watch = sampler(nodes3);
    await patch({ spec: { restartedAt: new Date().toISOString() } });
    const e = await waitReady('rolling restart done', (x) => !!x.status?.lastRestart && !x.status.restart && (x.status.lastRestart.nodes ?? []).length === 3, 900_000);
    const { samples, failed } = await watch.stop();
    const after = await unitsOf('logs-nodes');
    for (const [i, u] of after.entries()) expect(u.status?.engine?.pid).not.toBe(before[i]?.status?.engine?.pid);
    // Never two nodes out at once; replica allocation paused whenever one was out; between two restarts, green. With
    // two of three nodes always up every poll is answered: one that was not counts as a violation.
    expect(failed).toEqual([]);
    expect(Math.min(...samples.map((s) => s.nodes.length))).toBe(2);
    for (const s of samples.filter((x) => x.nodes.length < 3)) expect(s.enable).toBe('primaries');
    const dips: string[] = [];
    let greenSince = true;
    for (const s of samples) {
      if (s.nodes.length < 3) {
        const out = nodes3.find((n) => !s.nodes.includes(n)) ?? '';
        if (dips.at(-1) !== out || greenSince) { expect(greenSince).toBe(true); dips.push(out); greenSince = false; }
      } else if (s.health?.status === 'green') greenSince = true;
    }
    expect([...dips].sort()).toEqual(nodes3);
    expect(dips.at(-1)).toBe(manager);
    expect(e.status?.lastRestart?.nodes?.at(-1)).toBe(manager);
    expect(e.status?.lastRestart?.seconds).toBeGreaterThan(0);
    const settings = await anyHttp<{ persistent: Record<string, string> }>(nodes3, 'GET', '/_cluster/settings?flat_settings=true');
    expect(settings.persistent['cluster.routing.allocation.enable']).toBeUndefined();
    expect((await c.get<UnitSet>(UnitSetResource, 'logs-nodes', ns)).metadata.annotations?.['unit.upm.io/update-next']).toBeUndefined();
    expect(await count('docs')).toBe(DOCS);
    expect((await events()).filter((x) => x.reason === 'RestartedNode').length).toBeGreaterThanOrEqual(3);
  }, 960_000);

  it('recovers from a kill -9 of the elected cluster manager under a write load, and says what happened', async () => {
    await http('logs-nodes-0', 'PUT', '/load', { settings: { number_of_shards: 2, number_of_replicas: 1 } });
    await waitReady('green with the load index');
    const victim = (await esc()).status?.clusterManager ?? '';
    expect(nodes3).toContain(victim);
    const restartsBefore = (await c.get<Unit>(UnitResource, victim, ns)).status?.engine?.restarts ?? 0;
    // A writer through every node in turn: each acknowledged document must be found afterwards.
    const acked: number[] = [];
    let failures = 0;
    let running = true;
    const writer = (async () => {
      for (let i = 0; running; i++) {
        try {
          await http(nodes3[i % 3]!, 'PUT', `/load/_doc/${i}`, { i }, 10_000);
          acked.push(i);
        } catch { failures++; await new Promise((r) => setTimeout(r, 100)); }
      }
    })();
    await waitFor('writes flowing', () => acked.length >= 50, { timeoutMs: 60_000 });
    const pid = (await c.get<Unit>(UnitResource, victim, ns)).status?.engine?.pid ?? 0;
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    await waitFor('the node loss in status', async () => (await esc()).status?.lastNodeLoss?.node === victim, { timeoutMs: 60_000, intervalMs: 200 });
    const e = await waitReady('recovered', (x) => !!x.status?.lastNodeLoss?.greenAt && x.status.nodes === '3/3', 420_000);
    await waitFor('more writes after the recovery', () => acked.length >= 400, { timeoutMs: 120_000 });
    running = false;
    await writer;
    expect(e.status?.lastNodeLoss).toMatchObject({ node: victim, wasClusterManager: true });
    expect(e.status?.lastNodeLoss?.rejoinedAt).toBeTruthy();
    expect(e.status?.lastManagerChange?.from).toBe(victim);
    expect(e.status?.topology?.[victim]?.restarts).toBeGreaterThan(restartsBefore);
    const reasons = (await events()).map((x) => x.reason);
    expect(reasons).toEqual(expect.arrayContaining(['NodeLeft', 'NodeRejoined', 'ClusterRecovered', 'ClusterManagerChanged']));
    await http('logs-nodes-0', 'POST', '/load/_refresh');
    const found = await http<{ count: number }>('logs-nodes-1', 'GET', '/load/_count');
    const missing: number[] = [];
    for (let i = 0; i < acked.length; i += 1000) {
      const r = await http<{ docs: { _id: string; found: boolean }[] }>('logs-nodes-2', 'POST', '/load/_mget?_source=false', { ids: acked.slice(i, i + 1000).map(String) });
      for (const d of r.docs) if (!d.found) missing.push(Number(d._id));
    }
    expect(missing).toEqual([]);
    expect(found.count).toBeGreaterThanOrEqual(acked.length);
    process.stdout.write(`kill -9 of ${victim}: ${acked.length} writes acknowledged, ${failures} failed and retried, all acknowledged found\n`);
    expect(await count('docs')).toBe(DOCS);
  }, 600_000);

  it('refuses bad specs at the API, and what needs the cluster as a condition naming the field, changing nothing', async () => {
    const apply = (name: string, nodeSets: string, extra = '') => kubectl(CLUSTER, ['apply', '-f', '-'], `
apiVersion: compose.upm.io/v1alpha1
kind: ElasticsearchCluster
metadata: { name: ${name}, namespace: ${ns} }
spec:
  engine: opensearch
  version: "2.19"
  nodeSets: ${nodeSets}
${extra}`);
    for (const [nodeSets, message] of [
      ['[{ name: data, units: 2, roles: [data] }]', 'spec.nodeSets: at least one node set must be cluster-manager-eligible'],
      ['[{ name: nodes, units: 0 }]', 'the last cluster-manager-eligible node cannot be removed'],
      ['[{ name: nodes, units: 3, parameters: { node.roles: data } }]', 'node.roles, cluster.name and upm.* are set by the operator'],
      ['[{ name: Nodes, units: 3 }]', 'spec.nodeSets[0].name'],
      ['[{ name: nodes, units: 3, roles: [boss] }]', 'spec.nodeSets[0].roles[0]'],
    ] as const) {
      const r = await apply('bad', nodeSets);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(message);
    }
    const long = await apply('a-name-that-is-far-too-long-for-units', '[{ name: nodes, units: 1 }]');
    expect(long.stderr).toContain('metadata.name: at most 30 characters');

    // Changes to the running cluster: the last manager-eligible node, roles, engine.
    const gen = (await esc()).metadata.generation;
    const last = await kubectl(CLUSTER, ['-n', ns, 'patch', 'esc', 'logs', '--type', 'json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/nodeSets/0/units', value: 0 }])]);
    expect(last.stderr).toContain('the last cluster-manager-eligible node cannot be removed');
    const roles = await kubectl(CLUSTER, ['-n', ns, 'patch', 'esc', 'logs', '--type', 'json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/nodeSets/0/roles', value: ['cluster_manager', 'data'] }])]);
    expect(roles.stderr).toContain('roles are immutable');
    const engine = await kubectl(CLUSTER, ['-n', ns, 'patch', 'esc', 'logs', '--type', 'merge', '-p', '{"spec":{"engine":"elasticsearch"}}']);
    expect(engine.stderr).toContain('spec.engine is immutable');
    expect((await esc()).metadata.generation).toBe(gen);

    // Fewer data nodes than an index's replicas need: refused as a condition, and nothing is excluded or removed.
    await http('logs-nodes-0', 'PUT', '/wide', { settings: { number_of_shards: 1, number_of_replicas: 2 } });
    await waitReady('green with the wide index');
    await setUnits(2);
    // Decided by the controller for this generation (observedGeneration, its condition, then its event): nothing moved.
    const blocked = await waitFor('blocked', async () => { const x = await esc(); return x.status?.phase === 'Blocked' && x.status.observedGeneration === x.metadata.generation ? x : undefined; }, { timeoutMs: 60_000, intervalMs: 300 });
    const cond = blocked.status?.conditions?.find((x) => x.type === 'Ready');
    expect(cond).toMatchObject({ status: 'False', reason: 'Blocked' });
    expect(cond?.message).toBe('spec.nodeSets[0].units: removing logs-nodes-2 would leave 2 data nodes, and an index with 2 replicas needs 3: lower its number_of_replicas first');
    await waitFor('the Blocked event', async () => (await events()).some((x) => x.type === 'Warning' && x.reason === 'Blocked'), { timeoutMs: 30_000, intervalMs: 300 });
    const us = await c.get<UnitSet>(UnitSetResource, 'logs-nodes', ns);
    expect(us.spec.units).toBe(3);
    // Not even a node's config: no unit waits for a restart.
    expect([...(us.status?.outdated ?? []), ...(us.status?.updating ?? [])]).toEqual([]);
    const settings = await anyHttp<{ persistent: Record<string, string> }>(nodes3, 'GET', '/_cluster/settings?flat_settings=true');
    expect(settings.persistent['cluster.routing.allocation.exclude._name']).toBeUndefined();
    await setUnits(3);
    await waitReady('ready again at three');
    await http('logs-nodes-0', 'DELETE', '/wide');

    // A Secret that does not exist: a condition naming spec.secretName, and no node set is made.
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], `
apiVersion: compose.upm.io/v1alpha1
kind: ElasticsearchCluster
metadata: { name: nosecret, namespace: ${ns} }
spec: { engine: opensearch, version: "2.19", secretName: nope, nodeSets: [{ name: nodes, units: 1 }] }
`);
    const failed = await waitFor('secret condition', async () => { const x = await esc('nosecret'); return x.status?.phase === 'Failed' ? x : undefined; }, { timeoutMs: 60_000 });
    expect(failed.status?.conditions?.find((x) => x.type === 'Ready')).toMatchObject({ reason: 'SecretNotFound', message: `spec.secretName: Secret "nope" not found in ${ns}` });
    expect((await c.list<UnitSet>(UnitSetResource, { namespace: ns })).items.map((u) => u.metadata.name)).not.toContain('nosecret-nodes');
    await kubectlOk(CLUSTER, ['-n', ns, 'delete', 'esc', 'nosecret']);
  }, 600_000);

  it('gives every node set of an Elasticsearch 8 cluster the same accounts, and says its units cannot run here', async () => {
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], `
apiVersion: compose.upm.io/v1alpha1
kind: ElasticsearchCluster
metadata: { name: es8, namespace: ${ns} }
spec:
  engine: elasticsearch
  version: "8.17"
  nodeSets:
    - { name: masters, units: 1, roles: [master] }
    - { name: data, units: 1, roles: [data_hot, ingest] }
`);
    type Secret = KubeObject & { data?: Record<string, string> };
    const secret = (n: string) => waitFor(`Secret ${n}`, () => c.get<Secret>(Resources.secrets, n, ns).catch(() => undefined), { timeoutMs: 60_000 });
    const shared = await secret('es8-credentials');
    expect(Buffer.from(shared.data?.['admin-username'] ?? '', 'base64').toString()).toBe('elastic');
    expect(shared.data?.['admin-password']).toBeTruthy();
    for (const set of ['es8-masters', 'es8-data']) expect((await secret(`${set}-credentials`)).data).toEqual(shared.data);
    const masters = await c.get<UnitSet>(UnitSetResource, 'es8-masters', ns);
    expect(masters.spec.parameters).toMatchObject({ 'node.roles': 'master', 'upm.initial.managers': 'es8-masters-0', 'cluster.name': 'es8' });
    expect((await c.get<UnitSet>(UnitSetResource, 'es8-data', ns)).spec.parameters).toMatchObject({ 'node.roles': 'data_hot, ingest', 'upm.initial.managers': '' });
    await waitFor('units NotRunnable', async () => (await unitsOf('es8-masters')).every((u) => u.status?.phase === 'NotRunnable'), { timeoutMs: 120_000, intervalMs: 500 });
    const e = await waitFor('forming', async () => { const x = await esc('es8'); return x.status?.phase === 'Forming' ? x : undefined; }, { timeoutMs: 60_000 });
    expect(e.status?.conditions?.find((x) => x.type === 'Ready')?.message).toMatch(/^waiting for the nodes to form the cluster/);
    await kubectlOk(CLUSTER, ['-n', ns, 'delete', 'esc', 'es8']);
  }, 240_000);

  describe('two node sets with their own roles', () => {
    beforeAll(async () => {
      // Frees the machine: the three-node cluster goes with its UnitSets (owner references).
      await kubectlOk(CLUSTER, ['-n', ns, 'delete', 'esc', 'logs', '--wait=false']);
      await waitFor('logs gone', async () => (await c.list<Unit>(UnitResource, { namespace: ns })).items.length === 0, { timeoutMs: 180_000, intervalMs: 500 });
    }, 240_000);
    afterAll(async () => { await kubectl(CLUSTER, ['-n', ns, 'delete', 'esc', 'tiers', '--wait=false']); });

    it('forms one cluster of a dedicated cluster manager and data nodes, sharing its name, seeds and transport CA', async () => {
      // A Secret of the user's own, with the accounts only: the operator adds the cluster's transport TLS material
      // once, and both node sets get the same CA (nodes of different CAs could not form one cluster).
      const own = { 'admin-username': 'upm_admin', 'admin-password': 'tiers-"admin"\\ €', 'app-username': 'upm_app', 'app-password': 'tiers-app' };
      await c.create(Resources.secrets, {
        apiVersion: 'v1', kind: 'Secret', metadata: { name: 'tiers-own', namespace: ns },
        data: Object.fromEntries(Object.entries(own).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
      } as KubeObject);
      await kubectlOk(CLUSTER, ['apply', '-f', '-'], `
apiVersion: compose.upm.io/v1alpha1
kind: ElasticsearchCluster
metadata: { name: tiers, namespace: ${ns} }
spec:
  engine: opensearch
  version: "2.19"
  secretName: tiers-own
  nodeSets:
    - { name: managers, units: 1, roles: [cluster_manager], resources: { limits: { memory: 512Mi } } }
    - { name: data, units: 1, roles: [data, ingest], resources: { limits: { memory: 512Mi } } }
`);
      const e = await waitReady('tiers ready', (x) => x.status?.nodes === '2/2', 420_000, 'tiers');
      type Secret = KubeObject & { data?: Record<string, string> };
      const secrets = await Promise.all(['tiers-own', 'tiers-managers-credentials', 'tiers-data-credentials'].map((n) => c.get<Secret>(Resources.secrets, n, ns)));
      for (const k of ['transport-ca', 'transport-cert', 'transport-key']) {
        expect(secrets[0]?.data?.[k]).toBeTruthy();
        expect(secrets.map((x) => x.data?.[k])).toEqual(secrets.map(() => secrets[0]?.data?.[k]));
      }
      admins.set('tiers', { user: own['admin-username'], password: own['admin-password'] });
      expect(e.status?.bootstrap?.initialManagers).toEqual(['tiers-managers-0']);
      expect(e.status?.clusterManager).toBe('tiers-managers-0');
      expect(e.status?.topology?.['tiers-managers-0']?.roles).toEqual(['cluster_manager']);
      expect(e.status?.topology?.['tiers-data-0']?.roles).toEqual(['data', 'ingest']);
      expect(e.status?.dataNodes).toBe(1);
      const data = await c.get<UnitSet>(UnitSetResource, 'tiers-data', ns);
      expect(data.spec.parameters).toMatchObject({
        'cluster.name': 'tiers', 'node.roles': 'data, ingest',
        'upm.seed.hosts': [0, 1, 2].map((o) => `tiers-managers-${o}.tiers-managers-headless.${ns}.svc.cluster.local:9300`).join(','),
      });
      // Only the data node serves clients behind tiers-readwrite.
      const pod = async (n: string) => (await c.get<KubeObject>(Resources.pods, n, ns)).metadata.labels?.['compose.upm.io/role'];
      expect([await pod('tiers-managers-0'), await pod('tiers-data-0')]).toEqual(['none', 'source']);
    }, 480_000);

    it('grows the data set without touching the cluster manager', async () => {
      const manager = await pids('tiers-managers');
      await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'esc', 'tiers', '--type', 'json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/nodeSets/1/units', value: 2 }])]);
      const e = await waitReady('two data nodes', (x) => x.status?.nodes === '3/3', 420_000, 'tiers');
      expect(e.status?.dataNodes).toBe(2);
      expect(e.status?.topology?.['tiers-data-1']).toMatchObject({ joined: true, nodeSet: 'data', roles: ['data', 'ingest'] });
      expect(await pids('tiers-managers')).toEqual(manager);
      // Only cluster-manager-eligible nodes take part in the first election.
      expect((await c.get<UnitSet>(UnitSetResource, 'tiers-data', ns)).spec.parameters?.['upm.initial.managers']).toBe('');
      expect((await c.get<UnitSet>(UnitSetResource, 'tiers-managers', ns)).spec.parameters?.['upm.initial.managers']).toBe('tiers-managers-0');
    }, 480_000);
  });
});
