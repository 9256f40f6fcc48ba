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
import { ANNOTATION_CONFIG_HASH, CONFIG_INPUT_KEY } from './naming.ts';
import { unitSetReconciler } from './unitset-controller.ts';
import { desiredUnit, unitConfig, updateRevision } from './unitset-build.ts';

const NS = 'ns';
const clone = <T>(o: T): T => JSON.parse(JSON.stringify(o)) as T;
const apiError = (code: number, reason: string, what: string) => new KubeApiError(code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason }, what);

/** An API server in memory: resourceVersions, generations, conflicts, merge patches (one level deep). */
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
      const next = clone(cur);
      for (const [field, value] of Object.entries(patch)) {
        next[field] = value && typeof value === 'object' && !Array.isArray(value) ? { ...(next[field] as object | undefined), ...value } : value;
      }
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
  const reconcile = unitSetReconciler({ client, events: new EventRecorder(client, 'test'), ...stores });
  const ctx = { key: `${NS}/db`, log: silentLogger, signal: new AbortController().signal } as ReconcileContext;
  const syncAll = () => { for (const s of Object.values(stores)) s.sync(); };
  return { api, stores, syncAll, pass: () => reconcile(`${NS}/db`, ctx), unitSet };
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
