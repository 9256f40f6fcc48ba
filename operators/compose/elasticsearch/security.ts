// The application account of an OpenSearch cluster (its security plugin's internal user, role app of the credentials
// Secret): a client of the data, not of the cluster. Its role reads, writes, creates and deletes indices whose names
// do not start with "." (system and hidden indices stay the platform's), and runs the cluster-level data calls
// (bulk, mget, msearch, scroll: cluster_composite_ops); it has nothing on cluster settings, the security API,
// snapshots or any other cluster administration. What is pure is here; ensureAppAccount creates what is missing
// through the security REST API as the admin account, and sets the Secret's password whenever the account does not
// log in with it (so a password changed in the Secret takes over).
import { basicAuth, RestError, type SearchRest } from './rest.ts';

const API = '/_plugins/_security/api';

/** The application account's role, named as the account. */
export interface RoleDoc {
  description: string;
  cluster_permissions: string[];
  index_permissions: { index_patterns: string[]; allowed_actions: string[] }[];
}

/** Pure: the role the application account gets. */
export function appRole(): RoleDoc {
  return {
    description: 'UPM application account: data on non-system indices only',
    cluster_permissions: ['cluster_composite_ops'],
    index_permissions: [{
      // A regular expression (between slashes): every index whose name does not start with ".".
      index_patterns: ['/[^.].*/'],
      allowed_actions: ['crud', 'create_index', 'indices:admin/delete', 'manage_aliases', 'indices:admin/mapping/put', 'indices:admin/refresh*', 'indices:monitor/*'],
    }],
  };
}

/** Pure: the internal user document (the password is hashed by the plugin). */
export function appUser(role: string, password: string): { password: string; opendistro_security_roles: string[]; description: string } {
  return { password, opendistro_security_roles: [role], description: 'UPM application account (the connection Secret hands it out)' };
}

/** Pure: whether the role the cluster has grants what is wanted (the same permissions; description aside). */
export function roleSettled(have: Partial<RoleDoc> | undefined, want: RoleDoc): boolean {
  if (!have) return false;
  const norm = (r: Partial<RoleDoc>) => JSON.stringify({
    c: [...(r.cluster_permissions ?? [])].sort(),
    i: (r.index_permissions ?? []).map((p) => ({ p: [...(p.index_patterns ?? [])].sort(), a: [...(p.allowed_actions ?? [])].sort() })),
  });
  return norm(have) === norm(want);
}

const enc = encodeURIComponent;

/** One document of the security API by name, or undefined when there is none. */
async function getDoc<T>(admin: SearchRest, host: string, type: 'roles' | 'internalusers', name: string): Promise<T | undefined> {
  try {
    return (await admin.call<Record<string, T>>(host, 'GET', `${API}/${type}/${enc(name)}`))[name];
  } catch (e) {
    if (e instanceof RestError && e.status === 404) return undefined;
    throw e;
  }
}

/** What ensureAppAccount did: each an item for the Event (nothing when the account was as wanted). */
export async function ensureAppAccount(admin: SearchRest, host: string, user: string, password: string): Promise<string[]> {
  const done: string[] = [];
  const want = appRole();
  const role = await getDoc<Partial<RoleDoc>>(admin, host, 'roles', user);
  if (!roleSettled(role, want)) {
    await admin.call(host, 'PUT', `${API}/roles/${enc(user)}`, want);
    done.push(role ? `reset role ${user} to data rights on non-system indices` : `created role ${user} (data rights on non-system indices)`);
  }
  const have = await getDoc<{ opendistro_security_roles?: string[] }>(admin, host, 'internalusers', user);
  const logsIn = !!have && (have.opendistro_security_roles ?? []).includes(user) && await admin.loginWorks(host, basicAuth(user, password));
  if (!logsIn) {
    await admin.call(host, 'PUT', `${API}/internalusers/${enc(user)}`, appUser(user, password));
    done.push(!have ? `created the application account ${user}` : `set the application account ${user}'s password and role from the credentials Secret`);
  }
  return done;
}
