// users.upm.io: people known to the platform. Everyone sees their own User (spec.username is their user name);
// cluster admins (`listall` on users) see and manage all. A user name belongs to one User only.
import { ageColumn, ALL_VERBS, nameColumn, str, type ResourceDefinition } from './types.ts';

export const users: ResourceDefinition = {
  plural: 'users',
  singular: 'user',
  kind: 'User',
  listKind: 'UserList',
  namespaced: false,
  shortNames: [],
  categories: ['upm'],
  verbs: ALL_VERBS,
  subresources: ['status'],
  columns: [
    nameColumn,
    { name: 'Username', type: 'string', description: 'The user name as Kubernetes authenticates it.', cell: (o) => str(o.spec?.username) },
    { name: 'Display Name', type: 'string', description: 'A human-readable name.', cell: (o) => str(o.spec?.displayName) },
    { name: 'Email', type: 'string', priority: 1, description: 'Email address.', cell: (o) => str(o.spec?.email) },
    { name: 'Disabled', type: 'boolean', priority: 1, description: 'Whether the user is disabled.', cell: (o) => o.spec?.disabled === true },
    ageColumn,
  ],
  fieldLabels: { 'spec.username': (o) => str(o.spec?.username) },

  validate(obj, _old, ctx) {
    const username = str(obj.spec?.username);
    const taken = ctx.listCached('users').find((u) => u.spec?.username === username && u.metadata.name !== obj.metadata.name);
    return taken ? [{ reason: 'FieldValueDuplicate', field: 'spec.username', message: `Duplicate value: "${username}": already the user name of User "${taken.metadata.name}"` }] : [];
  },

  visibility: {
    visible: (obj, ctx) => obj.spec?.username === ctx.user.name,
  },
};
