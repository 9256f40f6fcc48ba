// Read/write split by labels: each unit's pod carries "<kind label>=<name>" and "compose.upm.io/role", and the
// <name>-readwrite / <name>-readonly Services select on them, so traffic follows the source without rewriting any
// Service. A node leaves both Services by losing its role label (role "none").
import type { KubeClient } from '../../../lib/kube/client.ts';
import { isAlreadyExists, isNotFound } from '../../../lib/kube/errors.ts';
import { Resources } from '../../../lib/kube/resources.ts';
import type { KubeObject, OwnerReference } from '../../../lib/kube/types.ts';
import type { Store } from '../../../lib/informer.ts';

export const LABEL_ROLE = 'compose.upm.io/role';
export type Role = 'source' | 'replica' | 'none';

type Service = KubeObject & { spec?: { type?: string; selector?: Record<string, string>; ports?: { name?: string; port: number }[] } };

/**
 * The labels of a compose object that the UnitSets it makes carry on (and so their Units and pods): the platform's
 * own, `upm.io/...`, which name the hub service it belongs to, so the hub finds their Units by label.
 */
export const inheritedLabels = (obj: KubeObject): Record<string, string> =>
  Object.fromEntries(Object.entries(obj.metadata.labels ?? {}).filter(([k]) => k.startsWith('upm.io/')));

export function ownerRef(obj: KubeObject): OwnerReference {
  return { apiVersion: obj.apiVersion ?? '', kind: obj.kind ?? '', name: obj.metadata.name ?? '', uid: obj.metadata.uid ?? '', controller: true, blockOwnerDeletion: true };
}

/** Sets the pod labels of each unit (only what differs). Returns the pods it changed. */
export async function labelPods(client: KubeClient, pods: Store<KubeObject>, namespace: string, kindLabel: string, owner: string, roles: Map<string, Role>): Promise<string[]> {
  const changed: string[] = [];
  for (const [unit, role] of roles) {
    const pod = pods.get(`${namespace}/${unit}`);
    if (!pod || pod.metadata.deletionTimestamp) continue;
    const labels = pod.metadata.labels ?? {};
    if (labels[kindLabel] === owner && labels[LABEL_ROLE] === role) continue;
    await client.patch(Resources.pods, unit, { metadata: { labels: { [kindLabel]: owner, [LABEL_ROLE]: role } } }, 'merge', { namespace })
      .catch((e: unknown) => { if (!isNotFound(e)) throw e; });
    changed.push(unit);
  }
  return changed;
}

/** Keeps <name>-readwrite and <name>-readonly (the latter only while there are replicas). */
export async function ensureRoleServices(
  client: KubeClient, services: Store<Service>, owner: KubeObject, kindLabel: string, port: { name: string; port: number }, type: string, withReadonly: boolean,
): Promise<{ readwrite: string; readonly: string }> {
  const ns = owner.metadata.namespace ?? '';
  const name = owner.metadata.name ?? '';
  const want = [
    { svc: `${name}-readwrite`, role: 'source', keep: true },
    { svc: `${name}-readonly`, role: 'replica', keep: withReadonly },
  ];
  for (const w of want) {
    const cur = services.get(`${ns}/${w.svc}`);
    if (!w.keep) {
      if (cur) await client.delete(Resources.services, w.svc, ns).catch((e: unknown) => { if (!isNotFound(e)) throw e; });
      continue;
    }
    const spec = { type, selector: { [kindLabel]: name, [LABEL_ROLE]: w.role }, ports: [{ name: port.name, port: port.port, targetPort: port.port, protocol: 'TCP' }] };
    if (!cur) {
      await client.create(Resources.services, {
        apiVersion: 'v1', kind: 'Service',
        metadata: { name: w.svc, namespace: ns, labels: { [kindLabel]: name }, ownerReferences: [ownerRef(owner)] },
        spec,
      } as KubeObject).catch((e: unknown) => { if (!isAlreadyExists(e)) throw e; });
    } else if (cur.spec?.type !== type || JSON.stringify(cur.spec?.selector) !== JSON.stringify(spec.selector) || cur.spec?.ports?.[0]?.port !== port.port) {
      await client.patch(Resources.services, w.svc, { spec }, 'merge', { namespace: ns });
    }
  }
  return { readwrite: `${name}-readwrite`, readonly: withReadonly ? `${name}-readonly` : '' };
}
