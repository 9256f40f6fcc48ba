// The projects controller (hub): a project's membership becomes RBAC. For each Project it keeps a namespace named
// after the project (owned by it, so deleting the project deletes the namespace) and one RoleBinding per role,
// binding the members who hold that role to the ClusterRole upm-project-<role>. The API server's
// SubjectAccessReviews then decide, in the project's namespace, what each member may do.
import type { ProjectRecord } from '../../lib/api/internal.upm.io.generated.ts';
import { ProjectRecordResource } from '../../lib/api/internal.upm.io.generated.ts';
import { getCondition, setCondition, type Condition } from '../../lib/conditions.ts';
import type { ReconcileResult, Reconciler } from '../../lib/controller.ts';
import type { EventRecorder } from '../../lib/events.ts';
import type { Store } from '../../lib/informer.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { isAlreadyExists, isNotFound } from '../../lib/kube/errors.ts';
import { Resources, type ResourceType } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { asPublic } from '../public.ts';

export const PROJECT_LABEL = 'upm.io/project';
export const ROLES = ['admin', 'editor', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const RoleBindings: ResourceType = { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', kind: 'RoleBinding', namespaced: true };

export type Subject = { kind: 'User' | 'Group'; apiGroup: 'rbac.authorization.k8s.io'; name: string } | { kind: 'ServiceAccount'; name: string; namespace: string };
export interface RoleBinding extends KubeObject {
  roleRef: { apiGroup: string; kind: string; name: string };
  subjects?: Subject[];
}

export const bindingName = (role: Role) => `upm-project-${role}`;

/**
 * The hub controllers' own access to a project's namespace: its Secrets (each service's connection Secret), bound
 * here only, so the controllers touch no Secret of any other namespace. ClusterRole and RoleBinding share the name.
 */
export const CONTROLLERS_BINDING = 'upm-hub-controllers-project';
/** The hub controllers' ServiceAccount (config/apiserver/base/controllers-rbac.yaml). */
export const CONTROLLERS_SUBJECT = { kind: 'ServiceAccount', name: 'upm-hub-controllers', namespace: 'upm-system' } as const;

/** The subjects each role's RoleBinding should hold, sorted so comparisons are stable. Pure. */
export function desiredSubjects(project: ProjectRecord): Record<Role, Subject[]> {
  const out: Record<Role, Subject[]> = { admin: [], editor: [], viewer: [] };
  for (const m of project.spec.members ?? []) {
    if (!ROLES.includes(m.role)) continue;
    out[m.role].push({ kind: m.kind === 'Group' ? 'Group' : 'User', apiGroup: 'rbac.authorization.k8s.io', name: m.name });
  }
  for (const r of ROLES) out[r].sort((a, b) => `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`));
  return out;
}

export interface ProjectsDeps {
  client: KubeClient;
  events: EventRecorder;
  projects: Store<ProjectRecord>;
  namespaces: Store<KubeObject>;
  bindings: Store<RoleBinding>;
}

// The namespace and bindings belong to the stored project, so the garbage collector removes them with it.
const ownerRef = (p: ProjectRecord) => ({ apiVersion: `${ProjectRecordResource.group}/${ProjectRecordResource.version}`, kind: ProjectRecordResource.kind, name: p.metadata.name ?? '', uid: p.metadata.uid ?? '', controller: true });

export function projectsReconciler(d: ProjectsDeps): Reconciler {
  return async (name): Promise<ReconcileResult> => {
    const project = d.projects.get(name);
    if (!project || project.metadata.deletionTimestamp) return; // the namespace goes with it (owner reference)
    const p = asPublic(project, 'Project');

    let ns = d.namespaces.get(name);
    if (!ns) {
      try {
        ns = await d.client.create(Resources.namespaces, {
          apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { [PROJECT_LABEL]: name }, ownerReferences: [ownerRef(p)] },
        });
        await d.events.record(p, 'Normal', 'NamespaceCreated', `created namespace ${name}`);
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        ns = await d.client.get(Resources.namespaces, name);
      }
    }
    if (ns.metadata.labels?.[PROJECT_LABEL] !== name) {
      return writeStatus(d, p, name, { type: 'Ready', status: 'False', reason: 'NamespaceConflict', message: `metadata.name: namespace ${name} exists and belongs to no project` });
    }
    if (ns.metadata.deletionTimestamp) return { requeueAfterMs: 2000 }; // a namespace of a former project is still going away

    const want = desiredSubjects(p);
    const changed: string[] = [];
    for (const role of ROLES) {
      const bname = bindingName(role);
      const have = d.bindings.get(`${name}/${bname}`);
      if (want[role].length === 0) {
        if (have) {
          try { await d.client.delete(RoleBindings, bname, name); } catch (err) { if (!isNotFound(err)) throw err; }
          changed.push(`${role}: none`);
        }
        continue;
      }
      const body: RoleBinding = {
        apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding',
        metadata: { name: bname, namespace: name, labels: { [PROJECT_LABEL]: name }, ownerReferences: [ownerRef(p)] },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: bindingName(role) },
        subjects: want[role],
      };
      if (!have) {
        try { await d.client.create(RoleBindings, body); } catch (err) { if (!isAlreadyExists(err)) throw err; await d.client.patch(RoleBindings, bname, { subjects: want[role] }, 'merge', { namespace: name }); }
        changed.push(`${role}: ${want[role].map((s) => s.name).join(', ')}`);
      } else if (JSON.stringify(have.subjects ?? []) !== JSON.stringify(want[role])) {
        await d.client.patch(RoleBindings, bname, { subjects: want[role] }, 'merge', { namespace: name });
        changed.push(`${role}: ${want[role].map((s) => s.name).join(', ')}`);
      }
    }
    const own = d.bindings.get(`${name}/${CONTROLLERS_BINDING}`);
    const ownSubjects: Subject[] = [{ ...CONTROLLERS_SUBJECT }];
    if (!own) {
      const body: RoleBinding = {
        apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding',
        metadata: { name: CONTROLLERS_BINDING, namespace: name, labels: { [PROJECT_LABEL]: name }, ownerReferences: [ownerRef(p)] },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: CONTROLLERS_BINDING },
        subjects: ownSubjects,
      };
      try { await d.client.create(RoleBindings, body); } catch (err) { if (!isAlreadyExists(err)) throw err; }
    } else if (own.subjects?.length !== 1 || !own.subjects.every((x) => x.kind === 'ServiceAccount' && x.name === CONTROLLERS_SUBJECT.name && x.namespace === CONTROLLERS_SUBJECT.namespace)) {
      await d.client.patch(RoleBindings, CONTROLLERS_BINDING, { subjects: ownSubjects }, 'merge', { namespace: name });
    }
    if (changed.length) await d.events.record(p, 'Normal', 'RoleBindingsUpdated', `members bound in namespace ${name}: ${changed.join('; ')}`);
    return writeStatus(d, p, name, { type: 'Ready', status: 'True', reason: 'MembersBound', message: `namespace ${name} and its role bindings are in place` });
  };
}

async function writeStatus(d: ProjectsDeps, p: ProjectRecord, namespace: string, c: Omit<Condition, 'lastTransitionTime'>): Promise<ReconcileResult> {
  const gen = p.metadata.generation;
  const prev = getCondition(p.status?.conditions as Condition[] | undefined, c.type);
  const phase = c.status === 'True' ? 'Ready' : 'Failed';
  const same = prev && prev.status === c.status && prev.reason === c.reason && prev.message === c.message && prev.observedGeneration === gen;
  if (same && p.status?.phase === phase && p.status?.observedGeneration === gen && p.status?.namespace === namespace) return;
  const conditions = setCondition(p.status?.conditions as Condition[] | undefined, { ...c, observedGeneration: gen });
  await d.client.patch(ProjectRecordResource, p.metadata.name ?? '', { status: { observedGeneration: gen, namespace, phase, conditions } }, 'merge', { subresource: 'status' });
  if (c.status !== 'True') await d.events.record(p, 'Warning', c.reason ?? 'Failed', c.message ?? '');
}
