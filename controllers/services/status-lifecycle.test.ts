// The hub status of a stopped service and of one being restarted: phase Stopped with Ready False reason Stopped (not
// Degraded or Failed, whatever the compose object makes of engines that do not answer), and a restart in progress as
// Updating naming the server being restarted, with status.restart from the UnitSets' own progress.
import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../lib/kube/types.ts';
import type { HubService, Observed, ServiceStatus } from './contract.ts';
import { CLUSTER, service } from './desired/fixtures.testing.ts';
import { desiredMysql } from './desired/mysql.ts';
import { desiredZookeeper } from './desired/zookeeper.ts';
import { serviceStatus } from './status.ts';

const NOW = new Date('2026-12-05T00:00:00Z');
type O = KubeObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };
const cond = (s: ServiceStatus, type: string) => s.conditions?.find((c) => c.type === type);

/** The member of a 3-server MariaDB service as applied; `us` and `unit` set the UnitSet's and each Unit's status. */
function member(svc: HubService, us: Record<string, unknown>, unit: (i: number) => Record<string, unknown>, mrFailed = false): Observed {
  const d = desiredMysql(svc, CLUSTER, []);
  if (!('objects' in d)) throw new Error('refused');
  const objects: O[] = d.objects.map((o) => ({ ...o, metadata: { ...o.metadata, generation: 1 } }) as O);
  const set = objects.find((o) => o.kind === 'UnitSet') as O;
  set.status = { observedGeneration: 1, units: 3, updatedUnits: 3, readyUnits: 3, ...us };
  const mr = objects.find((o) => o.kind === 'MysqlReplication') as O;
  mr.status = {
    observedGeneration: 1, ready: !mrFailed, phase: mrFailed ? 'Failed' : 'Ready', source: 'db-0', readwriteService: 'db-readwrite',
    topology: Object.fromEntries([0, 1, 2].map((i) => [`db-${i}`, { host: `10.0.0.${i}`, role: i === 0 ? 'Source' : 'Replica', ready: !mrFailed }])),
  };
  for (let i = 0; i < 3; i++) objects.push({ apiVersion: 'unit.upm.io/v1alpha1', kind: 'Unit', metadata: { name: `db-${i}`, labels: { 'unit.upm.io/unitset': 'db' } }, status: { phase: 'Ready', ready: true, ...unit(i) } });
  return { reachable: true, objects, desired: d };
}
const find = (m: Observed, kind: string) => m.objects.find((o) => o.kind === kind) as O;
const maria = (spec: Record<string, unknown>) => {
  const s = service('MysqlService', 'db', { engine: 'mariadb', version: '10.11', topology: { replicas: 3 }, ...spec });
  s.status = { phase: 'Ready', observedGeneration: 1 };
  return s;
};

describe('a stopped service', () => {
  it('is Stopped with Ready False reason Stopped once every engine is, even while the MysqlReplication says Failed', () => {
    const svc = maria({ stopped: true });
    const s = serviceStatus(svc, member(svc, { phase: 'Stopped', stoppedUnits: 3, readyUnits: 0 }, () => ({ phase: 'Stopped', ready: false }), true), NOW);
    expect(s.phase).toBe('Stopped');
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'Stopped', message: 'every engine is stopped (3/3); the data stays' });
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'False' });
    expect(cond(s, 'Progressing')).toMatchObject({ status: 'False', reason: 'Stopped' });
  });

  it('is Updating, reason Stopping, while engines still run; and Ready again once started', () => {
    const svc = maria({ stopped: true });
    const s = serviceStatus(svc, member(svc, { phase: 'Stopping', stoppedUnits: 1 }, (i) => (i === 0 ? { phase: 'Stopped', ready: false } : {})), NOW);
    expect(s.phase).toBe('Updating');
    expect(cond(s, 'Progressing')).toMatchObject({ status: 'True', reason: 'Stopping', message: 'UnitSet db: 1/3 engines stopped' });
    const started = maria({});
    started.status = { ...s, phase: 'Stopped' };
    expect(serviceStatus(started, member(started, { phase: 'Ready' }, () => ({})), NOW).phase).toBe('Ready');
  });
});

describe('a stopped ZooKeeper, Kafka or OpenSearch service', () => {
  it('is Stopped once its compose object says Stopped for its current spec (the hub does not watch the UnitSets it makes)', () => {
    const svc = service('ZookeeperService', 'db', { version: '3.8', stopped: true });
    svc.status = { phase: 'Ready', observedGeneration: 1 };
    const d = desiredZookeeper(svc, CLUSTER, []);
    if (!('objects' in d)) throw new Error('refused');
    const zke = { ...d.objects[1], metadata: { ...d.objects[1]?.metadata, generation: 3 } } as O;
    expect(zke.spec?.stopped).toBe(true);
    const units = (down: number): O[] => [0, 1, 2].map((i) => ({ apiVersion: 'unit.upm.io/v1alpha1', kind: 'Unit', metadata: { name: `db-${i}`, labels: { 'unit.upm.io/unitset': 'db' } }, status: i < down ? { phase: 'Stopped', ready: false } : { phase: 'Ready', ready: true } }));
    const at = (st: Record<string, unknown>, down: number) => serviceStatus(svc, { reachable: true, objects: [{ ...zke, status: st }, ...units(down)], desired: d }, NOW);

    const stopping = at({ observedGeneration: 3, phase: 'Stopping' }, 1);
    expect(stopping.phase).toBe('Updating');
    expect(cond(stopping, 'Progressing')).toMatchObject({ status: 'True', reason: 'Stopping', message: 'ZookeeperEnsemble db: Stopping (1/3 engines stopped)' });
    // Stopped for an older spec (before the stop was asked) is not this stop.
    expect(at({ observedGeneration: 2, phase: 'Stopped' }, 3).phase).toBe('Updating');
    const stopped = at({ observedGeneration: 3, phase: 'Stopped' }, 3);
    expect(stopped.phase).toBe('Stopped');
    expect(cond(stopped, 'Ready')).toMatchObject({ status: 'False', reason: 'Stopped', message: 'every engine is stopped (3/3); the data stays' });
    expect(cond(stopped, 'Degraded')).toMatchObject({ status: 'False' });
  });
});

describe('a service being restarted', () => {
  const restart = { id: 'op-uid', order: ['db-1', 'db-2', 'db-0'] };

  it('is Updating naming the server being restarted, with status.restart from the UnitSet', () => {
    const svc = maria({ restart });
    const s = serviceStatus(svc, member(svc, { restart: { id: 'op-uid', phase: 'Restarting', current: 'db-2', done: ['db-1'], message: 'restarting db-2 (2/3)' } }, (i) => (i === 2 ? { ready: false, phase: 'Starting' } : {})), NOW);
    expect(s.phase).toBe('Updating');
    expect(s.restart).toEqual({ id: 'op-uid', phase: 'Restarting', current: 'db-2', done: ['db-1'], message: 'UnitSet db: restarting db-2 (2/3)' });
    expect(cond(s, 'Progressing')).toMatchObject({ status: 'True', reason: 'Restarting' });
    expect(cond(s, 'Progressing')?.message).toContain('restarting db-2');
    expect(cond(s, 'Degraded')?.status).toBe('False');
  });

  it('is Ready with status.restart Complete once the UnitSet reports this id Complete; an older id does not count', () => {
    const svc = maria({ restart });
    const done = serviceStatus(svc, member(svc, { restart: { id: 'op-uid', phase: 'Complete', done: ['db-1', 'db-2', 'db-0'] } }, () => ({})), NOW);
    expect(done.phase).toBe('Ready');
    expect(done.restart).toMatchObject({ id: 'op-uid', phase: 'Complete', done: ['db-1', 'db-2', 'db-0'] });
    const old = serviceStatus(svc, member(svc, { restart: { id: 'older', phase: 'Complete', done: ['db-0'] } }, () => ({})), NOW);
    expect(old.restart).toMatchObject({ id: 'op-uid', phase: 'Waiting' });
    expect(old.phase).toBe('Updating');
  });

  it('a restart of some servers: Complete with the UnitSet\'s record; Complete too once every server it named is gone, not before', () => {
    const some = { id: 'op-uid', order: ['db-1'], servers: ['db-1'] };
    const svc = maria({ restart: some });
    const m = member(svc, { restart: { id: 'op-uid', phase: 'Complete', done: ['db-1'] } }, () => ({}));
    expect(find(m, 'UnitSet').spec?.restart).toEqual({ id: 'op-uid', order: ['db-1'], units: ['db-1'] });
    expect(serviceStatus(svc, m, NOW).restart).toMatchObject({ id: 'op-uid', phase: 'Complete', done: ['db-1'] });
    // Scaled in since: db-3 named, no UnitSet carries the request (none holds db-3) and no Unit db-3 is left.
    const gone = maria({ restart: { id: 'op-uid', servers: ['db-3'] } });
    const mg = member(gone, {}, () => ({}));
    expect(find(mg, 'UnitSet').spec?.restart).toBeUndefined();
    expect(serviceStatus(gone, mg, NOW).restart).toMatchObject({ id: 'op-uid', phase: 'Complete' });
    // A Unit it names is still there but the UnitSet does not carry the request yet: Waiting.
    const early = member(svc, {}, () => ({}));
    delete (find(early, 'UnitSet').spec as Record<string, unknown>).restart;
    expect(serviceStatus(svc, early, NOW).restart).toMatchObject({ id: 'op-uid', phase: 'Waiting' });
  });

  it('for a ZookeeperEnsemble, is Complete once it acted on restartedAt and every server runs with it, ready', () => {
    const svc = service('ZookeeperService', 'db', { version: '3.8', restart: { id: 'op-uid' } });
    svc.status = { phase: 'Ready', observedGeneration: 1 };
    const d = desiredZookeeper(svc, CLUSTER, []);
    if (!('objects' in d)) throw new Error('refused');
    const zke = { ...d.objects[1], metadata: { ...d.objects[1]?.metadata, generation: 2 } } as O;
    const us: O = { apiVersion: 'unit.upm.io/v1alpha1', kind: 'UnitSet', metadata: { name: 'db', generation: 4 }, spec: { units: 3 }, status: { observedGeneration: 4, units: 3, updatedUnits: 3 } };
    const servers = Object.fromEntries([0, 1, 2].map((i) => [`db-${i}`, { role: i === 1 ? 'leader' : 'follower', serving: true, synced: true }]));
    const unit = (i: number, id: string): O => ({
      apiVersion: 'unit.upm.io/v1alpha1', kind: 'Unit', metadata: { name: `db-${i}`, labels: { 'unit.upm.io/unitset': 'db' } },
      spec: { env: [{ name: 'UPM_RESTARTED_AT', value: id }] }, status: { ready: true },
    });
    const at = (st: Record<string, unknown>, ids = ['op-uid', 'op-uid', 'op-uid']) =>
      serviceStatus(svc, { reachable: true, objects: [{ ...zke, status: { observedGeneration: 2, ready: true, servers, ...st } }, us, ...ids.map((id, i) => unit(i, id))], desired: d }, NOW);
    expect(at({ restart: { next: 'db-0' } }).restart).toMatchObject({ phase: 'Restarting', current: 'db-0' });
    // Acted and ready, but db-1 has not run at the revision that carries the id yet: not begun is not done.
    expect(at({}, ['op-uid', '', 'op-uid']).restart).toMatchObject({ phase: 'Restarting' });
    expect(at({}).restart).toMatchObject({ id: 'op-uid', phase: 'Complete' });
  });

  it('for a ZookeeperEnsemble asked to restart some servers, follows its status.unitRestart for that id (the others keep their stamp)', () => {
    const svc = service('ZookeeperService', 'db', { version: '3.8', restart: { id: 'op-uid', servers: ['db-0'] } });
    svc.status = { phase: 'Ready', observedGeneration: 1 };
    const d = desiredZookeeper(svc, CLUSTER, []);
    if (!('objects' in d)) throw new Error('refused');
    const zke = { ...d.objects[1], metadata: { ...d.objects[1]?.metadata, generation: 2 } } as O;
    expect(zke.spec?.restartUnits).toEqual(['db-0']);
    const servers = Object.fromEntries([0, 1, 2].map((i) => [`db-${i}`, { role: i === 1 ? 'leader' : 'follower', serving: true, synced: true }]));
    const at = (unitRestart?: Record<string, unknown>) =>
      serviceStatus(svc, { reachable: true, objects: [{ ...zke, status: { observedGeneration: 2, ready: true, servers, ...(unitRestart ? { unitRestart } : {}) } } as O], desired: d }, NOW).restart;
    expect(at()).toMatchObject({ id: 'op-uid', phase: 'Waiting' });
    expect(at({ id: 'older', phase: 'Complete', done: ['db-2'] })).toMatchObject({ id: 'op-uid', phase: 'Waiting' });
    expect(at({ id: 'op-uid', phase: 'Restarting', current: 'db-0', done: [] })).toMatchObject({ phase: 'Restarting', current: 'db-0' });
    expect(at({ id: 'op-uid', phase: 'Complete', done: ['db-0'] })).toMatchObject({ id: 'op-uid', phase: 'Complete', done: ['db-0'] });
    expect(at({ id: 'op-uid', phase: 'Invalid', done: [], message: 'spec.restart.units names db-7' })).toMatchObject({ phase: 'Invalid' });
  });
});
