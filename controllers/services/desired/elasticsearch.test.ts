import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../../lib/kube/types.ts';
import { CLUSTER, find, names, objectsOf, service } from './fixtures.testing.ts';
import { desiredElasticsearch } from './elasticsearch.ts';

const svc = (spec: Record<string, unknown> = {}, name = 'logs') => service('ElasticsearchService', name, { distribution: 'opensearch', version: '2.19', topology: { dataNodes: 3 }, resources: { cpu: '1', memory: '512Mi' }, ...spec });
const esc = (spec: Record<string, unknown> = {}, live: KubeObject[] = []) => find(objectsOf(desiredElasticsearch(svc(spec), CLUSTER, live)), 'ElasticsearchCluster', 'logs').spec;
const sets = (s: Record<string, unknown>) => (s.nodeSets as { name: string; units: number; roles?: string[] }[]).map((x) => `${x.name}:${x.units}:${(x.roles ?? ['default']).join('+')}`);

describe('desired member objects of an ElasticsearchService', () => {
  it('are the ElasticsearchCluster of the compose tests: one node set of every role', () => {
    expect(names(objectsOf(desiredElasticsearch(svc(), CLUSTER, [])))).toEqual(['Namespace/shop', 'ElasticsearchCluster/logs']);
    expect(esc()).toEqual({
      engine: 'opensearch', version: '2.19', nodeSets: [{ name: 'nodes', units: 3, resources: { limits: { cpu: '1', memory: '512Mi' } }, storage: { size: '10Gi', storageClassName: 'kwok-volume' } }],
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' }],
    });
    expect(esc({ placement: { cluster: 'member1', zones: ['zone-a', 'zone-b'] } }).nodeAffinity).toBeDefined();
  });

  it('follows edits: data nodes, dedicated managers named for the engine, parameters; an old node set goes to 0, never away', () => {
    expect(sets(esc({ topology: { dataNodes: 5 } }))).toEqual(['nodes:5:default']);
    expect(sets(esc({ topology: { dataNodes: 2, dedicatedMasters: 3 } }))).toEqual(['masters:3:cluster_manager', 'data:2:data+ingest']);
    expect(sets(esc({ distribution: 'elasticsearch', version: '8.17', topology: { dataNodes: 2, dedicatedMasters: 3 } }))).toEqual(['masters:3:master', 'data:2:data+ingest']);
    const was = [{ apiVersion: 'compose.upm.io/v1alpha1', kind: 'ElasticsearchCluster', metadata: { name: 'logs' }, spec: { nodeSets: [{ name: 'nodes', units: 3, roles: ['cluster_manager', 'data', 'ingest'] }] } } as KubeObject];
    expect(sets(esc({ topology: { dataNodes: 2, dedicatedMasters: 3 } }, was))).toEqual(['masters:3:cluster_manager', 'data:2:data+ingest', 'nodes:0:cluster_manager+data+ingest']);
    expect(esc({ options: { parameters: { 'indices.query.bool.max_clause_count': '2048' } } }).parameters).toEqual({ 'indices.query.bool.max_clause_count': '2048' });
  });

  it('refuses a name the cluster cannot have, naming the field', () => {
    const d = desiredElasticsearch(svc({}, 'a-name-that-is-far-too-long-for-units'), CLUSTER, []);
    expect('refused' in d && d.refused.field).toBe('metadata.name');
  });
});
