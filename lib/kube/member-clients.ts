// Clients for member clusters, built from the kubeconfigs the hub keeps in Secrets (a Cluster's
// spec.credentials names one). One client per Secret version: a rotated kubeconfig gets a new client at its next
// use, and the old one is closed once the requests it carries (a proxied watch) have ended. Shared by the hub's
// API server (clusters/proxy) and the clusters controller (its watches of each member).
import type { Store } from '../informer.ts';
import { KubeClient } from './client.ts';
import { memberKubeconfigRefusal } from './member-kubeconfig.ts';
import type { KubeObject } from './types.ts';

/** The Secret key that holds the kubeconfig unless spec.credentials.key names another. */
export const KUBECONFIG_KEY = 'kubeconfig';

export interface CredentialsRef { secretName?: string; key?: string }
export interface Secret extends KubeObject { data?: Record<string, string> }

export type MemberClient =
  | { client: KubeClient; secretVersion: string }
  | { reason: 'NoCredentials' | 'CredentialsNotFound' | 'CredentialsInvalid'; message: string };

/** Where the Secrets are read: a cache, which may say when it was first filled. */
export type SecretSource = Pick<Store<Secret>, 'get'> & { waitForSync?(): Promise<void> };

export class MemberClients {
  private readonly secrets: SecretSource;
  /** Where the credentials Secrets are. */
  readonly namespace: string;
  private readonly clients = new Map<string, { version: string; client: Promise<KubeClient> }>();

  constructor(secrets: SecretSource, namespace: string) {
    this.secrets = secrets;
    this.namespace = namespace;
  }

  /** The client for these credentials, or why there is none, in words that name the field at fault. */
  async resolve(ref: CredentialsRef | undefined): Promise<MemberClient> {
    if (!ref?.secretName) return { reason: 'NoCredentials', message: 'spec.credentials: not set: the hub has no way to reach this cluster' };
    const where = `Secret ${this.namespace}/${ref.secretName}`;
    // A cache not filled yet (a process just started) would say "not found" of a Secret that is there: the hub
    // controllers' services would then wait for an event that never comes.
    await this.secrets.waitForSync?.();
    const secret = this.secrets.get(`${this.namespace}/${ref.secretName}`);
    if (!secret) return { reason: 'CredentialsNotFound', message: `spec.credentials.secretName: ${where} not found` };
    const key = ref.key || KUBECONFIG_KEY;
    const data = secret.data?.[key];
    if (!data) return { reason: 'CredentialsInvalid', message: `spec.credentials.key: ${where} has no key "${key}"` };
    const version = `${secret.metadata.uid ?? ''}/${secret.metadata.resourceVersion ?? ''}/${key}`;
    const cacheKey = `${ref.secretName}/${key}`;
    let entry = this.clients.get(cacheKey);
    if (!entry || entry.version !== version) {
      const old = entry;
      const text = Buffer.from(data, 'base64').toString('utf8');
      // Checked before the loader sees it: loading alone may run a plugin or read a file.
      const refused = memberKubeconfigRefusal(text);
      // HTTP/1.1: every Impersonate-Group and -Extra value in a header of its own (see fromKubeconfigText).
      entry = { version, client: refused ? Promise.reject(new Error(refused)) : KubeClient.fromKubeconfigText(text, { http1: true }) };
      entry.client.catch(() => undefined); // handled where awaited below
      this.clients.set(cacheKey, entry);
      // Requests still running on the old client (a proxied watch) finish first: close() waits for them.
      if (old) void old.client.then((c) => c.close(), () => undefined);
    }
    try {
      return { client: await entry.client, secretVersion: version };
    } catch (err) {
      if (this.clients.get(cacheKey) === entry) this.clients.delete(cacheKey);
      // The kubeconfig parser's words, without the Secret's contents.
      const why = err instanceof Error ? err.message.split('\n')[0]?.slice(0, 300) : 'unreadable';
      return { reason: 'CredentialsInvalid', message: `spec.credentials.secretName: the kubeconfig in ${where} is not usable: ${why}` };
    }
  }

  /** Drops the clients of Secrets no Cluster uses any more. */
  retain(inUse: Iterable<CredentialsRef | undefined>): void {
    const keep = new Set([...inUse].map((r) => (r?.secretName ? `${r.secretName}/${r.key || KUBECONFIG_KEY}` : '')));
    for (const [k, entry] of this.clients) {
      if (keep.has(k)) continue;
      this.clients.delete(k);
      void entry.client.then((c) => c.close(), () => undefined);
    }
  }

  async close(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(all.map((e) => e.client.then((c) => c.close(), () => undefined)));
  }
}
