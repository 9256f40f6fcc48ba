import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import type { ElasticsearchCluster } from '../../../lib/api/compose.upm.io.generated.ts';
import type { UnitSet } from '../../../lib/api/unit.upm.io.generated.ts';
import { dialectOf, engineRoles } from './dialect.ts';
import { SearchRest, shardsByNode } from './rest.ts';
import { stoppedStatus } from './controller.ts';
import { ANNOTATION_RESTARTED_AT, desiredUnitSet, initialManagers, seedHosts, unitSetPatch } from './unitsets.ts';

function cluster(over: Partial<ElasticsearchCluster['spec']> = {}): ElasticsearchCluster {
  return {
    apiVersion: 'compose.upm.io/v1alpha1', kind: 'ElasticsearchCluster',
    metadata: { name: 'logs', namespace: 'ns', uid: 'uid-1' },
    spec: {
      engine: 'opensearch', version: '2.19',
      nodeSets: [
        { name: 'managers', units: 3, roles: ['cluster_manager'] },
        { name: 'data', units: 4, roles: ['data', 'ingest'], parameters: { 'search.max_buckets': '1000' } },
      ],
      parameters: { 'search.max_buckets': '5000', 'thread_pool.write.queue_size': '500' },
      ...over,
    },
  };
}

describe('discovery shared by the node sets', () => {
  it('seeds with the first three ordinals of each cluster-manager-eligible set, whatever its size (scaling changes no config)', () => {
    expect(seedHosts(cluster())).toEqual([0, 1, 2].map((o) => `logs-managers-${o}.logs-managers-headless.ns.svc.cluster.local:9300`));
    const five = cluster({ nodeSets: [{ name: 'managers', units: 5, roles: ['cluster_manager'] }, { name: 'data', units: 1, roles: ['data'] }] });
    expect(seedHosts(five)).toEqual(seedHosts(cluster()));
    const one = cluster({ nodeSets: [{ name: 'all', units: 1, roles: ['cluster_manager', 'data'] }] });
    expect(seedHosts(one)).toEqual([0, 1, 2].map((o) => `logs-all-${o}.logs-all-headless.ns.svc.cluster.local:9300`));
    const two = cluster({ nodeSets: [{ name: 'a', units: 0, roles: ['master'] }, { name: 'b', units: 2, roles: ['cluster_manager'] }, { name: 'c', units: 9, roles: ['data'] }] });
    expect(seedHosts(two).map((h) => h.split('.')[0])).toEqual(['logs-a-0', 'logs-a-1', 'logs-a-2', 'logs-b-0', 'logs-b-1', 'logs-b-2']);
  });

  it('bootstraps with every cluster-manager-eligible unit the spec asks for', () => {
    expect(initialManagers(cluster())).toEqual(['logs-managers-0', 'logs-managers-1', 'logs-managers-2']);
  });
});

describe('desiredUnitSet', () => {
  const es = cluster();
  const data = es.spec.nodeSets[1]!;

  it('gives the set the cluster name, its roles in the engine\'s words, the seeds, and Managed updates', () => {
    const us = desiredUnitSet(es, data, { units: 4, initialManagers: initialManagers(es) });
    expect(us.metadata).toMatchObject({ name: 'logs-data', labels: { 'compose.upm.io/elasticsearchcluster': 'logs', 'compose.upm.io/node-set': 'data' } });
    expect(us.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'ElasticsearchCluster', name: 'logs', uid: 'uid-1', controller: true });
    expect(us.spec).toMatchObject({
      engine: 'opensearch', version: '2.19', units: 4, updateStrategy: { type: 'Managed' },
      storage: [{ name: 'data', size: '1Gi', mountPath: '/usr/share/opensearch/data' }],
      pvcRetentionPolicy: { whenScaled: 'Delete' },
    });
    expect(us.spec.parameters).toEqual({
      'search.max_buckets': '1000', 'thread_pool.write.queue_size': '500',
      'cluster.name': 'logs', 'node.roles': 'data, ingest', 'upm.seed.hosts': seedHosts(es).join(','),
      // Only cluster-manager-eligible nodes take part in the first election.
      'upm.initial.managers': '',
    });
    const managers = desiredUnitSet(es, es.spec.nodeSets[0]!, { units: 3, initialManagers: initialManagers(es) });
    expect(managers.spec.parameters).toMatchObject({ 'node.roles': 'cluster_manager', 'upm.initial.managers': 'logs-managers-0,logs-managers-1,logs-managers-2' });
  });

  it('names the manager role "master" for Elasticsearch, and gives a set created after formation no initial managers', () => {
    const es8 = cluster({ engine: 'elasticsearch', version: '8.17' });
    const us = desiredUnitSet(es8, es8.spec.nodeSets[0]!, { units: 3, initialManagers: [] });
    expect(us.spec.parameters?.['node.roles']).toBe('master');
    expect(us.spec.parameters?.['upm.initial.managers']).toBe('');
    expect(us.spec.storage?.[0]?.mountPath).toBe('/usr/share/elasticsearch/data');
    expect(engineRoles(dialectOf('opensearch'), ['master', 'cluster_manager', 'data'])).toEqual(['cluster_manager', 'data']);
  });

  it("gives a new UnitSet the cluster's upm.io labels, and never changes an existing one's (that would restart every node)", () => {
    const labelled = cluster();
    labelled.metadata.labels = { 'upm.io/service': 'logs', 'app.kubernetes.io/managed-by': 'upm-hub' };
    const made = desiredUnitSet(labelled, labelled.spec.nodeSets[0]!, { units: 3, initialManagers: initialManagers(labelled) });
    expect(made.metadata.labels).toEqual({ 'upm.io/service': 'logs', 'compose.upm.io/elasticsearchcluster': 'logs', 'compose.upm.io/node-set': 'managers' });
    const older = desiredUnitSet(cluster(), labelled.spec.nodeSets[0]!, { units: 3, initialManagers: [] });
    const kept = desiredUnitSet(labelled, labelled.spec.nodeSets[0]!, { existing: older, units: 3, initialManagers: [] });
    expect(unitSetPatch(older, kept)).toBeUndefined();
  });

  it('carries where the nodes may run to every node set\'s UnitSet, and takes it off when the cluster drops it', () => {
    const placed = cluster({ nodeSelector: { pool: 'search' }, nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['a', 'b'] }] }] } }, topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule' }] });
    const us = desiredUnitSet(placed, placed.spec.nodeSets[1]!, { units: 4, initialManagers: initialManagers(placed) });
    expect(us.spec).toMatchObject({ nodeSelector: { pool: 'search' }, nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['a', 'b'] }] }] } }, topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule' }] });
    expect(unitSetPatch(us, desiredUnitSet(placed, placed.spec.nodeSets[1]!, { existing: us, units: 4, initialManagers: [] }))).toBeUndefined();
    const plain = cluster();
    expect(unitSetPatch(us, desiredUnitSet(plain, plain.spec.nodeSets[1]!, { existing: us, units: 4, initialManagers: [] }))).toEqual({ spec: { nodeSelector: null, nodeAffinity: null, topologySpreadConstraints: null } });
  });

  it('keeps the size and initial managers of an existing UnitSet, and patches only what changed', () => {
    const first = desiredUnitSet(es, { ...data, roles: ['cluster_manager', 'data'] }, { units: 4, initialManagers: initialManagers(es) });
    const existing: UnitSet = { ...first, metadata: { ...first.metadata, annotations: { 'unit.upm.io/update-next': 'logs-data-1' } }, spec: { ...first.spec, units: 5 } };
    const same = desiredUnitSet(es, { ...data, roles: ['cluster_manager', 'data'] }, { existing, units: 4, initialManagers: [] });
    expect(same.spec.units).toBe(5);
    expect(same.spec.parameters?.['upm.initial.managers']).toBe('logs-managers-0,logs-managers-1,logs-managers-2');
    expect(unitSetPatch(existing, same)).toBeUndefined();

    const restarted = cluster({ restartedAt: '2026-11-29T10:00:00Z', version: '2.20', parameters: {} });
    const want = desiredUnitSet(restarted, { ...restarted.spec.nodeSets[1]!, roles: ['cluster_manager', 'data'] }, { existing, units: 4, initialManagers: [] });
    expect(want.metadata.annotations).toEqual({ 'unit.upm.io/update-next': 'logs-data-1', [ANNOTATION_RESTARTED_AT]: '2026-11-29T10:00:00Z' });
    expect(unitSetPatch(existing, want)).toEqual({
      // A parameter gone from the spec is removed (null in the merge patch).
      spec: { version: '2.20', parameters: { 'thread_pool.write.queue_size': null, ...want.spec.parameters } },
      metadata: { annotations: { [ANNOTATION_RESTARTED_AT]: '2026-11-29T10:00:00Z' } },
    });
    const dropped = desiredUnitSet(cluster({ parameters: {} }), { ...data, roles: ['cluster_manager', 'data'], parameters: {} }, { existing, units: 4, initialManagers: [] });
    expect((unitSetPatch(existing, dropped)?.spec as { parameters: Record<string, string | null> }).parameters).toMatchObject({ 'search.max_buckets': null, 'thread_pool.write.queue_size': null });
  });
});

describe('a full-cluster stop', () => {
  it('stops every node of a set through its UnitSet once asked, and starts them again', () => {
    const es = cluster();
    const set = es.spec.nodeSets[1]!;
    const running = desiredUnitSet(es, set, { units: 4, initialManagers: [] });
    expect(running.spec.stopped).toBe(false);
    const stopped = desiredUnitSet(es, set, { existing: running, units: 4, initialManagers: [], stopped: true });
    expect(unitSetPatch(running, stopped)).toEqual({ spec: { stopped: true } });
    expect(unitSetPatch(stopped, desiredUnitSet(es, set, { existing: stopped, units: 4, initialManagers: [] }))).toEqual({ spec: { stopped: false } });
  });

  it('leaves a stopped cluster without nodes in it or a manager, so that their return is no loss', () => {
    const held = stoppedStatus({
      health: 'green', clusterManager: 'logs-all-0', nodeCount: 2, dataNodes: 2, nodes: '2/2',
      nodeSets: [{ name: 'all', unitSet: 'logs-all', units: 2, wanted: 2, joined: 2 }],
      topology: { 'logs-all-0': { joined: true, clusterManager: true, shards: 3 }, 'logs-all-1': { joined: true, shards: 3 } },
    });
    expect(held).toMatchObject({ health: 'unknown', clusterManager: '', nodeCount: 0, dataNodes: 0, nodes: '0/2', nodeSets: [{ name: 'all', joined: 0 }] });
    expect(Object.values(held.topology ?? {}).map((t) => [t.joined, t.clusterManager, t.shards])).toEqual([[false, false, 0], [false, false, 0]]);
  });
});

describe('REST', () => {
  it('counts a relocating copy on its source and on its target', () => {
    expect(shardsByNode([
      { index: 'a', shard: '0', prirep: 'p', state: 'STARTED', node: 'n-0' },
      { index: 'a', shard: '0', prirep: 'r', state: 'RELOCATING', node: 'n-3 -> 127.0.0.2 Xy12ab n-1' },
      { index: 'a', shard: '1', prirep: 'r', state: 'UNASSIGNED', node: null },
    ])).toEqual({ 'n-0': 1, 'n-3': 1, 'n-1': 1 });
  });

  it('sends basic auth when the cluster has accounts, and reports the engine\'s own error', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(req.url?.startsWith('/_cluster/settings') ? 400 : 200, { 'content-type': 'application/json' });
      res.end(req.url?.startsWith('/_cluster/settings')
        ? JSON.stringify({ error: { type: 'illegal_argument_exception', reason: 'unknown setting [x]' }, status: 400 })
        : JSON.stringify({ discovered_master: true }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const rest = new SearchRest(dialectOf('elasticsearch'), { username: 'elastic', password: 'pw:1' });
    try {
      const res = await fetchVia(rest, port, 'GET', '/_cluster/health?local=true');
      expect(res).toEqual({ discovered_master: true });
      expect(seen[0]?.authorization).toBe(`Basic ${Buffer.from('elastic:pw:1').toString('base64')}`);
      await expect(fetchVia(rest, port, 'PUT', '/_cluster/settings')).rejects.toThrow('PUT /_cluster/settings: 400 illegal_argument_exception: unknown setting [x]');
      const anonymous = new SearchRest(dialectOf('opensearch'));
      await fetchVia(anonymous, port, 'GET', '/');
      expect(seen.at(-1)?.authorization).toBeUndefined();
      await anonymous.close();
    } finally {
      await rest.close();
      server.close();
    }
  });
});

/** Calls through the client's own request path, on the test server's port. */
function fetchVia(rest: SearchRest, port: number, method: 'GET' | 'PUT', path: string): Promise<unknown> {
  return rest.call('127.0.0.1', method, path, method === 'PUT' ? {} : undefined, 5000, port);
}

describe('unitSetPatch', () => {
  it('sees no change in a UnitSet the API server wrote back with its keys sorted', () => {
    const es = cluster();
    const want = desiredUnitSet(es, es.spec.nodeSets[0]!, { units: 3, initialManagers: [] });
    const sorted = JSON.parse(JSON.stringify(want, (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v))) as UnitSet;
    expect(JSON.stringify(sorted.spec.storage)).not.toBe(JSON.stringify(want.spec.storage));
    expect(unitSetPatch(sorted, want)).toBeUndefined();
  });
});
