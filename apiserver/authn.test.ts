import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { requestHeaderConfig, userFromHeaders, withAuthenticatedGroup } from './authn.ts';

const cfg = requestHeaderConfig({
  'requestheader-client-ca-file': 'PEM',
  'requestheader-allowed-names': '["front-proxy-client"]',
  'requestheader-username-headers': '["X-Remote-User"]',
  'requestheader-group-headers': '["X-Remote-Group"]',
  'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
  'requestheader-uid-headers': '["X-Remote-Uid"]',
})!;
const req = (h: Record<string, string[]>) => ({ headersDistinct: h }) as unknown as IncomingMessage;

describe('identity from the front proxy headers', () => {
  it('reads the user, every repeated group header, the uid and percent-encoded extras', () => {
    const u = userFromHeaders(req({
      'x-remote-user': ['alice'], 'x-remote-group': ['devs', 'system:masters'], 'x-remote-uid': ['42'],
      'x-remote-extra-authentication.kubernetes.io%2fcredential-id': ['X509SHA256=ab'], 'x-remote-extra-scopes': ['a', 'b'],
    }), cfg);
    expect(u).toEqual({ name: 'alice', uid: '42', groups: ['devs', 'system:masters'], extra: { 'authentication.kubernetes.io/credential-id': ['X509SHA256=ab'], scopes: ['a', 'b'] } });
  });

  it('reads repeated headers of an HTTP/2 request, which has only rawHeaders', () => {
    const h2 = { rawHeaders: ['x-remote-user', 'bob', 'X-Remote-Group', 'a', 'x-remote-group', 'b, c', 'x-remote-extra-k', 'v'] } as unknown as IncomingMessage;
    expect(userFromHeaders(h2, cfg)).toEqual({ name: 'bob', uid: undefined, groups: ['a', 'b, c'], extra: { k: ['v'] } });
  });

  it('has no user without a user header, and adds system:authenticated once', () => {
    expect(userFromHeaders(req({ 'x-remote-group': ['devs'] }), cfg)).toBeUndefined();
    expect(withAuthenticatedGroup({ name: 'a', groups: ['g'], extra: {} }).groups).toEqual(['g', 'system:authenticated']);
    expect(withAuthenticatedGroup({ name: 'a', groups: ['system:authenticated'], extra: {} }).groups).toEqual(['system:authenticated']);
  });

  it('takes the header names from the ConfigMap', () => {
    expect(cfg.allowedNames).toEqual(['front-proxy-client']);
    expect(requestHeaderConfig({})).toBeUndefined();
  });
});
