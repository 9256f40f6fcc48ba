// Certificates for a local cluster: throwaway ECDSA P-256 CAs and leaf certificates (@peculiar/x509 on WebCrypto).
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCA, issueCert, type KeyPair } from '../../lib/pki.ts';

export { createCA, issueCert, type KeyPair, type LeafOptions } from '../../lib/pki.ts';

/** The files a cluster's components are started with. */
export interface ClusterPki {
  dir: string;
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  frontProxyCaCert: string;
  frontProxyClientCert: string;
  frontProxyClientKey: string;
  saKey: string;
  saPub: string;
}

export const FRONT_PROXY_CLIENT_CN = 'front-proxy-client';
export const ADMIN_USER = 'upm-admin';

/** Creates the cluster's PKI under dir, or reuses what an earlier start left there (so clients stay valid). */
export async function ensureClusterPki(dir: string, serviceIp: string): Promise<ClusterPki> {
  const f = (n: string) => join(dir, n);
  const pki: ClusterPki = {
    dir,
    caCert: f('ca.crt'), caKey: f('ca.key'),
    servingCert: f('apiserver.crt'), servingKey: f('apiserver.key'),
    adminCert: f('admin.crt'), adminKey: f('admin.key'),
    frontProxyCaCert: f('front-proxy-ca.crt'),
    frontProxyClientCert: f('front-proxy-client.crt'), frontProxyClientKey: f('front-proxy-client.key'),
    saKey: f('sa.key'), saPub: f('sa.pub'),
  };
  if (existsSync(f('.complete'))) return pki;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const write = async (cert: string, key: string, pair: KeyPair) => {
    await writeFile(cert, pair.certPem);
    await writeFile(key, pair.keyPem, { mode: 0o600 });
  };
  const ca = await createCA('upm-local-cluster-ca');
  await write(pki.caCert, pki.caKey, ca);
  await write(pki.servingCert, pki.servingKey, await issueCert(ca, {
    commonName: 'kube-apiserver',
    usage: 'server',
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
    ips: ['127.0.0.1', serviceIp],
  }));
  await write(pki.adminCert, pki.adminKey, await issueCert(ca, { commonName: ADMIN_USER, organizations: ['system:masters'], usage: 'client' }));
  // Aggregation: the apiserver proves itself to extension servers with a client cert from a separate CA.
  const frontProxyCa = await createCA('upm-local-front-proxy-ca');
  await writeFile(pki.frontProxyCaCert, frontProxyCa.certPem);
  await write(pki.frontProxyClientCert, pki.frontProxyClientKey, await issueCert(frontProxyCa, { commonName: FRONT_PROXY_CLIENT_CN, usage: 'client' }));
  const sa = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await writeFile(pki.saKey, sa.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await writeFile(pki.saPub, sa.publicKey.export({ type: 'spki', format: 'pem' }));
  await writeFile(f('.complete'), '');
  return pki;
}
