import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createCA, issueCert, type KeyPair } from '../hack/local/pki.ts';
import { parseBundle, proxyTrust } from './proxytrust.ts';

// Real TLS connections: the server side of each is judged the way the API server judges the aggregator's.
describe('front-proxy trust follows the CA bundle in force, not the handshake', () => {
  let proxyCA: KeyPair, otherCA: KeyPair, serverCert: KeyPair;
  const sockets: TLSSocket[] = [];
  const server = createServer({ requestCert: true, rejectUnauthorized: false });
  let port = 0;
  const accepted: TLSSocket[] = [];

  beforeAll(async () => {
    proxyCA = await createCA('front-proxy-ca');
    otherCA = await createCA('some-public-ca');
    serverCert = await issueCert(proxyCA, { commonName: 'upm-apiserver', ips: ['127.0.0.1'], usage: 'server' });
    server.setSecureContext({ cert: serverCert.certPem, key: serverCert.keyPem }); // no CA list, as before the bundle loads
    server.on('secureConnection', (s: TLSSocket) => accepted.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const s of [...sockets, ...accepted]) s.destroy();
    await new Promise((r) => server.close(r));
  });

  /** Connects with a client certificate; resolves with the server's side of the connection. */
  async function peerWith(cert: KeyPair): Promise<TLSSocket> {
    const before = accepted.length;
    const client = connect({ host: '127.0.0.1', port, cert: cert.certPem, key: cert.keyPem, rejectUnauthorized: false });
    sockets.push(client);
    await new Promise<void>((resolve, reject) => { client.once('secureConnect', resolve); client.once('error', reject); });
    while (accepted.length === before) await new Promise((r) => setTimeout(r, 5));
    return accepted[accepted.length - 1] as TLSSocket;
  }

  it('trusts a certificate of the current bundle, with an allowed name, until the chain expires', async () => {
    const client = await issueCert(proxyCA, { commonName: 'front-proxy-client', usage: 'client' });
    const s = await peerWith(client);
    const now = Date.now();
    const answer = proxyTrust(s, parseBundle(proxyCA.certPem), ['front-proxy-client'], now);
    expect(answer.trusted).toBe(true);
    expect(answer.until).toBe(Date.parse(new X509Certificate(client.certPem).validTo));
    expect(proxyTrust(s, parseBundle(proxyCA.certPem), ['front-proxy-client'], answer.until).trusted).toBe(false);
    expect(proxyTrust(s, parseBundle(proxyCA.certPem), ['someone-else'], now).trusted).toBe(false);
  });

  it('trusts no certificate before the bundle is loaded, whatever the handshake accepted', async () => {
    const s = await peerWith(await issueCert(proxyCA, { commonName: 'front-proxy-client', usage: 'client' }));
    expect(proxyTrust(s, parseBundle(''), [], Date.now()).trusted).toBe(false);
    expect(proxyTrust(s, parseBundle('not a certificate'), [], Date.now()).trusted).toBe(false);
  });

  it('stops trusting an open connection once the bundle no longer holds its CA', async () => {
    const s = await peerWith(await issueCert(proxyCA, { commonName: 'front-proxy-client', usage: 'client' }));
    expect(proxyTrust(s, parseBundle(proxyCA.certPem + otherCA.certPem), [], Date.now()).trusted).toBe(true);
    expect(proxyTrust(s, parseBundle(otherCA.certPem), [], Date.now()).trusted).toBe(false);
  });

  it('never trusts a certificate of another CA, a server-only certificate, or no certificate', async () => {
    const foreign = await peerWith(await issueCert(otherCA, { commonName: 'front-proxy-client', usage: 'client' }));
    expect(proxyTrust(foreign, parseBundle(proxyCA.certPem), ['front-proxy-client'], Date.now()).trusted).toBe(false);
    const serverOnly = await peerWith(await issueCert(proxyCA, { commonName: 'front-proxy-client', usage: 'server' }));
    expect(proxyTrust(serverOnly, parseBundle(proxyCA.certPem), [], Date.now()).trusted).toBe(false);
    const before = accepted.length;
    const anonymous = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    sockets.push(anonymous);
    await new Promise<void>((resolve) => anonymous.once('secureConnect', resolve));
    while (accepted.length === before) await new Promise((r) => setTimeout(r, 5));
    expect(proxyTrust(accepted[accepted.length - 1] as TLSSocket, parseBundle(proxyCA.certPem), [], Date.now()).trusted).toBe(false);
  });
});
