// Stop and Start of a real OpenSearch service (one node: OpenSearch is slow to start), run by the hub: a project
// editor asks with kubectl against the hub. Stop is a full-cluster stop: the ElasticsearchCluster pauses replica
// allocation and flushes, then the node stops in place; it holds still (Stopped, not Degraded, no node loss recorded)
// and the service shows Stopped. Start brings it back: Ready and green, allocation resumed, every document there.
import { expect, it } from '@jest/globals';
import { ElasticsearchClusterResource, type ElasticsearchCluster } from '../../lib/api/compose.upm.io.generated.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { describeHub } from '../hub.ts';
import { MEMBER, useHubProject } from '../hub-member.ts';
import { accountOf, searchHttp, type SearchAccount } from '../search-http.ts';
import { stopStartOf, warningsOf } from '../stop-start.ts';

const DOCUMENTS = 40;
type Settings = { persistent?: Record<string, unknown> };
const allocation = (s: Settings): unknown => (s.persistent?.cluster as { routing?: { allocation?: { enable?: string } } } | undefined)?.routing?.allocation?.enable;

describeHub('Stop and Start of an OpenSearch service run by the hub', () => {
  const p = useHubProject('hubosstop');
  /** A REST call as the cluster's admin account on member1 (the security plugin refuses anonymous calls). */
  let admin: SearchAccount | undefined;
  const adminHttp = async <T>(address: string, method: string, path: string, body?: unknown): Promise<T> => {
    admin ??= accountOf((await p.member.get<KubeObject & { data?: Record<string, string> }>(Resources.secrets, 'search-credentials', p.project)).data, 'admin');
    return searchHttp<T>(address, method, path, body, 60_000, admin);
  };
  const { stopHeld, start } = stopStartOf(p, { kind: 'ElasticsearchService', name: 'search' });
  let address = '';
  let warnings: string[] = [];

  it('has an OpenSearch service of 1 node Ready and green on member1, with documents indexed', async () => {
    await p.as(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'upm.io/v1alpha1', kind: 'ElasticsearchService', metadata: { name: 'search', namespace: p.project },
      spec: { distribution: 'opensearch', version: '2.19', topology: { dataNodes: 1 }, placement: { cluster: MEMBER }, resources: { cpu: '500m', memory: '512Mi' }, storage: { size: '1Gi' } },
    }));
    const st = await p.hubReaches('elasticsearchservice', 'search', 'the service Ready and green', (s) => s.phase === 'Ready' && s.ready === '1/1' && s.health === 'green', 600_000);
    const rw = st.endpoints?.find((e) => e.role === 'readwrite');
    address = rw?.addresses[0] ?? '';
    expect(address).not.toBe('');
    const at = `${address}:${rw?.port ?? 9200}`;
    await adminHttp(at, 'PUT', '/kept', { settings: { number_of_shards: 2, number_of_replicas: 0 } });
    const bulk = Array.from({ length: DOCUMENTS }, (_, i) => `{"index":{"_id":"${i}"}}\n{"n":${i}}\n`).join('');
    expect((await adminHttp<{ errors: boolean }>(at, 'POST', '/kept/_bulk?refresh=true', bulk)).errors).toBe(false);
    warnings = await warningsOf(p, 'ElasticsearchCluster', 'search');
  }, 660_000);

  it('pauses replica allocation, flushes, stops the node: the cluster holds still, the service shows Stopped', async () => {
    // Longer than a health pass of the cluster (stopHeld waits 12 s): it stays held, the node not taken for lost.
    const esc = await stopHeld({ seconds: 300, compose: ElasticsearchClusterResource, composeKind: 'ElasticsearchCluster', port: 9200, addresses: [address], warnings }) as ElasticsearchCluster;
    expect(esc.status?.stop).toMatchObject({ allocationPaused: true, flushed: true });
    expect(esc.status?.health).toBe('unknown');
  }, 360_000);

  it('starts it again: Ready and green, replica allocation resumed, every document there', async () => {
    await start(600);
    const svc = await p.hubObject('elasticsearchservice', 'search');
    expect(svc.status).toMatchObject({ phase: 'Ready', ready: '1/1', health: 'green' });
    const rw = svc.status?.endpoints?.find((e) => e.role === 'readwrite');
    const at = `${rw?.addresses[0] ?? address}:${rw?.port ?? 9200}`;
    expect(allocation(await adminHttp<Settings>(at, 'GET', '/_cluster/settings'))).toBeUndefined();
    expect((await adminHttp<{ count: number }>(at, 'GET', '/kept/_count')).count).toBe(DOCUMENTS);
    expect((await adminHttp<{ _source: { n: number } }>(at, 'GET', '/kept/_doc/7'))._source).toEqual({ n: 7 });
    const esc = await p.member.get<ElasticsearchCluster>(ElasticsearchClusterResource, 'search', p.project);
    expect(esc.status?.phase).toBe('Ready');
    expect(esc.status?.stop).toBeUndefined();
    expect(await warningsOf(p, 'ElasticsearchCluster', 'search')).toEqual(warnings);
  }, 660_000);
});
