import { describe, expect, it } from '@jest/globals';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { needsTransportCerts, OPENSEARCH_NODE_CN, TRANSPORT_KEYS, transportCredentials } from './transportcerts.ts';

const YEAR_MS = 365 * 24 * 3600 * 1000;

describe('transport TLS material', () => {
  it('is for OpenSearch only', async () => {
    expect(needsTransportCerts('opensearch')).toBe(true);
    for (const e of ['elasticsearch', 'kafka', 'mariadb']) {
      expect(needsTransportCerts(e)).toBe(false);
      expect(await transportCredentials(e)).toEqual({});
    }
  });

  it('is a CA of its own per cluster and one node certificate it signed, for both ends of a connection, with its key', async () => {
    const a = await transportCredentials('opensearch');
    const ca = new X509Certificate(a[TRANSPORT_KEYS.ca] ?? '');
    const node = new X509Certificate(a[TRANSPORT_KEYS.cert] ?? '');
    expect(ca.ca).toBe(true);
    expect(node.ca).toBe(false);
    expect(node.checkIssued(ca)).toBe(true);
    expect(node.verify(ca.publicKey)).toBe(true);
    expect(node.subject).toBe(`CN=${OPENSEARCH_NODE_CN}`);
    expect(node.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    expect(Date.parse(node.validTo) - Date.now()).toBeGreaterThan(9 * YEAR_MS);
    // The key is the certificate's, unencrypted PKCS#8 (what the security plugin reads).
    expect(a[TRANSPORT_KEYS.key]).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const pub = createPublicKey(createPrivateKey(a[TRANSPORT_KEYS.key] ?? '')).export({ type: 'spki', format: 'der' });
    expect(Buffer.compare(pub, node.publicKey.export({ type: 'spki', format: 'der' }))).toBe(0);
    // Another cluster: another CA, which this cluster's nodes do not trust.
    const other = new X509Certificate((await transportCredentials('opensearch'))[TRANSPORT_KEYS.ca] ?? '');
    expect(node.verify(other.publicKey)).toBe(false);
  });
});
