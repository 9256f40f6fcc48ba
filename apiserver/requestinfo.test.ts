import { describe, expect, it } from '@jest/globals';
import { requestInfo } from './requestinfo.ts';

const info = (method: string, url: string) => {
  const u = new URL(url, 'https://x');
  return requestInfo(method, u.pathname, u.searchParams);
};

describe('requestInfo (the Go API server derivation)', () => {
  it('treats discovery paths as non-resource requests', () => {
    for (const p of ['/apis', '/apis/upm.io', '/apis/upm.io/v1alpha1', '/openapi/v3', '/healthz']) {
      const i = info('GET', p);
      expect(i.isResourceRequest).toBe(false);
      expect(i.verb).toBe('get');
    }
  });

  it('maps methods and collection shapes to verbs', () => {
    expect(info('GET', '/apis/upm.io/v1alpha1/projects')).toMatchObject({ verb: 'list', resource: 'projects', name: '', namespace: '' });
    expect(info('GET', '/apis/upm.io/v1alpha1/projects?watch=1')).toMatchObject({ verb: 'watch' });
    expect(info('GET', '/apis/upm.io/v1alpha1/projects?watch=false')).toMatchObject({ verb: 'list' });
    expect(info('GET', '/apis/upm.io/v1alpha1/watch/projects')).toMatchObject({ verb: 'watch', resource: 'projects' });
    expect(info('POST', '/apis/upm.io/v1alpha1/namespaces/a/mysqlservices')).toMatchObject({ verb: 'create', namespace: 'a', resource: 'mysqlservices' });
    expect(info('DELETE', '/apis/upm.io/v1alpha1/namespaces/a/mysqlservices')).toMatchObject({ verb: 'deletecollection' });
    expect(info('DELETE', '/apis/upm.io/v1alpha1/namespaces/a/mysqlservices/db')).toMatchObject({ verb: 'delete', name: 'db' });
    expect(info('PATCH', '/apis/upm.io/v1alpha1/clusters/c1/status')).toMatchObject({ verb: 'patch', name: 'c1', subresource: 'status' });
    expect(info('PUT', '/apis/upm.io/v1alpha1/projects/p')).toMatchObject({ verb: 'update', apiGroup: 'upm.io', apiVersion: 'v1alpha1' });
  });

  it('authorizes a single-object list or watch for the named object', () => {
    expect(info('GET', '/apis/upm.io/v1alpha1/projects?watch=true&fieldSelector=metadata.name%3Dp1')).toMatchObject({ verb: 'watch', name: 'p1' });
    expect(info('GET', '/apis/upm.io/v1alpha1/projects?fieldSelector=metadata.name!%3Dp1')).toMatchObject({ verb: 'list', name: '' });
    // The name authorized is the name the list is filtered by: an escaped comma is part of a value, not a new term.
    const sel = (v: string) => `/apis/upm.io/v1alpha1/namespaces/p/mysqlservices?fieldSelector=${encodeURIComponent(v)}`;
    expect(info('GET', sel('metadata.name!=z\\,metadata.name=allowed'))).toMatchObject({ verb: 'list', name: '' });
    expect(info('GET', sel('metadata.name=a\\,b'))).toMatchObject({ verb: 'list', name: 'a,b' });
    expect(info('GET', sel('metadata.namespace=p,metadata.name==allowed'))).toMatchObject({ verb: 'list', name: 'allowed' });
    expect(info('GET', sel('metadata.name'))).toMatchObject({ verb: 'list', name: '' });
  });

  it('keeps segments below a subresource out of authorization', () => {
    const i = info('GET', '/apis/upm.io/v1alpha1/clusters/c1/proxy/api/v1/pods');
    expect(i).toMatchObject({ verb: 'get', resource: 'clusters', name: 'c1', subresource: 'proxy' });
  });
});
