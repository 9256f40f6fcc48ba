// The UnitSet reconciler against an in-memory API whose informer caches lag on purpose: each cache is brought up
// to date only when a test says so, the way watch events for different kinds arrive in any order.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import type { EngineTemplate, Unit, UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { EngineTemplateResource, UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import type { ReconcileContext } from '../../lib/controller.ts';
import { EventRecorder } from '../../lib/events.ts';
import type { Store } from '../../lib/informer.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { KubeApiError } from '../../lib/kube/errors.ts';
import { Resources, type ResourceType } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { silentLogger } from '../../lib/log.ts';
import { applyMergePatch } from '../../lib/mergepatch.ts';
import { ANNOTATION_CONFIG_HASH, CONFIG_INPUT_KEY } from './naming.ts';
import { unitSetReconciler } from './unitset-controller.ts';
import { desiredUnit, unitConfig, updateRevision } from './unitset-build.ts';

const NS = 'ns';
const clone = <T>(o: T): T => JSON.parse(JSON.stringify(o)) as T;
const apiError = (code: number, reason: string, what: string) => new KubeApiError(code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason }, what);

/** An API server in memory: resourceVersions, generations, conflicts, merge patches. */
class FakeApi {
  readonly objects = new Map<string, KubeObject>();
  /** Every write, as "VERB plural/name". */
  readonly writes: string[] = [];
  private rv = 0;
  private uid = 0;

  private key(rt: ResourceType, ns: string | undefined, name: string) { return `${rt.plural}/${rt.namespaced ? ns ?? '' : ''}/${name}`; }
  private stamp(obj: KubeObject, prev?: KubeObject): KubeObject {
    const specChanged = !prev || JSON.stringify((prev as { spec?: unknown }).spec) !== JSON.stringify((obj as { spec?: unknown }).spec);
    obj.metadata.resourceVersion = String(++this.rv);
    obj.metadata.uid = prev?.metadata.uid ?? `uid-${++this.uid}`;
    obj.metadata.generation = (prev?.metadata.generation ?? 0) + (specChanged ? 1 : 0);
    return obj;
  }

  readonly client = {
    create: async <T extends KubeObject>(rt: ResourceType, obj: T): Promise<T> => {
      const k = this.key(rt, obj.metadata.namespace, obj.metadata.name ?? '');
      if (this.objects.has(k)) throw apiError(409, 'AlreadyExists', `POST ${k}`);
      this.writes.push(`CREATE ${rt.plural}/${obj.metadata.name}`);
      const stored = this.stamp(clone(obj));
      this.objects.set(k, stored);
      return clone(stored) as T;
    },
    update: async <T extends KubeObject>(rt: ResourceType, obj: T): Promise<T> => {
      const k = this.key(rt, obj.metadata.namespace, obj.metadata.name ?? '');
      const cur = this.objects.get(k);
      if (!cur) throw apiError(404, 'NotFound', `PUT ${k}`);
      if (obj.metadata.resourceVersion !== cur.metadata.resourceVersion) throw apiError(409, 'Conflict', `PUT ${k}`);
      this.writes.push(`UPDATE ${rt.plural}/${obj.metadata.name}`);
      const stored = this.stamp({ ...clone(obj), ...('status' in cur ? { status: cur.status } : {}) }, cur);
      this.objects.set(k, stored);
      return clone(stored) as T;
    },
    patch: async <T extends KubeObject>(rt: ResourceType, name: string, patch: Record<string, object>, _t: string, opts: { namespace?: string; subresource?: string } = {}): Promise<T> => {
      const k = this.key(rt, opts.namespace, name);
      const cur = this.objects.get(k) as (KubeObject & Record<string, unknown>) | undefined;
      if (!cur) throw apiError(404, 'NotFound', `PATCH ${k}`);
      this.writes.push(`PATCH ${rt.plural}/${name}${opts.subresource ? `/${opts.subresource}` : ''}`);
      const next = applyMergePatch(clone(cur), patch) as KubeObject & Record<string, unknown>;
      const stored = this.stamp(next, cur);
      this.objects.set(k, stored);
      return clone(stored) as T;
    },
    delete: async (rt: ResourceType, name: string, ns?: string): Promise<unknown> => {
      this.writes.push(`DELETE ${rt.plural}/${name}`);
      this.objects.delete(this.key(rt, ns, name));
      return {};
    },
  };

  /** Sets a unit's status as the Unit controller would write it. */
  setStatus(unit: string, status: Unit['status']): void {
    const cur = this.objects.get(this.key(UnitResource, NS, unit)) as Unit;
    this.objects.set(this.key(UnitResource, NS, unit), this.stamp({ ...cur, status } as KubeObject, cur));
  }

  list(plural: string): KubeObject[] {
    return [...this.objects.entries()].filter(([k]) => k.startsWith(`${plural}/`)).map(([, o]) => clone(o));
  }
}

/** An informer cache that shows the server's state only as of its last sync(). */
class LaggingStore<T extends KubeObject> implements Store<T> {
  private items = new Map<string, T>();
  private readonly api: FakeApi;
  private readonly plural: string;
  constructor(api: FakeApi, plural: string) { this.api = api; this.plural = plural; }
  sync(): void {
    this.items = new Map(this.api.list(this.plural).map((o) => [o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name ?? '', o as T]));
  }
  get(key: string) { return this.items.get(key); }
  list() { return [...this.items.values()]; }
  keys() { return [...this.items.keys()]; }
  get size() { return this.items.size; }
}

const template = parse(readFileSync(join(import.meta.dirname, '../../config/templates/mariadb-10.11.yaml'), 'utf8')) as EngineTemplate;

function world(unitSet: UnitSet) {
  const api = new FakeApi();
  const stores = {
    unitSets: new LaggingStore<UnitSet>(api, 'unitsets'),
    units: new LaggingStore<Unit>(api, 'units'),
    templates: new LaggingStore<EngineTemplate>(api, 'enginetemplates'),
    configMaps: new LaggingStore<KubeObject & { data?: Record<string, string> }>(api, 'configmaps'),
    services: new LaggingStore<KubeObject>(api, 'services'),
    secrets: new LaggingStore<KubeObject>(api, 'secrets'),
    agentTokens: new LaggingStore<KubeObject>(api, 'secrets'),
    pvcs: new LaggingStore<KubeObject>(api, 'persistentvolumeclaims'),
  };
  const client = api.client as unknown as KubeClient;
  let reconcile = unitSetReconciler({ client, events: new EventRecorder(client, 'test'), ...stores });
  const ctx = { key: `${NS}/db`, log: silentLogger, signal: new AbortController().signal } as ReconcileContext;
  const syncAll = () => { for (const s of Object.values(stores)) s.sync(); };
  // A killed operator's successor: the same API and caches, nothing of the old process's memory (its expectations).
  const newOperator = () => { reconcile = unitSetReconciler({ client, events: new EventRecorder(client, 'test'), ...stores }); };
  return { api, stores, syncAll, pass: () => reconcile(`${NS}/db`, ctx), newOperator, unitSet };
}

const baseSet = (parameters: Record<string, string>): UnitSet => ({
  apiVersion: 'unit.upm.io/v1alpha1', kind: 'UnitSet',
  metadata: { name: 'db', namespace: NS },
  spec: { engine: 'mariadb', version: '10.11', units: 3, parameters },
} as UnitSet);

/** Three units running `parameters`, Ready, every cache in step. */
async function settled(parameters: Record<string, string>) {
  const w = world(baseSet(parameters));
  await w.api.client.create(EngineTemplateResource, template);
  await w.api.client.create(UnitSetResource, w.unitSet);
  w.syncAll();
  await w.pass();
  markReady(w);
  w.syncAll();
  await w.pass();
  w.syncAll();
  return w;
}

/** Every unit's pod and engine caught up with its spec, as the Unit controller reports it. */
function markReady(w: ReturnType<typeof world>, only?: string[]) {
  for (const u of w.api.list('units') as Unit[]) {
    if (only && !only.includes(u.metadata.name ?? '')) continue;
    w.api.setStatus(u.metadata.name ?? '', { ready: true, phase: 'Ready', podRevision: u.spec.revision, configRevision: u.spec.configRevision });
  }
}

const unitWrites = (w: ReturnType<typeof world>) => w.api.writes.filter((x) => /^(UPDATE|PATCH) units\/db-\d$/.test(x));

describe('UnitSet rollout with lagging caches', () => {
  it('is settled by the fixture: three Ready units at one config', async () => {
    const w = await settled({ innodb_log_buffer_size: '16M' });
    const units = w.api.list('units') as Unit[];
    expect(units.map((u) => u.status?.ready)).toEqual([true, true, true]);
    // A pure function of the spec: what the fixture stored is what the builder computes.
    const us = w.api.list('unitsets')[0] as UnitSet;
    const rev = updateRevision(us, template);
    expect(units.map((u) => u.spec.revision)).toEqual([rev, rev, rev]);
    expect(units[2]?.spec.configRevision).toBe(unitConfig(us, template, 2)?.hash);
    expect(desiredUnit(us, template, 2, rev, '').metadata.name).toBe('db-2');
  });

  it('restarts one unit for a static parameter, and takes no second while the first unit\'s write is not in its cache', async () => {
    const w = await settled({ innodb_log_buffer_size: '16M' });
    w.api.writes.length = 0;
    const us = w.api.list('unitsets')[0] as UnitSet;
    await w.api.client.patch(UnitSetResource, 'db', { spec: { ...us.spec, parameters: { innodb_log_buffer_size: '32M' } } }, 'merge', { namespace: NS });
    w.stores.unitSets.sync();
    await w.pass();
    expect(unitWrites(w)).toEqual(['UPDATE units/db-2']); // highest ordinal first, one at a time

    // The ConfigMap's watch event arrives first and triggers the next pass; the Unit's has not arrived yet.
    w.stores.configMaps.sync();
    w.stores.unitSets.sync();
    await w.pass();
    // Then the Unit's: db-2 at its new config, its engine not restarted yet.
    w.stores.units.sync();
    w.stores.unitSets.sync();
    await w.pass();
    expect(unitWrites(w)).toEqual(['UPDATE units/db-2']);

    // db-2 restarted and Ready: now db-1, and only db-1.
    markReady(w, ['db-2']);
    w.syncAll();
    await w.pass();
    expect(unitWrites(w)).toEqual(['UPDATE units/db-2', 'UPDATE units/db-1']);
  });

  it('takes no second unit of a new revision while the first unit\'s update is not in its cache', async () => {
    const w = await settled({});
    w.api.writes.length = 0;
    const us = w.api.list('unitsets')[0] as UnitSet;
    await w.api.client.patch(UnitSetResource, 'db', { spec: { ...us.spec, env: [{ name: 'TUNING', value: 'a' }] } }, 'merge', { namespace: NS });
    w.stores.unitSets.sync();
    await w.pass();
    expect(unitWrites(w)).toEqual(['UPDATE units/db-2']);
    // Passes on the stale unit cache neither write db-2 again (a conflict) nor move on.
    for (let i = 0; i < 3; i++) {
      w.stores.configMaps.sync();
      w.stores.unitSets.sync();
      await w.pass();
    }
    expect(unitWrites(w)).toEqual(['UPDATE units/db-2']);
  });

  it('rolls out a static change to a unit whose ConfigMap was written before a crash, instead of pushing it live', async () => {
    const w = await settled({ innodb_log_buffer_size: '16M' });
    w.api.writes.length = 0;
    const us = w.api.list('unitsets')[0] as UnitSet;
    const next = { ...us, spec: { ...us.spec, parameters: { innodb_log_buffer_size: '32M' } } } as UnitSet;
    await w.api.client.patch(UnitSetResource, 'db', { spec: next.spec }, 'merge', { namespace: NS });
    // The previous process wrote db-1's new ConfigMap and died before moving the unit to it.
    const cm = (w.api.list('configmaps') as (KubeObject & { data?: Record<string, string> })[]).find((c) => c.metadata.name === 'db-1-config');
    const cfg = unitConfig(next, template, 1);
    await w.api.client.update(Resources.configMaps, { ...cm, metadata: { ...cm?.metadata, annotations: { ...cm?.metadata.annotations, [ANNOTATION_CONFIG_HASH]: cfg?.hash ?? '' } }, data: { [cfg?.fileName ?? '']: cfg?.content ?? '', [CONFIG_INPUT_KEY]: JSON.stringify(cfg?.input) } } as KubeObject);
    w.syncAll();
    await w.pass();
    expect(unitWrites(w)).toEqual(['UPDATE units/db-2']);
  });
});

describe('UnitSet placement', () => {
  it("puts the node affinity and spread constraints on every unit's pod, beside the anti-affinity", () => {
    const zones = { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['a', 'b'] }] }] } };
    const us = {
      apiVersion: 'unit.upm.io/v1alpha1', kind: 'UnitSet', metadata: { name: 'db', namespace: NS, uid: 'u1' },
      spec: { engine: 'mariadb', version: '10.11', units: 2, nodeAffinity: zones, topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule' }] },
    } as UnitSet;
    const pod = desiredUnit(us, template, 1, updateRevision(us, template), '').spec.template as unknown as { spec: { affinity?: Record<string, unknown>; topologySpreadConstraints?: unknown[] } };
    expect(pod.spec.affinity?.nodeAffinity).toEqual(zones);
    expect(pod.spec.affinity?.podAntiAffinity).toBeDefined();
    expect(pod.spec.topologySpreadConstraints).toEqual([{ labelSelector: { matchLabels: { 'unit.upm.io/unitset': 'db' } }, maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule' }]);
    // Without it the pod has none; adding it is a new revision (the pods move where they may run).
    const { nodeAffinity: _n, ...rest } = us.spec;
    const plain = { ...us, spec: rest } as UnitSet;
    expect((desiredUnit(plain, template, 1, 'r', '').spec.template as unknown as { spec: { affinity?: Record<string, unknown> } }).spec.affinity?.nodeAffinity).toBeUndefined();
    expect(updateRevision(plain, template)).not.toBe(updateRevision(us, template));
  });
});

const unitSetOf = (w: ReturnType<typeof world>) => w.api.list('unitsets')[0] as UnitSet;
const unitOf = (w: ReturnType<typeof world>, name: string) => (w.api.list('units') as Unit[]).find((u) => u.metadata.name === name) as Unit;
const patchSpec = (w: ReturnType<typeof world>, spec: Record<string, unknown>) => w.api.client.patch(UnitSetResource, 'db', { spec }, 'merge', { namespace: NS });

/** A unit's status as the Unit controller writes it once its engine is in `phase`. */
function report(w: ReturnType<typeof world>, name: string, phase: 'Ready' | 'Stopped' | 'Starting', extra: Partial<NonNullable<Unit['status']>> = {}) {
  const u = unitOf(w, name);
  w.api.setStatus(name, { ...u.status, ready: phase === 'Ready', phase, podRevision: u.spec.revision, configRevision: u.spec.configRevision, ...extra });
}

describe('UnitSet stop and start', () => {
  it('stops every engine in place (no new revision, no pod replaced), reports Stopped, creates new units stopped, and starts them again', async () => {
    const w = await settled({});
    const revisions = (w.api.list('units') as Unit[]).map((u) => u.spec.revision);
    w.api.writes.length = 0;
    await patchSpec(w, { stopped: true });
    w.syncAll();
    await w.pass();
    expect(unitWrites(w)).toEqual(['PATCH units/db-0', 'PATCH units/db-1', 'PATCH units/db-2']);
    for (const u of w.api.list('units') as Unit[]) {
      expect(u.spec.startup).toBe(false);
      expect(u.metadata.annotations?.['unit.upm.io/stopped-by-unitset']).toBe('true');
    }
    expect((w.api.list('units') as Unit[]).map((u) => u.spec.revision)).toEqual(revisions);
    expect(unitSetOf(w).status?.updateRevision).toBe(revisions[0]);
    expect(unitSetOf(w).status?.phase).toBe('Stopping');

    // Passes on a stale unit cache write nothing again.
    w.stores.unitSets.sync();
    await w.pass();
    expect(unitWrites(w)).toHaveLength(3);

    // Two engines report stopped: still Stopping; all three: Stopped.
    report(w, 'db-0', 'Stopped');
    report(w, 'db-1', 'Stopped');
    w.syncAll();
    await w.pass();
    expect(unitSetOf(w).status).toMatchObject({ phase: 'Stopping', stoppedUnits: 2 });
    report(w, 'db-2', 'Stopped');
    w.syncAll();
    await w.pass();
    const st = unitSetOf(w).status;
    expect(st).toMatchObject({ phase: 'Stopped', stoppedUnits: 3 });
    expect(st?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'Stopped' });
    expect(unitWrites(w)).toHaveLength(3);

    // Scaling while stopped: the new unit is created stopped.
    await patchSpec(w, { units: 4 });
    w.syncAll();
    await w.pass();
    expect(unitOf(w, 'db-3').spec.startup).toBe(false);
    expect(unitOf(w, 'db-3').spec.revision).toBe(revisions[0]);
    report(w, 'db-3', 'Stopped');
    w.syncAll();
    await w.pass();
    expect(unitSetOf(w).status).toMatchObject({ phase: 'Stopped', stoppedUnits: 4 });

    // Start: every unit the UnitSet stopped starts again; Ready once they all are.
    w.api.writes.length = 0;
    await patchSpec(w, { stopped: false });
    w.syncAll();
    await w.pass();
    expect(unitWrites(w)).toEqual(['PATCH units/db-0', 'PATCH units/db-1', 'PATCH units/db-2', 'PATCH units/db-3']);
    for (const u of w.api.list('units') as Unit[]) {
      expect(u.spec.startup).toBe(true);
      expect(u.metadata.annotations?.['unit.upm.io/stopped-by-unitset']).toBeUndefined();
    }
    for (const n of ['db-0', 'db-1', 'db-2', 'db-3']) report(w, n, 'Ready');
    w.syncAll();
    await w.pass();
    expect(unitSetOf(w).status).toMatchObject({ phase: 'Ready', stoppedUnits: 0, readyUnits: 4 });
  });

  it('leaves a unit its user stopped stopped when the UnitSet starts again', async () => {
    const w = await settled({});
    await w.api.client.patch(UnitResource, 'db-1', { spec: { startup: false } }, 'merge', { namespace: NS });
    w.syncAll();
    w.api.writes.length = 0;
    await patchSpec(w, { stopped: true });
    w.syncAll();
    await w.pass();
    expect(unitWrites(w)).toEqual(['PATCH units/db-0', 'PATCH units/db-2']);
    await patchSpec(w, { stopped: false });
    w.syncAll();
    await w.pass();
    expect(unitOf(w, 'db-0').spec.startup).toBe(true);
    expect(unitOf(w, 'db-1').spec.startup).toBe(false);
  });
});

describe('UnitSet rolling restart with lagging caches and a killed operator', () => {
  it('asks one unit at a time in the order given, never twice, and resumes after the operator is replaced', async () => {
    const w = await settled({});
    const revisions = (w.api.list('units') as Unit[]).map((u) => u.spec.revision);
    w.api.writes.length = 0;
    await patchSpec(w, { restart: { id: 'r1', order: ['db-2', 'db-0', 'db-1'] } });
    w.syncAll();
    await w.pass();
    expect(unitWrites(w)).toEqual(['PATCH units/db-2']);
    expect(unitOf(w, 'db-2').spec.restartId).toBe('r1');
    expect(unitSetOf(w).status?.restart).toMatchObject({ id: 'r1', phase: 'Restarting', current: 'db-2', done: [] });

    // The unit cache has not shown the request yet: no second unit is asked, db-2 is not asked again.
    for (let i = 0; i < 3; i++) {
      w.stores.unitSets.sync();
      await w.pass();
    }
    expect(unitWrites(w)).toEqual(['PATCH units/db-2']);
    // Shown, engine restarting (not Ready): still only db-2.
    report(w, 'db-2', 'Starting', { lastRestartId: 'r1' });
    w.syncAll();
    await w.pass();
    expect(unitWrites(w)).toEqual(['PATCH units/db-2']);

    // db-2 Ready again: db-0 next.
    report(w, 'db-2', 'Ready', { lastRestartId: 'r1' });
    w.syncAll();
    await w.pass();
    expect(unitWrites(w)).toEqual(['PATCH units/db-2', 'PATCH units/db-0']);

    // The operator died after asking db-0 and before recording it: status.restart still says db-2. Its successor
    // starts from fresh lists (no memory of its own writes) and finds db-0 asked: it asks nothing again.
    const us = unitSetOf(w);
    w.api.objects.set(`unitsets/${NS}/db`, { ...us, status: { ...us.status, restart: { id: 'r1', phase: 'Restarting', current: 'db-2', done: [] } } } as KubeObject);
    w.newOperator();
    w.syncAll();
    await w.pass();
    expect(unitWrites(w)).toEqual(['PATCH units/db-2', 'PATCH units/db-0']);
    expect(unitSetOf(w).status?.restart).toMatchObject({ current: 'db-0', done: ['db-2'] });

    report(w, 'db-0', 'Ready', { lastRestartId: 'r1' });
    w.syncAll();
    await w.pass();
    report(w, 'db-1', 'Ready', { lastRestartId: 'r1' });
    w.syncAll();
    await w.pass();
    expect(unitWrites(w)).toEqual(['PATCH units/db-2', 'PATCH units/db-0', 'PATCH units/db-1']);
    expect(unitSetOf(w).status?.restart).toMatchObject({ id: 'r1', phase: 'Complete', done: ['db-2', 'db-0', 'db-1'] });
    expect(unitSetOf(w).status?.phase).toBe('Ready');
    // No pod was replaced: the units' revisions never moved.
    expect((w.api.list('units') as Unit[]).map((u) => u.spec.revision)).toEqual(revisions);

    // The same request again changes nothing.
    w.newOperator();
    w.syncAll();
    await w.pass();
    expect(unitWrites(w)).toHaveLength(3);
  });

  it('refuses an order naming a unit it does not have, with the reason in status', async () => {
    const w = await settled({});
    w.api.writes.length = 0;
    await patchSpec(w, { restart: { id: 'r1', order: ['db-2', 'db-9'] } });
    w.syncAll();
    await w.pass();
    expect(unitWrites(w)).toEqual([]);
    expect(unitSetOf(w).status?.restart).toMatchObject({ id: 'r1', phase: 'Invalid' });
    expect(unitSetOf(w).status?.restart?.message).toContain('db-9');
  });
});

describe('the update revision', () => {
  it('leaves out the hub\'s hash of what it applied, which changes with every change of the service', async () => {
    const w = await settled({ innodb_log_buffer_size: '16M' });
    const us = w.api.list('unitsets')[0] as UnitSet;
    const withHash = (h: string) => ({ ...us, metadata: { ...us.metadata, annotations: { ...us.metadata.annotations, 'upm.io/desired-hash': h, team: 'a' } } }) as UnitSet;
    expect(updateRevision(withHash('1111'), template)).toBe(updateRevision(withHash('2222'), template));
    // Any other annotation reaches the pods, and is still a new revision.
    const other = { ...withHash('1111'), metadata: { ...withHash('1111').metadata, annotations: { ...withHash('1111').metadata.annotations, team: 'b' } } } as UnitSet;
    expect(updateRevision(other, template)).not.toBe(updateRevision(withHash('1111'), template));
  });
});
