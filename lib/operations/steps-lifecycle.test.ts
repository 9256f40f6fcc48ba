// Stop, Start and Restart as data: their steps, the restart order per kind, what each step writes to the hub service's
// spec, that a step whose effect is there writes nothing, and the plan preview naming the order.
import { describe, expect, it } from '@jest/globals';
import { plan } from './plan.ts';
import { operationStatus, previewStatus } from './status.ts';
import { restartOrder } from './steps-lifecycle.ts';
import { stepsFor } from './steps.ts';
import type { Decision, Operation, OperationSpec, ServiceUnit, ServiceView, World } from './types.ts';

const NOW = new Date('2026-01-01T00:00:00Z');

function service(kind: string, units: ServiceUnit[], spec: Record<string, unknown> = {}): ServiceView {
  return {
    apiVersion: 'internal.upm.io/v1alpha1', kind: `${kind}Record`, metadata: { name: 'db', namespace: 'p', generation: 1 },
    spec: { version: '10.11', engine: 'mariadb', placement: { cluster: 'member1' }, ...spec },
    status: { observedGeneration: 1, phase: 'Ready', ready: `${units.length}/${units.length}`, units },
  };
}
const u = (name: string, role?: string): ServiceUnit => ({ name, ...(role ? { role } : {}), ready: true });
const mysql = () => service('MysqlService', [u('db-0', 'replica'), u('db-1', 'source'), u('db-2', 'replica'), u('db-proxysql-0', 'proxysql')]);

function operation(kind: string, spec: Omit<OperationSpec, 'target'>): Operation {
  return { metadata: { name: 'op', namespace: 'p', uid: 'uid-1', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { target: { kind, name: 'db' }, ...spec } };
}
const world = (svc: ServiceView): World => ({ service: svc, cluster: { name: 'member1', ready: true }, templates: new Map(), others: [], now: NOW });
const names = (op: Operation, w: World) => { const s = stepsFor(op, w); return 'unsupported' in s ? s.unsupported : s.map((x) => x.name); };

/** One reconcile: plan, apply a service effect as a merge of spec (one level deep is all these steps write), record. */
function step(op: Operation, w: World): Decision {
  const d = plan(op, w);
  if (d.kind === 'run' && d.effect?.on === 'service') {
    const s = w.service as ServiceView;
    s.spec = { ...s.spec, ...d.effect.patch };
    s.metadata.generation = (s.metadata.generation ?? 1) + 1;
  }
  op.status = operationStatus(op, d, w);
  return d;
}
function drive(op: Operation, w: World, member: () => void): string[] {
  const trace: string[] = [];
  for (let i = 0; i < 20 && !['Succeeded', 'Failed', 'Cancelled'].includes(op.status?.phase ?? ''); i++) {
    const d = step(op, w);
    trace.push('step' in d && d.step ? `${d.kind}:${d.step}` : d.kind);
    if (d.kind === 'wait') member();
  }
  return trace;
}

describe('the restart order', () => {
  it('puts what takes writes, leads or decides last, the others first by ordinal', () => {
    expect(restartOrder(operation('MysqlService', { type: 'Restart' }), world(mysql()))).toEqual(['db-0', 'db-2', 'db-1']);
    const redis = service('RedisService', [u('db-0', 'source'), u('db-1', 'replica'), u('db-sentinel-0', 'sentinel')]);
    expect(restartOrder(operation('RedisService', { type: 'Restart' }), world(redis))).toEqual(['db-1', 'db-0']);
    const rc = service('RedisClusterService', [u('db-0', 'master'), u('db-1', 'replica'), u('db-2', 'master'), u('db-3', 'replica')]);
    expect(restartOrder(operation('RedisClusterService', { type: 'Restart' }), world(rc))).toEqual(['db-1', 'db-3', 'db-0', 'db-2']);
    const zk = service('ZookeeperService', [u('db-0', 'follower'), u('db-1', 'leader'), u('db-2', 'follower')]);
    expect(restartOrder(operation('ZookeeperService', { type: 'Restart' }), world(zk))).toEqual(['db-0', 'db-2', 'db-1']);
    const kafka = service('KafkaService', [u('db-0', 'controller,broker,active-controller'), u('db-1', 'controller,broker'), u('db-2', 'controller,broker')]);
    expect(restartOrder(operation('KafkaService', { type: 'Restart' }), world(kafka))).toEqual(['db-1', 'db-2', 'db-0']);
    const es = service('ElasticsearchService', [u('db-nodes-0', 'cluster_manager,data'), u('db-nodes-1', 'cluster_manager,data,elected'), u('db-nodes-2', 'cluster_manager,data')]);
    expect(restartOrder(operation('ElasticsearchService', { type: 'Restart' }), world(es))).toEqual(['db-nodes-0', 'db-nodes-2', 'db-nodes-1']);
  });
});

describe('Restart', () => {
  it('writes the request with the uid as id and the order, then waits for the member to report that id Complete', () => {
    const w = world(mysql());
    const op = operation('MysqlService', { type: 'Restart' });
    expect(names(op, w)).toEqual(['check', 'request-restart', 'wait-restarted']);
    let polls = 0;
    const trace = drive(op, w, () => {
      const s = w.service as ServiceView;
      polls++;
      s.status = polls < 2
        ? { ...s.status, observedGeneration: s.metadata.generation, phase: 'Updating', restart: { id: 'uid-1', phase: 'Restarting', current: 'db-2', done: ['db-0'] } }
        : { ...s.status, observedGeneration: s.metadata.generation, phase: 'Ready', restart: { id: 'uid-1', phase: 'Complete', done: ['db-0', 'db-2', 'db-1'] } };
    });
    // servers null: the merge patch clears the servers of an earlier restart of some only.
    expect(w.service?.spec.restart).toEqual({ id: 'uid-1', order: ['db-0', 'db-2', 'db-1'], servers: null });
    expect(trace).toEqual(['run:check', 'complete:check', 'run:request-restart', 'complete:request-restart', 'run:wait-restarted', 'wait:wait-restarted', 'wait:wait-restarted', 'complete:wait-restarted', 'finish']);
    expect(op.status?.phase).toBe('Succeeded');
    expect(op.status?.steps?.find((s) => s.name === 'wait-restarted')?.message).toContain('restarted db-0, db-2, db-1');
  });

  it('does not write the request again once the service carries its id', () => {
    const svc = mysql();
    svc.spec.restart = { id: 'uid-1', order: ['db-0', 'db-2', 'db-1'] };
    const w = world(svc);
    const op = operation('MysqlService', { type: 'Restart' });
    step(op, w); step(op, w);
    const d = plan(op, w);
    expect(d).toMatchObject({ kind: 'run', step: 'request-restart', message: 'already so: nothing to change' });
    expect('effect' in d && d.effect).toBeFalsy();
  });

  it('fails when the member refuses the request', () => {
    const w = world(mysql());
    const op = operation('MysqlService', { type: 'Restart' });
    drive(op, w, () => { const s = w.service as ServiceView; s.status = { ...s.status, observedGeneration: s.metadata.generation, restart: { id: 'uid-1', phase: 'Invalid', message: 'spec.restart.order names db-9' } }; });
    expect(op.status?.phase).toBe('Failed');
    expect(op.status?.message).toContain('the member refused the restart: spec.restart.order names db-9');
  });

  it('for a kind that restarts in its own order, asks by id alone', () => {
    const zk = service('ZookeeperService', [u('db-0', 'follower'), u('db-1', 'leader'), u('db-2', 'follower')]);
    const w = world(zk);
    const op = operation('ZookeeperService', { type: 'Restart' });
    step(op, w); step(op, w); step(op, w);
    expect(w.service?.spec.restart).toEqual({ id: 'uid-1', order: null, servers: null });
  });

  it('for ZooKeeper and Kafka, asks for some servers by id and names, in the engine\'s order among them (the leader, the active controller last)', () => {
    const zk = service('ZookeeperService', [u('db-0', 'follower'), u('db-1', 'leader'), u('db-2', 'follower')]);
    const zop = operation('ZookeeperService', { type: 'Restart', restart: { servers: ['db-1', 'db-2'] } });
    const zst = previewStatus(zop, world(zk));
    expect(zst.steps?.[0]?.message).toContain('servers: 2 of 3 (db-0 left alone)');
    expect(zst.steps?.[0]?.message).toContain('order: db-2, db-1');
    expect(zst.steps?.[1]?.description).toBe('ask the member to restart only db-1, db-2 once in the engine\'s order among them (db-2, db-1: the leader last if among them; the others are left alone)');
    const zw = world(zk);
    drive(zop, zw, () => {
      const s = zw.service as ServiceView;
      s.status = { ...s.status, observedGeneration: s.metadata.generation, phase: 'Ready', restart: { id: 'uid-1', phase: 'Complete', done: ['db-2', 'db-1'] } };
    });
    expect(zw.service?.spec.restart).toEqual({ id: 'uid-1', order: null, servers: ['db-1', 'db-2'] });
    expect(zop.status?.phase).toBe('Succeeded');

    const kafka = service('KafkaService', [u('db-0', 'controller,broker,active-controller'), u('db-1', 'controller,broker'), u('db-2', 'controller,broker')]);
    const kop = operation('KafkaService', { type: 'Restart', restart: { servers: ['db-2'] } });
    const kst = previewStatus(kop, world(kafka));
    expect(kst.steps?.[0]?.message).toContain('servers: 1 of 3 (db-0, db-1 left alone)');
    expect(kst.steps?.[1]?.description).toBe('ask the member to restart only db-2 once in the engine\'s order among them (db-2: the active controller last if among them; the others are left alone)');
    expect(kst.steps?.[2]?.description).toBe('wait until db-2 was restarted once and the service is Ready');
    const kw = world(kafka);
    step(kop, kw); step(kop, kw); step(kop, kw);
    expect(kw.service?.spec.restart).toEqual({ id: 'uid-1', order: null, servers: ['db-2'] });
  });

  it('refuses servers that are not the service\'s (or a subset of OpenSearch/Elasticsearch, which restarts all or none), before anything changes', () => {
    for (const [kind, svc, servers, msg] of [
      ['MysqlService', mysql(), ['db-0', 'db-9'], 'spec.restart.servers[1]: db-9 is not a server'],
      ['MysqlService', mysql(), ['db-proxysql-0'], 'spec.restart.servers[0]: db-proxysql-0 is not a server'],
      ['ZookeeperService', service('ZookeeperService', [u('db-0', 'follower'), u('db-1', 'leader')]), ['db-0', 'db-5'], 'spec.restart.servers[1]: db-5 is not a server of ZookeeperService db'],
      ['ElasticsearchService', service('ElasticsearchService', [u('db-nodes-0', 'cluster_manager,data'), u('db-nodes-1', 'cluster_manager,data,elected')]), ['db-nodes-0'], 'spec.restart.servers: an OpenSearch/Elasticsearch service restarts every server in its own order'],
    ] as const) {
      const w = world(svc);
      const op = operation(kind, { type: 'Restart', restart: { servers: [...servers] } });
      drive(op, w, () => undefined);
      expect(op.status?.phase).toBe('Failed');
      expect(op.status?.message).toContain(msg);
      expect(w.service?.spec.restart).toBeUndefined();
    }
  });

  it('restarts some servers only: writes them with their order (the source last), and waits for the member to report them', () => {
    const w = world(mysql());
    const op = operation('MysqlService', { type: 'Restart', restart: { servers: ['db-1', 'db-2'] } });
    const trace = drive(op, w, () => {
      const s = w.service as ServiceView;
      s.status = { ...s.status, observedGeneration: s.metadata.generation, phase: 'Ready', restart: { id: 'uid-1', phase: 'Complete', done: ['db-2', 'db-1'] } };
    });
    expect(trace).toEqual(['run:check', 'complete:check', 'run:request-restart', 'complete:request-restart', 'run:wait-restarted', 'wait:wait-restarted', 'complete:wait-restarted', 'finish']);
    expect(w.service?.spec.restart).toEqual({ id: 'uid-1', order: ['db-2', 'db-1'], servers: ['db-1', 'db-2'] });
    expect(op.status?.phase).toBe('Succeeded');
    expect(op.status?.steps?.find((s) => s.name === 'wait-restarted')?.message).toContain('restarted db-2, db-1');
  });

  it('naming every server is a restart of all: no servers written, and a later request of all clears an earlier subset', () => {
    const svc = mysql();
    svc.spec.restart = { id: 'old', order: ['db-0'], servers: ['db-0'] };
    const w = world(svc);
    const op = operation('MysqlService', { type: 'Restart', restart: { servers: ['db-2', 'db-1', 'db-0'] } });
    step(op, w); step(op, w); step(op, w);
    expect(w.service?.spec.restart).toEqual({ id: 'uid-1', order: ['db-0', 'db-2', 'db-1'], servers: null });
  });

  it('keeps the servers and order it wrote when the roles change afterwards (a switchover meanwhile)', () => {
    const svc = mysql();
    svc.spec.restart = { id: 'uid-1', order: ['db-2', 'db-1'], servers: ['db-1', 'db-2'] };
    svc.status = { ...svc.status, units: [u('db-0', 'replica'), u('db-1', 'replica'), u('db-2', 'source')] };
    const st = previewStatus(operation('MysqlService', { type: 'Restart', restart: { servers: ['db-1', 'db-2'] } }), world(svc));
    expect(st.steps?.[1]?.description).toBe('ask the member to restart only db-1, db-2 (the others are left alone) once, one at a time, in the order db-2, db-1');
  });

  it('refuses to restart a stopped service', () => {
    const w = world(mysql());
    (w.service as ServiceView).spec.stopped = true;
    const op = operation('MysqlService', { type: 'Restart' });
    drive(op, w, () => undefined);
    expect(op.status?.phase).toBe('Failed');
    expect(op.status?.message).toContain('is stopped; start it first');
  });

  it('shows the order in the plan preview', () => {
    const st = previewStatus(operation('MysqlService', { type: 'Restart' }), world(mysql()));
    expect(st.message).toBe('plan: check, request-restart, wait-restarted');
    expect(st.steps?.[0]?.message).toContain('order: db-0, db-2, db-1');
    expect(st.steps?.[1]?.description).toContain('in the order db-0, db-2, db-1');
    const one = previewStatus(operation('MysqlService', { type: 'Restart', restart: { servers: ['db-2'] } }), world(mysql()));
    expect(one.steps?.[0]?.message).toContain('servers: 1 of 3 (db-0, db-1 left alone)');
    expect(one.steps?.[1]?.description).toBe('ask the member to restart only db-2 (the others are left alone) once, one at a time, in the order db-2');
    expect(one.steps?.[2]?.description).toBe('wait until db-2 was restarted once and the service is Ready');
  });
});

describe('Stop and Start', () => {
  it('Stop sets spec.stopped and waits for phase Stopped; Start clears it and waits for Ready', () => {
    const w = world(mysql());
    const stop = operation('MysqlService', { type: 'Stop' });
    expect(names(stop, w)).toEqual(['check', 'stop-servers', 'wait-stopped']);
    drive(stop, w, () => { const s = w.service as ServiceView; s.status = { ...s.status, observedGeneration: s.metadata.generation, phase: 'Stopped' }; });
    expect(stop.status?.phase).toBe('Succeeded');
    expect(w.service?.spec.stopped).toBe(true);

    const start = { ...operation('MysqlService', { type: 'Start' }), metadata: { name: 'op2', namespace: 'p', uid: 'uid-2', generation: 1 } };
    expect(names(start, w)).toEqual(['check', 'start-servers', 'wait-ready']);
    drive(start, w, () => { const s = w.service as ServiceView; s.status = { ...s.status, observedGeneration: s.metadata.generation, phase: 'Ready' }; });
    expect(start.status?.phase).toBe('Succeeded');
    expect(w.service?.spec.stopped).toBe(false);
  });

  it('a second Stop writes nothing; Start of a running service is refused', () => {
    const svc = mysql();
    svc.spec.stopped = true;
    const w = world(svc);
    const again = operation('MysqlService', { type: 'Stop' });
    step(again, w); step(again, w);
    const d = plan(again, w);
    expect(d).toMatchObject({ kind: 'run', step: 'stop-servers', message: 'already so: nothing to change' });

    const start = operation('MysqlService', { type: 'Start' });
    const running = world(mysql());
    drive(start, running, () => undefined);
    expect(start.status?.message).toContain('spec.type: service db is not stopped');

  });

  it('ZooKeeper, Kafka and OpenSearch stop and start through spec.stopped like the others', () => {
    const kinds: [string, ServiceUnit[]][] = [
      ['ZookeeperService', [u('db-0', 'follower'), u('db-1', 'leader'), u('db-2', 'follower')]],
      ['KafkaService', [u('db-0', 'controller,broker,active-controller'), u('db-1', 'controller,broker')]],
      ['ElasticsearchService', [u('db-nodes-0', 'cluster_manager,data,elected')]],
    ];
    for (const [kind, units] of kinds) {
      const w = world(service(kind, units));
      const stop = operation(kind, { type: 'Stop' });
      const trace = drive(stop, w, () => { const s = w.service as ServiceView; s.status = { ...s.status, observedGeneration: s.metadata.generation, phase: 'Stopped' }; });
      expect(`${kind}: ${stop.status?.phase}`).toBe(`${kind}: Succeeded`);
      expect(trace).toContain('run:stop-servers');
      expect(w.service?.spec.stopped).toBe(true);
      const start = { ...operation(kind, { type: 'Start' }), metadata: { name: 'op2', namespace: 'p', uid: 'uid-2', generation: 1 } };
      drive(start, w, () => { const s = w.service as ServiceView; s.status = { ...s.status, observedGeneration: s.metadata.generation, phase: 'Ready' }; });
      expect(`${kind}: ${start.status?.phase}`).toBe(`${kind}: Succeeded`);
      expect(w.service?.spec.stopped).toBe(false);
    }
  });
});
