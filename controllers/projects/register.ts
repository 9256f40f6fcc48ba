// Wires the projects controller into a manager: projects (storage CRD), the namespaces and role bindings it owns.
import type { ProjectRecord } from '../../lib/api/internal.upm.io.generated.ts';
import { ProjectRecordResource } from '../../lib/api/internal.upm.io.generated.ts';
import type { EventRecorder } from '../../lib/events.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import type { Manager } from '../../lib/manager.ts';
import { deletionStarted, generationChanged, or } from '../../lib/predicates.ts';
import { PROJECT_LABEL, projectsReconciler, RoleBindings, type RoleBinding } from './controller.ts';

export function registerProjects(manager: Manager, events: EventRecorder): void {
  const projects = manager.informer<ProjectRecord>(ProjectRecordResource);
  const namespaces = manager.informer<KubeObject>(Resources.namespaces, { labelSelector: PROJECT_LABEL });
  const bindings = manager.informer<RoleBinding>(RoleBindings, { labelSelector: PROJECT_LABEL });
  // The namespace and each binding carry the project's name in PROJECT_LABEL (the binding's namespace is the project's).
  manager.build('projects')
    .for(projects, { predicate: or(generationChanged, deletionStarted) })
    .owns(namespaces, { label: PROJECT_LABEL })
    .owns(bindings, { label: PROJECT_LABEL })
    .withConcurrency(4)
    .complete(projectsReconciler({ client: manager.client, events, projects, namespaces, bindings }));
}
