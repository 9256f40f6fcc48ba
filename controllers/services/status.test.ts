import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../lib/kube/types.ts';
import type { HubService, Observed, ServiceStatus } from './contract.ts';
import { CLUSTER, service } from './desired/fixtures.testing.ts';
import { desiredMysql } from './desired/mysql.ts';
import { applied, serviceStatus } from './status.ts';

const NOW = new Date('2026-12-05T00:00:00Z');
const LATER = new Date('2026-12-05T00:05:00Z');
type O = KubeObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };
const cond = (s: ServiceStatus, type: string) => s.conditions?.find((c) => c.type === type);

const node = (name: string, zone: string): O => ({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'topology.kubernetes.io/zone': zone } } });
const unit = (name: string, unitSet: string, ip: string, nodeName: string, extra: Record<string, unknown> = {}): O => ({
  apiVersion: 'unit.upm.io/v1alpha1', kind: 'Unit', metadata: { name, namespace: 'shop', labels: { 'unit.upm.io/unitset': unitSet, 'upm.io/service': 'db' } },
  status: { phase: 'Ready', ready: true, podIP: ip, nodeName, ...extra },
});

/** The member as the compose tests leave it: a MariaDB UnitSet of three, replication ready, db-0 the source. */
function member(svc: HubService, opts: { units?: number; readyUnits?: number; mrReady?: boolean; generation?: number; proxysql?: boolean } = {}): O[] {
  const d = desiredMysql(svc, CLUSTER, []);
  if (!('objects' in d)) throw new Error('refused');
  const n = opts.units ?? 3;
  const ready = opts.readyUnits ?? n;
  const gen = opts.generation ?? 1;
  const out: O[] = d.objects.map((o) => ({ ...o, metadata: { ...o.metadata, generation: gen } }) as O);
  const us = out.find((o) => o.kind === 'UnitSet' && o.metadata.name === 'db')!;
  us.status = { observedGeneration: gen, units: n, readyUnits: ready, updatedUnits: n, ready: `${ready}/${n}`, phase: ready === n ? 'Ready' : 'Progressing' };
  const mr = out.find((o) => o.kind === 'MysqlReplication')!;
  const ips = ['127.0.10.1', '127.0.10.2', '127.0.10.3', '127.0.10.4', '127.0.10.5'];
  mr.status = {
    observedGeneration: gen, ready: opts.mrReady ?? true, phase: opts.mrReady === false ? 'Degraded' : 'Ready', source: 'db-0', readwriteService: 'db-readwrite', readonlyService: 'db-readonly',
    topology: Object.fromEntries(Array.from({ length: n }, (_, i) => [`db-${i}`, { host: ips[i], port: 3306, role: i === 0 ? 'Source' : 'Replica', status: 'Healthy', ready: i < ready }])),
    lastFailover: { time: '2026-12-04T23:00:00Z', from: 'db-1', to: 'db-0', reason: 'source db-1 unreachable', lostTransactions: 0 },
    conditions: [{ type: 'Ready', status: opts.mrReady === false ? 'False' : 'True', reason: 'x', message: opts.mrReady === false ? 'db-2: replication IO thread stopped' : 'all ready' }],
  };
  for (let i = 0; i < n; i++) out.push(unit(`db-${i}`, 'db', ips[i]!, `node-${i % 3}`, i < ready ? {} : { ready: false, phase: 'Running' }));
  if (opts.proxysql) {
    const ps = out.find((o) => o.metadata.name === 'db-proxysql')!;
    ps.status = { observedGeneration: gen, units: 1, readyUnits: 0, updatedUnits: 1 };
    out.push(unit('db-proxysql-0', 'db-proxysql', '127.0.10.9', 'node-1', { phase: 'NotRunnable', ready: false, engine: { state: 'NotRunnable', message: 'no ProxySQL binary on this node' } }));
  }
  return [...out, node('node-0', 'zone-a'), node('node-1', 'zone-b'), node('node-2', 'zone-c')];
}
const maria = (spec: Record<string, unknown> = {}, generation = 1) => service('MysqlService', 'db', { engine: 'mariadb', version: '10.11', topology: { mode: 'semisync', replicas: 3 }, ...spec }, generation);
const observe = (svc: HubService, objects: O[], extra: Partial<Observed> = {}): Observed => ({ reachable: true, objects, desired: desiredMysql(svc, CLUSTER, objects), ...extra });

describe('the hub status of a MysqlService', () => {
  it('is Ready with endpoints, servers by role, node and zone, the version and the last failover', () => {
    const svc = maria();
    const s = serviceStatus(svc, observe(svc, member(svc)), NOW);
    expect(s).toMatchObject({ phase: 'Ready', observedGeneration: 1, ready: '3/3', version: '10.11', source: 'db-0' });
    expect(s.endpoints).toEqual([
      { name: 'db-readwrite', role: 'readwrite', addresses: ['127.0.10.1'], port: 3306 },
      { name: 'db-readonly', role: 'readonly', addresses: ['127.0.10.2', '127.0.10.3'], port: 3306 },
    ]);
    expect(s.units).toEqual([
      { name: 'db-0', role: 'source', ready: true, node: 'node-0', zone: 'zone-a' },
      { name: 'db-1', role: 'replica', ready: true, node: 'node-1', zone: 'zone-b' },
      { name: 'db-2', role: 'replica', ready: true, node: 'node-2', zone: 'zone-c' },
    ]);
    expect(s.lastFailover).toMatchObject({ from: 'db-1', to: 'db-0' });
    expect(cond(s, 'Ready')).toMatchObject({ status: 'True', reason: 'AllReady', observedGeneration: 1, lastTransitionTime: '2026-12-05T00:00:00Z' });
    expect(cond(s, 'Progressing')).toMatchObject({ status: 'False', reason: 'Complete' });
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'False' });
    // Computed again from the same world: the same status (the controller then writes nothing), times kept.
    expect(serviceStatus({ ...svc, status: s }, observe(svc, member(svc)), LATER)).toEqual(s);
  });

  it('reports each replica\'s lag and each server\'s data volume as the member has them', () => {
    const svc = maria({ storage: { size: '1Gi' } });
    const objs = member(svc);
    const topo = (objs.find((o) => o.kind === 'MysqlReplication')!.status!.topology) as Record<string, Record<string, unknown>>;
    topo['db-1']!.lagSeconds = 0;
    topo['db-2']!.lagSeconds = 75;
    for (const u of objs.filter((o) => o.kind === 'Unit')) u.status!.volumes = [{ name: 'data', claimName: `${u.metadata.name ?? ''}-data`, phase: 'Bound', capacity: '1Gi' }];
    const s = serviceStatus(svc, observe(svc, objs), NOW);
    expect(s.units?.map((u) => [u.name, u.lagSeconds, u.storage])).toEqual([['db-0', undefined, '1Gi'], ['db-1', 0, '1Gi'], ['db-2', 75, '1Gi']]);
    // A lagging replica that still follows its source is ready: the lag is for a switchover to judge.
    expect(s).toMatchObject({ phase: 'Ready', ready: '3/3' });
  });

  it('is Updating while a grown claim has not got its new size from the member\'s provisioner, naming the claim', () => {
    const svc = maria({ storage: { size: '2Gi' } }, 2);
    const objs = member(svc, { generation: 2 });
    for (const u of objs.filter((o) => o.kind === 'Unit')) u.status!.volumes = [{ name: 'data', claimName: `${u.metadata.name ?? ''}-data`, phase: 'Bound', capacity: u.metadata.name === 'db-1' ? '1Gi' : '2Gi' }];
    const growing = serviceStatus({ ...svc, status: { phase: 'Ready', observedGeneration: 1 } }, observe(svc, objs), NOW);
    expect(growing.phase).toBe('Updating');
    expect(cond(growing, 'Ready')).toMatchObject({ status: 'False', reason: 'UnitSetProgressing', message: 'UnitSet db: claim db-1-data is 1Gi, growing to 2Gi' });
    const grown = objs.map((o) => (o.metadata.name === 'db-1' && o.kind === 'Unit' ? { ...o, status: { ...o.status, volumes: [{ name: 'data', claimName: 'db-1-data', phase: 'Bound', capacity: '2Gi' }] } } : o));
    expect(serviceStatus({ ...svc, status: growing }, observe(svc, grown), NOW)).toMatchObject({ phase: 'Ready', ready: '3/3' });
  });

  it('is Creating while the member has not got or not finished the objects, naming the object', () => {
    const svc = maria();
    const none = serviceStatus(svc, observe(svc, []), NOW);
    expect(none.phase).toBe('Creating');
    expect(cond(none, 'Ready')).toMatchObject({ status: 'False', reason: 'Applying', message: 'UnitSet db: not applied on the member yet' });
    expect(cond(none, 'Progressing')).toMatchObject({ status: 'True', reason: 'Applying' });
    const forming = serviceStatus(svc, observe(svc, member(svc, { readyUnits: 1, mrReady: false })), NOW);
    expect(forming).toMatchObject({ phase: 'Creating', ready: '1/3' });
    expect(forming.version).toBeUndefined();
    expect(cond(forming, 'Ready')).toMatchObject({ reason: 'MysqlReplicationNotReady', message: 'MysqlReplication db: db-2: replication IO thread stopped' });
  });

  it('is Updating while an edit rolls out (3 -> 5 servers), keeping the version it ran, then Ready at 5', () => {
    const ready = serviceStatus(maria(), observe(maria(), member(maria())), NOW);
    const edited = maria({ topology: { mode: 'semisync', replicas: 5 } }, 2);
    const old = member(maria()); // the member still has 3
    const s = serviceStatus({ ...edited, status: ready }, observe(edited, old), LATER);
    expect(s).toMatchObject({ phase: 'Updating', observedGeneration: 2, version: '10.11' });
    expect(cond(s, 'Progressing')).toMatchObject({ status: 'True', reason: 'Applying', message: 'UnitSet db: not applied on the member yet' });
    const scaling = member(edited, { units: 5, readyUnits: 3, generation: 2 });
    const us = scaling.find((o) => o.kind === 'UnitSet')!;
    us.status = { ...us.status, units: 4, updatedUnits: 4 };
    const s2 = serviceStatus({ ...edited, status: s }, observe(edited, scaling), LATER);
    expect(s2).toMatchObject({ phase: 'Updating', ready: '3/5' });
    expect(cond(s2, 'Progressing')).toMatchObject({ reason: 'UnitSetProgressing', message: 'UnitSet db: 4/5 units, 4 updated' });
    const done = serviceStatus({ ...edited, status: s2 }, observe(edited, member(edited, { units: 5, generation: 2 })), LATER);
    expect(done).toMatchObject({ phase: 'Ready', ready: '5/5' });
    expect(done.units).toHaveLength(5);
  });

  it('is Degraded when a server fails with nothing changing, naming the compose object; a version edit is not reported before it runs', () => {
    const up = serviceStatus(maria(), observe(maria(), member(maria())), NOW);
    const s = serviceStatus({ ...maria(), status: up }, observe(maria(), member(maria(), { readyUnits: 2, mrReady: false })), LATER);
    expect(s).toMatchObject({ phase: 'Degraded', ready: '2/3' });
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'True', reason: 'MysqlReplicationNotReady', message: 'MysqlReplication db: db-2: replication IO thread stopped', lastTransitionTime: LATER.toISOString().replace('.000', '') });
    expect(cond(s, 'Ready')?.lastTransitionTime).toBe('2026-12-05T00:05:00Z');
    expect(s.units?.[2]).toMatchObject({ name: 'db-2', ready: false });
    expect(s.endpoints?.[1]?.addresses).toEqual(['127.0.10.2']);
  });

  it('says ProxySQL cannot run here without holding the service back', () => {
    const svc = maria({ options: { proxysql: { enabled: true } } });
    const s = serviceStatus(svc, observe(svc, member(svc, { proxysql: true })), NOW);
    expect(s.phase).toBe('Ready');
    expect(cond(s, 'ProxySQLReady')).toMatchObject({
      status: 'False', reason: 'NotRunnable',
      message: 'ProxySQL unit db-proxysql-0 cannot run on this cluster (no ProxySQL binary on this node); ProxysqlSync db computes and reports its desired state only; clients use db-readwrite',
    });
    expect(cond(s, 'Ready')).toMatchObject({ status: 'True', reason: 'AllReady', message: '3/3 servers ready; ProxySQL does not run on this cluster (condition ProxySQLReady)' });
    expect(s.units?.find((u) => u.name === 'db-proxysql-0')).toEqual({ name: 'db-proxysql-0', role: 'proxysql', ready: false, node: 'node-1', zone: 'zone-b' });
    expect(s.endpoints?.find((e) => e.role === 'proxysql')).toEqual({ name: 'db-proxysql-headless', role: 'proxysql', addresses: [], port: 6033 });
  });

  it('is Failed when an engine unit cannot run (MySQL 8 here), or the spec is refused, naming the unit or the field', () => {
    const svc = maria();
    const objs = member(svc);
    const u0 = objs.find((o) => o.metadata.name === 'db-0')!;
    u0.status = { ...u0.status, phase: 'NotRunnable', ready: false, engine: { state: 'NotRunnable', message: 'mysqld 8.4 is not installed' } };
    const s = serviceStatus(svc, observe(svc, objs), NOW);
    expect(s.phase).toBe('Failed');
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'True', reason: 'UnitNotRunnable', message: 'Unit db-0: mysqld 8.4 is not installed' });
    const bad = maria({ placement: { cluster: 'member1', zones: ['zone-x'] } });
    const r = serviceStatus(bad, observe(bad, []), NOW);
    expect(r.phase).toBe('Failed');
    expect(cond(r, 'Ready')).toMatchObject({ reason: 'InvalidSpec', message: 'spec.placement.zones[0]: Unsupported value: "zone-x": the Cluster "member1" has the zones "zone-a", "zone-b", "zone-c"' });
  });

  it('stays Pending on an unreachable cluster before it ran, and keeps what it knew after, with the reason', () => {
    const svc = maria();
    const p = serviceStatus(svc, { reachable: false, unreachableReason: 'Cluster member1 is not Ready: no heartbeat for 45s', objects: [] }, NOW);
    expect(p.phase).toBe('Pending');
    expect(cond(p, 'Ready')).toMatchObject({ status: 'False', reason: 'ClusterUnreachable', message: 'Cluster member1 is not Ready: no heartbeat for 45s' });
    const up = serviceStatus(svc, observe(svc, member(svc)), NOW);
    const away = serviceStatus({ ...svc, status: up }, { reachable: false, unreachableReason: 'Cluster member1 is not reachable: connect ECONNREFUSED', objects: [] }, LATER);
    expect(away).toMatchObject({ phase: 'Ready', ready: '3/3', endpoints: up.endpoints });
    expect(cond(away, 'Ready')).toMatchObject({ status: 'Unknown', reason: 'ClusterUnreachable' });
  });

  it('is Deleting while member objects are left, and reports an apply that failed', () => {
    const svc = { ...maria(), metadata: { ...maria().metadata, deletionTimestamp: '2026-12-05T00:00:00Z' } };
    const s = serviceStatus(svc, observe(svc, member(maria()).filter((o) => o.kind === 'MysqlReplication')), NOW);
    expect(s.phase).toBe('Deleting');
    expect(cond(s, 'Ready')?.message).toBe('removing from the member: MysqlReplication db');
    expect(s.retained).toBeUndefined();
    const kept = { ...svc, spec: { ...svc.spec, deletionPolicy: 'Retain' as const } };
    expect(serviceStatus(kept, observe(kept, []), NOW).retained).toEqual({ cluster: 'member1', namespace: 'shop', claims: ['db-0-data', 'db-1-data', 'db-2-data'], secrets: ['db-credentials'] });
    const f = serviceStatus(maria(), observe(maria(), [], { applyError: { object: 'UnitSet shop/db', message: 'forbidden: cannot patch unitsets' } }), NOW);
    expect(f.phase).toBe('Failed');
    expect(cond(f, 'Degraded')).toMatchObject({ reason: 'ApplyFailed', message: 'UnitSet shop/db: forbidden: cannot patch unitsets' });
  });

  it('compares desired with live by the fields the hub sets only', () => {
    expect(applied({ a: 1, b: { c: [1, { d: 2 }] } }, { a: 1, x: 9, b: { c: [1, { d: 2, e: 3 }], y: 1 } })).toBe(true);
    expect(applied({ a: 1 }, { a: 2 })).toBe(false);
    expect(applied({ c: [1, 2] }, { c: [1] })).toBe(false);
  });
});
