// Stable loopback addresses for simulated data pods. In a real cluster a peer is found by its DNS name
// (<pod>.<headless service>.<namespace>.svc.cluster.local) and the name survives a pod restart. Locally there is
// no cluster DNS, so every pod gets an address derived from its name: the same name always maps to the same
// address, across pod restarts and runtime restarts, and a peer's address is known before its pod exists (a
// ZooKeeper server list names every member). The range 127.128.0.0/9 is disjoint from the fake nodes' pod CIDRs.
import { createHash } from 'node:crypto';

export function stableAddress(cluster: string, namespace: string, pod: string): string {
  const h = createHash('sha256').update(`${cluster}/${namespace}/${pod}`).digest();
  const b1 = 128 + ((h[0] ?? 0) & 0x7f);
  const b2 = h[1] ?? 0;
  const b3 = 1 + ((h[2] ?? 0) % 254); // never .0 or .255
  return `127.${b1}.${b2}.${b3}`;
}

/**
 * The address a Kubernetes DNS name stands for on this machine: "<pod>.<service>.<ns>.svc[.cluster.local]" is the
 * pod's, "<service>.<ns>.svc[.cluster.local]" the pod of a per-unit Service (named after its unit). Anything
 * else (an IP, an outside name) is returned unchanged.
 */
export function resolveLocal(cluster: string, host: string): string {
  const m = /^(.+)\.svc(\.cluster\.local)?\.?$/.exec(host);
  if (!m) return host;
  const labels = (m[1] as string).split('.');
  if (labels.length === 3) return stableAddress(cluster, labels[2] as string, labels[0] as string);
  if (labels.length === 2) return stableAddress(cluster, labels[1] as string, labels[0] as string);
  return host;
}
