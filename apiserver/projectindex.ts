// Who belongs to which project, kept from the projects cache: user and group -> project names. A user's project
// list is then a union of a few small sets, not a scan of every project (a user in 100 of 10,000 projects).
import type { ChangeListener, Entry } from './cache.ts';
import type { PublicObject, UserInfo } from './resources/types.ts';

export type Role = 'admin' | 'editor' | 'viewer';
export interface Member { kind?: string; name: string; role: Role }

const RANK: Record<Role, number> = { viewer: 1, editor: 2, admin: 3 };

export function membersOf(project: PublicObject): Member[] {
  const members = project.spec?.members;
  return Array.isArray(members) ? (members as Member[]).filter((m) => m && typeof m.name === 'string') : [];
}

const memberKey = (m: Member) => `${m.kind === 'Group' ? 'g' : 'u'}:${m.name}`;

/** The strongest role the user holds in the project, directly or through one of their groups. */
export function roleOf(project: PublicObject, user: UserInfo): Role | undefined {
  const groups = new Set(user.groups);
  let best: Role | undefined;
  for (const m of membersOf(project)) {
    const applies = m.kind === 'Group' ? groups.has(m.name) : m.name === user.name;
    if (applies && RANK[m.role] && (!best || RANK[m.role] > RANK[best])) best = m.role;
  }
  return best;
}

export class ProjectIndex implements ChangeListener {
  private readonly bySubject = new Map<string, Set<string>>();
  private readonly projects = new Map<string, PublicObject>();

  reset(entries: Iterable<Entry>): void {
    this.bySubject.clear();
    this.projects.clear();
    for (const e of entries) this.add(e.obj);
  }

  change(prev: Entry | undefined, next: Entry | undefined): void {
    if (prev) this.remove(prev.obj);
    if (next) this.add(next.obj);
  }

  private add(p: PublicObject): void {
    const name = p.metadata.name ?? '';
    this.projects.set(name, p);
    for (const m of membersOf(p)) {
      const k = memberKey(m);
      let set = this.bySubject.get(k);
      if (!set) this.bySubject.set(k, (set = new Set()));
      set.add(name);
    }
  }

  private remove(p: PublicObject): void {
    const name = p.metadata.name ?? '';
    this.projects.delete(name);
    for (const m of membersOf(p)) {
      const k = memberKey(m);
      const set = this.bySubject.get(k);
      set?.delete(name);
      if (set?.size === 0) this.bySubject.delete(k);
    }
  }

  projectsOf(user: UserInfo): Set<string> {
    const out = new Set(this.bySubject.get(`u:${user.name}`) ?? []);
    for (const g of user.groups) for (const p of this.bySubject.get(`g:${g}`) ?? []) out.add(p);
    return out;
  }

  roleIn(project: string, user: UserInfo): Role | undefined {
    const p = this.projects.get(project);
    return p ? roleOf(p, user) : undefined;
  }
}
