import { describe, expect, it } from '@jest/globals';
import { negotiate, wantsAggregatedDiscovery } from './negotiate.ts';
import { ApiError } from './status.ts';

describe('negotiate', () => {
  it('serves what kubectl get asks for: a v1 Table first', () => {
    const kubectl = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';
    expect(negotiate(kubectl)).toEqual({ kind: 'table', version: 'v1' });
  });

  it('skips protobuf clauses and falls back to JSON, as the metadata client expects', () => {
    const gc = 'application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
    expect(negotiate(gc)).toEqual({ kind: 'pom', version: 'v1' });
    expect(negotiate('application/vnd.kubernetes.protobuf, application/json')).toEqual({ kind: 'json' });
    expect(negotiate(undefined)).toEqual({ kind: 'json' });
    expect(negotiate('*/*')).toEqual({ kind: 'json' });
    expect(negotiate('application/yaml')).toEqual({ kind: 'yaml' });
  });

  it('answers 406 when nothing can be served', () => {
    expect(() => negotiate('application/vnd.kubernetes.protobuf')).toThrow(ApiError);
    try { negotiate('text/html'); } catch (e) { expect((e as ApiError).code).toBe(406); }
  });

  it('recognises the aggregated discovery Accept header, with or without a profile', () => {
    expect(wantsAggregatedDiscovery('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json')).toBe(true);
    expect(wantsAggregatedDiscovery('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;profile=nopeer,application/json')).toBe(true);
    expect(wantsAggregatedDiscovery('application/json')).toBe(false);
    expect(wantsAggregatedDiscovery('application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList')).toBe(false);
  });
});
