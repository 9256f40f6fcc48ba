// A Restart of an OpenSearch service run by the hub, end to end on real engines: a project editor asks with kubectl
// against the hub; the request's id becomes the member ElasticsearchCluster's restartedAt, which restarts node by node
// with the cluster green between them and the elected cluster manager last. Each node restarts once (one
// RestartingNode Event each, its engine start time moved), in an order whose last is the manager elected before,
// and the documents indexed before are all there after.
import { expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { ElasticsearchClusterResource, type ElasticsearchCluster } from '../../lib/api/compose.upm.io.generated.ts';
import { UnitResource, type Unit } from '../../lib/api/unit.upm.io.generated.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { describeHub } from '../hub.ts';
import { MEMBER, useHubProject } from '../hub-member.ts';
import { operationsOf, type Op } from '../operations.ts';
import { accountOf, searchHttp, type SearchAccount } from '../search-http.ts';

type Ev = KubeObject & { reason?: string; message?: string; count?: number };
const DOCUMENTS = 50;

describeHub('Restart of an OpenSearch service run by the hub', () => {
  const p = useHubProject('hubosr');
  /** A REST call as the cluster's admin account on member1 (the security plugin refuses anonymous calls). */
  let admin: SearchAccount | undefined;
  const adminHttp = async <T>(address: string, method: string, path: string, body?: unknown): Promise<T> => {
    admin ??= accountOf((await p.member.get<KubeObject & { data?: Record<string, string> }>(Resources.secrets, 'search-credentials', p.project)).data, 'admin');
    return searchHttp<T>(address, method, path, body, 60_000, admin);
  };
  const { operation, steps, waitSucceeded } = operationsOf(p, { kind: 'ElasticsearchService', name: 'search' });
  let elected = '';
  let address = '';

  it('has an OpenSearch service of 3 nodes Ready on member1, with documents indexed', async () => {
    await p.as(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'upm.io/v1alpha1', kind: 'ElasticsearchService', metadata: { name: 'search', namespace: p.project },
      spec: { distribution: 'opensearch', version: '2.19', topology: { dataNodes: 3 }, placement: { cluster: MEMBER }, resources: { cpu: '500m', memory: '512Mi' }, storage: { size: '1Gi' } },
    }));
    const st = await p.hubReaches('elasticsearchservice', 'search', 'the service Ready and green', (s) => s.phase === 'Ready' && s.ready === '3/3' && s.health === 'green', 600_000);
    elected = st.units?.find((u) => u.role?.split(',').includes('elected'))?.name ?? '';
    expect(elected).toMatch(/^search-nodes-\d$/);
    const rw = st.endpoints?.find((e) => e.role === 'readwrite');
    address = `${rw?.addresses[0] ?? ''}:${rw?.port ?? 9200}`;
    await adminHttp(address, 'PUT', '/kept', { settings: { number_of_shards: 1, number_of_replicas: 1 } });
    const bulk = Array.from({ length: DOCUMENTS }, (_, i) => `{"index":{"_id":"${i}"}}\n{"n":${i}}\n`).join('');
    expect((await adminHttp<{ errors: boolean }>(address, 'POST', '/kept/_bulk?refresh=true', bulk)).errors).toBe(false);
  }, 660_000);

  it('restarts every node once, the elected cluster manager last, as the dry run said', async () => {
    const plan = parse(await p.as(['create', '--dry-run=server', '-o', 'yaml', '-f', '-'], JSON.stringify(operation('restart', { type: 'Restart' })))) as Op;
    const others = ['search-nodes-0', 'search-nodes-1', 'search-nodes-2'].filter((n) => n !== elected);
    expect(plan.status?.steps?.[1]?.description).toBe(`ask the member to restart every server once in the engine's order (${[...others, elected].join(', ')}: the elected cluster manager last)`);
    const units = async () => (await p.member.list<Unit>(UnitResource, { namespace: p.project, labelSelector: 'upm.io/service=search' })).items;
    const before = new Map((await units()).map((u) => [u.metadata.name ?? '', Date.parse(u.status?.engine?.startedAt ?? '')]));
    expect(before.size).toBe(3);

    await p.as(['create', '-f', '-'], JSON.stringify(operation('restart', { type: 'Restart' })));
    const o = await waitSucceeded('restart', 900);
    expect(steps(o)).toEqual(['check:Succeeded', 'request-restart:Succeeded', 'wait-restarted:Succeeded']);
    const id = o.metadata.uid ?? '';
    const svc = await p.hubObject('elasticsearchservice', 'search');
    expect(svc.spec.restart).toEqual({ id });
    expect(svc.status?.restart).toMatchObject({ id, phase: 'Complete' });
    expect(svc.status?.phase).toBe('Ready');

    const esc = await p.member.get<ElasticsearchCluster>(ElasticsearchClusterResource, 'search', p.project);
    expect(esc.spec.restartedAt).toBe(id);
    const order = esc.status?.lastRestart?.nodes ?? [];
    expect([...order].sort()).toEqual(['search-nodes-0', 'search-nodes-1', 'search-nodes-2']);
    expect(order[order.length - 1]).toBe(elected);
    const events = (await p.member.list<Ev>(Resources.events, { namespace: p.project, fieldSelector: 'involvedObject.kind=ElasticsearchCluster,involvedObject.name=search,reason=RestartingNode' })).items;
    for (const n of order) expect(`${n}: ${events.filter((e) => e.message?.includes(n)).reduce((c, e) => c + (e.count ?? 1), 0)}`).toBe(`${n}: 1`);
    const after = await units();
    for (const u of after) expect(Date.parse(u.status?.engine?.startedAt ?? '')).toBeGreaterThan(before.get(u.metadata.name ?? '') ?? Infinity);
    const started = (n: string) => Date.parse(after.find((u) => u.metadata.name === n)?.status?.engine?.startedAt ?? '');
    for (const n of others) expect(started(n)).toBeLessThan(started(elected));
    // Through the endpoint as it is now (a node's address may have changed with its restart).
    const rw = svc.status?.endpoints?.find((e) => e.role === 'readwrite');
    const count = await adminHttp<{ count: number }>(`${rw?.addresses[0] ?? address}:${rw?.port ?? 9200}`, 'GET', '/kept/_count');
    expect(count.count).toBe(DOCUMENTS);
  }, 960_000);
});
