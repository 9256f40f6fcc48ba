// The mirror: what the hub writes on its member clusters, and what it sees of it. Per member, informers filtered by
// MANAGED_LABEL over exactly the kinds the hub writes (never the member's pods or events), started when a member
// first has a service and stopped when it has none. Writes are server-side applies as FIELD_MANAGER, made only when
// the member object does not hold what the hub wants (no write when settled). Each applied object carries the hash
// of what was applied, so a field the hub stopped setting is noticed, a restart of the hub rewrites nothing, and an
// object that holds that hash but differs from it was changed on the member: drift, put back and reported.
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import {
  ElasticsearchClusterResource, KafkaClusterResource, MysqlReplicationResource, ProxysqlSyncResource, RedisClusterResource,
  RedisReplicationResource, ZookeeperEnsembleResource,
} from '../../lib/api/compose.upm.io.generated.ts';
import { UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import { HUB_DESIRED_HASH_ANNOTATION } from '../../lib/annotations.ts';
import { Informer } from '../../lib/informer.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { isNotFound, KubeApiError } from '../../lib/kube/errors.ts';
import { apiVersionOf, Resources, type ResourceType } from '../../lib/kube/resources.ts';
import { objectKey, type KubeObject } from '../../lib/kube/types.ts';
import { silentLogger } from '../../lib/log.ts';
import { MutationCache } from '../../lib/mutationcache.ts';
import { FIELD_MANAGER, MANAGED_LABEL, MANAGED_VALUE, PROJECT_LABEL, SERVICE_KIND_LABEL, SERVICE_NAME_LABEL, UNIT_SELECTOR } from './contract.ts';

/** The hash of the desired object last applied, on every object the hub writes. */
export const DESIRED_HASH_ANNOTATION = HUB_DESIRED_HASH_ANNOTATION;

/** What the hub writes on a member, in the order a service's objects are applied (its removal goes backwards). */
export const MIRRORED_RESOURCES: readonly ResourceType[] = [
  Resources.namespaces, Resources.secrets, UnitSetResource, MysqlReplicationResource, ProxysqlSyncResource,
  RedisReplicationResource, RedisClusterResource, ZookeeperEnsembleResource, KafkaClusterResource, ElasticsearchClusterResource,
];
/**
 * Read, never written: the Units of the UnitSets the hub writes (their labels come from the UnitSet; the Unit
 * Operator sets their managed-by to its own, so they are selected by the service labels), for each unit's state.
 */
export const OBSERVED_RESOURCES: readonly { rt: ResourceType; labelSelector?: string }[] = [
  { rt: UnitResource, labelSelector: UNIT_SELECTOR },
  // The zone of each unit's node (topology.kubernetes.io/zone) for the status.
  { rt: Resources.nodes },
];
const BY_TYPE = new Map(MIRRORED_RESOURCES.map((r) => [`${apiVersionOf(r)}/${r.kind}`, r]));
const BY_KIND = new Map(MIRRORED_RESOURCES.map((r) => [r.kind, r]));

export function resourceOf(obj: KubeObject): ResourceType {
  const rt = BY_TYPE.get(`${obj.apiVersion ?? ''}/${obj.kind ?? ''}`);
  if (!rt) throw new Error(`${obj.apiVersion}/${obj.kind}: not a kind the hub writes on members`);
  return rt;
}

/** The cache key of an object across kinds on one member. */
export const refOf = (obj: KubeObject): string => `${obj.kind ?? ''}/${objectKey(obj)}`;

// ---- pure: what to write ----------------------------------------------------------------------------------------

function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/** A short hash of the desired object (its own hash annotation left out). */
export function desiredHash(obj: KubeObject): string {
  const annotations = { ...obj.metadata.annotations };
  delete annotations[DESIRED_HASH_ANNOTATION];
  return createHash('sha256').update(stable({ ...obj, metadata: { ...obj.metadata, annotations } })).digest('hex').slice(0, 16);
}

/** The desired object as applied: with the hash of itself. */
export function withHash(obj: KubeObject): KubeObject {
  return { ...obj, metadata: { ...obj.metadata, annotations: { ...obj.metadata.annotations, [DESIRED_HASH_ANNOTATION]: desiredHash(obj) } } };
}

/** The fields the hub sets, in the form the server returns them (a Secret's stringData comes back as data). */
function comparable(obj: KubeObject): Record<string, unknown> {
  const { apiVersion: _a, kind: _k, metadata, status: _s, ...rest } = obj as KubeObject & Record<string, unknown>;
  const out: Record<string, unknown> = { ...rest, metadata: { labels: metadata.labels ?? {}, annotations: metadata.annotations ?? {} } };
  if (out.stringData && typeof out.stringData === 'object') {
    const data = { ...(out.data as Record<string, string> | undefined) };
    for (const [k, v] of Object.entries(out.stringData as Record<string, string>)) data[k] = Buffer.from(v).toString('base64');
    out.data = data;
    delete out.stringData;
  }
  return out;
}

/** The first path at which `observed` does not hold what `desired` says (fields desired leaves out are not compared). */
export function firstDifference(desired: unknown, observed: unknown, path = ''): string | undefined {
  if (Array.isArray(desired)) {
    if (!Array.isArray(observed) || observed.length !== desired.length) return path;
    for (const [i, d] of desired.entries()) {
      const diff = firstDifference(d, observed[i], `${path}[${i}]`);
      if (diff !== undefined) return diff;
    }
    return undefined;
  }
  if (desired && typeof desired === 'object') {
    if (!observed || typeof observed !== 'object' || Array.isArray(observed)) return path;
    for (const [k, v] of Object.entries(desired)) {
      const diff = firstDifference(v, (observed as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
      if (diff !== undefined) return diff;
    }
    return undefined;
  }
  return desired === observed ? undefined : path;
}

/**
 * One write the mirror makes: `create` (new), `update` (the hub wants something else now), `restore` (the member
 * object was deleted or changed on the member: drift). `wait`: the object is being deleted on the member, and is
 * created again once it is gone.
 */
export interface Step { action: 'create' | 'update' | 'restore' | 'wait'; object: KubeObject; why: string }

/**
 * Pure: what to do about one desired object given the member's copy (undefined when it is not there) and whether the
 * hub has seen that copy go away.
 */
export function planObject(desired: KubeObject, observed: KubeObject | undefined, seenDeleted: boolean): Step | undefined {
  const want = withHash(desired);
  if (!observed) return seenDeleted ? { action: 'restore', object: want, why: 'deleted on the member' } : { action: 'create', object: want, why: 'not on the member' };
  if (observed.metadata.deletionTimestamp) return { action: 'wait', object: want, why: 'being deleted on the member' };
  const diff = firstDifference(comparable(want), comparable(observed));
  if (diff === undefined) return undefined;
  const settled = observed.metadata.annotations?.[DESIRED_HASH_ANNOTATION] === want.metadata.annotations?.[DESIRED_HASH_ANNOTATION];
  return settled ? { action: 'restore', object: want, why: `${diff} changed on the member` } : { action: 'update', object: want, why: `${diff} differs` };
}

/** Names an object for people: `UnitSet proj/db`. */
export const describeObject = (o: KubeObject): string => `${o.kind} ${objectKey(o)}`;

/** A write the member refused or did not answer, naming the object. */
export class MirrorWriteError extends Error {
  readonly object: KubeObject;
  constructor(object: KubeObject, cause: unknown) {
    super(`${describeObject(object)}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'MirrorWriteError';
    this.object = object;
  }

  /** No answer at all (refused connection, timeout): the member, not the object, is the trouble. */
  get unanswered(): boolean { return !(this.cause instanceof KubeApiError); }
}

// ---- one member ---------------------------------------------------------------------------------------------------

export interface ServiceIdentity { kind: string; namespace: string; name: string }

/** The labels naming the hub service of a member object, or undefined (a Namespace names only its project). */
export function serviceOf(obj: KubeObject): ServiceIdentity | undefined {
  const l = obj.metadata.labels ?? {};
  const kind = l[SERVICE_KIND_LABEL];
  const name = l[SERVICE_NAME_LABEL];
  const namespace = obj.metadata.namespace ?? l[PROJECT_LABEL];
  return kind && name && namespace ? { kind, namespace, name } : undefined;
}

type Handler = (cluster: string, obj: KubeObject) => void;

export class MemberMirror {
  readonly cluster: string;
  readonly client: KubeClient;
  /** The credentials the client came from (a new version restarts the member's informers). */
  readonly version: string;
  private readonly informers = new Map<string, { informer: Informer<KubeObject>; cache: MutationCache<KubeObject> }>();
  private readonly stop = new AbortController();
  private readonly runs: Promise<void>[] = [];
  /** Objects the informers saw deleted that the hub did not delete itself. */
  private readonly deleted = new Set<string>();
  private readonly deleting = new Set<string>();
  /**
   * The Unit Operator's credentials Secrets of the hub's services (labelled with the service by UNIT_SELECTOR, as
   * their UnitSets are): read for the connection Secret, never written, and no other Secret of the member is read.
   */
  private readonly credentials: Informer<KubeObject>;

  constructor(cluster: string, client: KubeClient, version: string, onEvent: Handler, log: Logger, resources: readonly ResourceType[], onSynced?: (cluster: string) => void) {
    this.cluster = cluster;
    this.client = client;
    this.version = version;
    // Every informer of the member waits on this one signal.
    setMaxListeners(64, this.stop.signal);
    const sources = [
      ...resources.map((rt) => ({ rt, labelSelector: `${MANAGED_LABEL}=${MANAGED_VALUE}` })),
      ...OBSERVED_RESOURCES.filter((o) => !resources.includes(o.rt)),
    ];
    for (const { rt, labelSelector } of sources) {
      const informer = new Informer<KubeObject>(client, rt, { labelSelector, logger: log.child({ member: cluster }) });
      informer.addHandler({
        onAdd: (o) => onEvent(cluster, o),
        onUpdate: (_old, o) => onEvent(cluster, o),
        onDelete: (o) => {
          const ref = refOf({ ...o, kind: rt.kind });
          if (!this.deleting.delete(ref)) this.deleted.add(ref);
          onEvent(cluster, o);
        },
      });
      this.informers.set(rt.kind, { informer, cache: new MutationCache(informer) });
      this.runs.push(informer.run(this.stop.signal));
    }
    this.credentials = new Informer<KubeObject>(client, Resources.secrets, { labelSelector: UNIT_SELECTOR, logger: log.child({ member: cluster }) });
    this.credentials.addHandler({ onAdd: (o) => onEvent(cluster, o), onUpdate: (_old, o) => onEvent(cluster, o), onDelete: (o) => onEvent(cluster, o) });
    this.runs.push(this.credentials.run(this.stop.signal));
    // A member's first list fires no event when it holds nothing of ours yet: say when every cache is filled, so the
    // services waiting on it go on at once instead of at their next retry.
    void Promise.all([...[...this.informers.values()].map((i) => i.informer), this.credentials].map((i) => i.waitForSync(this.stop.signal)))
      .then(() => { if (!this.stop.signal.aborted) onSynced?.(cluster); });
  }

  /** The kinds whose informers have not filled their cache yet (the member has not answered their list). */
  unsynced(): string[] {
    const kinds = [...this.informers.entries()].filter(([, i]) => !i.informer.hasSynced).map(([kind]) => kind);
    return this.credentials.hasSynced ? kinds : [...kinds, 'Secret (credentials)'];
  }

  /** How many kinds it watches. */
  get watched(): number { return this.informers.size + 1; }

  /** The member's credentials Secret of that name of one service (undefined unless it carries that service's labels). */
  credentialsOf(svc: ServiceIdentity, name: string): KubeObject | undefined {
    const s = this.credentials.get(`${svc.namespace}/${name}`);
    const of = s && serviceOf(s);
    return of && of.kind === svc.kind && of.name === svc.name ? s : undefined;
  }

  get synced(): boolean { return this.unsynced().length === 0; }

  /** The member's copy of an object (or this process's newer write of it). */
  get(obj: KubeObject): KubeObject | undefined {
    return this.informers.get(obj.kind ?? '')?.cache.get(objectKey(obj));
  }

  /** Every object the hub wrote for one service, in apply order. */
  objectsOf(svc: ServiceIdentity): KubeObject[] {
    const out: KubeObject[] = [];
    for (const { informer } of this.informers.values()) {
      for (const o of informer.list()) {
        const s = serviceOf(o);
        if (s && s.kind === svc.kind && s.namespace === svc.namespace && s.name === svc.name) out.push(o);
      }
    }
    return out;
  }

  /** The member's Nodes of these names (where a service's units run). */
  nodes(names: Iterable<string>): KubeObject[] {
    const cache = this.informers.get('Node')?.informer;
    return [...new Set(names)].flatMap((n) => cache?.get(n) ?? []);
  }

  /** What the status function is given for one service: its objects, and the Nodes its units run on. */
  observedOf(svc: ServiceIdentity): KubeObject[] {
    const objects = this.objectsOf(svc);
    const nodes = objects.filter((o) => o.kind === 'Unit').map((u) => (u as KubeObject & { status?: { nodeName?: string } }).status?.nodeName ?? '');
    return [...objects, ...this.nodes(nodes.filter(Boolean))];
  }

  /** Every object the hub wrote in a member namespace (the Namespace itself and the Units excluded). */
  objectsIn(namespace: string): KubeObject[] {
    return [...this.informers.values()].flatMap(({ informer }) => (BY_KIND.has(informer.resource.kind) ? informer.list().filter((o) => o.metadata.namespace === namespace) : []));
  }

  /** Pure over the caches: the writes that bring the member to `desired`. */
  plan(desired: KubeObject[]): Step[] {
    return desired.flatMap((d) => planObject(d, this.get(d), this.deleted.has(refOf(d))) ?? []);
  }

  /** Applies the steps in order (server-side apply as FIELD_MANAGER, forced: the hub owns these fields). */
  async apply(steps: Step[]): Promise<void> {
    for (const s of steps) {
      if (s.action === 'wait') continue;
      const o = s.object;
      const rt = resourceOf(o);
      let written: KubeObject;
      try {
        written = await this.client.patch<KubeObject>(rt, o.metadata.name ?? '', o, 'apply', { namespace: o.metadata.namespace, fieldManager: FIELD_MANAGER, force: true });
      } catch (err) {
        throw new MirrorWriteError(o, err);
      }
      this.informers.get(rt.kind)?.cache.mutated({ ...written, kind: rt.kind });
      this.deleted.delete(refOf(o));
    }
  }

  /** Deletes an object the hub wrote (gone already is fine). */
  async delete(obj: KubeObject, propagationPolicy: 'Background' | 'Foreground' = 'Background'): Promise<void> {
    const rt = BY_KIND.get(obj.kind ?? '');
    if (!rt) throw new Error(`${describeObject(obj)}: not a kind the hub writes on members`);
    this.deleting.add(refOf(obj));
    try {
      await this.client.delete(rt, obj.metadata.name ?? '', obj.metadata.namespace, { propagationPolicy });
    } catch (err) {
      if (!isNotFound(err)) { this.deleting.delete(refOf(obj)); throw err; }
    }
  }

  /** Stops the informers; the client belongs to whoever gave it. */
  async close(): Promise<void> {
    this.stop.abort();
    await Promise.all(this.runs);
  }
}

// ---- all members ------------------------------------------------------------------------------------------------

export interface MirrorOptions {
  /** Called for every add, change and removal the member informers see (the controller maps it to services). */
  onEvent: Handler;
  /** Called once a member's informers have all filled their caches (its services can be reconciled now). */
  onSynced?: (cluster: string) => void;
  logger?: Logger;
  resources?: readonly ResourceType[];
}

export class Mirror {
  private readonly members = new Map<string, MemberMirror>();
  private readonly opts: MirrorOptions;

  constructor(opts: MirrorOptions) {
    this.opts = opts;
  }

  /** The member's mirror, started on first use, restarted when its credentials changed. */
  member(cluster: string, client: KubeClient, version: string): MemberMirror {
    const cur = this.members.get(cluster);
    if (cur && cur.version === version && cur.client === client) return cur;
    if (cur) void cur.close();
    const m = new MemberMirror(cluster, client, version, this.opts.onEvent, this.opts.logger ?? silentLogger, this.opts.resources ?? MIRRORED_RESOURCES, this.opts.onSynced);
    this.members.set(cluster, m);
    return m;
  }

  get(cluster: string): MemberMirror | undefined { return this.members.get(cluster); }

  /** The members mirrored now. */
  clusters(): string[] { return [...this.members.keys()]; }

  /** Stops the mirrors of members that no longer have services (or no longer exist). */
  async retain(clusters: Iterable<string>): Promise<void> {
    const keep = new Set(clusters);
    const gone = [...this.members.entries()].filter(([c]) => !keep.has(c));
    for (const [c] of gone) this.members.delete(c);
    await Promise.all(gone.map(([, m]) => m.close()));
  }

  async close(): Promise<void> { await this.retain([]); }
}
