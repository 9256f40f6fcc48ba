import { describe, expect, it } from '@jest/globals';
import type { KubeObject, ObjectMeta } from './kube/types.ts';
import {
  allowsCreate, allowsDelete, allowsUpdate, and, annotationsChanged, deletionStarted, generationChanged, labelsChanged, matching, not, or,
  resourceVersionChanged, type Predicate,
} from './predicates.ts';

const obj = (meta: Partial<ObjectMeta> = {}): KubeObject => ({ metadata: { name: 'x', namespace: 'ns', resourceVersion: '1', generation: 1, ...meta } });
const base = obj({ labels: { a: '1' }, annotations: { n: 'x' } });
const update = (p: Predicate, meta: Partial<ObjectMeta>) => allowsUpdate(p, base, { metadata: { ...base.metadata, resourceVersion: '2', ...meta } });

describe('stock predicates', () => {
  it('generationChanged passes spec changes only', () => {
    expect(update(generationChanged, { generation: 2 })).toBe(true);
    expect(update(generationChanged, {})).toBe(false); // a status write moves only the resourceVersion
    expect(update(generationChanged, { labels: { a: '2' } })).toBe(false);
  });

  it('resourceVersionChanged passes any write and drops a same-version resync', () => {
    expect(update(resourceVersionChanged, {})).toBe(true);
    expect(update(resourceVersionChanged, { resourceVersion: '1' })).toBe(false);
  });

  it('labelsChanged and annotationsChanged compare the maps, not their identity or order', () => {
    expect(update(labelsChanged, { labels: { a: '2' } })).toBe(true);
    expect(update(labelsChanged, { labels: { a: '1', b: '1' } })).toBe(true);
    expect(update(labelsChanged, { labels: {} })).toBe(true);
    expect(update(labelsChanged, { labels: { a: '1' } })).toBe(false);
    expect(update(labelsChanged, { generation: 5 })).toBe(false);
    expect(allowsUpdate(labelsChanged, obj({ labels: { a: '1', b: '2' } }), obj({ labels: { b: '2', a: '1' } }))).toBe(false);
    expect(allowsUpdate(labelsChanged, obj(), obj({ labels: {} }))).toBe(false); // none and empty are the same
    expect(allowsUpdate(labelsChanged, obj({ labels: { a: '1' } }), obj({ labels: { b: '1' } }))).toBe(true);
    expect(update(annotationsChanged, { annotations: { n: 'y' } })).toBe(true);
    expect(update(annotationsChanged, { annotations: { n: 'x' } })).toBe(false);
    expect(update(annotationsChanged, { labels: { a: '2' } })).toBe(false);
  });

  it('deletionStarted passes the update that sets deletionTimestamp, not later ones', () => {
    const t = '2026-01-01T00:00:00Z';
    expect(update(deletionStarted, { deletionTimestamp: t })).toBe(true);
    expect(update(deletionStarted, {})).toBe(false);
    expect(allowsUpdate(deletionStarted, obj({ deletionTimestamp: t }), obj({ deletionTimestamp: t, finalizers: [] }))).toBe(false);
  });

  it('judge updates only: adds and deletes pass', () => {
    for (const p of [generationChanged, resourceVersionChanged, labelsChanged, annotationsChanged, deletionStarted]) {
      expect(allowsCreate(p, base)).toBe(true);
      expect(allowsDelete(p, base)).toBe(true);
    }
  });

  it('matching judges every kind of event on the object (the new one for an update)', () => {
    const labelled = matching((o) => o.metadata.labels?.a === '1');
    expect(allowsCreate(labelled, base)).toBe(true);
    expect(allowsCreate(labelled, obj())).toBe(false);
    expect(allowsDelete(labelled, obj())).toBe(false);
    expect(update(labelled, { labels: { a: '2' } })).toBe(false);
    expect(allowsUpdate(labelled, obj(), base)).toBe(true);
  });
});

describe('combinators', () => {
  const specOrDeleting = or(generationChanged, deletionStarted);

  it('or passes when any passes', () => {
    expect(update(specOrDeleting, { generation: 2 })).toBe(true);
    expect(update(specOrDeleting, { deletionTimestamp: 'now' })).toBe(true);
    expect(update(specOrDeleting, { labels: {} })).toBe(false);
    expect(allowsCreate(specOrDeleting, base)).toBe(true);
    expect(allowsUpdate(or(), base, base)).toBe(false);
  });

  it('and passes only when all pass', () => {
    const both = and(generationChanged, labelsChanged);
    expect(update(both, { generation: 2, labels: {} })).toBe(true);
    expect(update(both, { generation: 2 })).toBe(false);
    expect(update(both, { labels: {} })).toBe(false);
    expect(allowsDelete(and(matching(() => false), generationChanged), base)).toBe(false);
    expect(allowsUpdate(and(), base, base)).toBe(true);
  });

  it('not inverts every kind, including the kinds the inner predicate lets through', () => {
    const statusOnly = not(generationChanged);
    expect(update(statusOnly, {})).toBe(true);
    expect(update(statusOnly, { generation: 2 })).toBe(false);
    expect(allowsCreate(statusOnly, base)).toBe(false);
    expect(allowsDelete(statusOnly, base)).toBe(false);
  });

  it('nest', () => {
    const p = and(or(generationChanged, labelsChanged), not(deletionStarted));
    expect(update(p, { labels: {} })).toBe(true);
    expect(update(p, { labels: {}, deletionTimestamp: 'now' })).toBe(false);
    expect(update(p, { annotations: {} })).toBe(false);
  });

  it('no predicate lets everything through', () => {
    expect(allowsCreate(undefined, base)).toBe(true);
    expect(allowsUpdate(undefined, base, base)).toBe(true);
    expect(allowsDelete(undefined, base)).toBe(true);
  });
});
