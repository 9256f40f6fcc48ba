// The hub controllers read and write storage objects (internal.upm.io, e.g. ClusterRecord), but what they report to
// users names the public object: an Event's involvedObject is what `kubectl describe cluster x` looks for (kind,
// name and uid; the storage object shares name and uid with the public one).
import type { KubeObject } from '../lib/kube/types.ts';

export const PUBLIC_API_VERSION = 'upm.io/v1alpha1';

/** The stored object as the public API shows it, for Events. */
export function asPublic<T extends KubeObject>(stored: T, kind: string): T {
  return { ...stored, apiVersion: PUBLIC_API_VERSION, kind };
}
