import { describe, expect, it } from '@jest/globals';
import { escapeExtraKey, forwardHeaders, responseHeaders } from './proxy.ts';

describe('clusters/proxy headers', () => {
  const user = { name: 'alice', uid: '42', groups: ['devs', 'system:authenticated'], extra: { 'authentication.kubernetes.io/credential-id': ['X509SHA256=ab'], scopes: ['a', 'b'] } };

  it('impersonates the caller, groups and extras included, and drops what the caller may not pass on', () => {
    const h = forwardHeaders({
      accept: 'application/json', 'content-type': 'application/json', 'user-agent': 'kubectl/v1.36', connection: 'keep-alive', host: 'hub',
      authorization: 'Bearer hub-token', 'impersonate-user': 'system:admin', 'Impersonate-Group': 'system:masters', 'impersonate-extra-x': 'y',
      'x-remote-user': 'mallory', ':path': '/x', 'transfer-encoding': 'chunked',
    }, user);
    expect(h).toEqual({
      accept: 'application/json', 'content-type': 'application/json', 'user-agent': 'kubectl/v1.36',
      'impersonate-user': 'alice', 'impersonate-uid': '42', 'impersonate-group': ['devs', 'system:authenticated'],
      'impersonate-extra-authentication.kubernetes.io%2Fcredential-id': ['X509SHA256=ab'], 'impersonate-extra-scopes': ['a', 'b'],
    });
  });

  it('escapes extra keys as header names can carry them', () => {
    expect(escapeExtraKey('example.com/key')).toBe('example.com%2Fkey');
    expect(escapeExtraKey('100%')).toBe('100%25');
    expect(escapeExtraKey('ünï')).toBe('%C3%BCn%C3%AF');
  });

  it("passes the member's answer on without hop-by-hop headers", () => {
    expect(responseHeaders({ 'content-type': 'application/json', 'transfer-encoding': 'chunked', connection: 'close', 'audit-id': 'x' })).toEqual({ 'content-type': 'application/json', 'audit-id': 'x' });
  });
});
