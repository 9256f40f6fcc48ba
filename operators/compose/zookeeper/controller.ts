// ZookeeperEnsemble controller. It owns a UnitSet (same name, updateStrategy Managed) and each pass: checks the spec
// against the engine template, keeps the UnitSet's spec (all but its size) and the client Service in step, reads
// every server (srvr; the leader's conf and mntr), asks plan.nextStep for the one next safe step, carries it out and
// records status and an Event. Size changes go through the plan only (dynamic reconfiguration, one server at a
// time), and so do updates of units (unit.upm.io/update-next, followers first, the leader last after a hand-over).
// The ensemble (its committed configuration) and the UnitSet (units, outdated and updating lists) are the record of
// progress; the one step whose effect is not visible in them, a leader hand-over, is written to status first.
import type { ZookeeperEnsemble, ZookeeperEnsembleStatus } from '../../../lib/api/compose.upm.io.generated.ts';
import { ZookeeperEnsembleResource } from '../../../lib/api/compose.upm.io.generated.ts';
import type { EngineTemplate, Unit, UnitSet } from '../../../lib/api/unit.upm.io.generated.ts';
import { UnitSetResource } from '../../../lib/api/unit.upm.io.generated.ts';
import { setCondition, type Condition } from '../../../lib/conditions.ts';
import type { ReconcileContext, ReconcileResult } from '../../../lib/controller.ts';
import type { EventRecorder } from '../../../lib/events.ts';
import type { Store } from '../../../lib/informer.ts';
import type { KubeClient } from '../../../lib/kube/client.ts';
import { isAlreadyExists, isNotFound } from '../../../lib/kube/errors.ts';
import { Resources } from '../../../lib/kube/resources.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import { MutationCache } from '../../../lib/mutationcache.ts';
import { validateParameters } from '../../../lib/paramcheck.ts';
import { ANNOTATION_UPDATE_NEXT, CONFIG_INPUT_KEY, LABEL_UNITSET, configMapName, credentialsSecretName, headlessServiceName, ordinalOf, templateName } from '../../unit/naming.ts';
import { ANNOTATION_SKIP, b64, type Secret } from '../common/context.ts';
import { inheritedLabels, labelPods, ownerRef, type Role as PodRole } from '../common/roles.ts';
import { patchStatus } from '../common/status.ts';
import { crashPoint } from '../common/steps.ts';
import { stopConditions, stopView } from '../common/stopped.ts';
import { appAccount, describeAcl, ensureRootAcl, rootAcl } from './acl.ts';
import { ZkError, ZkSession } from './client.ts';
import { CLIENT_PORT, hostOf, leaderView, portsOf, srvrOf, type LeaderView, type Srvr } from './observe.ts';
import { done, inSync, leaderOf, nextStep, roleOf, type Observation, type ServerView, type Step } from './plan.ts';
import { orderAmong, plannedRestarts, unitRestartRequest } from '../common/unit-restart.ts';
import { syncUnitRestart } from '../common/unit-restart-sync.ts';
import { desiredUnitSetSpec, specErrors, unitSetDrift, whitelist } from './unitset.ts';

export const KIND_LABEL = 'compose.upm.io/zookeeperensemble';
const HEALTH_INTERVAL_MS = 10_000;
const WAIT_RETRY_MS = 500;
const RECONFIG_TIMEOUT_MS = 15_000;
/** How long a root ACL this process found or set as wanted is taken as still so (a change by hand is put back then). */
const ACL_RECHECK_MS = 300_000;

type Status = ZookeeperEnsembleStatus;
type Phase = NonNullable<Status['phase']>;
type ServerStatus = NonNullable<Status['servers']>[string];
type Service = KubeObject & { spec?: { type?: string; selector?: Record<string, string>; ports?: { port: number }[] } };

export interface ZookeeperDeps {
  client: KubeClient;
  events: EventRecorder;
  ensembles: Store<ZookeeperEnsemble>;
  unitSets: Store<UnitSet>;
  units: Store<Unit>;
  pods: Store<KubeObject>;
  services: Store<Service>;
  secrets: Store<Secret>;
  templates: Store<EngineTemplate>;
}

const EVENT_REASON: Record<Exclude<Step['kind'], 'done' | 'wait'>, string> = {
  scaleUnitSet: 'ResizedUnitSet',
  addServer: 'AddedServer',
  removeServers: 'RemovedServers',
  updateUnit: 'UpdatingServer',
};

export function zookeeperReconciler(d: ZookeeperDeps) {
  const cache = new MutationCache(d.ensembles);
  const unitSetCache = new MutationCache(d.unitSets);
  /** Per ensemble (uid): the root ACL last found or set as wanted (its application account's digest), and when. */
  const aclVerified = new Map<string, { digest: string; at: number }>();

  async function reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    const zke = cache.get(key);
    if (!zke || zke.metadata.deletionTimestamp) { cache.forget(key); unitSetCache.forget(key); if (zke) aclVerified.delete(zke.metadata.uid ?? ''); return; }
    let current = zke;
    const save = async (st: Status) => { current = (await patchStatus(d.client, ZookeeperEnsembleResource, current, st)) ?? current; cache.mutated(current); };
    const ns = zke.metadata.namespace ?? '';
    const name = zke.metadata.name ?? '';
    const gen = zke.metadata.generation;
    const prev: Status = zke.status ?? {};
    const status: Status = { ...prev, observedGeneration: gen, unitSet: name, selector: `${LABEL_UNITSET}=${name}` };
    let conditions = prev.conditions as Condition[] | undefined;
    const condition = (type: string, ok: boolean, reason: string, message: string) => {
      conditions = setCondition(conditions, { type, status: ok ? 'True' : 'False', reason, message, observedGeneration: gen });
    };
    const refuse = async (reason: string, message: string): Promise<ReconcileResult> => {
      if (prev.conditions?.find((c) => c.type === 'Ready')?.message !== message) await d.events.record(zke, 'Warning', reason, message);
      condition('Ready', false, reason, message);
      condition('Progressing', false, reason, `nothing is changed until the spec is fixed: ${message}`);
      await save({ ...status, ready: false, phase: 'Failed', conditions });
      return { requeueAfterMs: HEALTH_INTERVAL_MS };
    };

    // The spec, checked against what the API cannot know (the template and its parameters) before anything changes.
    const tpl = d.templates.get(templateName('zookeeper', zke.spec.version ?? '3.8'));
    const errors = specErrors(zke, tpl);
    if (errors.length) return refuse('InvalidSpec', errors.join('; '));
    const paramErrors = validateParameters('zookeeper', tpl?.spec.parameters, desiredUnitSetSpec(zke, 0).parameters);
    if (paramErrors.length) return refuse('InvalidSpec', paramErrors.map((e) => `${e.field}: ${e.message}`).join('; '));

    // The UnitSet: created with the ensemble's size, later resized only by the plan.
    let us = unitSetCache.get(key);
    if (!us) {
      us = await createUnitSet(d, zke);
      unitSetCache.mutated(us);
      await d.events.record(zke, 'Normal', 'CreatedUnitSet', `created UnitSet ${name} with ${zke.spec.replicas ?? 3} ZooKeeper servers (myid = ordinal + 1)`);
    }
    if (!us.metadata.ownerReferences?.some((o) => o.uid === zke.metadata.uid)) {
      return refuse('UnitSetNotOwned', `metadata.name: a UnitSet "${name}" exists that this ensemble does not own; delete it or choose another name`);
    }
    const drift = unitSetDrift(us, zke);
    if (drift) {
      us = unitSetCache.mutated(await d.client.patch<UnitSet>(UnitSetResource, name, drift.patch, 'merge', { namespace: ns })) ?? us;
      await d.events.record(zke, 'Normal', 'UpdatedUnitSet', `UnitSet ${name}: ${drift.fields.join(', ')} changed`);
    }
    const clientService = await ensureClientService(d, zke);
    const units = d.units.list().filter((u) => u.metadata.namespace === ns && u.metadata.labels?.[LABEL_UNITSET] === name && !u.metadata.deletionTimestamp)
      .sort((a, b) => ordinalOf(a) - ordinalOf(b));

    // Stopped on purpose (spec.stopped, passed to the UnitSet): hold still until the servers start again.
    const stop = stopView(zke.spec.stopped === true, units);
    if (stop.hold) {
      if (stop.phase === 'Stopped' && prev.phase !== 'Stopped') await d.events.record(zke, 'Normal', 'Stopped', `all ${stop.units} servers are stopped on purpose; holding still until they start`);
      await save({ ...stoppedStatus(status, units), ready: false, phase: stop.phase ?? 'Stopped', clientService, conditions: stopConditions(conditions, stop, 'servers', gen) });
      return { requeueAfterMs: HEALTH_INTERVAL_MS };
    }

    // Observe.
    const srvrs = await Promise.all(units.map((u) => srvrOf(u.status?.podIP ?? '')));
    const usStatus = us.status ?? {};
    const servers: ServerView[] = units.map((u, i) => {
      const s = srvrs[i];
      return {
        unit: u.metadata.name ?? '', ordinal: ordinalOf(u), id: ordinalOf(u) + 1, address: u.status?.podIP ?? '',
        ...(s?.mode ? { mode: s.mode } : {}), reachable: !!s, ...(s?.zxid !== undefined ? { zxid: s.zxid } : {}),
        outdated: (usStatus.outdated ?? []).includes(u.metadata.name ?? ''),
        updating: (usStatus.updating ?? []).includes(u.metadata.name ?? ''),
        restartNeeded: !!usStatus.updateRevision && u.spec.revision !== usStatus.updateRevision,
      };
    });
    const leader = leaderOf({ servers } as Observation);
    const lv: LeaderView | undefined = leader ? await leaderView(leader.address) : undefined;
    const obs: Observation = {
      desired: zke.spec.replicas ?? 3, units: us.spec.units ?? 0,
      unitSetCurrent: usStatus.observedGeneration === us.metadata.generation,
      servers, ...(lv ? { members: lv.members } : {}), ...(lv?.syncedVoters !== undefined ? { syncedVoters: lv.syncedVoters } : {}),
      ...(us.metadata.annotations?.[ANNOTATION_UPDATE_NEXT] ? { updateNext: us.metadata.annotations[ANNOTATION_UPDATE_NEXT] } : {}),
      ...(prev.rollout?.handoff ? { handoff: prev.rollout.handoff } : {}),
    };
    // Whether the leader's pending update restarts it can only be told from its config inputs (same revision).
    if (leader?.outdated && !leader.restartNeeded) leader.restartNeeded = await configNeedsRestart(d, zke, tpl, leader.unit);

    const skip = zke.metadata.annotations?.[ANNOTATION_SKIP] === 'true';
    const step = nextStep(obs);
    const now = new Date().toISOString();

    // What happened by itself since the last pass: leader changes, servers that stopped or came back.
    await recordChanges(d, zke, prev, status, obs, units, now);

    let applied = '';
    let failure = '';
    if (!skip && step.kind !== 'done' && step.kind !== 'wait') {
      try {
        applied = await carryOut(d, zke, us, step, obs, status, save, now);
        status.lastChange = { time: now, step: applied };
        await d.events.record(zke, 'Normal', EVENT_REASON[step.kind], applied);
      } catch (err) {
        failure = err instanceof Error ? err.message : String(err);
        // A reconfig whose answer was lost (the connection closed while ZooKeeper switched configurations) may have
        // been done all the same: the next pass reads the configuration again and goes on from there.
        const uncertain = err instanceof ZkError && (err.codeName === 'ConnectionLoss' || err.codeName === 'OperationTimeout');
        await d.events.record(zke, uncertain ? 'Normal' : 'Warning', uncertain ? 'StepUnconfirmed' : 'StepFailed', `${step.kind}: ${failure}${uncertain ? ' (checking the ensemble again)' : ''}`);
        if (uncertain) failure = '';
      }
    }
    // The application account: the root znode's ACL, set once a leader serves and checked again now and then.
    const access = skip ? undefined : await protectData(d, zke, prev, leader, aclVerified);
    if (access) condition('DataProtected', access.ok, access.reason, access.message);

    // Nothing named for update once nothing waits for one.
    const outdatedLeft = servers.some((s) => s.outdated || s.updating);
    if (!skip && !outdatedLeft && us.metadata.annotations?.[ANNOTATION_UPDATE_NEXT] && step.kind === 'done') {
      await d.client.patch(UnitSetResource, name, { metadata: { annotations: { [ANNOTATION_UPDATE_NEXT]: null } } }, 'merge', { namespace: ns });
    }

    // Status.
    const members = lv?.members;
    const serverStatus: Record<string, ServerStatus> = {};
    for (const [i, s] of servers.entries()) serverStatus[s.unit] = describeServer(s, srvrs[i], units[i], members, leader);
    const voters = members ? [...members.keys()] : [];
    const servingVoters = servers.filter((s) => voters.includes(s.id) && inSync(s, leader)).length;
    const desired = obs.desired;
    const healthy = !!leader && !!members && voters.length === desired && servingVoters === desired;
    trackProgress(status, prev, obs, step, servers, now);
    if (status.scaling && members && voters.length === desired && obs.units === desired && !(prev.rollout?.handoff)) {
      const seconds = (Date.now() - Date.parse(status.scaling.startedAt ?? now)) / 1000;
      status.lastScale = { from: status.scaling.from ?? 0, to: desired, seconds: Math.round(seconds * 10) / 10, finishedAt: now };
      await d.events.record(zke, 'Normal', 'Scaled', `the ensemble has ${desired} voting servers (from ${status.scaling.from}) after ${seconds.toFixed(1)} s`);
      delete status.scaling;
    }
    if (status.rollout && step.kind === 'done' && !outdatedLeft) {
      const seconds = (Date.now() - Date.parse(status.rollout.startedAt ?? now)) / 1000;
      status.lastRollout = { reason: status.rollout.reason ?? '', units: status.rollout.done ?? [], seconds: Math.round(seconds * 10) / 10, finishedAt: now };
      await d.events.record(zke, 'Normal', 'RolloutComplete', `${status.rollout.reason}: ${(status.rollout.done ?? []).join(', ')} updated in ${seconds.toFixed(1)} s`);
      delete status.rollout;
    }
    // A restart of some servers only: begun once the ensemble is whole, in sync and has nothing else to do.
    const some = unitRestartRequest(zke.spec);
    if (some && !skip) {
      const notYet = !healthy ? 'the ensemble is not whole and in sync' : step.kind !== 'done' || applied || status.rollout || status.scaling ? 'another change is in progress' : undefined;
      const order = orderAmong(some.units, (u) => (u === leader?.unit ? 1 : 0));
      const r = await syncUnitRestart(d.client, d.events, zke, us, some, order, notYet, prev.unitRestart);
      if (r.unitSet) unitSetCache.mutated(r.unitSet);
      status.unitRestart = r.status;
    }
    const restartingSome = !!some && status.unitRestart?.phase !== 'Complete' && status.unitRestart?.phase !== 'Invalid';
    const settled = step.kind === 'done' && !applied && !failure && !restartingSome;
    // Ready means clients get what the connection Secret promises: the data tree writable by the account only.
    const unprotected = !!access?.blocksReady && !access.ok;
    const ready = settled && healthy && !unprotected;
    const phase = restartingSome && !failure ? 'Restarting' : phaseOf(step, status, healthy, !!leader, failure);
    const problems = servers.filter((s) => voters.includes(s.id) && !inSync(s, leader)).map((s) => `${s.unit} is ${roleOf(s, members)}${serverStatus[s.unit]?.message ? ` (${serverStatus[s.unit]?.message})` : ''}`);
    if (!leader) problems.unshift('no leader');
    condition('Ready', ready, ready ? 'EnsembleReady' : failure ? 'StepFailed' : !healthy ? 'NotHealthy' : unprotected && settled ? 'DataNotProtected' : 'InProgress',
      ready ? `${desired} voting servers in sync, ${leader?.unit} leads`
        : failure || (step.kind === 'wait' ? step.reason : applied || (healthy && unprotected ? access?.message ?? '' : problems.join('; ') || (restartingSome ? status.unitRestart?.message ?? '' : ''))));
    condition('Degraded', problems.length > 0, problems.length ? (leader ? 'ServersNotServing' : 'NoLeader') : 'AsExpected', problems.join('; '));
    if (skip) condition('Progressing', false, 'ReconcileSkipped', `${ANNOTATION_SKIP}=true: the ensemble is observed, not changed${step.kind !== 'done' && step.kind !== 'wait' ? `; next step: ${step.reason}` : ''}`);
    else if (settled) condition('Progressing', false, 'Settled', 'nothing to do');
    else condition('Progressing', true, phase, applied || (step.kind === 'wait' ? step.reason : failure || (restartingSome ? status.unitRestart?.message ?? '' : '')));

    // Role labels on the pods: the leader "source", voting followers "replica", everything else "none".
    const roles = new Map<string, PodRole>(servers.map((s) => [s.unit, s.mode === 'leader' ? 'source' : roleOf(s, members) === 'follower' ? 'replica' : 'none']));
    await labelPods(d.client, d.pods, ns, KIND_LABEL, name, roles);

    await save({
      ...status, ready, phase, replicas: voters.length || (prev.replicas ?? 0), readyServers: `${servingVoters}/${desired}`,
      leader: leader?.unit ?? '', configVersion: lv?.version ?? prev.configVersion ?? '', servers: serverStatus, clientService,
      fourLetterWords: whitelist(zke), conditions,
    });
    ctx.log.debug({ step: step.kind, reason: 'reason' in step ? step.reason : '', applied, phase }, 'reconciled');

    if (failure) throw new Error(`${step.kind}: ${failure}`);
    if (skip) return { requeueAfterMs: HEALTH_INTERVAL_MS };
    if (applied) return { requeueAfterMs: 200 };
    if (step.kind === 'wait' || unprotected || restartingSome) return { requeueAfterMs: WAIT_RETRY_MS * (unprotected || restartingSome ? 2 : 1) };
    return { requeueAfterMs: healthy ? HEALTH_INTERVAL_MS : WAIT_RETRY_MS * 2 };
  }

  return { reconcile };
}

/** Carries out one step; returns what was done, for the Event and status. */
async function carryOut(
  d: ZookeeperDeps, zke: ZookeeperEnsemble, us: UnitSet, step: Exclude<Step, { kind: 'done' | 'wait' }>, obs: Observation, status: Status,
  save: (st: Status) => Promise<void>, now: string,
): Promise<string> {
  const ns = zke.metadata.namespace ?? '';
  const name = zke.metadata.name ?? '';
  switch (step.kind) {
    case 'scaleUnitSet': {
      await d.client.patch(UnitSetResource, name, { spec: { units: step.units } }, 'merge', { namespace: ns });
      return `UnitSet ${name} resized from ${us.spec.units} to ${step.units} units: ${step.reason}`;
    }
    case 'updateUnit': {
      await d.client.patch(UnitSetResource, name, { metadata: { annotations: { [ANNOTATION_UPDATE_NEXT]: step.server.unit } } }, 'merge', { namespace: ns });
      return `updating ${step.server.unit}: ${step.reason}`;
    }
    case 'addServer': {
      const line = serverLine(step.server, obs, ns, name);
      const committed = await reconfigure(d, zke, obs, [line], []);
      if (status.rollout?.handoff === step.server.unit) status.rollout = { ...status.rollout, handoff: '' };
      return `${line} added (${step.reason}); configuration ${versionOf(committed)}`;
    }
    case 'removeServers': {
      const ids = step.servers.map((s) => s.id);
      if (step.handoff) {
        // Recorded before it is done: the next pass then updates this server and adds it back, and does not take a
        // server missing from the configuration for one that has yet to join.
        const leaving = step.servers[0]?.unit ?? '';
        status.rollout = { ...(status.rollout ?? {}), handoff: leaving, next: leaving };
        await save({ ...status, lastChange: { time: now, step: `handing leadership over from ${leaving}` } });
        crashPoint('zookeeper-before-handoff');
      }
      const committed = await reconfigure(d, zke, obs, [], ids, step.servers.map((s) => s.unit));
      return `server ${ids.join(', ')} (${step.servers.map((s) => s.unit).join(', ')}) removed from the ensemble (${step.reason}); configuration ${versionOf(committed)}`;
    }
  }
}

const versionOf = (config: string): string => /^version=([0-9a-f]+)/m.exec(config)?.[1] ?? '?';

/**
 * The server line a joining server is added with. Its address is written the way the ensemble already writes its
 * members': pod addresses where the config was rendered with them (a local runtime, where all pods share one loopback
 * interface and bind their own address only), DNS names otherwise (in a cluster, a pod keeps its name, not its IP).
 */
export function serverLine(s: ServerView, obs: Observation, ns: string, unitSet: string): string {
  const members = obs.members ?? new Map<number, string>();
  const [quorumPort, electionPort] = portsOf([...members.values()][0]);
  const byAddress = [...members].some(([id, line]) => { const m = obs.servers.find((x) => x.id === id); return !!m?.address && hostOf(line) === m.address; });
  const host = byAddress ? s.address : `${s.unit}.${headlessServiceName(unitSet)}.${ns}.svc.cluster.local`;
  const client = byAddress ? `${s.address}:${CLIENT_PORT}` : `${CLIENT_PORT}`;
  return `server.${s.id}=${host}:${quorumPort}:${electionPort}:participant;${client}`;
}

interface DataAccess { ok: boolean; reason: string; message: string; blocksReady: boolean }

/**
 * Makes the data tree writable by the application account only (acl.ts): the root znode's ACL, set through the leader
 * as the super user when it differs from what the credentials Secret asks for. Checked again after ACL_RECHECK_MS, so
 * a changed password or an ACL changed by hand is put back. A Secret without the account (a template without the app
 * role) leaves the tree as ZooKeeper makes it, open to anonymous clients, and says so.
 */
async function protectData(
  d: ZookeeperDeps, zke: ZookeeperEnsemble, prev: Status, leader: ServerView | undefined, verified: Map<string, { digest: string; at: number }>,
): Promise<DataAccess> {
  const ns = zke.metadata.namespace ?? '';
  const secretName = credentialsSecretName(zke.metadata.name ?? '');
  const secret = d.secrets.get(`${ns}/${secretName}`);
  const app = appAccount(secret);
  if (!app) {
    return { ok: false, reason: 'NoApplicationAccount', message: `Secret ${secretName} has no application account (app-username, app-password): anonymous clients may write`, blocksReady: false };
  }
  const want = rootAcl(app.user, app.password);
  const digest = want.find((a) => a.scheme === 'digest')?.id ?? '';
  const uid = zke.metadata.uid ?? '';
  const seen = verified.get(uid);
  const protectedMessage = `the root znode: ${describeAcl(want)}`;
  if (seen?.digest === digest && Date.now() - seen.at < ACL_RECHECK_MS) return { ok: true, reason: 'RootAclSet', message: protectedMessage, blocksReady: true };
  const adminPassword = b64(secret?.data?.['admin-password']);
  if (!adminPassword) return { ok: false, reason: 'NoAdminAccount', message: `Secret ${secretName} has no admin-password yet`, blocksReady: true };
  if (!leader) return { ok: false, reason: 'NoLeader', message: 'the root znode\'s ACL is set once a leader serves', blocksReady: true };
  try {
    const before = await ensureRootAcl(leader.address, { user: b64(secret?.data?.['admin-username']) || 'super', password: adminPassword }, want, RECONFIG_TIMEOUT_MS);
    verified.set(uid, { digest, at: Date.now() });
    if (before) await d.events.record(zke, 'Normal', 'ProtectedData', `the root znode's ACL set to ${describeAcl(want)} (was ${describeAcl(before) || 'empty'})`);
    return { ok: true, reason: 'RootAclSet', message: protectedMessage, blocksReady: true };
  } catch (err) {
    const message = `setting the root znode's ACL through ${leader.unit}: ${err instanceof Error ? err.message : String(err)}`;
    if (prev.conditions?.find((c) => c.type === 'DataProtected')?.message !== message) await d.events.record(zke, 'Warning', 'RootAclNotSet', message);
    return { ok: false, reason: 'RootAclNotSet', message, blocksReady: true };
  }
}

/** Runs one reconfig as the super user, through a serving member that is not leaving (the leader if need be). */
async function reconfigure(d: ZookeeperDeps, zke: ZookeeperEnsemble, obs: Observation, joining: string[], leaving: number[], leavingUnits: string[] = []): Promise<string> {
  const ns = zke.metadata.namespace ?? '';
  const secretName = credentialsSecretName(zke.metadata.name ?? '');
  const secret = d.secrets.get(`${ns}/${secretName}`);
  const user = b64(secret?.data?.['admin-username']) || 'super';
  const password = b64(secret?.data?.['admin-password']);
  if (!password) throw new Error(`Secret ${secretName} has no admin-password yet`);
  const leader = leaderOf(obs);
  const via = obs.servers.find((s) => s !== leader && s.mode === 'follower' && obs.members?.has(s.id) && !leavingUnits.includes(s.unit)) ?? leader;
  if (!via) throw new Error('no serving server to send the reconfiguration to');
  const session = await ZkSession.open(via.address, CLIENT_PORT, { timeoutMs: RECONFIG_TIMEOUT_MS });
  try {
    await session.addDigestAuth(`${user}:${password}`);
    return await session.reconfig(joining, leaving);
  } finally {
    await session.close().catch(() => undefined);
  }
}

/** Whether a unit's pending config (same revision) changes a setting, which needs a restart, or only its server list. */
async function configNeedsRestart(d: ZookeeperDeps, zke: ZookeeperEnsemble, tpl: EngineTemplate | undefined, unit: string): Promise<boolean> {
  try {
    const cm = await d.client.get<KubeObject & { data?: Record<string, string> }>(Resources.configMaps, configMapName(unit), zke.metadata.namespace ?? '');
    const input = JSON.parse(cm.data?.[CONFIG_INPUT_KEY] ?? '{}') as { parameters?: Record<string, string> };
    const want = desiredUnitSetSpec(zke, 0).parameters;
    const keys = new Set([...Object.keys(input.parameters ?? {}), ...Object.keys(want)]);
    for (const k of keys) {
      const spec = tpl?.spec.parameters?.find((p) => p.key === k);
      const desired = want[k] ?? spec?.default;
      if (desired === undefined || desired.includes('{{')) return true; // a default rendered per unit: cannot tell, assume so
      if (input.parameters?.[k] !== desired) return true;
    }
    return false;
  } catch (err) {
    if (isNotFound(err)) return true;
    throw err;
  }
}

/** Leader changes, servers that stopped serving without being asked to, and their recovery: status and Events. */
async function recordChanges(d: ZookeeperDeps, zke: ZookeeperEnsemble, prev: Status, status: Status, obs: Observation, units: Unit[], now: string): Promise<void> {
  const leader = leaderOf(obs);
  const last = prev.lastLeader || prev.leader;
  if (leader) status.lastLeader = leader.unit;
  if (leader && last && last !== leader.unit) {
    const handoff = prev.rollout?.handoff === last;
    status.lastLeaderChange = { from: last, to: leader.unit, time: now, reason: handoff ? 'Handoff' : 'Election' };
    await d.events.record(zke, handoff ? 'Normal' : 'Warning', 'LeaderChanged', handoff
      ? `${leader.unit} leads: ${last} handed leadership over for its update`
      : `${leader.unit} leads: elected after ${last} stopped leading`);
  }
  for (const [i, s] of obs.servers.entries()) {
    const before = prev.servers?.[s.unit];
    const unit = units[i];
    const restarts = unit?.status?.engine?.restarts ?? 0;
    // Stopped on purpose: the unit named for its update while a rollout runs, or the leader handed over for its update.
    const planned = (!!prev.rollout && obs.updateNext === s.unit) || prev.rollout?.handoff === s.unit || plannedRestarts(prev.unitRestart).includes(s.unit);
    const crashed = restarts > (before?.restarts ?? restarts);
    // Gone, not merely electing: followers of a failed leader answer (not serving) while they elect the next one.
    const stopped = before?.serving && !s.reachable && !planned;
    if ((stopped || crashed) && !(status.lastFailure?.server === s.unit && !status.lastFailure.recoveredAt)) {
      const engine = unit?.status?.engine;
      const why = engine?.state && engine.state !== 'Running' ? `engine ${engine.state}${engine.message ? ` (${engine.message})` : ''}` : 'its client port does not answer';
      status.lastFailure = { server: s.unit, wasLeader: before?.role === 'leader' || prev.leader === s.unit, message: `${s.unit} stopped serving: ${why}${crashed ? ` (engine restarts ${restarts})` : ''}`, time: now };
      await d.events.record(zke, 'Warning', 'ServerDown', status.lastFailure.message ?? '');
    }
    const f = status.lastFailure;
    if (f?.server === s.unit && !f.recoveredAt && inSync(s, leader)) {
      status.lastFailure = { ...f, recoveredAt: now, newLeader: leader?.unit ?? '' };
      const secs = ((Date.parse(now) - Date.parse(f.time ?? now)) / 1000).toFixed(1);
      await d.events.record(zke, 'Normal', 'ServerRecovered', `${s.unit} serves again as ${roleOf(s, obs.members)} (${secs} s after it stopped); ${leader?.unit} leads`);
    }
  }
}

/**
 * The status of an ensemble held still by a stop: no server serves or leads, and no leader is remembered, so that
 * the servers' return is neither a failure nor an election to report (a new leader after the start is no incident).
 */
export function stoppedStatus(status: Status, units: Pick<Unit, 'metadata' | 'status'>[]): Status {
  const servers: NonNullable<Status['servers']> = {};
  for (const u of units) {
    const name = u.metadata.name ?? '';
    const was = status.servers?.[name];
    servers[name] = { ...was, role: 'down', serving: false, synced: false, message: `engine ${u.status?.engine?.state ?? u.status?.phase ?? 'Stopped'} (spec.stopped)` };
  }
  return { ...status, servers, leader: '', lastLeader: '', readyServers: `0/${units.length}` };
}

/** Starts and advances status.scaling and status.rollout from the step taken. */
function trackProgress(status: Status, prev: Status, obs: Observation, step: Step, servers: ServerView[], now: string): void {
  const voters = obs.members?.size ?? 0;
  if (!status.scaling && obs.members && voters !== obs.desired && !prev.rollout?.handoff) {
    status.scaling = { from: voters, to: obs.desired, startedAt: now };
  }
  if (status.scaling) status.scaling = { ...status.scaling, to: obs.desired };
  const outdated = servers.filter((s) => s.outdated || (status.rollout && s.updating)).map((s) => s.unit);
  if (!status.rollout && outdated.length && obs.members && voters === obs.desired && obs.units === obs.desired) {
    const revision = servers.some((s) => s.restartNeeded) ? 'new revision' : 'config change';
    status.rollout = { reason: revision, startedAt: now, done: [], pending: outdated };
  }
  if (status.rollout) {
    const finished = new Set(status.rollout.done ?? []);
    for (const u of status.rollout.pending ?? []) if (!outdated.includes(u)) finished.add(u);
    status.rollout = { ...status.rollout, done: [...finished].sort(), pending: outdated, ...(step.kind === 'updateUnit' ? { next: step.server.unit } : {}) };
  }
}

function phaseOf(step: Step, status: Status, healthy: boolean, hasLeader: boolean, failure: string): Phase {
  if (!hasLeader && !status.configVersion) return 'Forming';
  if (failure) return 'Degraded';
  if (status.scaling) return (status.scaling.to ?? 0) > (status.scaling.from ?? 0) ? 'ScalingOut' : 'ScalingIn';
  if (status.rollout) return 'Restarting';
  if (step === done && healthy) return 'Ready';
  return hasLeader && healthy ? 'Ready' : 'Degraded';
}

function describeServer(s: ServerView, srvr: Srvr | undefined, unit: Unit | undefined, members: Map<number, string> | undefined, leader: ServerView | undefined): ServerStatus {
  const role = roleOf(s, members);
  const engine = unit?.status?.engine;
  const message = s.mode ? '' : srvr?.message && s.reachable ? srvr.message : engine?.state && engine.state !== 'Running' ? `engine ${engine.state}${engine.message ? `: ${engine.message}` : ''}` : 'no answer on the client port';
  return {
    id: s.id, address: s.address, role, voting: !!members?.has(s.id), serving: !!s.mode, synced: inSync(s, leader),
    ...(s.zxid !== undefined ? { zxid: `0x${s.zxid.toString(16)}` } : {}),
    ...(srvr?.connections !== undefined ? { connections: srvr.connections } : {}),
    ...(srvr?.nodeCount !== undefined ? { nodeCount: srvr.nodeCount } : {}),
    restarts: engine?.restarts ?? 0, ...(message ? { message } : {}),
  };
}

async function createUnitSet(d: ZookeeperDeps, zke: ZookeeperEnsemble): Promise<UnitSet> {
  const name = zke.metadata.name ?? '';
  const body: UnitSet = {
    apiVersion: 'unit.upm.io/v1alpha1', kind: 'UnitSet',
    metadata: { name, namespace: zke.metadata.namespace, labels: { ...inheritedLabels(zke), [KIND_LABEL]: name }, ownerReferences: [ownerRef(zke)] },
    spec: desiredUnitSetSpec(zke, zke.spec.replicas ?? 3),
  };
  try {
    return await d.client.create<UnitSet>(UnitSetResource, body);
  } catch (err) {
    if (isAlreadyExists(err)) return d.client.get<UnitSet>(UnitSetResource, name, zke.metadata.namespace ?? '');
    throw err;
  }
}

/** <name>-client: every Ready server of the ensemble (ZooKeeper clients may use any). */
async function ensureClientService(d: ZookeeperDeps, zke: ZookeeperEnsemble): Promise<string> {
  const ns = zke.metadata.namespace ?? '';
  const name = `${zke.metadata.name}-client`;
  const type = zke.spec.service?.type ?? 'ClusterIP';
  const spec = { type, selector: { [LABEL_UNITSET]: zke.metadata.name ?? '' }, ports: [{ name: 'client', port: CLIENT_PORT, targetPort: CLIENT_PORT, protocol: 'TCP' }] };
  const cur = d.services.get(`${ns}/${name}`);
  if (!cur) {
    await d.client.create(Resources.services, {
      apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns, labels: { [KIND_LABEL]: zke.metadata.name ?? '' }, ownerReferences: [ownerRef(zke)] }, spec,
    } as KubeObject).catch((e: unknown) => { if (!isAlreadyExists(e)) throw e; });
  } else if (cur.spec?.type !== type || JSON.stringify(cur.spec?.selector) !== JSON.stringify(spec.selector)) {
    await d.client.patch(Resources.services, name, { spec }, 'merge', { namespace: ns });
  }
  return name;
}
