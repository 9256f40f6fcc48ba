// Wires the projects controller into a manager: projects (storage CRD), the namespaces and role bindings it owns.
import type { ProjectRecord } from '../../lib/api/internal.upm.io.generated.ts';
import { ProjectRecordResource } from '../../lib/api/internal.upm.io.generated.ts';
import type { EventRecorder } from '../../lib/events.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import type { Manager } from '../../lib/manager.ts';
import { PROJECT_LABEL, projectsReconciler, RoleBindings, type RoleBinding } from './controller.ts';

export function registerProjects(manager: Manager, events: EventRecorder): void {
  const projects = manager.informer<ProjectRecord>(ProjectRecordResource);
  const namespaces = manager.informer<KubeObject>(Resources.namespaces, { labelSelector: PROJECT_LABEL });
  const bindings = manager.informer<RoleBinding>(RoleBindings, { labelSelector: PROJECT_LABEL });
  const owner = (o: KubeObject) => { const p = o.metadata.labels?.[PROJECT_LABEL]; return p ? [p] : []; };
  manager.controller({ name: 'projects', concurrency: 4, reconcile: projectsReconciler({ client: manager.client, events, projects, namespaces, bindings }) })
    .watch(projects, undefined, (a, b) => a.metadata.generation !== b.metadata.generation || !!b.metadata.deletionTimestamp)
    .watch(namespaces, owner)
    .watch(bindings, (o) => (o.metadata.namespace ? [o.metadata.namespace] : []));
}
