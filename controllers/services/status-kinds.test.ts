// The status function on the member objects of the other five kinds, as their compose operators report them.
import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../lib/kube/types.ts';
import type { HubService, Observed, ServiceStatus } from './contract.ts';
import { DESIRED } from './desired/index.ts';
import { CLUSTER, service } from './desired/fixtures.testing.ts';
import { publicKind, serviceStatus } from './status.ts';

const NOW = new Date('2026-12-05T00:00:00Z');
type O = KubeObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };
const cond = (s: ServiceStatus, type: string) => s.conditions?.find((c) => c.type === type);
const node = (name: string, zone: string): O => ({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'topology.kubernetes.io/zone': zone } } });
const NODES = [node('n0', 'zone-a'), node('n1', 'zone-b'), node('n2', 'zone-c')];
const unit = (name: string, unitSet: string, ip: string, nodeName: string, ready = true): O => ({
  apiVersion: 'unit.upm.io/v1alpha1', kind: 'Unit', metadata: { name, labels: { 'unit.upm.io/unitset': unitSet } }, status: { phase: ready ? 'Ready' : 'Running', ready, podIP: ip, nodeName },
});

/** The desired objects as the member holds them, with the status `statusOf` gives each (by kind and name). */
function member(svc: HubService, statusOf: (o: O) => Record<string, unknown> | undefined, extra: O[] = []): Observed {
  const d = DESIRED[publicKind(svc)]!(svc, CLUSTER, []);
  if (!('objects' in d)) throw new Error(d.refused.message);
  const objects = d.objects.map((o) => {
    const x = { ...o, metadata: { ...o.metadata, generation: 1 } } as O;
    const st = statusOf(x);
    return st ? { ...x, status: { observedGeneration: 1, ...st } } : x;
  });
  return { reachable: true, objects: [...objects, ...extra, ...NODES], desired: d };
}
const unitSetReady = (o: O) => ({ units: o.spec?.units, readyUnits: o.spec?.units, updatedUnits: o.spec?.units });

describe('the hub status of the other kinds', () => {
  it('RedisService: master and replicas with their Services, the Sentinels, the last failover by Sentinel', () => {
    const svc = service('RedisService', 'rs', { version: '7.2', topology: { mode: 'replication', replicas: 3 }, options: { sentinel: { enabled: true } } });
    const s = serviceStatus(svc, member(svc, (o) => (o.kind === 'UnitSet' ? unitSetReady(o) : o.kind === 'RedisReplication' ? {
      ready: true, source: 'rs-1', readwriteService: 'rs-readwrite', readonlyService: 'rs-readonly',
      topology: { 'rs-0': { host: '127.0.1.1', role: 'Replica', status: 'Healthy', ready: true }, 'rs-1': { host: '127.0.1.2', role: 'Source', status: 'Healthy', ready: true }, 'rs-2': { host: '127.0.1.3', role: 'Replica', status: 'Failed', ready: false } },
      lastFailover: { time: '2026-12-04T23:59:00Z', from: 'rs-0', to: 'rs-1', by: 'Sentinel', reason: '+switch-master' },
    } : undefined), [
      unit('rs-0', 'rs', '127.0.1.1', 'n0'), unit('rs-1', 'rs', '127.0.1.2', 'n1'), unit('rs-2', 'rs', '127.0.1.3', 'n2', false),
      unit('rs-sentinel-0', 'rs-sentinel', '127.0.1.4', 'n0'), unit('rs-sentinel-1', 'rs-sentinel', '127.0.1.5', 'n1'), unit('rs-sentinel-2', 'rs-sentinel', '127.0.1.6', 'n2'),
    ]), NOW);
    expect(s).toMatchObject({ master: 'rs-1', ready: '2/3', lastFailover: { by: 'Sentinel', to: 'rs-1' } });
    expect(s.endpoints).toEqual([
      { name: 'rs-readwrite', role: 'readwrite', addresses: ['127.0.1.2'], port: 6379 },
      { name: 'rs-readonly', role: 'readonly', addresses: ['127.0.1.1'], port: 6379 },
      { name: 'rs-sentinel-headless', role: 'sentinel', addresses: ['127.0.1.4', '127.0.1.5', '127.0.1.6'], port: 26379 },
    ]);
    expect(s.units?.slice(0, 3)).toEqual([
      { name: 'rs-0', role: 'replica', ready: true, node: 'n0', zone: 'zone-a' },
      { name: 'rs-1', role: 'source', ready: true, node: 'n1', zone: 'zone-b' },
      { name: 'rs-2', role: 'replica', ready: false, node: 'n2', zone: 'zone-c' },
    ]);
    expect(s.units?.[3]).toMatchObject({ name: 'rs-sentinel-0', role: 'sentinel' });
    // The replication says ready, but one server is not: not Ready, and the unit is named.
    expect(s.phase).toBe('Creating');
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'UnitNotReady', message: 'Unit rs-2: not ready' });
  });

  it('RedisClusterService: Ready with the masters behind the readwrite Service and the slots assigned', () => {
    const svc = service('RedisClusterService', 'rc', { version: '7.2', topology: { shards: 3, replicasPerShard: 1 } });
    const topology = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`rc-${i}`, { unit: `rc-${i}`, host: `127.0.2.${i}`, role: i % 2 ? 'Replica' : 'Master', status: 'Healthy', ready: true }]));
    const units = Array.from({ length: 6 }, (_, i) => unit(`rc-${i}`, 'rc', `127.0.2.${i}`, `n${i % 3}`));
    const s = serviceStatus(svc, member(svc, (o) => (o.kind === 'UnitSet' ? unitSetReady(o) : { ready: true, slotsAssigned: 16384, readwriteService: 'rc-readwrite', topology, lastFailover: { shard: 'shard-1', from: 'rc-2', to: 'rc-3', time: '2026-12-04T23:00:00Z' } }), units), NOW);
    expect(s).toMatchObject({ phase: 'Ready', ready: '6/6', slotsAssigned: 16384, version: '7.2', lastFailover: { shard: 'shard-1' } });
    expect(s.endpoints).toEqual([{ name: 'rc-readwrite', role: 'readwrite', addresses: ['127.0.2.0', '127.0.2.2', '127.0.2.4'], port: 6379 }]);
    expect(s.units?.map((u) => u.role)).toEqual(['master', 'replica', 'master', 'replica', 'master', 'replica']);
  });

  it('ZookeeperService: the servers as the ensemble reports them, the client Service, an election as the last failover', () => {
    const svc = service('ZookeeperService', 'zk', { version: '3.8', topology: { replicas: 3 } });
    const servers = { 'zk-0': { address: '127.0.3.1', role: 'leader', serving: true, synced: true }, 'zk-1': { address: '127.0.3.2', role: 'follower', serving: true, synced: true }, 'zk-2': { address: '127.0.3.3', role: 'down', serving: false } };
    const s = serviceStatus(svc, member(svc, () => ({ ready: false, phase: 'Degraded', leader: 'zk-0', clientService: 'zk-client', servers, lastLeaderChange: { from: 'zk-2', to: 'zk-0', reason: 'Election' }, conditions: [{ type: 'Ready', status: 'False', message: 'zk-2: not serving' }] }), [unit('zk-0', 'zk', '127.0.3.1', 'n0')]), NOW);
    expect(s).toMatchObject({ phase: 'Creating', ready: '2/3', leader: 'zk-0', lastFailover: { reason: 'Election', to: 'zk-0' } });
    expect(s.endpoints).toEqual([{ name: 'zk-client', role: 'readwrite', addresses: ['127.0.3.1', '127.0.3.2'], port: 2181 }]);
    expect(s.units?.[0]).toEqual({ name: 'zk-0', role: 'leader', ready: true, node: 'n0', zone: 'zone-a' });
    expect(cond(s, 'Ready')).toMatchObject({ reason: 'ZookeeperEnsembleNotReady', message: 'ZookeeperEnsemble zk: zk-2: not serving' });
  });

  it('KafkaService: the running brokers behind the bootstrap Service, the active controller', () => {
    const svc = service('KafkaService', 'ev', { version: '3.9', topology: { brokers: 3 } });
    const nodes = [0, 1, 2].map((i) => ({ id: i + 1, unit: `ev-${i}`, address: `127.0.4.${i}`, roles: ['broker', 'controller'], state: 'Running' }));
    const s = serviceStatus(svc, member(svc, () => ({ ready: true, phase: 'Ready', bootstrapService: 'ev-bootstrap', activeController: { id: 2, unit: 'ev-1' }, nodes, lastControllerChange: { from: 1, to: 2 } })), NOW);
    expect(s).toMatchObject({ phase: 'Ready', ready: '3/3', controller: 'ev-1', version: '3.9', lastFailover: { from: 1, to: 2 } });
    expect(s.endpoints).toEqual([{ name: 'ev-bootstrap', role: 'readwrite', addresses: ['127.0.4.0', '127.0.4.1', '127.0.4.2'], port: 9092 }]);
    expect(s.units?.[1]).toMatchObject({ name: 'ev-1', role: 'broker,controller,active-controller', ready: true });
  });

  it('ElasticsearchService: data nodes behind the readwrite Service, the health, the elected manager', () => {
    const svc = service('ElasticsearchService', 'logs', { distribution: 'opensearch', version: '2.19', topology: { dataNodes: 3 } });
    const topology = Object.fromEntries([0, 1, 2].map((i) => [`logs-nodes-${i}`, { unit: `logs-nodes-${i}`, host: `127.0.5.${i}`, roles: ['cluster_manager', 'data', 'ingest'], joined: true, clusterManager: i === 0 }]));
    const s = serviceStatus(svc, member(svc, () => ({ ready: true, phase: 'Ready', health: 'green', topology })), NOW);
    expect(s).toMatchObject({ phase: 'Ready', ready: '3/3', health: 'green' });
    expect(s.endpoints).toEqual([{ name: 'logs-readwrite', role: 'readwrite', addresses: ['127.0.5.0', '127.0.5.1', '127.0.5.2'], port: 9200 }]);
    expect(s.units?.[0]).toMatchObject({ name: 'logs-nodes-0', role: 'cluster_manager,data,ingest,elected', ready: true });
  });

  it('names the compose object when its operator says it failed (a Secret it cannot find)', () => {
    const svc = service('KafkaService', 'ev', { version: '3.9', topology: { brokers: 3 } });
    const s = serviceStatus(svc, member(svc, () => ({ ready: false, phase: 'Failed', conditions: [{ type: 'Ready', status: 'False', reason: 'TemplateNotFound', message: 'no EngineTemplate kafka-3.9' }] })), NOW);
    expect(s.phase).toBe('Failed');
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'True', reason: 'KafkaClusterFailed', message: 'KafkaCluster ev: no EngineTemplate kafka-3.9' });
  });
});
