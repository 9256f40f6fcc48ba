import { describe, expect, it } from '@jest/globals';
import { offer, readInventory, sameInventory, type StorageClassObject } from './inventory.ts';
import type { KubeObject } from './kube/types.ts';

const node = (name: string, labels: Record<string, string>): KubeObject => ({ metadata: { name, labels } });
const zoned = (name: string, zone: string, extra: Record<string, string> = {}) =>
  node(name, { 'topology.kubernetes.io/region': 'eu-1', 'topology.kubernetes.io/zone': zone, ...extra });
const sc = (name: string, extra: Partial<StorageClassObject> = {}, isDefault = false): StorageClassObject => ({
  metadata: { name, ...(isDefault ? { annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } : {}) },
  provisioner: 'csi.example', ...extra,
});

describe('reading a member', () => {
  it('takes zones and region from the nodes, one node group per zone when no node names a group', () => {
    const inv = readInventory([zoned('n1', 'b'), zoned('n2', 'a'), zoned('n3', 'b'), node('bare', {})], []);
    expect(inv).toEqual({
      region: 'eu-1',
      zones: ['a', 'b'],
      nodeGroups: [
        { name: 'a', zones: ['a'], nodeSelector: { 'topology.kubernetes.io/zone': 'a' }, nodes: 1 },
        { name: 'b', zones: ['b'], nodeSelector: { 'topology.kubernetes.io/zone': 'b' }, nodes: 2 },
      ],
      storageClasses: [],
    });
  });

  it('groups by a node-group label when nodes carry one, a cloud pool label too, spanning zones', () => {
    const inv = readInventory([
      zoned('n1', 'a', { 'upm.io/node-group': 'big' }),
      zoned('n2', 'b', { 'upm.io/node-group': 'big' }),
      zoned('n3', 'a', { 'cloud.google.com/gke-nodepool': 'pool-1' }),
      zoned('n4', 'c'), // in no group: the others are grouped by label
      zoned('n5', 'c', { 'eks.amazonaws.com/nodegroup': 'big' }),
    ], []);
    expect(inv.zones).toEqual(['a', 'b', 'c']);
    expect(inv.nodeGroups).toEqual([
      { name: 'big', zones: ['a', 'b'], nodeSelector: { 'upm.io/node-group': 'big' }, nodes: 2 },
      { name: 'big-1', zones: ['c'], nodeSelector: { 'eks.amazonaws.com/nodegroup': 'big' }, nodes: 1 },
      { name: 'pool-1', zones: ['a'], nodeSelector: { 'cloud.google.com/gke-nodepool': 'pool-1' }, nodes: 1 },
    ]);
  });

  it('reads storage classes with their default and expansion support, in name order', () => {
    const inv = readInventory([], [sc('slow', { volumeBindingMode: 'WaitForFirstConsumer' }), sc('fast', { allowVolumeExpansion: true }, true)]);
    expect(inv.region).toBeUndefined();
    expect(inv.storageClasses).toEqual([
      { name: 'fast', provisioner: 'csi.example', default: true, allowVolumeExpansion: true },
      { name: 'slow', provisioner: 'csi.example', default: false, allowVolumeExpansion: false, volumeBindingMode: 'WaitForFirstConsumer' },
    ]);
  });

  it('is the same inventory whatever order the member lists things in', () => {
    const nodes = [zoned('n1', 'a'), zoned('n2', 'b'), zoned('n3', 'c')];
    const classes = [sc('x'), sc('y', {}, true)];
    expect(sameInventory(readInventory(nodes, classes), readInventory([...nodes].reverse(), [...classes].reverse()))).toBe(true);
    expect(sameInventory(readInventory(nodes, classes), readInventory(nodes.slice(1), classes))).toBe(false);
    // as stored: the API server writes the keys in its own order
    const stored = JSON.parse(JSON.stringify(readInventory(nodes, classes), (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v))) as ReturnType<typeof readInventory>;
    expect(JSON.stringify(stored)).not.toBe(JSON.stringify(readInventory(nodes, classes)));
    expect(sameInventory(stored, readInventory(nodes, classes))).toBe(true);
  });
});

describe('what a service may use', () => {
  const status = readInventory([zoned('n1', 'a'), zoned('n2', 'b'), zoned('n3', 'c')], [sc('fast', { allowVolumeExpansion: true }, true), sc('slow')]);

  it('is unknown before the first read and without restrictions', () => {
    expect(offer({}, undefined)).toEqual({ read: false, zones: undefined, nodeGroups: undefined, storageClasses: undefined });
  });

  it('is what the spec declares before the first read', () => {
    const o = offer({ zones: ['a'], nodeGroups: [{ name: 'gpu', zone: 'a', nodeSelector: { gpu: 'yes' } }], storageClasses: [{ name: 'fast', default: true }] }, undefined);
    expect(o).toEqual({ read: false, zones: ['a'], nodeGroups: [{ name: 'gpu', zones: ['a'], nodeSelector: { gpu: 'yes' } }], storageClasses: [{ name: 'fast', default: true }] });
  });

  it('is what was read when the spec restricts nothing', () => {
    const o = offer({}, status);
    expect(o.zones).toEqual(['a', 'b', 'c']);
    expect(o.nodeGroups?.map((g) => g.name)).toEqual(['a', 'b', 'c']);
    expect(o.storageClasses).toEqual([{ name: 'fast', default: true, allowVolumeExpansion: true }, { name: 'slow', default: false, allowVolumeExpansion: false }]);
  });

  it('is what was read within the spec: zones and classes restricted, groups added or redefined, the default chosen', () => {
    const o = offer({
      zones: ['a', 'b', 'gone'],
      nodeGroups: [{ name: 'b', zone: 'b', nodeSelector: { disk: 'ssd' } }, { name: 'gpu', nodeSelector: { gpu: 'yes' } }],
      storageClasses: [{ name: 'slow', default: true }, { name: 'missing' }],
    }, status);
    // A zone the member does not have is not offered, whatever the spec says.
    expect(o.zones).toEqual(['a', 'b']);
    expect(o.nodeGroups).toEqual([
      { name: 'a', zones: ['a'], nodeSelector: { 'topology.kubernetes.io/zone': 'a' } },
      { name: 'b', zones: ['b'], nodeSelector: { disk: 'ssd' } },
      { name: 'gpu', zones: [], nodeSelector: { gpu: 'yes' } },
    ]);
    expect(o.storageClasses).toEqual([{ name: 'slow', default: true, allowVolumeExpansion: false }]);
  });
});
