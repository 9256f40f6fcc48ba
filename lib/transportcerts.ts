// Transport TLS material of the engines whose nodes talk to each other over TLS (OpenSearch: its security plugin
// makes node-to-node TLS mandatory). One CA per cluster and one node certificate every node of it shares, kept in the
// cluster's credentials Secret next to its accounts (the Secret the operators already create and copy to every node
// set): nodes trust the cluster's CA only, and the security plugin takes a peer as a node by its certificate's
// subject (plugins.security.nodes_dn, a constant: no tenant value reaches a DN). The CA's key is not kept: nothing
// is issued after the cluster is made.
import { createCA, issueCert } from './pki.ts';

/** The credentials Secret's keys of the transport material (PEM). */
export const TRANSPORT_KEYS = { ca: 'transport-ca', cert: 'transport-cert', key: 'transport-key' } as const;

/** The subject of every OpenSearch node's transport certificate (the template's plugins.security.nodes_dn). */
export const OPENSEARCH_NODE_CN = 'upm-opensearch-node';
export const OPENSEARCH_NODES_DN = `CN=${OPENSEARCH_NODE_CN}`;

/** Ten years: a cluster's nodes must not lose each other to an expiry no one renews (rotation is a later issue). */
const YEARS = 10;

/** Whether an engine's credentials Secret carries transport material. */
export const needsTransportCerts = (engine: string): boolean => engine === 'opensearch';

/** The transport material of a new cluster of `engine` (plain PEM by Secret key), none for engines without it. */
export async function transportCredentials(engine: string): Promise<Record<string, string>> {
  if (!needsTransportCerts(engine)) return {};
  const ca = await createCA('upm-opensearch-transport-ca');
  const node = await issueCert(ca, { commonName: OPENSEARCH_NODE_CN, usage: 'both', years: YEARS });
  return { [TRANSPORT_KEYS.ca]: ca.certPem, [TRANSPORT_KEYS.cert]: node.certPem, [TRANSPORT_KEYS.key]: node.keyPem };
}
