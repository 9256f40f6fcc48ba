import { describe, expect, it } from '@jest/globals';
import { negotiate, wantsAggregatedDiscovery, wantsYaml } from './negotiate.ts';
import { ApiError } from './status.ts';

describe('negotiate', () => {
  it('serves what kubectl get asks for: a v1 Table first', () => {
    const kubectl = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';
    expect(negotiate(kubectl)).toEqual({ kind: 'table', version: 'v1', yaml: false });
    expect(negotiate(kubectl, 'watch')).toEqual({ kind: 'table', version: 'v1', yaml: false });
    expect(negotiate('application/yaml;as=Table;g=meta.k8s.io;v=v1beta1', 'list')).toEqual({ kind: 'table', version: 'v1beta1', yaml: true });
  });

  it('skips protobuf clauses and falls back to JSON, as the metadata client expects', () => {
    const gc = 'application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
    expect(negotiate(gc, 'list')).toEqual({ kind: 'pom', version: 'v1', list: true, yaml: false });
    expect(negotiate(gc.replaceAll('MetadataList', 'Metadata'), 'watch')).toEqual({ kind: 'pom', version: 'v1', list: false, yaml: false });
    expect(negotiate('application/vnd.kubernetes.protobuf, application/json')).toEqual({ kind: 'json' });
    expect(negotiate(undefined)).toEqual({ kind: 'json' });
    expect(negotiate('*/*')).toEqual({ kind: 'json' });
    expect(negotiate('application/yaml')).toEqual({ kind: 'yaml' });
  });

  it('answers 406 when nothing can be served', () => {
    expect(() => negotiate('application/vnd.kubernetes.protobuf')).toThrow(ApiError);
    try { negotiate('text/html'); } catch (e) { expect((e as ApiError).code).toBe(406); }
  });

  it('skips conversions it does not serve, as Go does, and refuses a usable one that does not fit the answer', () => {
    const code = (accept: string, answer?: 'object' | 'list' | 'watch') => { try { negotiate(accept, answer); return 200; } catch (e) { return (e as ApiError).code; } };
    expect(negotiate('application/json;as=Table;g=meta.k8s.io;v=v2,application/json')).toEqual({ kind: 'json' });
    expect(code('application/json;g=meta.k8s.io;v=v1')).toBe(406); // a conversion to nothing
    expect(code('application/json;as=Unknown;g=meta.k8s.io;v=v1')).toBe(406);
    expect(code('application/json;as=Table;g=example.com;v=v1')).toBe(406);
    expect(code('application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1', 'list')).toBe(406);
    expect(code('application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1', 'object')).toBe(406);
    expect(code('application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1', 'watch')).toBe(406);
    expect(code('application/yaml', 'watch')).toBe(406); // YAML has no stream form
    expect(code('application/yaml', 'list')).toBe(200);
    expect(wantsYaml('application/yaml;as=PartialObjectMetadata;g=meta.k8s.io;v=v1')).toBe(true);
    expect(wantsYaml('application/json;as=Table;g=meta.k8s.io;v=v1,application/yaml')).toBe(false);
  });

  it('recognises the aggregated discovery Accept header, with or without a profile', () => {
    expect(wantsAggregatedDiscovery('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json')).toBe(true);
    expect(wantsAggregatedDiscovery('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;profile=nopeer,application/json')).toBe(true);
    expect(wantsAggregatedDiscovery('application/json')).toBe(false);
    expect(wantsAggregatedDiscovery('application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList')).toBe(false);
  });
});
