// projects.upm.io: a tenant. Members see it (others get 404, as if it did not exist), its admins change it, and the
// projects controller turns membership into RoleBindings in the project's namespace, so RBAC enforces the roles
// there. Cluster admins (`listall` on projects) see and change every project.
import { membersOf, roleOf, type Member } from '../projectindex.ts';
import { nameNotAvailable, type StatusCause } from '../status.ts';
import { ageColumn, ALL_VERBS, nameColumn, str, type HookContext, type PublicObject, type ResourceDefinition } from './types.ts';

/** Names a project may not take: its namespace would be a system namespace. */
const RESERVED = /^(kube-.*|default|upm-system|kube-system|kube-public|kube-node-lease)$/;
export const PROJECT_LABEL = 'upm.io/project';

export const projects: ResourceDefinition = {
  plural: 'projects',
  singular: 'project',
  kind: 'Project',
  listKind: 'ProjectList',
  namespaced: false,
  shortNames: ['proj'],
  categories: ['upm'],
  verbs: ALL_VERBS,
  subresources: ['status'],
  columns: [
    nameColumn,
    { name: 'Display Name', type: 'string', description: 'A human-readable name.', cell: (o) => str(o.spec?.displayName) },
    { name: 'Members', type: 'integer', description: 'Number of members.', cell: (o) => membersOf(o).length },
    { name: 'Phase', type: 'string', description: 'Ready once the namespace and role bindings exist.', cell: (o) => str(o.status?.phase) },
    { name: 'Namespace', type: 'string', priority: 1, description: "The project's namespace.", cell: (o) => str(o.status?.namespace) },
    ageColumn,
  ],

  defaults(obj, ctx) {
    const spec = (obj.spec ??= {});
    const members = Array.isArray(spec.members) ? (spec.members as Member[]) : [];
    // Whoever creates a project without naming an admin becomes its admin, so nobody creates an orphan.
    if (!members.some((m) => m?.role === 'admin')) members.push({ kind: 'User', name: ctx.user.name, role: 'admin' });
    spec.members = members;
  },

  async validate(obj, old, ctx) {
    const causes: StatusCause[] = [];
    const name = obj.metadata.name ?? '';
    if (!membersOf(obj).some((m) => m.role === 'admin')) {
      causes.push({ reason: 'FieldValueRequired', field: 'spec.members', message: 'Required value: a project needs at least one admin' });
    }
    const seen = new Set<string>();
    membersOf(obj).forEach((m, i) => {
      const k = `${m.kind === 'Group' ? 'Group' : 'User'}/${m.name}`;
      if (seen.has(k)) causes.push({ reason: 'FieldValueDuplicate', field: `spec.members[${i}]`, message: `Duplicate value: ${k} is listed twice` });
      seen.add(k);
    });
    if (!old && name) {
      if (RESERVED.test(name)) {
        causes.push({ reason: 'FieldValueForbidden', field: 'metadata.name', message: `Forbidden: "${name}" is a system namespace` });
      } else if (await nameTaken(name, ctx)) {
        causes.push(nameNotAvailable(name));
      }
    }
    return causes;
  },

  visibility: {
    keys: (ctx) => ctx.projectsOf(ctx.user),
    visible: (obj, ctx) => roleOf(obj, ctx.user) !== undefined,
  },

  async authorizeObject(verb, obj, ctx) {
    if (verb === 'create' || verb === 'get' || verb === 'list' || verb === 'watch' || !obj) return undefined;
    if (roleOf(obj, ctx.user) === 'admin' || (await ctx.seesAll())) return undefined;
    return `only the project's admins may ${verb} it`;
  },

  projectOf: (_ns, name) => name || undefined,
};

/**
 * Whether a new project's name is held by something the caller may not learn about: a project they cannot see, or a
 * namespace of the management cluster that belongs to no project. Both get the same answer (nameNotAvailable), so a
 * create, dry run or not, tells no more than that the name is not free. A project the caller sees is left to the
 * storage's 409 AlreadyExists.
 */
async function nameTaken(name: string, ctx: HookContext): Promise<boolean> {
  const existing = ctx.lookup('projects', name);
  if (existing) return !(roleOf(existing, ctx.user) !== undefined || (await ctx.seesAll()));
  const ns = await ctx.getCore(`/api/v1/namespaces/${encodeURIComponent(name)}`);
  return !!ns && ns.metadata.labels?.[PROJECT_LABEL] !== name;
}

export function isProjectMember(project: PublicObject | undefined, ctx: HookContext): boolean {
  return !!project && roleOf(project, ctx.user) !== undefined;
}
