// Event filters for controller sources (controller-runtime's predicates). A predicate may judge each kind of event;
// a kind it does not judge passes. The stock predicates judge only updates, as controller-runtime's do: an add or a
// delete always matters, and a relist reports what changed while the watch was down as the same three kinds.
// Predicates are pure and compose with and/or/not.
import type { KubeObject } from './kube/types.ts';

export interface Predicate<T extends KubeObject = KubeObject> {
  create?(obj: T): boolean;
  update?(oldObj: T, newObj: T): boolean;
  delete?(obj: T): boolean;
}

export const allowsCreate = <T extends KubeObject>(p: Predicate<T> | undefined, obj: T): boolean => !p?.create || p.create(obj);
export const allowsUpdate = <T extends KubeObject>(p: Predicate<T> | undefined, oldObj: T, newObj: T): boolean => !p?.update || p.update(oldObj, newObj);
export const allowsDelete = <T extends KubeObject>(p: Predicate<T> | undefined, obj: T): boolean => !p?.delete || p.delete(obj);

/** A predicate of updates only, from a plain (old, new) test. */
export const onUpdate = <T extends KubeObject>(changed: (oldObj: T, newObj: T) => boolean): Predicate<T> => ({ update: changed });

/**
 * metadata.generation moved: the spec changed (a status or metadata write does not move it). Objects without a
 * generation (Secrets, ConfigMaps, Namespaces) never pass an update through this predicate.
 */
export const generationChanged: Predicate = onUpdate((a, b) => a.metadata.generation !== b.metadata.generation);

/** Any write at all (the watch reports every one; a relist reports only objects that changed). */
export const resourceVersionChanged: Predicate = onUpdate((a, b) => a.metadata.resourceVersion !== b.metadata.resourceVersion);

export const labelsChanged: Predicate = onUpdate((a, b) => !sameMap(a.metadata.labels, b.metadata.labels));

export const annotationsChanged: Predicate = onUpdate((a, b) => !sameMap(a.metadata.annotations, b.metadata.annotations));

/** The object has just been marked for deletion (it waits on finalizers; the delete event comes when they are gone). */
export const deletionStarted: Predicate = onUpdate((a, b) => !a.metadata.deletionTimestamp && !!b.metadata.deletionTimestamp);

/** Every kind of event, judged on the object (an update on the new one): e.g. only objects that carry a label. */
export const matching = <T extends KubeObject>(test: (obj: T) => boolean): Predicate<T> => ({
  create: test,
  update: (_a, b) => test(b),
  delete: test,
});

/** Passes an event only if every predicate does (none: everything passes). */
export function and<T extends KubeObject>(...ps: Predicate<T>[]): Predicate<T> {
  return {
    create: (o) => ps.every((p) => allowsCreate(p, o)),
    update: (a, b) => ps.every((p) => allowsUpdate(p, a, b)),
    delete: (o) => ps.every((p) => allowsDelete(p, o)),
  };
}

/** Passes an event if any predicate does (none: nothing passes). */
export function or<T extends KubeObject>(...ps: Predicate<T>[]): Predicate<T> {
  return {
    create: (o) => ps.some((p) => allowsCreate(p, o)),
    update: (a, b) => ps.some((p) => allowsUpdate(p, a, b)),
    delete: (o) => ps.some((p) => allowsDelete(p, o)),
  };
}

/** The opposite, for every kind: not(generationChanged) drops adds and deletes too, as in controller-runtime. */
export function not<T extends KubeObject>(p: Predicate<T>): Predicate<T> {
  return {
    create: (o) => !allowsCreate(p, o),
    update: (a, b) => !allowsUpdate(p, a, b),
    delete: (o) => !allowsDelete(p, o),
  };
}

function sameMap(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ak = Object.keys(a ?? {});
  if (ak.length !== Object.keys(b ?? {}).length) return false;
  return ak.every((k) => Object.hasOwn(b ?? {}, k) && a?.[k] === b?.[k]);
}
