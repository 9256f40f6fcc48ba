// operationlogs.upm.io: the record of every mutating request, written by the API server (read-only here). A user
// sees the records of the projects they belong to; cluster admins (`listall` on operationlogs) see all. A record
// belongs to the project with the uid it is labelled with: a project re-created under an old name does not show
// the old project's history to its new members.
import { PROJECT_UID_LABEL } from '../audit.ts';
import { ageColumn, nameColumn, READ_VERBS, str, type PublicObject, type ResourceDefinition } from './types.ts';

const spec = (o: PublicObject) => (o.spec ?? {}) as { user?: string; verb?: string; resource?: string; subresource?: string; namespace?: string; name?: string; project?: string; result?: { code?: number } };

export const operationlogs: ResourceDefinition = {
  plural: 'operationlogs',
  singular: 'operationlog',
  kind: 'OperationLog',
  listKind: 'OperationLogList',
  namespaced: true,
  shortNames: ['oplog'],
  categories: ['upm'],
  verbs: READ_VERBS,
  subresources: [],
  columns: [
    nameColumn,
    { name: 'User', type: 'string', description: 'Who.', cell: (o) => str(spec(o).user) },
    { name: 'Verb', type: 'string', description: 'What.', cell: (o) => str(spec(o).verb) },
    { name: 'Resource', type: 'string', description: 'On which resource.', cell: (o) => [spec(o).resource, spec(o).subresource].filter(Boolean).join('/') },
    { name: 'Object', type: 'string', description: 'On which object.', cell: (o) => [spec(o).namespace, spec(o).name].filter(Boolean).join('/') },
    { name: 'Code', type: 'integer', description: 'The HTTP status of the answer.', cell: (o) => spec(o).result?.code ?? null },
    { name: 'Project', type: 'string', priority: 1, description: 'The project the change belongs to.', cell: (o) => str(spec(o).project) },
    ageColumn,
  ],
  fieldLabels: {
    'spec.user': (o) => str(spec(o).user),
    'spec.verb': (o) => str(spec(o).verb),
    'spec.resource': (o) => str(spec(o).resource),
    'spec.name': (o) => str(spec(o).name),
    'spec.project': (o) => str(spec(o).project),
  },
  visibility: {
    visible: (obj, ctx) => {
      const project = spec(obj).project;
      if (!project || !ctx.projectsOf(ctx.user).has(project)) return false;
      const uid = ctx.lookup('projects', project)?.metadata.uid;
      return !!uid && obj.metadata.labels?.[PROJECT_UID_LABEL] === uid;
    },
  },
};
