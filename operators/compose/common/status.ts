// Status writes of the compose kinds: only what changed, as a merge patch that also removes what the new status no
// longer has (a node gone from the topology, a field a node no longer reports).
import type { KubeClient } from '../../../lib/kube/client.ts';
import type { ResourceType } from '../../../lib/kube/resources.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import { mergePatch } from '../../../lib/mergepatch.ts';

/** Returns the object as written, or undefined when nothing changed (so nothing was written). */
export async function patchStatus<T extends KubeObject & { status?: object }>(client: KubeClient, rt: ResourceType, obj: T, status: NonNullable<T['status']>): Promise<T | undefined> {
  const patch = mergePatch(obj.status ?? {}, status);
  if (patch === undefined) return undefined;
  return client.patch<T>(rt, obj.metadata.name ?? '', { status: patch }, 'merge', { namespace: obj.metadata.namespace, subresource: 'status' });
}
