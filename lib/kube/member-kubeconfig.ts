// What a member kubeconfig may hold. It comes from a Secret that anyone allowed to write Secrets in the credentials
// namespace (or to name a Secret in a Cluster) controls, and the kubeconfig loader would run its exec plugins and
// auth providers and read the files it names from the hub's own disk (the hub's service-account token included).
// So only inline data is accepted: a token or a client certificate and key, an inline CA, TLS verification on.
import { parse } from 'yaml';

const USER_KEYS = new Set(['token', 'client-certificate-data', 'client-key-data']);
const CLUSTER_KEYS = new Set(['server', 'certificate-authority-data', 'tls-server-name', 'extensions']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function userField(key: string): string {
  if (key === 'exec') return 'exec plugins are not allowed in a member kubeconfig';
  if (key === 'auth-provider') return 'auth providers are not allowed in a member kubeconfig';
  if (['token-file', 'tokenFile', 'client-certificate', 'client-key'].includes(key)) return 'files of the hub are never read for a member kubeconfig: give the data inline';
  return 'not allowed in a member kubeconfig: only token, client-certificate-data and client-key-data';
}

function clusterField(key: string, value: unknown): string | undefined {
  if (CLUSTER_KEYS.has(key)) return undefined;
  if (key === 'insecure-skip-tls-verify') return value === false ? undefined : 'the member\'s certificate must be verified: give certificate-authority-data';
  if (key === 'certificate-authority') return 'files of the hub are never read for a member kubeconfig: give certificate-authority-data';
  return 'not allowed in a member kubeconfig: only server, certificate-authority-data and tls-server-name';
}

/** Why this kubeconfig is refused, as `<field>: <reason>`; undefined when it holds inline credentials only. Pure. */
export function memberKubeconfigRefusal(text: string): string | undefined {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    return `not a readable kubeconfig: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]?.slice(0, 200)}`;
  }
  if (!isObject(doc)) return 'not a readable kubeconfig: not a mapping';
  const lists = { users: 'user', clusters: 'cluster' } as const;
  for (const [list, item] of Object.entries(lists)) {
    const entries = doc[list] ?? [];
    if (!Array.isArray(entries)) return `${list}: must be a list`;
    for (const [i, entry] of entries.entries()) {
      const body: unknown = isObject(entry) ? entry[item] : undefined;
      if (body === undefined || body === null) continue;
      if (!isObject(body)) return `${list}[${i}].${item}: must be a mapping`;
      for (const [key, value] of Object.entries(body)) {
        const why = item === 'user' ? (USER_KEYS.has(key) ? undefined : userField(key)) : clusterField(key, value);
        if (why) return `${list}[${i}].${item}.${key}: ${why}`;
      }
    }
  }
  return undefined;
}
