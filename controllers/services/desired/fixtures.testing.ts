// Hub services and Clusters as data, for the desired and status functions' tests.
import type { ClusterRecord } from '../../../lib/api/internal.upm.io.generated.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import type { Desired, HubService } from '../contract.ts';

/** A member like the local ones, as the hub read it: three zones, a node group per zone, a default storage class. */
export const CLUSTER: ClusterRecord = {
  apiVersion: 'internal.upm.io/v1alpha1', kind: 'ClusterRecord', metadata: { name: 'member1' },
  spec: {},
  status: {
    zones: ['zone-a', 'zone-b', 'zone-c'],
    nodeGroups: ['zone-a', 'zone-b', 'zone-c'].map((z) => ({ name: z, zones: [z], nodeSelector: { 'topology.kubernetes.io/zone': z }, nodes: 2 })),
    storageClasses: [{ name: 'fast', default: false, allowVolumeExpansion: true }, { name: 'kwok-volume', default: true, allowVolumeExpansion: true }],
  },
};

export function service(kind: string, name: string, spec: Record<string, unknown>, generation = 1): HubService {
  return {
    apiVersion: 'internal.upm.io/v1alpha1', kind: `${kind}Record`,
    metadata: { name, namespace: 'shop', generation, uid: `uid-${name}` },
    spec: { placement: { cluster: 'member1' }, storage: { size: '10Gi' }, deletionPolicy: 'Delete', ...spec } as unknown as HubService['spec'],
  };
}

/** The objects of a desired result; fails the test when it was refused. */
export function objectsOf(d: Desired): KubeObject[] {
  if (!('objects' in d)) throw new Error(`refused: ${d.refused.field}: ${d.refused.message}`);
  return d.objects;
}

export const find = <T = KubeObject & { spec: Record<string, unknown> }>(objs: KubeObject[], kind: string, name: string): T => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name} among ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o as T;
};

export const names = (objs: KubeObject[]): string[] => objs.map((o) => `${o.kind}/${o.metadata.name}`);
