import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../lib/kube/types.ts';
import { deletionPlan, statusPatch } from './controller.ts';
import { DESIRED_HASH_ANNOTATION, firstDifference, MIRRORED_RESOURCES, planObject, withHash } from './mirror.ts';

const us = (units: number, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'unit.upm.io/v1alpha1', kind: 'UnitSet', metadata: { name: 'db', namespace: 'p', labels: { a: 'b' } }, spec: { units, engine: 'mariadb', ...extra },
} as KubeObject);
/** What the member returns: the applied object with what the server and the operators add. */
const served = (o: KubeObject, spec: Record<string, unknown> = {}): KubeObject => ({
  ...o, metadata: { ...o.metadata, uid: 'u', resourceVersion: '7', labels: { ...o.metadata.labels, extra: 'x' } },
  spec: { ...(o as KubeObject & { spec: object }).spec, paused: false, ...spec }, status: { readyUnits: 1 },
} as KubeObject);

describe('what the mirror writes', () => {
  it('compares only what the hub sets', () => {
    expect(firstDifference({ a: 1, b: { c: [1, { d: 2 }] } }, { a: 1, z: 3, b: { c: [1, { d: 2, e: 5 }] } })).toBeUndefined();
    expect(firstDifference({ b: { c: [1, { d: 2 }] } }, { b: { c: [1, { d: 3 }] } })).toBe('b.c[1].d');
    expect(firstDifference({ b: [1, 2] }, { b: [1] })).toBe('b');
  });

  it('creates what is missing, writes nothing when the member holds it, updates for a new spec', () => {
    expect(planObject(us(3), undefined, false)).toMatchObject({ action: 'create' });
    expect(planObject(us(3), served(withHash(us(3))), false)).toBeUndefined();
    expect(planObject(us(5), served(withHash(us(3))), false)).toMatchObject({ action: 'update', why: 'spec.units differs' });
    // A field the hub no longer sets changes the hash, though the member still holds every field it does set.
    expect(planObject(us(3), served(withHash(us(3, { parameters: { x: '1' } }))), false)).toMatchObject({ action: 'update' });
  });

  it('calls a change on the member to what the hub applied drift, as it does a deletion it saw', () => {
    expect(planObject(us(3), served(withHash(us(3)), { units: 6 }), false)).toMatchObject({ action: 'restore', why: 'spec.units changed on the member' });
    const stripped = served(withHash(us(3)));
    stripped.metadata.labels = { extra: 'x' };
    expect(planObject(us(3), stripped, false)).toMatchObject({ action: 'restore', why: 'metadata.labels.a changed on the member' });
    expect(planObject(us(3), undefined, true)).toMatchObject({ action: 'restore', why: 'deleted on the member' });
    const going = served(withHash(us(3)));
    going.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    expect(planObject(us(3), going, true)).toMatchObject({ action: 'wait' });
    expect(withHash(us(3)).metadata.annotations?.[DESIRED_HASH_ANNOTATION]).toMatch(/^[0-9a-f]{16}$/);
  });

  it("compares a Secret's stringData with the data the server returns", () => {
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'p' }, stringData: { k: 'v' } } as KubeObject;
    const got = { ...withHash(secret), stringData: undefined, data: { k: Buffer.from('v').toString('base64') }, type: 'Opaque' } as KubeObject;
    expect(planObject(secret, got, false)).toBeUndefined();
  });
});

describe('what the controller writes', () => {
  it('patches the status only when it changed, removing what the new one lacks', () => {
    expect(statusPatch({ phase: 'Ready', ready: '3/3' }, { ready: '3/3', phase: 'Ready' })).toBeUndefined();
    expect(statusPatch({ phase: 'Ready', retained: { cluster: 'c', namespace: 'n', claims: [], secrets: [] } }, { phase: 'Creating' })).toEqual({ phase: 'Creating', retained: null });
  });

  it('deletes compose objects before the UnitSets they use, one kind at a time, and waits for what is going', () => {
    const order = MIRRORED_RESOURCES.map((r) => r.kind);
    const o = (kind: string, name: string, deleting = false): KubeObject => ({ kind, metadata: { name, ...(deleting ? { deletionTimestamp: 't' } : {}) } });
    const plan = deletionPlan([o('UnitSet', 'db'), o('Unit', 'db-0'), o('UnitSet', 'db-proxysql'), o('ProxysqlSync', 'db'), o('MysqlReplication', 'db', true)], order);
    expect(plan.remove.map((x) => `${x.kind}/${x.metadata.name}`)).toEqual(['ProxysqlSync/db']);
    expect(plan.waiting.map((x) => x.kind)).toEqual(['MysqlReplication']);
    const next = deletionPlan([o('UnitSet', 'db'), o('UnitSet', 'db-proxysql'), o('MysqlReplication', 'db', true)], order);
    expect(next.remove).toEqual([]);
    expect(deletionPlan([o('UnitSet', 'db'), o('Unit', 'db-0'), o('UnitSet', 'db-proxysql')], order).remove.map((x) => x.metadata.name)).toEqual(['db', 'db-proxysql']);
    expect(deletionPlan([o('Unit', 'db-0')], order)).toEqual({ remove: [], waiting: [] });
  });
});
