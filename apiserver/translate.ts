// Public objects (upm.io/v1alpha1) and their storage objects (internal.upm.io/v1alpha1) differ only in apiVersion,
// also inside managedFields, so the kube-apiserver's persistence semantics (resourceVersion, conflicts,
// generateName, finalizers, dry run, server-side apply) carry over unchanged. Pure.
import type { KubeObject } from '../lib/kube/types.ts';
import type { Status } from './status.ts';
import { GROUP, STORAGE_GROUP, VERSION, type PublicObject } from './resources/types.ts';

export const PUBLIC_API_VERSION = `${GROUP}/${VERSION}`;
export const STORAGE_API_VERSION = `${STORAGE_GROUP}/${VERSION}`;

interface ManagedFieldsEntry { apiVersion?: string }

function swapManagedFields(meta: Record<string, unknown>, from: string, to: string): Record<string, unknown> {
  const mf = meta.managedFields as ManagedFieldsEntry[] | undefined;
  if (!Array.isArray(mf) || !mf.some((e) => e?.apiVersion === from)) return meta;
  return { ...meta, managedFields: mf.map((e) => (e?.apiVersion === from ? { ...e, apiVersion: to } : e)) };
}

export function toPublic(obj: KubeObject): PublicObject {
  const meta = swapManagedFields(obj.metadata as Record<string, unknown>, STORAGE_API_VERSION, PUBLIC_API_VERSION);
  return { ...obj, apiVersion: PUBLIC_API_VERSION, metadata: meta } as PublicObject;
}

export function toStorage<T extends Record<string, unknown>>(obj: T): T {
  const out: Record<string, unknown> = { ...obj };
  if (out.apiVersion === PUBLIC_API_VERSION) out.apiVersion = STORAGE_API_VERSION;
  if (out.metadata && typeof out.metadata === 'object' && !Array.isArray(out.metadata)) {
    out.metadata = swapManagedFields(out.metadata as Record<string, unknown>, PUBLIC_API_VERSION, STORAGE_API_VERSION);
  }
  return out as T;
}

/** A Status from the storage server, reworded for the public group (`projects.internal.upm.io` -> `projects.upm.io`). */
export function publicStatus(status: Status): Status {
  return JSON.parse(JSON.stringify(status).replaceAll(STORAGE_GROUP, GROUP)) as Status;
}

/** Rewords any text from the storage server (warnings). */
export const publicText = (text: string): string => text.replaceAll(STORAGE_GROUP, GROUP);
