// Whether a TLS peer is the front proxy. Its certificate must chain to the request-header CA bundle in force now
// and be valid now. We verify that here instead of trusting the TLS layer's verdict (socket.authorized): the
// layer checked the handshake against whatever CA list the server had at the time (Node's public roots before the
// bundle was loaded, the old bundle after a rotation), and a connection outlives both.
import { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';
const MAX_DEPTH = 8;

/** The certificates of a PEM bundle; anything in it that is not a certificate is never trusted. */
export function parseBundle(pem: string): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const block of pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) {
    try { out.push(new X509Certificate(block)); } catch { /* not a certificate */ }
  }
  return out;
}

const validAt = (c: X509Certificate, now: number): boolean => Date.parse(c.validFrom) <= now && now < Date.parse(c.validTo);
const signs = (issuer: X509Certificate, cert: X509Certificate): boolean => issuer.ca && cert.checkIssued(issuer) && cert.verify(issuer.publicKey);

/**
 * When `leaf` chains to one of `roots` (through the peer's `intermediates`) and every link is valid at `now`: the
 * time (ms) the chain stops being valid. Undefined when it does not chain.
 */
export function verifyChain(leaf: X509Certificate, intermediates: X509Certificate[], roots: X509Certificate[], now: number): number | undefined {
  let cert = leaf;
  let until = Date.parse(leaf.validTo);
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    if (!validAt(cert, now)) return undefined;
    const root = roots.find((r) => validAt(r, now) && signs(r, cert));
    if (root) return Math.min(until, Date.parse(root.validTo));
    const next = intermediates.find((i) => i !== cert && signs(i, cert));
    if (!next) return undefined;
    until = Math.min(until, Date.parse(next.validTo));
    cert = next;
  }
  return undefined;
}

export interface ProxyTrust {
  trusted: boolean;
  /** Until when (ms) the answer holds for this connection and bundle. */
  until: number;
}

/** The peer of `socket` is the front proxy: chained to `roots`, an allowed name, usable for client auth. */
export function proxyTrust(socket: TLSSocket, roots: X509Certificate[], allowedNames: string[], now: number): ProxyTrust {
  const untrusted = { trusted: false, until: Number.POSITIVE_INFINITY };
  const peer = socket.getPeerCertificate(true) as DetailedPeerCertificate | undefined;
  if (!peer?.raw || !roots.length) return untrusted;
  const cn = Array.isArray(peer.subject?.CN) ? peer.subject.CN[0] : peer.subject?.CN;
  if (allowedNames.length && !allowedNames.includes(cn ?? '')) return untrusted;
  const eku = peer.ext_key_usage;
  if (eku && !eku.includes(CLIENT_AUTH_OID)) return untrusted;
  const intermediates: X509Certificate[] = [];
  for (let c = peer.issuerCertificate; c?.raw && c !== peer && intermediates.length < MAX_DEPTH; c = c.issuerCertificate) {
    intermediates.push(new X509Certificate(c.raw));
    if (c.issuerCertificate === c) break; // self-signed: the end of what the peer sent
  }
  const until = verifyChain(new X509Certificate(peer.raw), intermediates, roots, now);
  return until === undefined ? untrusted : { trusted: true, until };
}
