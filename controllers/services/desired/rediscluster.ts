// A RedisClusterService on its member: the project's namespace, a UnitSet "<name>" of cluster-enabled Redis servers
// and the RedisCluster "<name>" that forms them into shards (credentials: the UnitSet's "<name>-credentials"). Pure.
import type { ClusterRecord } from '../../../lib/api/internal.upm.io.generated.ts';
import type { RedisCluster } from '../../../lib/api/compose.upm.io.generated.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import type { Desired, DesiredFn, HubService } from '../contract.ts';
import { basics, invalid, isRefusal, liveObject, memberObject, numAt, ordinalIn, parametersOf, projectNamespace, resourcesOf, unitSet } from './common.ts';

export const KIND = 'RedisClusterService';
export const DATA_PATH = '/data';

type Shard = { name: string; members: { name: string; unit: string }[] };

/**
 * Which units make which shard. A unit's ordinal says nothing about its shard once the cluster has grown, so the
 * shards the member has are kept: members whose unit a scale-in removes (the highest ordinals) leave, shards beyond
 * the count go (the RedisCluster moves their slots first), and new places are filled from the lowest free ordinals.
 * From nothing, shard i is the units i*(1+r) .. i*(1+r)+r, its first the master.
 */
export function shardLayout(name: string, shards: number, perShard: number, live: Shard[] | undefined): Shard[] {
  const size = 1 + perShard;
  const total = shards * size;
  const kept = new Map<string, Shard['members']>();
  for (const s of live ?? []) {
    const i = /^shard-(\d+)$/.exec(s.name)?.[1];
    if (i === undefined || Number(i) >= shards) continue;
    kept.set(s.name, s.members.filter((m) => { const o = ordinalIn(name, m.unit); return o >= 0 && o < total; }).slice(0, size));
  }
  const used = new Set([...kept.values()].flat().map((m) => ordinalIn(name, m.unit)));
  const free = Array.from({ length: total }, (_, o) => o).filter((o) => !used.has(o));
  return Array.from({ length: shards }, (_, i) => {
    const members = [...(kept.get(`shard-${i}`) ?? [])];
    while (members.length < size) { const u = `${name}-${free.shift() ?? 0}`; members.push({ name: u, unit: u }); }
    return { name: `shard-${i}`, members };
  });
}

/**
 * The servers the UnitSet keeps. A scale-in removes units only once the member's RedisCluster no longer has them:
 * its spec dropped them, it acted on that spec (observedGeneration), drained their slots with the keys, forgot them
 * (nothing leaving) and is ready. Until then the units stay, so no server holding slots is ever deleted.
 */
export function unitsKept(name: string, total: number, rc: RedisCluster | undefined, liveUnits: number | undefined): number {
  if (liveUnits === undefined || liveUnits <= total || !rc) return total;
  const members = ((rc.spec.shards ?? []) as Shard[]).flatMap((s) => s.members.map((m) => ordinalIn(name, m.unit)));
  const st = rc.status;
  const released = members.every((o) => o < total) && st?.observedGeneration === rc.metadata.generation && st?.ready === true && (st?.leaving ?? []).length === 0;
  return released ? total : liveUnits;
}

export const desiredRedisCluster: DesiredFn = (svc: HubService, cluster: ClusterRecord, live: KubeObject[]): Desired => {
  const name = svc.metadata.name ?? '';
  const b = basics(svc, cluster, '-readwrite');
  if (isRefusal(b)) return b;
  const { placement, storage } = b;
  const shards = numAt(svc, ['topology', 'shards'], 3);
  const perShard = numAt(svc, ['topology', 'replicasPerShard'], 1);
  const parameters = parametersOf(svc);
  if (parameters['cluster-enabled'] !== undefined && parameters['cluster-enabled'] !== 'yes') {
    return invalid('spec.options.parameters[cluster-enabled]', parameters['cluster-enabled'] ?? '', "a Redis Cluster's servers run with cluster-enabled yes");
  }
  const rc = liveObject<RedisCluster>(live, 'RedisCluster', name);
  const layout = shardLayout(name, shards, perShard, rc?.spec.shards as Shard[] | undefined);
  const units = unitsKept(name, shards * (1 + perShard), rc, liveObject<KubeObject & { spec?: { units?: number } }>(live, 'UnitSet', name)?.spec?.units);
  return {
    objects: [
      projectNamespace(svc),
      unitSet(svc, KIND, { name, engine: 'redis', version: svc.spec.version, units, placement, mountPath: DATA_PATH, storage, resources: resourcesOf(svc), parameters: { ...parameters, 'cluster-enabled': 'yes' } }),
      memberObject(svc, KIND, 'compose.upm.io/v1alpha1', 'RedisCluster', name, { secretName: `${name}-credentials`, shards: layout }),
    ],
  };
};
