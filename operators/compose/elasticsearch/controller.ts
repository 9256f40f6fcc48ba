// ElasticsearchCluster controller. Each pass keeps the node sets' UnitSets in step with the spec (everything but
// their size, which the planner owns), reads the cluster through one node that knows its elected manager, asks
// plan.nextStep for the one next safe step, carries it out, and records status and an Event. While work remains it
// comes back at once; while waiting on the cluster (a drain, a node rejoining, recovery to green), shortly; once
// settled, at a health-polling interval. The cluster and the UnitSets are the record of progress (allocation
// exclusions, voting exclusions, a UnitSet's size and update-next annotation), so a pass killed anywhere is finished
// by the next one, which reads the same state again.
//
// On OpenSearch each pass also keeps the application account of the credentials Secret as it should be (created where
// missing, its password the Secret's; security.ts), reported as the condition AppAccount.
//
// Failures are the engine's to handle (a lost node's shards are promoted and rebuilt by the cluster itself); the
// operator records them: a wanted node that leaves the cluster without being asked to is status.lastNodeLoss and a
// Warning event, its return and the way back to green are added to it, a new elected manager is lastManagerChange.
import { randomBytes } from 'node:crypto';
import type { ElasticsearchCluster, ElasticsearchClusterStatus } from '../../../lib/api/compose.upm.io.generated.ts';
import { ElasticsearchClusterResource } from '../../../lib/api/compose.upm.io.generated.ts';
import type { EngineTemplate, Unit, UnitSet } from '../../../lib/api/unit.upm.io.generated.ts';
import { UnitSetResource } from '../../../lib/api/unit.upm.io.generated.ts';
import { LABEL_UNITSET, ordinalOf, templateName } from '../../unit/naming.ts';
import { credentialsLabels } from '../../unit/unitset-controller.ts';
import { needsTransportCerts, TRANSPORT_KEYS, transportCredentials } from '../../../lib/transportcerts.ts';
import { setCondition, type Condition } from '../../../lib/conditions.ts';
import type { ReconcileContext, ReconcileResult } from '../../../lib/controller.ts';
import type { EventRecorder } from '../../../lib/events.ts';
import type { Store } from '../../../lib/informer.ts';
import type { KubeClient } from '../../../lib/kube/client.ts';
import { isAlreadyExists, isNotFound } from '../../../lib/kube/errors.ts';
import { Resources } from '../../../lib/kube/resources.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import { MutationCache } from '../../../lib/mutationcache.ts';
import { ANNOTATION_SKIP, b64, type Secret } from '../common/context.ts';
import { ensureRoleServices, labelPods, ownerRef, type Role } from '../common/roles.ts';
import { Sessions } from '../common/sessions.ts';
import { patchStatus } from '../common/status.ts';
import { crashPoint } from '../common/steps.ts';
import { stopConditions, stopView } from '../common/stopped.ts';
import { dialectOf, isDataRole, isManagerRole } from './dialect.ts';
import { leavingNodes, nextStep, type Action, type ClusterView, type NodeSetState, type Phase, type PlanInput, type Step, type UnitState } from './plan.ts';
import { HTTP_PORT, SearchRest, type Credentials } from './rest.ts';
import { ensureAppAccount } from './security.ts';
import {
  ANNOTATION_UPDATE_NEXT, LABEL_CLUSTER, LABEL_NODE_SET, desiredUnitSet, initialManagers, isDataSet, isManagerSet, unitSetName, unitSetPatch,
} from './unitsets.ts';

type Status = ElasticsearchClusterStatus;
type Topology = NonNullable<Status['topology']>;

const HEALTH_INTERVAL_MS = 10_000;
/** Waiting on the cluster (a drain, a node rejoining, recovery): soon. */
const WAIT_MS = 1000;
const BLOCKED_RETRY_MS = 10_000;

export interface ElasticsearchDeps {
  client: KubeClient;
  events: EventRecorder;
  clusters: Store<ElasticsearchCluster>;
  unitSets: Store<UnitSet>;
  units: Store<Unit>;
  pods: Store<KubeObject>;
  services: Store<KubeObject>;
  secrets: Store<Secret>;
  templates: Store<EngineTemplate>;
}


const EVENT_REASON: Record<Action['kind'], string> = {
  resize: 'Resizing',
  exclude: 'AllocationExclusion',
  votingExclude: 'VotingExclusion',
  clearVotingExclusions: 'VotingExclusionsCleared',
  deleteUnitSet: 'DeletedNodeSet',
  pauseAllocation: 'AllocationPaused',
  restart: 'RestartingNode',
  resumeAllocation: 'AllocationResumed',
  finishRestart: 'RestartedNode',
};

export function elasticsearchReconciler(d: ElasticsearchDeps) {
  const sessions = new Sessions<SearchRest>();
  const cache = new MutationCache(d.clusters);

  const sessionFor = (key: string, engine: string, creds?: Credentials): Promise<SearchRest> => sessions.get(key, `${engine}\u0000${creds?.username ?? ''}\u0000${creds?.password ?? ''}`, () => new SearchRest(dialectOf(engine), creds));
  const drop = async (key: string): Promise<void> => {
    cache.forget(key);
    await sessions.drop(key);
  };


  async function reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    const esc = cache.get(key);
    if (!esc || esc.metadata.deletionTimestamp) { await drop(key); return; }
    let current = esc;
    const save = async (st: Status) => { current = (await patchStatus(d.client, ElasticsearchClusterResource, current, st)) ?? current; cache.mutated(current); };
    const ns = esc.metadata.namespace ?? '';
    const name = esc.metadata.name ?? '';
    const spec = esc.spec;
    const gen = esc.metadata.generation;
    const prev: Status = esc.status ?? {};
    const status: Status = { ...prev, observedGeneration: gen };
    const now = new Date().toISOString();
    const skip = esc.metadata.annotations?.[ANNOTATION_SKIP] === 'true';
    let conditions = prev.conditions as Condition[] | undefined;
    const condition = (type: string, ok: boolean, reason: string, message: string) => {
      conditions = setCondition(conditions, { type, status: ok ? 'True' : 'False', reason, message, observedGeneration: gen });
    };
    const warnOnce = async (reason: string, message: string) => {
      const was = prev.conditions?.find((c) => c.type === 'Ready');
      if (was?.reason !== reason || was.message !== message) await d.events.record(esc, 'Warning', reason, message);
    };
    /** Stops the pass with the cluster's object unchanged but for a condition naming the field at fault. */
    const fail = async (reason: string, message: string): Promise<ReconcileResult> => {
      await warnOnce(reason, message);
      condition('Ready', false, reason, message);
      condition('Progressing', false, reason, message);
      await save({ ...status, ready: false, phase: 'Failed', conditions });
      return { requeueAfterMs: BLOCKED_RETRY_MS };
    };

    // Credentials: the operator's account on the REST API and the built-in accounts every node set shares.
    const defaultSecret = `${name}-credentials`;
    const secretName = spec.secretName ?? defaultSecret;
    const template = d.templates.get(templateName(spec.engine, spec.version));
    if (!template) return fail('TemplateNotFound', `spec.version: no EngineTemplate "${spec.engine}-${spec.version}" for ${spec.engine} ${spec.version}`);
    const users = template.spec.users ?? [];
    let secret = d.secrets.get(`${ns}/${secretName}`);
    if (!secret && spec.secretName) return fail('SecretNotFound', `spec.secretName: Secret "${spec.secretName}" not found in ${ns}`);
    if (!secret && users.length && !skip) secret = await createSecret(d, esc, defaultSecret, users, spec.engine);
    if (secret && !spec.secretName && !skip) await labelSecret(d, esc, secret);
    if (secret && !skip) secret = await ensureTransport(d, esc, secret);
    const credentials: Credentials | undefined = secret?.data?.['admin-password']
      ? { username: b64(secret.data['admin-username']) || 'elastic', password: b64(secret.data['admin-password']) } : undefined;
    if (users.length && !credentials && secret) return fail('SecretIncomplete', `spec.secretName: Secret "${secretName}" has no admin-password`);

    // The first election's nodes are written down before any node exists, so they never change afterwards.
    if (!status.bootstrap) {
      status.bootstrap = { initialManagers: initialManagers(esc) };
      await save({ ...status, phase: 'Pending', conditions });
    }
    const formed = !!status.bootstrap?.formedAt;

    // The node sets' UnitSets: everything but their size is the spec's, at every pass.
    const owned = d.unitSets.list().filter((u) => u.metadata.namespace === ns && u.metadata.labels?.[LABEL_CLUSTER] === name && u.metadata.ownerReferences?.some((o) => o.uid === esc.metadata.uid));
    const rest = await sessionFor(key, spec.engine, credentials);

    // A full-cluster stop: replica allocation paused and the shards flushed first (recorded, once), then every node
    // stops at once. Once started again, allocation resumes when every wanted node is back (the plan's stopPaused).
    if (spec.stopped && !prev.stop?.at && !skip) {
      const ownedNames = new Set(owned.map((u) => u.metadata.name ?? ''));
      const hosts = d.units.list().filter((u) => u.metadata.namespace === ns && ownedNames.has(u.metadata.labels?.[LABEL_UNITSET] ?? '') && u.status?.ready === true && u.status.podIP)
        .map((u) => u.status?.podIP ?? '');
      status.stop = await prepareStop(rest, hosts, now);
      await save({ ...status, conditions });
      await d.events.record(esc, 'Normal', 'Stopping', status.stop.allocationPaused
        ? `stopping every node: replica allocation paused${status.stop.flushed ? ' and the shards flushed' : ' (the flush failed: recovery reads the translog)'} first`
        : 'stopping every node: no node answered to pause replica allocation first');
    }
    const stopping = spec.stopped === true && !!status.stop?.at;
    const byName = new Map(owned.map((u) => [u.metadata.name ?? '', u]));
    for (const [i, set] of spec.nodeSets.entries()) {
      const usName = unitSetName(name, set.name);
      const cur = byName.get(usName);
      const want = desiredUnitSet(esc, set, { ...(cur ? { existing: cur } : {}), units: set.units, initialManagers: formed ? [] : status.bootstrap?.initialManagers ?? [], stopped: stopping });
      if (skip) continue;
      try {
        if (!cur) {
          if (secret && users.length) await copySecret(d, esc, secret, `${usName}-credentials`);
          const created = await d.client.create<UnitSet>(UnitSetResource, want).catch((e: unknown) => { if (isAlreadyExists(e)) return undefined; throw e; });
          if (created) {
            byName.set(usName, created);
            await d.events.record(esc, 'Normal', 'CreatedNodeSet', `created UnitSet ${usName}: ${set.units} ${spec.engine} ${spec.version} nodes with roles [${(set.roles ?? []).join(', ')}]`);
          }
        } else {
          if (secret) await syncTransport(d, esc, secret, `${usName}-credentials`);
          const patch = unitSetPatch(cur, want);
          if (patch) {
            byName.set(usName, await d.client.patch<UnitSet>(UnitSetResource, usName, patch, 'merge', { namespace: ns }));
            await d.events.record(esc, 'Normal', 'UpdatedNodeSet', `updated UnitSet ${usName} (${Object.keys((patch.spec ?? {}) as object).concat(patch.metadata ? ['restart'] : []).join(', ')})`);
          }
        }
      } catch (err) {
        // The admission policy refuses an engine version without template; the API, a bad resource quantity.
        const message = (err as Error).message;
        return fail('NodeSetRefused', `spec.nodeSets[${i}]: UnitSet ${usName} was refused: ${message}`);
      }
    }

    // What the planner sees: every node set (those gone from the spec too, until their UnitSet is gone), their units.
    const specNames = new Set(spec.nodeSets.map((s) => s.name));
    const sets: NodeSetState[] = [
      ...spec.nodeSets.map((s) => setState(byName.get(unitSetName(name, s.name)), s.name, unitSetName(name, s.name), s.units, true, isManagerSet(s), isDataSet(s))),
      ...owned.filter((u) => !specNames.has(u.metadata.labels?.[LABEL_NODE_SET] ?? '')).map((u) => {
        const roles = (u.spec.parameters?.['node.roles'] ?? '').split(',').map((r) => r.trim()).filter(Boolean);
        return setState(u, u.metadata.labels?.[LABEL_NODE_SET] ?? '', u.metadata.name ?? '', 0, false, roles.some(isManagerRole), roles.some(isDataRole));
      }),
    ];
    const setByUnitSet = new Map(sets.map((s) => [s.unitSet, s]));
    const units = d.units.list().filter((u) => u.metadata.namespace === ns && setByUnitSet.has(u.metadata.labels?.[LABEL_UNITSET] ?? ''));
    const unitStates: UnitState[] = units.map((u) => ({
      name: u.metadata.name ?? '', nodeSet: setByUnitSet.get(u.metadata.labels?.[LABEL_UNITSET] ?? '')?.name ?? '',
      ordinal: ordinalOf(u), ready: u.status?.ready === true && !u.metadata.deletionTimestamp,
    }));

    // Stopped on purpose: hold still until the nodes start again.
    const held = stopView(spec.stopped === true, units);
    if (held.hold) {
      if (held.phase === 'Stopped' && prev.phase !== 'Stopped') await d.events.record(esc, 'Normal', 'Stopped', `all ${held.units} nodes are stopped on purpose; holding still until they start`);
      await save({ ...stoppedStatus(status), ready: false, phase: held.phase ?? 'Stopped', conditions: stopConditions(conditions, held, 'nodes', gen) });
      return { requeueAfterMs: HEALTH_INTERVAL_MS };
    }
    const resuming = prev.phase === 'Stopped' || prev.phase === 'Starting';

    // The cluster, through the first node (ready ones first) that knows its elected manager.
    let view: ClusterView | undefined;
    let viewError = '';
    const candidates = units.filter((u) => u.status?.podIP && !u.metadata.deletionTimestamp)
      .sort((a, b) => Number(b.status?.ready === true) - Number(a.status?.ready === true) || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
    for (const u of candidates) {
      try {
        if (!(await rest.knowsManager(u.status?.podIP ?? ''))) { viewError ||= `${u.metadata.name} has no elected cluster manager`; continue; }
        view = await rest.view({ name: u.metadata.name ?? '', host: u.status?.podIP ?? '' });
        break;
      } catch (err) {
        viewError = `${u.metadata.name}: ${(err as Error).message}`;
      }
    }
    if (!candidates.length) viewError = 'no unit has an address yet';
    const hostOf = (node: string) => units.find((u) => u.metadata.name === node)?.status?.podIP ?? '';
    const via = view ? hostOf(view.via) : '';

    if (view && !formed && view.clusterUUID && view.clusterUUID !== '_na_') {
      status.bootstrap = { ...status.bootstrap, formedAt: now, clusterUUID: view.clusterUUID };
      await d.events.record(esc, 'Normal', 'ClusterFormed', `cluster ${view.clusterName} formed (${view.clusterUUID}) with ${view.nodes.length} nodes; ${view.nodes.find((n) => n.id === view?.managerId)?.name ?? 'no node'} is the elected cluster manager`);
    }

    // The application account (OpenSearch's security plugin): made by the operator, level-based, as the admin.
    if (view && via && !skip && spec.engine === 'opensearch') {
      const appUser = b64(secret?.data?.['app-username']);
      const appPassword = b64(secret?.data?.['app-password']);
      if (appUser && appPassword) {
        try {
          const done = await ensureAppAccount(rest, via, appUser, appPassword);
          if (done.length) await d.events.record(esc, 'Normal', 'AppAccount', done.join('; '));
          condition('AppAccount', true, 'Granted', `the application account ${appUser} may read, write, create and delete indices not starting with "." and run bulk, multi-get and multi-search, nothing else`);
        } catch (err) {
          condition('AppAccount', false, 'NotGranted', (err as Error).message);
        }
      }
    }

    const input: PlanInput = { cluster: name, sets, units: unitStates, ...(view ? { view } : {}), ...(viewError ? { viewError } : {}), formed: !!status.bootstrap?.formedAt, restarting: !!prev.restart, stopPaused: !spec.stopped && !!status.stop?.allocationPaused };
    const step = nextStep(input);

    let applied = '';
    let failure = '';
    if (!skip && isAction(step)) {
      try {
        applied = await apply(d, rest, esc, step, via, byName);
        status.lastChange = { time: now, step: applied };
        await d.events.record(esc, 'Normal', EVENT_REASON[step.kind], applied);
        crashPoint(`elasticsearch-after-${step.kind}`);
      } catch (err) {
        failure = (err as Error).message;
        await d.events.record(esc, 'Warning', 'StepFailed', `${step.kind}: ${failure}`);
      }
    }

    // Status: the cluster as it is, what the operator is doing, and what happened by itself.
    const leaving = new Set(leavingNodes(input).map((l) => l.name));
    // Without a view nothing is known of who is in the cluster: the last topology stands until a node answers again.
    const topology = view || !prev.topology ? describe(input, leaving, units) : prev.topology;
    await recordIncidents(d, esc, prev, status, view, topology, leaving, sets.flatMap((s) => s.updateNext), now);
    recordProgress(status, prev, input, step, leaving, view, now, applied);

    const wantedCount = sets.filter((s) => s.inSpec).reduce((n, s) => n + s.wanted, 0);
    const joinedWanted = Object.values(topology).filter((t) => t.joined && !t.leaving).length;
    // The stop is over once the cluster has nothing left to do after the start.
    if (!spec.stopped && status.stop && view && step.kind === 'done') delete status.stop;
    const phase: Phase = failure ? 'Degraded' : resuming && (step.kind === 'wait' || step.kind === 'resumeAllocation') ? 'Starting' : phaseOf(step, applied);
    const ready = step.kind === 'done' && !applied && !failure;
    if (failure) condition('Ready', false, 'StepFailed', `${step.kind}: ${failure}`);
    else if (step.kind === 'blocked') {
      const message = `${step.field}: ${step.reason}`;
      await warnOnce('Blocked', message);
      condition('Ready', false, 'Blocked', message);
    } else if (ready) condition('Ready', true, 'ClusterGreen', `${view?.nodes.length} nodes, ${view?.health.active} active shards, green`);
    else condition('Ready', false, phase, step.kind === 'wait' ? step.reason : applied || 'in progress');
    const degraded = !view ? (formed ? 'no node answers' : '') : view.health.status !== 'green' ? `cluster health is ${view.health.status}` : joinedWanted < wantedCount ? `${wantedCount - joinedWanted} of ${wantedCount} nodes are not in the cluster` : '';
    const invalid = owned.filter((u) => u.status?.phase === 'Failed').map((u) => `UnitSet ${u.metadata.name}: ${u.status?.conditions?.find((c) => c.type === 'Degraded')?.message ?? 'failed'}`);
    condition('Degraded', !!degraded || invalid.length > 0, invalid.length ? 'NodeSetFailed' : degraded ? (view ? `Health${view.health.status === 'red' ? 'Red' : view.health.status === 'yellow' ? 'Yellow' : 'Nodes'}` : 'Unreachable') : 'AsExpected', [...invalid, degraded].filter(Boolean).join('; '));
    if (skip) condition('Progressing', false, 'ReconcileSkipped', `${ANNOTATION_SKIP}=true: the cluster is observed, not changed${isAction(step) ? `; next step: ${step.kind}` : ''}`);
    else if (ready || step.kind === 'blocked') condition('Progressing', false, ready ? 'Settled' : 'Blocked', ready ? 'nothing to do' : `${step.kind === 'blocked' ? `${step.field}: ${step.reason}` : ''}`);
    else condition('Progressing', true, phase, applied || (step.kind === 'wait' ? step.reason : failure));

    // Pods of nodes in the cluster that serve clients (not dedicated managers) are behind <name>-readwrite.
    if (!skip) {
      const roles = new Map<string, Role>();
      for (const u of units) {
        const t = topology[u.metadata.name ?? ''];
        const serves = !!t?.joined && !t.leaving && !((t.roles ?? []).length > 0 && (t.roles ?? []).every(isManagerRole));
        roles.set(u.metadata.name ?? '', serves ? 'source' : 'none');
      }
      await labelPods(d.client, d.pods, ns, LABEL_CLUSTER, name, roles);
      await ensureRoleServices(d.client, d.services, esc, LABEL_CLUSTER, { name: 'http', port: HTTP_PORT }, 'ClusterIP', false);
    }

    await save({
      ...status, ready, phase,
      health: view?.health.status ?? 'unknown',
      ...(view ? { clusterName: view.clusterName, clusterUUID: view.clusterUUID, clusterManager: view.nodes.find((n) => n.id === view.managerId)?.name ?? '' } : {}),
      nodes: `${view?.nodes.length ?? 0}/${wantedCount}`,
      nodeCount: view?.nodes.length ?? 0,
      // From the node list, like nodeCount (the health call may have been answered a moment before a node joined).
      dataNodes: view?.nodes.filter((n) => n.roles.some(isDataRole)).length ?? 0,
      ...(view ? { shards: { active: view.health.active, primaries: view.health.activePrimary, relocating: view.health.relocating, initializing: view.health.initializing, unassigned: view.health.unassigned, activePercent: view.health.activePercent } } : {}),
      nodeSets: sets.map((s) => ({
        name: s.name, unitSet: s.unitSet, units: s.current ?? 0, wanted: s.wanted,
        joined: Object.values(topology).filter((t) => t.nodeSet === s.name && t.joined).length,
        roles: (byName.get(s.unitSet)?.spec.parameters?.['node.roles'] ?? '').split(',').map((r) => r.trim()).filter(Boolean),
      })),
      topology,
      conditions,
    });
    ctx.log.debug({ step: step.kind, applied, phase, health: view?.health.status }, 'reconciled');

    if (failure) throw new Error(`${step.kind}: ${failure}`);
    if (skip) return { requeueAfterMs: HEALTH_INTERVAL_MS };
    if (applied) return { requeueAfterMs: 0 };
    if (step.kind === 'blocked') return { requeueAfterMs: BLOCKED_RETRY_MS };
    if (step.kind === 'wait') return { requeueAfterMs: WAIT_MS };
    return { requeueAfterMs: HEALTH_INTERVAL_MS };
  }

  return { reconcile, close: async () => { await Promise.all(sessions.keys().map(drop)); } };
}

/** Pauses replica allocation and flushes through the first node that answers; what it did, to record. */
async function prepareStop(rest: SearchRest, hosts: string[], now: string): Promise<NonNullable<Status['stop']>> {
  for (const host of hosts) {
    try {
      await rest.setAllocation(host, 'primaries');
    } catch {
      continue;
    }
    const flushed = await rest.flush(host).then(() => true, () => false);
    return { at: now, allocationPaused: true, flushed };
  }
  return { at: now, allocationPaused: false, flushed: false };
}

/**
 * The status of a cluster held still by a stop: no node in it and no manager elected, so that the nodes' return is
 * neither a loss nor a manager change to report.
 */
export function stoppedStatus(status: Status): Status {
  const topology = Object.fromEntries(Object.entries(status.topology ?? {}).map(([n, t]) => [n, { ...t, joined: false, clusterManager: false, shards: 0 }]));
  const wanted = (status.nodeSets ?? []).reduce((n, s) => n + (s.wanted ?? 0), 0);
  return { ...status, topology, health: 'unknown', clusterManager: '', nodeCount: 0, dataNodes: 0, nodes: `0/${wanted}`, nodeSets: (status.nodeSets ?? []).map((s) => ({ ...s, joined: 0 })) };
}

const isAction = (s: Step): s is Action => s.kind !== 'done' && s.kind !== 'wait' && s.kind !== 'blocked';

function setState(us: UnitSet | undefined, name: string, unitSet: string, wanted: number, inSpec: boolean, manager: boolean, data: boolean): NodeSetState {
  const next = (us?.metadata.annotations?.[ANNOTATION_UPDATE_NEXT] ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  return {
    name, unitSet, wanted, inSpec, manager, data,
    ...(us ? { current: us.spec.units ?? 1 } : {}),
    outdated: us?.status?.outdated ?? [], updating: us?.status?.updating ?? [], updateNext: next,
    observed: !us || us.status?.observedGeneration === us.metadata.generation,
  };
}

/** Carries out one step; returns what was done, for the event and status. */
async function apply(d: ElasticsearchDeps, rest: SearchRest, esc: ElasticsearchCluster, step: Action, via: string, unitSets: Map<string, UnitSet>): Promise<string> {
  const ns = esc.metadata.namespace ?? '';
  const annotate = (unitSet: string, value: string | null) =>
    d.client.patch(UnitSetResource, unitSet, { metadata: { annotations: { [ANNOTATION_UPDATE_NEXT]: value } } }, 'merge', { namespace: ns });
  switch (step.kind) {
    case 'resize': {
      await d.client.patch(UnitSetResource, step.unitSet, { spec: { units: step.units } }, 'merge', { namespace: ns });
      return step.units > step.from
        ? `scaled ${step.unitSet} out from ${step.from} to ${step.units} nodes (${step.nodes.join(', ')} join the cluster)`
        : `scaled ${step.unitSet} in from ${step.from} to ${step.units} nodes: removing ${step.nodes.join(', ')}, which hold no shards`;
    }
    case 'exclude':
      await rest.setExcludedNames(via, step.names);
      return step.adding.length
        ? `excluded ${step.adding.join(', ')} from shard allocation (cluster.routing.allocation.exclude._name): their shards move to the other nodes`
        : `lifted the allocation exclusion of ${step.removing.join(', ')}`;
    case 'votingExclude':
      await rest.excludeFromVoting(via, step.names);
      return `took ${step.names.join(', ')} out of the voting configuration`;
    case 'clearVotingExclusions':
      await rest.clearVotingExclusions(via);
      return `cleared the voting configuration exclusions of ${step.names.join(', ')} (gone from the cluster)`;
    case 'deleteUnitSet':
      await d.client.delete(UnitSetResource, step.unitSet, ns).catch((e: unknown) => { if (!isNotFound(e)) throw e; });
      return `deleted UnitSet ${step.unitSet}: its node set left the spec and its nodes are gone`;
    case 'pauseAllocation':
      await rest.setAllocation(via, 'primaries');
      // A flush lets the restarted node recover its copies from its own disk; a failure only makes recovery slower.
      await rest.flush(via).catch(() => undefined);
      return `paused replica allocation (cluster.routing.allocation.enable: primaries) to restart ${step.next}`;
    case 'restart': {
      const cur = unitSets.get(step.unitSet)?.metadata.annotations?.[ANNOTATION_UPDATE_NEXT];
      if (cur !== step.unit) await annotate(step.unitSet, step.unit);
      return `restarting ${step.unit}`;
    }
    case 'resumeAllocation':
      await rest.setAllocation(via, null);
      return step.after.length ? `${step.after.join(', ')} rejoined the cluster: replica allocation resumed` : 'replica allocation resumed';
    case 'finishRestart':
      for (const us of step.unitSets) await annotate(us, null);
      return `${step.units.join(', ')} restarted, and the cluster is green again`;
  }
}

/** Every wanted node and every node of the cluster on its way out, by name. */
function describe(input: PlanInput, leaving: Set<string>, units: Unit[]): Topology {
  const v = input.view;
  const out: Topology = {};
  const managerName = v?.nodes.find((n) => n.id === v.managerId)?.name;
  const names = new Set<string>([...input.sets.filter((s) => s.inSpec).flatMap((s) => Array.from({ length: s.wanted }, (_, o) => `${s.unitSet}-${o}`)), ...leaving]);
  for (const n of v?.nodes ?? []) names.add(n.name);
  for (const name of [...names].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))) {
    const node = v?.nodes.find((n) => n.name === name);
    const unit = units.find((u) => u.metadata.name === name);
    const set = input.sets.find((s) => name.startsWith(`${s.unitSet}-`) && /^\d+$/.test(name.slice(s.unitSet.length + 1)));
    const problem = !v ? '' : node ? '' : !unit ? 'no unit' : unit.status?.phase !== 'Ready' ? `unit is ${unit.status?.phase ?? 'Pending'}${unit.status?.engine?.message ? `: ${unit.status.engine.message}` : ''}` : 'not in the cluster';
    out[name] = {
      ...(set ? { nodeSet: set.name } : {}),
      ...(unit ? { unit: name } : {}),
      host: node?.ip ?? unit?.status?.podIP ?? '',
      roles: node?.roles ?? [],
      joined: !!node,
      clusterManager: !!node && name === managerName,
      shards: v?.shardsByNode[name] ?? 0,
      excluded: !!v?.allocation.excludeNames.includes(name),
      votingExcluded: !!v?.votingExclusions.some((x) => x.name === name),
      leaving: leaving.has(name),
      outdated: !!set && (set.outdated.includes(name) || set.updating.includes(name) || set.updateNext.includes(name)),
      restarts: unit?.status?.engine?.restarts ?? 0,
      ...(problem ? { problem } : {}),
    };
  }
  return out;
}

/** What happened without the operator: a wanted node lost and its return, a new elected cluster manager. */
async function recordIncidents(d: ElasticsearchDeps, esc: ElasticsearchCluster, prev: Status, status: Status, view: ClusterView | undefined, topology: Topology, leaving: Set<string>, named: string[], now: string): Promise<void> {
  if (!view) return;
  // Nodes the operator is restarting leave on its request.
  const restarting = new Set([prev.restart?.node, ...named].filter(Boolean));
  for (const [name, t] of Object.entries(topology)) {
    const was = prev.topology?.[name];
    if (was?.joined && !t.joined && !t.leaving && !leaving.has(name) && !restarting.has(name)) {
      status.lastNodeLoss = { node: name, at: now, wasClusterManager: prev.clusterManager === name, healthAfter: view.health.status };
      await d.events.record(esc, 'Warning', 'NodeLeft', `${name} left the cluster without being asked to (health ${view.health.status}, ${view.health.unassigned} unassigned shards)${prev.clusterManager === name ? '; it was the elected cluster manager' : ''}`);
    }
  }
  const loss = status.lastNodeLoss;
  if (loss?.node && !loss.rejoinedAt && topology[loss.node]?.joined) {
    status.lastNodeLoss = { ...loss, rejoinedAt: now };
    await d.events.record(esc, 'Normal', 'NodeRejoined', `${loss.node} is back in the cluster (${Math.round((Date.parse(now) - Date.parse(loss.at ?? now)) / 100) / 10} s after it left); health ${view.health.status}`);
  }
  const back = status.lastNodeLoss;
  if (back?.rejoinedAt && !back.greenAt && view.health.status === 'green') {
    status.lastNodeLoss = { ...back, greenAt: now };
    await d.events.record(esc, 'Normal', 'ClusterRecovered', `green again ${Math.round((Date.parse(now) - Date.parse(back.at ?? now)) / 100) / 10} s after ${back.node} left`);
  }
  const manager = view.nodes.find((n) => n.id === view.managerId)?.name;
  if (manager && prev.clusterManager && manager !== prev.clusterManager) {
    status.lastManagerChange = { from: prev.clusterManager, to: manager, at: now };
    await d.events.record(esc, 'Normal', 'ClusterManagerChanged', `${manager} is the elected cluster manager (was ${prev.clusterManager})`);
  }
}

/** status.scaleIn and status.restart while they run, lastScaleIn and lastRestart once they are over. */
function recordProgress(status: Status, prev: Status, input: PlanInput, step: Step, leaving: Set<string>, view: ClusterView | undefined, now: string, applied: string): void {
  const seconds = (from: string | undefined) => Math.round((Date.parse(now) - Date.parse(from ?? now)) / 100) / 10;
  // Scale in: from the first exclusion until the last exclusion is lifted.
  const excluding = !!view && (view.allocation.excludeNames.some((n) => n.startsWith(`${input.cluster}-`)) || view.votingExclusions.length > 0);
  const removing = leaving.size > 0 && step.kind !== 'blocked';
  if (removing || excluding) {
    const nodes = [...new Set([...(prev.scaleIn?.nodes ?? []), ...leaving])].sort();
    const stepName = step.kind === 'exclude' && step.adding.length ? 'Excluding' : step.kind === 'votingExclude' ? 'VotingExclusion'
      : step.kind === 'resize' ? 'Removing' : step.kind === 'wait' && step.phase === 'Draining' ? 'Draining' : step.kind === 'wait' && step.phase === 'Removing' ? 'Removing' : removing ? (prev.scaleIn?.step ?? 'Excluding') : 'Cleaning';
    status.scaleIn = {
      nodes, step: stepName,
      shardsLeft: [...leaving].reduce((n, l) => n + (view?.shardsByNode[l] ?? 0), 0),
      startedAt: prev.scaleIn?.startedAt ?? now,
    };
  } else if (prev.scaleIn && view) {
    status.lastScaleIn = { nodes: prev.scaleIn.nodes ?? [], seconds: seconds(prev.scaleIn.startedAt), finishedAt: now };
    delete status.scaleIn;
  }
  // Rolling restart: while units wait for one or one is named (a new unit starting is "updating" too, but no restart).
  const pending = input.sets.filter((s) => s.inSpec).flatMap((s) => s.outdated).filter((u) => !leaving.has(u));
  const named = input.sets.flatMap((s) => s.updateNext).filter((u) => !leaving.has(u));
  const paused = view?.allocation.enable === 'primaries';
  if (pending.length || named.length || (prev.restart && paused)) {
    const node = step.kind === 'restart' ? step.unit : step.kind === 'pauseAllocation' ? step.next : named[0] ?? prev.restart?.node ?? '';
    const done = [...(prev.restart?.done ?? [])];
    if (step.kind === 'finishRestart' && applied) for (const u of step.units) if (!done.includes(u)) done.push(u);
    const stepName = step.kind === 'pauseAllocation' ? 'Pausing' : step.kind === 'restart' ? 'Restarting' : step.kind === 'resumeAllocation' ? 'Resuming'
      : step.kind === 'finishRestart' ? 'Recovering' : step.kind === 'wait' && /green/.test(step.reason) ? 'Recovering' : step.kind === 'wait' && /is restarting|to rejoin/.test(step.reason) ? 'Rejoining' : (prev.restart?.step ?? 'Pausing');
    status.restart = { node, step: stepName, pending: [...new Set(pending)].sort(), done, startedAt: prev.restart?.startedAt ?? now };
  } else if (prev.restart && view) {
    status.lastRestart = { nodes: prev.restart.done ?? [], seconds: seconds(prev.restart.startedAt), finishedAt: now };
    delete status.restart;
  }
}

function phaseOf(step: Step, applied: string): Phase {
  switch (step.kind) {
    case 'done': return applied ? 'Scaling' : 'Ready';
    case 'wait': return step.phase;
    case 'blocked': return 'Blocked';
    case 'resize': return step.units > step.from ? 'Scaling' : 'Removing';
    case 'exclude': return step.adding.length ? 'Draining' : 'Removing';
    case 'votingExclude': case 'clearVotingExclusions': case 'deleteUnitSet': return 'Removing';
    default: return 'Restarting';
  }
}

/**
 * The shared accounts: random passwords for the template's users, and the transport TLS material of the engines
 * that need it (one CA for every node set), created once. Labelled with the hub's service too (its `upm.io/` labels):
 * the hub reads the application account from it for the service's connection Secret.
 */
async function createSecret(d: ElasticsearchDeps, esc: ElasticsearchCluster, name: string, users: NonNullable<EngineTemplate['spec']['users']>, engine: string): Promise<Secret> {
  const data: Record<string, string> = {};
  for (const u of users) {
    data[`${u.role}-username`] = Buffer.from(u.username).toString('base64');
    data[`${u.role}-password`] = Buffer.from(randomBytes(18).toString('base64url')).toString('base64');
  }
  for (const [k, v] of Object.entries(await transportCredentials(engine))) data[k] = Buffer.from(v).toString('base64');
  const secret: Secret = {
    apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
    metadata: { name, namespace: esc.metadata.namespace, labels: { ...credentialsLabels(esc), [LABEL_CLUSTER]: esc.metadata.name ?? '' }, ownerReferences: [ownerRef(esc)] },
    data,
  } as Secret;
  try {
    const created = await d.client.create<Secret>(Resources.secrets, secret);
    await d.events.record(esc, 'Normal', 'CreatedCredentials', `created Secret ${name} with the accounts of every node set (${users.map((u) => u.role).join(', ')})`);
    return created;
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    return d.client.get<Secret>(Resources.secrets, name, esc.metadata.namespace);
  }
}

/** The hub's service labels reach a Secret made before they were given. */
async function labelSecret(d: ElasticsearchDeps, esc: ElasticsearchCluster, secret: Secret): Promise<void> {
  const labels = credentialsLabels(esc);
  if (Object.entries(labels).every(([k, v]) => secret.metadata.labels?.[k] === v)) return;
  await d.client.patch(Resources.secrets, secret.metadata.name ?? '', { metadata: { labels } }, 'merge', { namespace: esc.metadata.namespace });
}

/**
 * The cluster's transport TLS material in its Secret (one made before it, or given with spec.secretName, has none):
 * made here, once, so that every node set gets the same CA.
 */
async function ensureTransport(d: ElasticsearchDeps, esc: ElasticsearchCluster, secret: Secret): Promise<Secret> {
  const keys = Object.values(TRANSPORT_KEYS);
  if (!needsTransportCerts(esc.spec.engine) || keys.some((k) => secret.data?.[k])) return secret;
  const data = Object.fromEntries(Object.entries(await transportCredentials(esc.spec.engine)).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  const patched = await d.client.patch<Secret>(Resources.secrets, secret.metadata.name ?? '', { data }, 'merge', { namespace: esc.metadata.namespace });
  await d.events.record(esc, 'Normal', 'CreatedTransportCertificates', `added the cluster's transport TLS CA and node certificate to Secret ${secret.metadata.name}`);
  return patched;
}

/** A node set's copy carries the cluster's transport material (nodes of another CA could not join). */
async function syncTransport(d: ElasticsearchDeps, esc: ElasticsearchCluster, from: Secret, name: string): Promise<void> {
  const copy = d.secrets.get(`${esc.metadata.namespace}/${name}`);
  if (!copy || !needsTransportCerts(esc.spec.engine)) return;
  const stale = Object.values(TRANSPORT_KEYS).filter((k) => from.data?.[k] && copy.data?.[k] !== from.data[k]);
  if (!stale.length) return;
  await d.client.patch(Resources.secrets, name, { data: Object.fromEntries(stale.map((k) => [k, from.data?.[k]])) }, 'merge', { namespace: esc.metadata.namespace });
}

/** A node set's credentials Secret, the same accounts as every other set's (the Unit Operator keeps one that exists). */
async function copySecret(d: ElasticsearchDeps, esc: ElasticsearchCluster, from: Secret, name: string): Promise<void> {
  if (d.secrets.get(`${esc.metadata.namespace}/${name}`)) return;
  await d.client.create(Resources.secrets, {
    apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
    metadata: { name, namespace: esc.metadata.namespace, labels: { [LABEL_CLUSTER]: esc.metadata.name ?? '' }, ownerReferences: [ownerRef(esc)] },
    data: from.data ?? {},
  } as KubeObject).catch((e: unknown) => { if (!isAlreadyExists(e)) throw e; });
}
