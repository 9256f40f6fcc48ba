import { describe, expect, it } from '@jest/globals';
import { loadCrds } from './crds.ts';
import { aggregatedDiscovery, apiResourceList } from './discovery.ts';
import { openapiV2, openapiV3 } from './openapi.ts';
import { RESOURCES } from './resources/index.ts';

type Doc = { paths: Record<string, Record<string, Record<string, unknown>>>; components: { schemas: Record<string, Record<string, unknown>> } };

describe('OpenAPI from the CRD schemas', () => {
  const v3 = openapiV3(RESOURCES, loadCrds()) as unknown as Doc;

  it('tags every operation and kind with its GVK, as kubectl explain needs', () => {
    const item = v3.paths['/apis/upm.io/v1alpha1/namespaces/{namespace}/mysqlservices/{name}'] as Record<string, Record<string, unknown>>;
    expect(item.get?.['x-kubernetes-group-version-kind']).toEqual({ group: 'upm.io', version: 'v1alpha1', kind: 'MysqlService' });
    expect(v3.components.schemas['io.upm.v1alpha1.MysqlService']?.['x-kubernetes-group-version-kind']).toEqual([{ group: 'upm.io', version: 'v1alpha1', kind: 'MysqlService' }]);
    expect(v3.paths['/apis/upm.io/v1alpha1/mysqlservices']?.get?.['x-kubernetes-action']).toBe('list');
  });

  it('declares fieldValidation on PATCH and only the patch types served (no strategic merge)', () => {
    const patch = v3.paths['/apis/upm.io/v1alpha1/projects/{name}']?.patch as { parameters: { name: string }[]; requestBody: { content: Record<string, unknown> } };
    expect(patch.parameters.map((p) => p.name)).toContain('fieldValidation');
    expect(Object.keys(patch.requestBody.content).sort()).toEqual(['application/apply-patch+yaml', 'application/json-patch+json', 'application/merge-patch+json']);
  });

  it('describes clusters/proxy as a connect operation for every method', () => {
    const item = v3.paths['/apis/upm.io/v1alpha1/clusters/{name}/proxy/{path}'] as Record<string, Record<string, unknown>>;
    expect(Object.keys(item).sort()).toEqual(['delete', 'get', 'head', 'options', 'patch', 'post', 'put']);
    expect(item.get?.['x-kubernetes-action']).toBe('connect');
    expect(v3.paths['/apis/upm.io/v1alpha1/clusters/{name}/proxy']?.post?.['x-kubernetes-group-version-kind']).toEqual({ group: 'upm.io', version: 'v1alpha1', kind: 'ClusterProxyOptions' });
  });

  it('serves read-only resources read-only', () => {
    expect(Object.keys(v3.paths['/apis/upm.io/v1alpha1/namespaces/{namespace}/operationlogs/{name}'] ?? {})).toEqual(['get']);
    expect(Object.keys(v3.paths['/apis/upm.io/v1alpha1/namespaces/{namespace}/operationlogs'] ?? {})).toEqual(['get']);
  });

  it('has a Swagger 2.0 twin without anyOf', () => {
    const v2 = JSON.stringify(openapiV2(RESOURCES, loadCrds()));
    expect(v2).not.toContain('anyOf');
    expect(v2).not.toContain('#/components/');
    expect(v2).toContain('"x-kubernetes-int-or-string":true');
  });
});

describe('discovery', () => {
  it('lists resources and subresources with categories and short names', () => {
    const list = apiResourceList(RESOURCES) as { resources: { name: string; shortNames?: string[]; categories?: string[]; kind?: string; verbs?: string[] }[] };
    expect(list.resources.find((r) => r.name === 'mysqlservices')).toMatchObject({ shortNames: ['mysql'], categories: ['upm'] });
    expect(list.resources.map((r) => r.name)).toContain('clusters/status');
    // a connect subresource, listed as kube-apiserver lists pods/proxy
    expect(list.resources.find((r) => r.name === 'clusters/proxy')).toMatchObject({ kind: 'ClusterProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update'] });
    const agg = aggregatedDiscovery(RESOURCES) as { items: { versions: { resources: { resource: string; scope: string }[] }[] }[] };
    expect(agg.items[0]?.versions[0]?.resources.find((r) => r.resource === 'projects')?.scope).toBe('Cluster');
  });
});
