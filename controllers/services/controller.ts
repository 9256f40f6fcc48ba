// The services controller (hub): each data service record is placed on its member cluster through the mirror and its
// status written back. A reconcile observes (the service, its Cluster, the member objects the mirror caches), asks
// the pure functions (desired objects; the writes that bring the member there; the status), acts (applies, deletes),
// and writes the status only when it changed. Nothing waits in a worker: a member that does not answer is retried
// with a growing delay, and its return (the Cluster Ready again, the member's informers synced) brings the service
// back at once, with whatever was edited meanwhile.
import type { ClusterRecord } from '../../lib/api/internal.upm.io.generated.ts';
import type { ReconcileResult, Reconciler } from '../../lib/controller.ts';
import type { EventRecorder } from '../../lib/events.ts';
import type { IndexedStore, IndexFn, Store } from '../../lib/informer.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import type { MemberClients } from '../../lib/kube/member-clients.ts';
import type { ResourceType } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { isNotFound } from '../../lib/kube/errors.ts';
import { Resources } from '../../lib/kube/resources.ts';
import { asPublic } from '../public.ts';
import { connectionSecret, connectionSecretName, connectionSettled, connectionValues, credentialsSecretName, type SecretObject } from './connection.ts';
import { SERVICE_FINALIZER, type DesiredFn, type HubService, type Observed, type ServiceStatus, type StatusFn } from './contract.ts';
import { retainedOf } from './desired/common.ts';
import { describeObject, MirrorWriteError, type MemberMirror, type Mirror, type ServiceIdentity, type Step } from './mirror.ts';

/** One of the six kinds: its public kind, the label value naming it on the member, its storage, its desired function. */
export interface ServiceKind {
  kind: string;
  label: string;
  storage: ResourceType;
  desired: DesiredFn;
}

export interface ServicesDeps {
  client: KubeClient;
  events: EventRecorder;
  kinds: ServiceKind[];
  /** The storage records of each kind, by its label, with the SERVICE_INDEXES. */
  services: Map<string, IndexedStore<HubService>>;
  clusters: Store<ClusterRecord>;
  members: Pick<MemberClients, 'resolve'>;
  mirror: Mirror;
  status: StatusFn;
  now?: () => Date;
  /** The first and the longest wait before trying a member that did not answer again. */
  retry?: { baseMs: number; maxMs: number };
}

/** The indexes the services' stores keep (register.ts adds them), so that nothing scans every service of the hub. */
export const CLUSTER_INDEX = 'placement.cluster';
/** A project's services on one cluster: the values are projectOn(namespace, cluster). */
export const PROJECT_CLUSTER_INDEX = 'placement.project-cluster';
export const projectOn = (project: string, cluster: string): string => `${project}/${cluster}`;
const clusterOf = (s: HubService): string => s.spec?.placement?.cluster ?? '';
export const SERVICE_INDEXES: Record<string, IndexFn<HubService>> = {
  [CLUSTER_INDEX]: (s) => (clusterOf(s) ? [clusterOf(s)] : []),
  [PROJECT_CLUSTER_INDEX]: (s) => (clusterOf(s) ? [projectOn(s.metadata.namespace ?? '', clusterOf(s))] : []),
};

export const serviceKey = (label: string, obj: KubeObject): string => `${label}/${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''}`;

export function parseServiceKey(key: string): ServiceIdentity {
  const [kind = '', namespace = '', name = ''] = key.split('/');
  return { kind, namespace, name };
}

/** The Ready condition of a Cluster as its heartbeat wrote it. */
const clusterReady = (c: ClusterRecord) => c.status?.conditions?.find((x) => x.type === 'Ready');

function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/** Pure: the merge patch that turns `current` into `next` (fields `next` lacks are removed), or undefined when equal. */
export function statusPatch(current: ServiceStatus | undefined, next: ServiceStatus): Record<string, unknown> | undefined {
  if (stable(current ?? {}) === stable(next)) return undefined;
  const patch: Record<string, unknown> = { ...next };
  for (const k of Object.keys(current ?? {})) if (!(k in next) || next[k] === undefined) patch[k] = null;
  return patch;
}

/**
 * Pure: what deleting a service does on the member now, given the objects the hub wrote for it: the objects of the
 * kind latest in apply order that is still there (compose objects before the UnitSets they use), and only once the
 * kinds after it are gone. The Units go with their UnitSets.
 */
export function deletionPlan(objects: KubeObject[], order: readonly string[]): { remove: KubeObject[]; waiting: KubeObject[] } {
  const written = objects.filter((o) => order.includes(o.kind ?? ''));
  const rank = (o: KubeObject) => order.indexOf(o.kind ?? '');
  const stage = Math.max(-1, ...written.map(rank));
  return {
    remove: written.filter((o) => rank(o) === stage && !o.metadata.deletionTimestamp),
    waiting: written.filter((o) => !!o.metadata.deletionTimestamp),
  };
}

export function servicesReconciler(d: ServicesDeps, order: readonly string[]): Reconciler {
  const now = d.now ?? (() => new Date());
  const retry = d.retry ?? { baseMs: 2000, maxMs: 60_000 };
  const failures = new Map<string, number>();
  const kinds = new Map(d.kinds.map((k) => [k.label, k]));
  const backoff = (key: string): ReconcileResult => {
    const n = failures.get(key) ?? 0;
    failures.set(key, n + 1);
    return { requeueAfterMs: Math.min(retry.maxMs, retry.baseMs * 2 ** Math.min(n, 16)) };
  };

  /** Stops the mirrors of members no service is placed on any more. */
  const retainMirrors = async () => {
    await d.mirror.retain(d.mirror.clusters().filter((c) => d.clusters.get(c) && [...d.services.values()].some((st) => st.byIndex(CLUSTER_INDEX, c).length > 0)));
  };

  /** The member's mirror, or why the service cannot reach it (naming the cluster) and whether to try again later. */
  const reach = async (svc: HubService): Promise<{ cluster: ClusterRecord; mm: MemberMirror } | { why: string; retry: boolean }> => {
    const name = svc.spec.placement?.cluster ?? '';
    const cluster = d.clusters.get(name);
    if (!cluster || cluster.metadata.deletionTimestamp) return { why: `spec.placement.cluster: Cluster "${name}" not found`, retry: false };
    const ready = clusterReady(cluster);
    if (ready?.status !== 'True') return { why: `Cluster "${name}" is not Ready${ready ? `: ${ready.reason ?? ready.status}: ${ready.message ?? ''}` : ': no heartbeat yet'}`, retry: false };
    const member = await d.members.resolve(cluster.spec.credentials);
    if ('reason' in member) return { why: `Cluster "${name}": ${member.message}`, retry: false };
    const mm = d.mirror.member(name, member.client, member.secretVersion);
    const unsynced = mm.unsynced();
    // Which kinds, not how often they failed: the message stays the same while the member stays away (no writes).
    if (unsynced.length) return { why: `Cluster "${name}": the member has not answered the hub's lists yet (${unsynced.length} of ${mm.watched} kinds: ${unsynced.slice(0, 3).join(', ')}${unsynced.length > 3 ? ', ...' : ''})`, retry: true };
    return { cluster, mm };
  };

  const writeStatus = async (kind: ServiceKind, svc: HubService, next: ServiceStatus): Promise<void> => {
    const patch = statusPatch(svc.status, next);
    if (!patch) return;
    await d.client.patch(kind.storage, svc.metadata.name ?? '', { status: patch }, 'merge', { namespace: svc.metadata.namespace, subresource: 'status' });
  };

  const setFinalizers = (kind: ServiceKind, svc: HubService, finalizers: string[]) =>
    d.client.patch<HubService>(kind.storage, svc.metadata.name ?? '', { metadata: { finalizers, resourceVersion: svc.metadata.resourceVersion } }, 'merge', { namespace: svc.metadata.namespace });

  const reportDrift = async (pub: HubService, cluster: string, steps: Step[]) => {
    for (const s of steps.filter((x) => x.action === 'restore')) {
      await d.events.record(pub, 'Warning', 'DriftCorrected', `${describeObject(s.object)} on cluster ${cluster}: ${s.why}; put back as the hub has it`);
    }
  };

  /** The hub's connection Secret of the service, or undefined when there is none. */
  const readConnection = async (svc: HubService): Promise<SecretObject | undefined> => {
    try {
      return await d.client.get<SecretObject>(Resources.secrets, connectionSecretName(svc.metadata.name ?? ''), svc.metadata.namespace);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };

  /**
   * Keeps the connection Secret in the service's namespace on the hub, written only when it changed; returns its name
   * once it exists. Its values come from the status just computed (the readwrite endpoint) and the member's credentials
   * Secret. Events and errors name the Secret and the account, never the password.
   */
  const ensureConnection = async (kind: ServiceKind, svc: HubService, status: ServiceStatus, mm: MemberMirror, id: ServiceIdentity): Promise<string | undefined> => {
    const name = connectionSecretName(svc.metadata.name ?? '');
    const values = connectionValues(svc, kind.label, status, mm.credentialsOf(id, credentialsSecretName(svc.metadata.name ?? '')) as SecretObject | undefined);
    const have = await readConnection(svc);
    if (!values) return have ? name : undefined;
    const want = connectionSecret(svc, kind.label, values);
    if (connectionSettled(want, have)) return name;
    if (have) await d.client.update<SecretObject>(Resources.secrets, { ...have, metadata: { ...have.metadata, labels: { ...have.metadata.labels, ...want.metadata.labels } }, data: want.data });
    else await d.client.create<SecretObject>(Resources.secrets, want);
    const account = values.user ? ` and the application account ${values.user}` : ' (no account: the engine takes no user or password here)';
    await d.events.record(asPublic(svc, kind.kind), 'Normal', have ? 'ConnectionSecretUpdated' : 'ConnectionSecretCreated', `Secret ${name}: ${values.host}:${values.port}${account}`);
    return name;
  };

  const finalize = async (kind: ServiceKind, svc: HubService, id: ServiceIdentity, key: string): Promise<ReconcileResult> => {
    const pub = asPublic(svc, kind.kind);
    const finalizers = svc.metadata.finalizers ?? [];
    if (!finalizers.includes(SERVICE_FINALIZER)) { await retainMirrors(); return; }
    const drop = async () => { await setFinalizers(kind, svc, finalizers.filter((f) => f !== SERVICE_FINALIZER)); failures.delete(key); await retainMirrors(); };
    const clusterName = svc.spec.placement?.cluster ?? '';
    const placedOn = d.clusters.get(clusterName);
    if (!placedOn || !placedOn.spec?.credentials?.secretName) {
      // Nothing was ever written to a cluster the hub has no way to reach, and nothing can be removed from it.
      await d.events.record(pub, 'Warning', 'MemberObjectsLeft', placedOn ? `Cluster "${clusterName}" has no credentials: the hub never wrote to it` : `Cluster "${clusterName}" no longer exists: nothing could be removed from it`);
      await drop();
      return;
    }
    const at = await reach(svc);
    const policy = svc.spec.deletionPolicy === 'Retain' ? 'Retain' : 'Delete';
    if ('why' in at) {
      await writeStatus(kind, svc, d.status(svc, { reachable: false, unreachableReason: at.why, objects: [] }, now()));
      return backoff(key);
    }
    const { cluster, mm } = at;
    const live = mm.objectsOf(id);
    const namespace = svc.metadata.namespace ?? '';
    let retained: ServiceStatus['retained'];
    if (policy === 'Retain') {
      const desired = kind.desired(svc, cluster, live);
      const kept = retainedOf(desired);
      retained = { cluster: clusterName, namespace, ...kept };
    }
    await writeStatus(kind, svc, { ...d.status(svc, { reachable: true, objects: live }, now()), phase: 'Deleting', ...(retained ? { retained } : {}) });
    const plan = deletionPlan(live, order);
    for (const o of plan.remove) {
      await mm.delete(o);
      await d.events.record(pub, 'Normal', 'DeletingMemberObject', `deleting ${describeObject(o)} on cluster ${clusterName}`);
    }
    // Their deletion events bring the service back; the delay is a safety net.
    if (plan.remove.length || plan.waiting.length) return { requeueAfterMs: 2000 };
    // The project's namespace goes with its last service on the member, unless something in it is to be kept.
    const lastHere = policy === 'Delete' && !othersIn(d, svc, clusterName);
    if (lastHere) await mm.delete({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    // The connection Secret on the hub goes with the service, unless its account's data is kept (Retain).
    const connection = connectionSecretName(svc.metadata.name ?? '');
    if (retained) {
      if (await readConnection(svc)) await d.events.record(pub, 'Normal', 'ConnectionSecretRetained', `kept Secret ${connection} in namespace ${namespace} on the hub: its account opens the data kept on cluster ${clusterName}`);
    } else {
      try { await d.client.delete(Resources.secrets, connection, namespace); } catch (err) { if (!isNotFound(err)) throw err; }
    }
    if (retained) {
      await d.events.record(pub, 'Normal', 'Retained', `kept on cluster ${clusterName} in namespace ${namespace}: claims ${retained.claims.join(', ') || '(none)'}; Secrets ${retained.secrets.join(', ') || '(none)'}`);
    } else {
      await d.events.record(pub, 'Normal', 'MemberObjectsRemoved', `the service's objects are gone from cluster ${clusterName}${lastHere ? `; namespace ${namespace} deleted there too` : ''}`);
    }
    await drop();
    return;
  };

  return async (key): Promise<ReconcileResult> => {
    const id = parseServiceKey(key);
    const kind = kinds.get(id.kind);
    const stored = d.services.get(id.kind)?.get(`${id.namespace}/${id.name}`);
    if (!kind || !stored) {
      failures.delete(key);
      await retainMirrors();
      return;
    }
    let svc = stored;
    if (svc.metadata.deletionTimestamp) return finalize(kind, svc, id, key);
    const at = await reach(svc);
    if ('why' in at) {
      await writeStatus(kind, svc, d.status(svc, { reachable: false, unreachableReason: at.why, objects: [] }, now()));
      if (!at.retry) await retainMirrors();
      return at.retry ? backoff(key) : undefined;
    }
    const { cluster, mm } = at;
    const desired = kind.desired(svc, cluster, mm.objectsOf(id));
    if ('refused' in desired) {
      await writeStatus(kind, svc, d.status(svc, { reachable: true, objects: mm.observedOf(id), desired }, now()));
      return;
    }
    const steps = mm.plan(desired.objects);
    // The finalizer goes on before the first write to the member, where cleanup begins to be needed (a service that
    // never reached one is deleted at once).
    if (!(svc.metadata.finalizers ?? []).includes(SERVICE_FINALIZER)) {
      svc = await setFinalizers(kind, svc, [...(svc.metadata.finalizers ?? []), SERVICE_FINALIZER]);
    }
    let applyError: Observed['applyError'];
    try {
      await mm.apply(steps);
    } catch (err) {
      if (!(err instanceof MirrorWriteError)) throw err;
      if (err.unanswered) {
        const why = `Cluster "${cluster.metadata.name ?? ''}" did not answer: ${err.message}`;
        await writeStatus(kind, svc, d.status(svc, { reachable: false, unreachableReason: why, objects: mm.objectsOf(id) }, now()));
        return backoff(key);
      }
      applyError = { object: describeObject(err.object), message: err.message };
    }
    if (!applyError) await reportDrift(asPublic(svc, kind.kind), cluster.metadata.name ?? '', steps);
    const next = d.status(svc, { reachable: true, objects: mm.observedOf(id), desired, applyError }, now());
    let connectionError = false;
    try {
      const connection = await ensureConnection(kind, svc, next, mm, id);
      if (connection) next.connectionSecret = connection;
    } catch (err) {
      // Not a reason to hold the status back: the Secret is tried again (KubeApiError messages carry no Secret data).
      connectionError = true;
      if (svc.status?.connectionSecret) next.connectionSecret = svc.status.connectionSecret;
      await d.events.record(asPublic(svc, kind.kind), 'Warning', 'ConnectionSecretFailed', `Secret ${connectionSecretName(svc.metadata.name ?? '')}: ${(err as Error).message}`);
    }
    await writeStatus(kind, svc, next);
    if (applyError || connectionError) return backoff(key);
    failures.delete(key);
    // An object being deleted on the member is created again once it is gone (its deletion event brings us back).
    return steps.some((s) => s.action === 'wait') ? { requeueAfterMs: 2000 } : undefined;
  };
}

/** Another service of the project is (still) placed on this cluster: the project's namespace there stays. */
function othersIn(d: ServicesDeps, svc: HubService, cluster: string): boolean {
  const key = projectOn(svc.metadata.namespace ?? '', cluster);
  return [...d.services.values()].some((st) => st.byIndex(PROJECT_CLUSTER_INDEX, key).some((s) => s.metadata.uid !== svc.metadata.uid));
}
