// The ensemble's application account (role app of the credentials Secret). ZooKeeper keeps no accounts: a digest
// "account" is an ACL entry naming user:base64(sha1(user:password)), and a client that added those credentials to its
// session (addauth digest) is that user. So the account is made by the root znode's ACL, which is part of the
// replicated data tree: one write for the whole ensemble, done here by the operator (level-based, re-checked, and
// with a password that never leaves this process: only its digest goes over the wire), not by each server's agent.
// Anonymous clients keep reading the root; only the account (and the platform's super user, whom ACLs do not bind:
// reconfig, and nothing else here, uses it) may create under it.
import { superDigest } from '../../../agent/engines/zookeeper.ts';
import { b64, type Secret } from '../common/context.ts';
import { PERMS, ZkSession, type Acl } from './client.ts';
import { CLIENT_PORT } from './observe.ts';

export const ROOT = '/';

/** The application account of a credentials Secret, or undefined when its template declares none. */
export function appAccount(secret: Secret | undefined): { user: string; password: string } | undefined {
  const user = b64(secret?.data?.['app-username']);
  const password = b64(secret?.data?.['app-password']);
  return user && password ? { user, password } : undefined;
}

/** Pure: the root znode's ACL: everyone reads, the application account may do everything. */
export function rootAcl(user: string, password: string): Acl[] {
  return [{ perms: PERMS.read, scheme: 'world', id: 'anyone' }, { perms: PERMS.all, scheme: 'digest', id: superDigest(user, password) }];
}

/** Pure: the same entries, in any order. */
export function sameAcl(a: readonly Acl[], b: readonly Acl[]): boolean {
  const key = (l: readonly Acl[]) => l.map((x) => `${x.scheme}:${x.id}=${x.perms}`).sort().join('\n');
  return key(a) === key(b);
}

/** Pure: an ACL as people read it, with digests shown by their user only. */
export function describeAcl(acl: readonly Acl[]): string {
  const perms = (p: number) => (p === PERMS.all ? 'all' : Object.entries(PERMS).filter(([k, v]) => k !== 'all' && (p & v) !== 0).map(([k]) => k).join('+') || 'none');
  return acl.map((a) => `${a.scheme}:${a.scheme === 'digest' ? a.id.split(':')[0] : a.id} ${perms(a.perms)}`).join(', ');
}

/**
 * Gives the root znode the wanted ACL through the server at `address`, as the super user, if it has another (only if
 * its ACL version is still the one read: a concurrent change is read again next time). Returns the ACL it had when it
 * was changed, undefined when it was as wanted already.
 */
export async function ensureRootAcl(address: string, admin: { user: string; password: string }, want: readonly Acl[], timeoutMs: number): Promise<Acl[] | undefined> {
  const session = await ZkSession.open(address, CLIENT_PORT, { timeoutMs });
  try {
    await session.addDigestAuth(`${admin.user}:${admin.password}`);
    const { acl, stat } = await session.getACL(ROOT);
    if (sameAcl(acl, want)) return undefined;
    await session.setACL(ROOT, want, stat.aversion);
    return acl;
  } finally {
    await session.close().catch(() => undefined);
  }
}
