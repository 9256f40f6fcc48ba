// KafkaCluster controller. It owns a UnitSet of Kafka units (created with the KafkaCluster, its size changed only
// when the cluster is ready for it, its updates Managed) and, each pass, reads the cluster through Kafka's Admin API
// (live brokers, every partition's replicas and ISR, min.insync.replicas, the KRaft quorum, reassignments in
// flight), asks plan.nextStep for the one next safe step, takes it, and records status and an Event. While work
// remains it comes back within a second; once settled, every few seconds, so that a lost broker, under-replicated
// partitions or a new active controller show in status soon. Every step first reads the state it changes: a
// reassignment is asked for only for partitions whose replicas still name a leaving broker, a unit is named for
// restart only while it is outdated, and the size moves only when the cluster says so; a pass killed anywhere is
// finished by the next one. Each pass also makes sure the application account of the UnitSet's credentials has its
// ACLs (acls.ts), reported as the condition AppAccount.
import type { KafkaCluster, KafkaClusterStatus } from '../../../lib/api/compose.upm.io.generated.ts';
import { KafkaClusterResource } from '../../../lib/api/compose.upm.io.generated.ts';
import type { Unit, UnitSet } from '../../../lib/api/unit.upm.io.generated.ts';
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
import { ANNOTATION_UPDATE_NEXT, LABEL_UNITSET, credentialsSecretName, headlessServiceName, ordinalOf } from '../../unit/naming.ts';
import { ANNOTATION_SKIP, b64, type Secret } from '../common/context.ts';
import { ownerRef } from '../common/roles.ts';
import { Sessions } from '../common/sessions.ts';
import { patchStatus } from '../common/status.ts';
import { crashPoint } from '../common/steps.ts';
import { stopConditions, stopView } from '../common/stopped.ts';
import { fullRestartStamp, plannedRestarts, unitRestartRequest } from '../common/unit-restart.ts';
import { syncUnitRestart } from '../common/unit-restart-sync.ts';
import { appAcls, describeAcls, principalOf } from './acls.ts';
import { KafkaAdmin } from './admin.ts';
import {
  caughtUpVoters, healthBlocker, nextStep, nodeId, offline, replicaCounts, restartOrder, rolesOf, underMinIsr, underReplicated,
  type ClusterSnapshot, type Node, type Phase, type Step,
} from './plan.ts';
import { ANNOTATION_RESTARTED_AT, configuredReplication, desiredUnitSet, ownedBy, shapeOf, unitSetPatch } from './unitset.ts';

export const KIND_LABEL = 'compose.upm.io/kafkacluster';
/** "true" on the pods of the brokers that stay (the bootstrap Service selects them). */
export const BROKER_LABEL = 'compose.upm.io/kafka-broker';
const BROKER_PORT = 9092;
const HEALTH_INTERVAL_MS = 5000;
const BUSY_INTERVAL_MS = 1000;
const UNREACHABLE_RETRY_MS = 2000;

type Status = KafkaClusterStatus;
type NodeStatus = NonNullable<Status['nodes']>[number];
type Service = KubeObject & { spec?: { type?: string; selector?: Record<string, string>; ports?: { port: number }[] } };

export interface KafkaClusterDeps {
  client: KubeClient;
  events: EventRecorder;
  clusters: Store<KafkaCluster>;
  unitSets: Store<UnitSet>;
  units: Store<Unit>;
  pods: Store<KubeObject>;
  services: Store<KubeObject>;
  secrets: Store<Secret>;
}


const seconds = (from: string | undefined, to: number): number => Math.round(Math.max(0, to - Date.parse(from ?? '')) / 10) / 100;
const brokerList = (ids: number[]): string => `broker${ids.length > 1 ? 's' : ''} ${ids.join(',')}`;

export function kafkaClusterReconciler(d: KafkaClusterDeps) {
  const sessions = new Sessions<KafkaAdmin>();
  const cache = new MutationCache(d.clusters);
  const unitSets = new MutationCache(d.unitSets);

  const sessionFor = (key: string, username: string, password: string): Promise<KafkaAdmin> => sessions.get(key, `${username}\u0000${password}`, () => new KafkaAdmin({ username, password }));
  const drop = async (key: string): Promise<void> => {
    cache.forget(key);
    await sessions.drop(key);
  };

  async function reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    const kc = cache.get(key);
    if (!kc || kc.metadata.deletionTimestamp) { await drop(key); return; }
    let current = kc;
    const save = async (st: Status) => { current = (await patchStatus(d.client, KafkaClusterResource, current, st)) ?? current; cache.mutated(current); };
    const ns = kc.metadata.namespace ?? '';
    const name = kc.metadata.name ?? '';
    const gen = kc.metadata.generation;
    const shape = shapeOf(kc);
    const skip = kc.metadata.annotations?.[ANNOTATION_SKIP] === 'true';
    const prev: Status = kc.status ?? {};
    const status: Status = { ...prev, observedGeneration: gen, unitSet: name, selector: `${LABEL_UNITSET}=${name}` };
    let conditions = prev.conditions as Condition[] | undefined;
    const condition = (type: string, ok: boolean, reason: string, message: string) => {
      conditions = setCondition(conditions, { type, status: ok ? 'True' : 'False', reason, message, observedGeneration: gen });
    };
    const warnOnce = async (reason: string, message: string) => {
      const was = prev.conditions?.find((c) => c.type === 'Ready');
      if (was?.reason !== reason || was.message !== message) await d.events.record(kc, 'Warning', reason, message);
    };
    const stop = async (phase: NonNullable<Status['phase']>, reason: string, message: string, retryMs: number, warn = false): Promise<ReconcileResult> => {
      if (warn) await warnOnce(reason, message);
      condition('Ready', false, reason, message);
      condition('Progressing', phase === 'Forming' || phase === 'Starting', phase === 'Forming' || phase === 'Starting' ? phase : reason, message);
      await save({ ...status, ready: false, phase, conditions });
      return { requeueAfterMs: retryMs };
    };

    // The UnitSet: created with the KafkaCluster at its full size (the units form the cluster together).
    const usKey = `${ns}/${name}`;
    let us = unitSets.get(usKey);
    if (!us) {
      if (skip) return stop('Pending', 'ReconcileSkipped', `${ANNOTATION_SKIP}=true: no UnitSet created`, HEALTH_INTERVAL_MS);
      try {
        us = unitSets.mutated(await d.client.create<UnitSet>(UnitSetResource, desiredUnitSet(kc, shape.units))) ?? us;
        await d.events.record(kc, 'Normal', 'CreatedUnitSet', `created UnitSet ${name} with ${shape.units} Kafka units (${shape.roles === 'Combined' ? `${shape.brokers} brokers, the first ${shape.controllers} also controllers` : `${shape.controllers} controllers and ${shape.brokers} brokers`})`);
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
      return stop('Forming', 'Forming', `UnitSet ${name} created; waiting for its units`, BUSY_INTERVAL_MS);
    }
    if (!ownedBy(us, kc)) {
      return stop('Failed', 'UnitSetConflict', `metadata.name: UnitSet ${name} already exists and does not belong to this KafkaCluster`, HEALTH_INTERVAL_MS * 6, true);
    }
    const drift = unitSetPatch(kc, us);
    if (drift && !skip) {
      us = unitSets.mutated(await d.client.patch<UnitSet>(UnitSetResource, name, drift.patch, 'merge', { namespace: ns })) ?? us;
      await d.events.record(kc, 'Normal', 'UpdatedUnitSet', `UnitSet ${name}: ${drift.fields.join(', ')} brought in line with the KafkaCluster`);
    }
    const unitSetUnits = us.spec.units ?? 0;
    const units = d.units.list().filter((u) => u.metadata.namespace === ns && u.metadata.labels?.[LABEL_UNITSET] === name && !u.metadata.deletionTimestamp);

    // Stopped on purpose (spec.stopped, passed to the UnitSet): hold still until the units start again.
    const held = stopView(kc.spec.stopped === true, units);
    if (held.hold) {
      if (held.phase === 'Stopped' && prev.phase !== 'Stopped') await d.events.record(kc, 'Normal', 'Stopped', `all ${held.units} units are stopped on purpose; holding still until they start`);
      await save({ ...stoppedStatus(status, shape.brokers), ready: false, phase: held.phase ?? 'Stopped', conditions: stopConditions(conditions, held, 'units', gen) });
      return { requeueAfterMs: HEALTH_INTERVAL_MS };
    }
    // Starting again after a stop: brokers that do not answer yet are starting, not lost, until the cluster is whole.
    const resuming = prev.phase === 'Stopped' || prev.phase === 'Starting';

    // The nodes: every unit of the UnitSet, its node.id from its ordinal.
    const nodes: (Node & { address: string; restarts: number; phase: string })[] = units.map((u) => {
      const ordinal = ordinalOf(u);
      return {
        ordinal, id: nodeId(ordinal), unit: u.metadata.name ?? '', ...rolesOf(ordinal, shape.roles, shape.controllers),
        ready: u.status?.ready === true, address: u.status?.podIP ?? '', restarts: u.status?.engine?.restarts ?? 0, phase: u.status?.engine?.state ?? u.status?.phase ?? 'Pending',
      };
    }).filter((n) => n.ordinal >= 0).sort((a, b) => a.ordinal - b.ordinal);
    const byId = new Map(nodes.map((n) => [n.id, n]));
    const unitOf = (id: number) => byId.get(id)?.unit ?? `node ${id}`;
    const fqdn = (n: { unit: string }) => `${n.unit}.${headlessServiceName(name)}.${ns}.svc.cluster.local:${BROKER_PORT}`;
    status.bootstrapServers = nodes.filter((n) => n.broker && n.ordinal < shape.units).map(fqdn).join(',');

    await labelPods(d, ns, name, nodes.map((n) => ({ unit: n.unit, broker: n.broker && n.ordinal < shape.units })));
    status.bootstrapService = await ensureBootstrapService(d, kc, kc.spec.service?.type ?? 'ClusterIP');

    // Credentials: the admin account of the UnitSet's Secret.
    const secret = d.secrets.get(`${ns}/${credentialsSecretName(name)}`);
    const username = b64(secret?.data?.['admin-username']);
    const password = b64(secret?.data?.['admin-password']);
    if (!username || !password) return stop('Forming', 'Forming', `waiting for the UnitSet's credentials Secret ${credentialsSecretName(name)}`, BUSY_INTERVAL_MS);

    // Observe: through any broker with an address, ready ones first.
    const admin = await sessionFor(key, username, password);
    admin.setAddresses(nodes.filter((n) => n.broker && n.address).sort((a, b) => Number(b.ready) - Number(a.ready) || a.ordinal - b.ordinal).map((n) => `${n.address}:${BROKER_PORT}`));
    let world: ClusterSnapshot;
    try {
      world = await admin.observe();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const formed = !!prev.clusterId;
      if (resuming) return stop('Starting', 'Starting', `waiting for the brokers to serve again after the stop (${nodes.filter((n) => n.ready).length}/${nodes.length} units ready)`, UNREACHABLE_RETRY_MS);
      condition('Degraded', formed, formed ? 'ClusterUnreachable' : 'Forming', message);
      return stop(formed ? 'Degraded' : 'Forming', formed ? 'ClusterUnreachable' : 'Forming', formed ? `no broker answers: ${message}` : `waiting for the brokers to serve (${nodes.filter((n) => n.ready).length}/${nodes.length} units ready)`, UNREACHABLE_RETRY_MS, formed);
    }

    // The application account's ACLs: the brokers' authorizer refuses it everything without them.
    const appUser = b64(secret?.data?.['app-username']);
    if (appUser && !skip) {
      try {
        const created = await admin.ensureAcls(principalOf(appUser), appAcls(appUser));
        if (created.length) await d.events.record(kc, 'Normal', 'GrantedAppAcls', `granted the application account ${appUser} ${describeAcls(created)} on every name`);
        condition('AppAccount', true, 'Granted', `the application account ${appUser} may produce, consume, create and describe topics and use consumer groups and transactions, nothing else`);
      } catch (err) {
        condition('AppAccount', false, 'AclsNotGranted', err instanceof Error ? err.message : String(err));
      }
    }

    const now = Date.now();
    const nowIso = new Date(now).toISOString();
    // Outdated: what the UnitSet says, and units that do not carry the restart request or version yet (the UnitSet's
    // status follows a moment after its annotations and spec change).
    // A restart of some units only leaves the UnitSet's stamp as it was (those restart through its spec.restart).
    const stamp = fullRestartStamp(kc.spec, us.metadata.annotations?.[ANNOTATION_RESTARTED_AT], prev.unitRestart?.id);
    const behind = units.filter((u) => (u.metadata.annotations?.[ANNOTATION_RESTARTED_AT] ?? '') !== (stamp ?? '') || u.spec.version !== us.spec.version)
      .map((u) => u.metadata.name ?? '').filter((u) => !(us.status?.updating ?? []).includes(u));
    const outdated = [...new Set([...(us.status?.outdated ?? []), ...behind])].sort();
    const updating = us.status?.updating ?? [];
    // The unit named for restart is ours only while a rolling restart is on (the name stays on the UnitSet after).
    const named = (us.metadata.annotations?.[ANNOTATION_UPDATE_NEXT] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const updateNext = prev.restart || outdated.length ? named : [];
    // Brokers removed by the last scale-in: unregistered once their units are gone (terminating ones too) and they
    // have left the cluster.
    const present = new Set(d.units.list().filter((u) => u.metadata.namespace === ns && u.metadata.labels?.[LABEL_UNITSET] === name).map((u) => nodeId(ordinalOf(u))));
    const removed = prev.lastScaleIn && !prev.lastScaleIn.unregistered ? prev.lastScaleIn.brokers ?? [] : [];
    const gone = removed.every((id) => !present.has(id) && !world.brokers.includes(id));
    const step: Step = nextStep({
      roles: shape.roles, controllers: shape.controllers, desiredUnits: shape.units, unitSetUnits, nodes, outdated, updating, updateNext, world,
      configuredReplication: configuredReplication(us.spec.parameters), rebalanceOnScaleOut: kc.spec.rebalance?.onScaleOut === true,
      // A leader's clock ahead of ours must not make voters look behind: the quorum's own timestamps count too.
      balancedBrokers: prev.balancedBrokers, toUnregister: gone ? removed : [], now: Math.max(now, ...(world.quorum?.voters ?? []).map((v) => v.lastFetchMs)),
    });
    const restartActive = outdated.length > 0 || updateNext.some((u) => updating.includes(u));

    // What the cluster did by itself: brokers lost and back, engines that crashed, a new active controller.
    await noticeIncidents(d, kc, prev, status, nodes, world, [...(restartActive ? updateNext : []), ...plannedRestarts(prev.unitRestart)], nowIso);

    // A rolling restart starts when units became outdated (recorded before its first step).
    if ((restartActive || step.kind === 'restart') && !status.restart) {
      const byRequest = !!stamp && stamp !== prev.lastRestart?.restartedAt;
      const reason = byRequest ? `spec.restartedAt changed to ${stamp}` : 'the units have a new revision (version, resources or a setting that needs a restart)';
      status.restart = { reason, ...(stamp ? { restartedAt: stamp } : {}), startedAt: nowIso, done: [] };
      await d.events.record(kc, 'Normal', 'RollingRestart', `rolling restart of ${outdated.length} units, broker by broker: ${reason}`);
    }
    // Act: one step.
    let applied = '';
    let failure = '';
    if (!skip) {
      try {
        applied = await act(step);
      } catch (err) {
        failure = err instanceof Error ? err.message : String(err);
        await d.events.record(kc, 'Warning', 'StepFailed', `${step.kind}: ${failure}`);
      }
    }

    async function act(s: Step): Promise<string> {
      switch (s.kind) {
        case 'scale': {
          const resize = () => d.client.patch<UnitSet>(UnitSetResource, name, { spec: { units: s.units } }, 'merge', { namespace: ns }).then((x) => unitSets.mutated(x));
          if (s.direction === 'out') {
            await resize();
            const msg = `scaled out to ${s.units} units: ${brokerList(nodesFor(unitSetUnits, s.units))} joining`;
            await d.events.record(current, 'Normal', 'ScaledOut', msg);
            return msg;
          }
          // Recorded before the UnitSet shrinks: the brokers to unregister once their units are gone are known only
          // from this record, so an operator killed right after the shrink must find it. One left by a kill between
          // this write and the shrink is this same scale-in, with its drain figures: kept.
          const held = world.partitions.filter((p) => p.replicas.some((r) => s.leaving.includes(r))).length;
          const r = prev.reassignment?.reason === 'Drain' ? prev.reassignment : undefined;
          const recorded = prev.lastScaleIn && !prev.lastScaleIn.unregistered && JSON.stringify(prev.lastScaleIn.brokers) === JSON.stringify(s.leaving) ? prev.lastScaleIn : undefined;
          const record = recorded ?? { brokers: s.leaving, partitionsMoved: r?.partitions ?? 0, drainSeconds: r ? seconds(r.startedAt, now) : 0, heldPartitions: held, unregistered: false, finishedAt: nowIso };
          status.lastScaleIn = record;
          delete status.reassignment;
          await save({ ...status, conditions });
          await resize();
          const msg = `scaled in to ${s.units} units: ${brokerList(s.leaving)} removed, holding ${record.heldPartitions ?? 0} partitions (${record.partitionsMoved ?? 0} moved off in ${record.drainSeconds ?? 0} s)`;
          await d.events.record(current, 'Normal', 'ScaledIn', msg);
          crashPoint('kafka-scaled-in');
          return msg;
        }
        case 'reassign': {
          const same = prev.reassignment?.reason === s.reason && JSON.stringify(prev.reassignment.brokers) === JSON.stringify(s.brokers);
          // Announced before it is asked for, so that the time it takes is measured from the first request (asked
          // again after a crash, the same moves are counted once).
          status.reassignment = { reason: s.reason, brokers: s.brokers, partitions: Math.max(same ? prev.reassignment?.partitions ?? 0 : 0, s.moves.length), remaining: s.moves.length, startedAt: same ? prev.reassignment?.startedAt ?? nowIso : nowIso };
          await save({ ...status, conditions });
          await admin.reassign(s.moves);
          const msg = s.reason === 'Drain'
            ? `moving ${s.moves.length} partitions off ${brokerList(s.brokers)} before removing ${s.brokers.length > 1 ? 'them' : 'it'}`
            : `moving ${s.moves.length} partitions to spread every topic over the brokers (${brokerList(s.brokers)} joined)`;
          await d.events.record(current, 'Normal', s.reason === 'Drain' ? 'Draining' : 'Rebalancing', msg);
          crashPoint('kafka-reassigned');
          return msg;
        }
        case 'restart': {
          const r = status.restart ?? {};
          status.restart = { ...r, current: s.unit, done: [...(r.done ?? []), ...(r.current && r.current !== s.unit ? [r.current] : [])] };
          delete status.restart.waiting;
          // Recorded before the unit is named: an operator killed right after finds the rolling restart it is in
          // (when it started, which units are done) instead of announcing a new one.
          await save({ ...status, conditions });
          await d.client.patch<UnitSet>(UnitSetResource, name, { metadata: { annotations: { [ANNOTATION_UPDATE_NEXT]: s.unit } } }, 'merge', { namespace: ns }).then((x) => unitSets.mutated(x));
          const msg = `restarting ${s.unit} (node ${s.id}): ${s.why}`;
          await d.events.record(current, 'Normal', 'RestartingUnit', msg);
          crashPoint('kafka-restart-named');
          return msg;
        }
        case 'unregister': {
          for (const id of s.ids) await admin.unregister(id);
          status.lastScaleIn = { ...status.lastScaleIn, unregistered: true };
          const msg = `dropped the registration of removed ${brokerList(s.ids)} from the cluster metadata`;
          await d.events.record(current, 'Normal', 'UnregisteredBrokers', msg);
          return msg;
        }
        case 'balanced': {
          status.balancedBrokers = s.brokers;
          const r = prev.reassignment;
          if (r?.reason === 'Rebalance') {
            status.lastRebalance = { brokers: r.brokers ?? [], partitionsMoved: r.partitions ?? 0, seconds: seconds(r.startedAt, now), finishedAt: nowIso };
            delete status.reassignment;
            await d.events.record(current, 'Normal', 'Rebalanced', `moved ${r.partitions} partitions in ${status.lastRebalance.seconds} s: every topic is spread over ${brokerList(s.brokers)}`);
          }
          return '';
        }
        default:
          return '';
      }
    }
    function nodesFor(from: number, to: number): number[] {
      return Array.from({ length: to - from }, (_, i) => nodeId(from + i)).filter((id) => rolesOf(id - 1, shape.roles, shape.controllers).broker);
    }

    // A reassignment in flight: its progress.
    if (status.reassignment && world.reassigning.length && step.kind !== 'reassign') status.reassignment = { ...status.reassignment, remaining: world.reassigning.length };

    // The rolling restart: started when units became outdated, over once none is and the cluster is in sync again.
    const health = healthBlocker({ nodes, world, unitSetUnits });
    if (status.restart && step.kind === 'wait' && step.phase === 'Restarting') status.restart = { ...status.restart, waiting: step.reason };
    if (status.restart && !restartActive && step.kind !== 'restart' && !health) {
      const r = status.restart;
      const done = [...(r.done ?? []), ...(r.current ? [r.current] : [])];
      status.lastRestart = { reason: r.reason ?? '', ...(r.restartedAt ? { restartedAt: r.restartedAt } : {}), units: done, seconds: seconds(r.startedAt, now), finishedAt: nowIso };
      delete status.restart;
      if (named.length && !skip) {
        await d.client.patch<UnitSet>(UnitSetResource, name, { metadata: { annotations: { [ANNOTATION_UPDATE_NEXT]: null } } }, 'merge', { namespace: ns }).then((x) => unitSets.mutated(x));
      }
      await d.events.record(kc, 'Normal', 'RollingRestartDone', `restarted ${done.length} units in ${status.lastRestart.seconds} s (${done.join(', ')}); no partition under-replicated`);
    }

    // A restart of some units only: begun once the cluster is healthy and has nothing else to do; brokers first, the
    // active controller last (decided then, and kept by the UnitSet's spec.restart).
    const some = unitRestartRequest(kc.spec);
    if (some && !skip) {
      const busy = step.kind !== 'done' || !!applied || !!status.restart || !!status.reassignment;
      const notYet = health ?? (busy ? 'another change is in progress' : undefined);
      const engineOrder = restartOrder(nodes, some.units, world.quorum && world.quorum.leader >= 0 ? world.quorum.leader : undefined).map((n) => n.unit);
      // A name that is no unit goes last as it is: the UnitSet refuses the whole request (Invalid), nothing restarts.
      const order = [...engineOrder, ...some.units.filter((u) => !engineOrder.includes(u))];
      const r = await syncUnitRestart(d.client, d.events, kc, us, some, order, notYet, prev.unitRestart);
      if (r.unitSet) unitSets.mutated(r.unitSet);
      status.unitRestart = r.status;
    }
    const restartingSome = !!some && status.unitRestart?.phase !== 'Complete' && status.unitRestart?.phase !== 'Invalid';

    // Status: the cluster as observed.
    const urp = underReplicated(world.partitions);
    const belowMin = underMinIsr(world.partitions, world.minIsr);
    const off = offline(world.partitions);
    const counts = replicaCounts(world.partitions);
    const leaders = new Map<number, number>();
    for (const p of world.partitions) if (p.leader >= 0) leaders.set(p.leader, (leaders.get(p.leader) ?? 0) + 1);
    const caughtUp = world.quorum ? caughtUpVoters(world.quorum, Math.max(now, ...world.quorum.voters.map((v) => v.lastFetchMs))) : [];
    const ours = [...(restartActive ? updateNext : []), ...(restartingSome ? plannedRestarts(status.unitRestart) : [])];
    const nodeStatus: NodeStatus[] = nodes.map((n) => {
      const up = n.broker ? world.brokers.includes(n.id) : caughtUp.includes(n.id);
      const state: NodeStatus['state'] = n.ordinal >= shape.units && n.ordinal < unitSetUnits ? 'Leaving'
        : up ? 'Running' : ours.includes(n.unit) ? 'Restarting' : !prev.clusterId || resuming ? 'Starting' : 'Offline';
      return {
        id: n.id, unit: n.unit, address: n.address, roles: [...(n.broker ? ['broker'] : []), ...(n.controller ? ['controller'] : [])], state,
        replicas: counts.get(n.id) ?? 0, leaders: leaders.get(n.id) ?? 0, engineRestarts: n.restarts,
      };
    });
    const liveWanted = nodes.filter((n) => n.broker && n.ordinal < shape.units && world.brokers.includes(n.id)).length;
    const leader = world.quorum && world.quorum.leader >= 0 ? world.quorum.leader : undefined;
    Object.assign(status, {
      clusterId: world.clusterId,
      brokers: world.brokers.length,
      brokersReady: `${liveWanted}/${shape.brokers}`,
      nodes: nodeStatus,
      topics: new Set(world.partitions.map((p) => p.topic)).size,
      partitions: world.partitions.length,
      underReplicatedPartitions: urp.length,
      underMinIsrPartitions: belowMin.length,
      offlinePartitions: off.length,
      quorum: (world.quorum?.voters ?? []).map((v) => ({
        id: v.id, unit: unitOf(v.id), role: v.id === leader ? 'Leader' : leader === undefined ? 'Unknown' : 'Follower',
        lag: Math.max(0, (world.quorum?.highWatermark ?? 0) - v.logEndOffset), caughtUp: caughtUp.includes(v.id),
      })),
    });
    if (leader !== undefined) status.activeController = { id: leader, unit: unitOf(leader), epoch: world.quorum?.epoch ?? 0 };
    else delete status.activeController;

    // Conditions and phase.
    const missing = nodeStatus.filter((n) => n.state === 'Offline' || (resuming && n.state === 'Starting'));
    const healthy = !missing.length && !urp.length && !belowMin.length && !off.length && leader !== undefined;
    // A UnitSet whose status lags its spec has not started what was just asked of it (a new version's roll): until the
    // Unit Operator has acted, its units look current and the cluster must not read as settled.
    const unitSetCurrent = us.status?.observedGeneration === us.metadata.generation;
    const settled = step.kind === 'done' && !applied && !failure && !status.restart && !status.reassignment && !restartingSome && unitSetCurrent;
    const ready = settled && healthy && liveWanted === shape.brokers;
    const problems = [
      ...missing.map((n) => `${n.unit} (node ${n.id}) offline`),
      ...(urp.length ? [`${urp.length} under-replicated partitions`] : []),
      ...(belowMin.length ? [`${belowMin.length} partitions below min.insync.replicas`] : []),
      ...(off.length ? [`${off.length} partitions without a leader`] : []),
      ...(leader === undefined ? ['the controller quorum has no leader'] : []),
    ];
    const formed = !!prev.clusterId || ready;
    const phase: NonNullable<Status['phase']> = step.kind === 'refuse' ? 'Blocked'
      : !formed ? 'Forming'
        : resuming && !healthy && (step.kind === 'wait' || step.kind === 'done') ? 'Starting'
        : step.kind === 'scale' ? (step.direction === 'in' ? 'ScalingIn' : 'ScalingOut')
          : step.kind === 'reassign' ? (step.reason === 'Drain' ? 'Draining' : 'Rebalancing')
            : step.kind === 'restart' ? 'Restarting'
              : step.kind === 'wait' ? phaseFor(step.phase, healthy)
                : restartingSome || !unitSetCurrent ? 'Restarting' : healthy ? (ready ? 'Ready' : 'Degraded') : 'Degraded';
    const summary = `${liveWanted}/${shape.brokers} brokers live, ${urp.length} under-replicated partitions, active controller ${leader ?? 'none'}${leader !== undefined ? ` (${unitOf(leader)})` : ''}`;
    if (step.kind === 'refuse') {
      const message = `${step.field}: ${step.message}`;
      await warnOnce('ScaleInRefused', message);
      condition('Ready', false, 'ScaleInRefused', message);
      condition('Progressing', false, 'ScaleInRefused', message);
    } else {
      if (ready) condition('Ready', true, 'Ready', summary);
      else condition('Ready', false, failure ? 'StepFailed' : phase, failure || (step.kind === 'wait' ? step.reason : applied || (unitSetCurrent ? summary : `UnitSet ${name}: the Unit Operator has not acted on its latest spec yet`)));
      if (skip) condition('Progressing', false, 'ReconcileSkipped', `${ANNOTATION_SKIP}=true: the cluster is observed, not changed${step.kind !== 'done' ? `; next step: ${step.kind}` : ''}`);
      else if (settled) condition('Progressing', false, 'Settled', 'nothing to do');
      else condition('Progressing', true, phase, applied || (step.kind === 'wait' ? step.reason : failure || (restartingSome ? status.unitRestart?.message ?? summary : summary)));
    }
    condition('Degraded', !healthy, healthy ? 'AsExpected' : missing.length ? 'BrokersOffline' : off.length ? 'OfflinePartitions' : urp.length ? 'UnderReplicated' : 'QuorumLeaderless', problems.join('; '));
    await save({ ...status, ready, phase, conditions });
    ctx.log.debug({ step: step.kind, applied, phase, urp: urp.length, brokers: world.brokers }, 'reconciled');

    if (failure) throw new Error(`${step.kind}: ${failure}`);
    if (skip) return { requeueAfterMs: HEALTH_INTERVAL_MS };
    if (applied || step.kind === 'balanced') return { requeueAfterMs: step.kind === 'restart' ? 500 : 0 };
    if (step.kind === 'wait' || status.restart || status.reassignment || restartingSome) return { requeueAfterMs: BUSY_INTERVAL_MS };
    if (step.kind === 'refuse') return { requeueAfterMs: HEALTH_INTERVAL_MS };
    return { requeueAfterMs: healthy ? HEALTH_INTERVAL_MS : BUSY_INTERVAL_MS };
  }

  return { reconcile, close: async () => { await Promise.all(sessions.keys().map(drop)); } };
}

/**
 * The status of a cluster held still by a stop: every node Stopped, no broker live and no active controller
 * remembered, so that the brokers' return is neither a loss nor a controller change to report.
 */
export function stoppedStatus(status: Status, brokers: number): Status {
  const out: Status = { ...status, nodes: (status.nodes ?? []).map((n) => ({ ...n, state: 'Stopped' as const, leaders: 0 })), brokers: 0, brokersReady: `0/${brokers}` };
  delete out.activeController;
  delete out.lastIncident;
  return out;
}

function phaseFor(p: Phase, healthy: boolean): NonNullable<Status['phase']> {
  if (p === 'Ready') return healthy ? 'Ready' : 'Degraded';
  return p;
}

/**
 * Brokers that left without being asked to, and their return; engines the agent restarted after a crash (a kill
 * can be over before the cluster fences the broker); a new active controller. Each is an Event and status.
 */
export async function noticeIncidents(d: KafkaClusterDeps, kc: KafkaCluster, prev: Status, status: Status, nodes: (Node & { restarts: number; phase: string })[], world: ClusterSnapshot, restarting: string[], now: string): Promise<void> {
  const prevNodes = new Map((prev.nodes ?? []).map((n) => [n.id, n]));
  const live = (n: Node) => (n.broker ? world.brokers.includes(n.id) : true);
  const leader = world.quorum?.leader;
  const before = prev.activeController?.id;
  // The controller can move before the operator sees its node go: a change in the last half minute counts too.
  const lastChange = leader !== undefined && leader >= 0 && before !== undefined && before !== leader
    ? { from: before, to: leader, time: now } : status.lastControllerChange;
  const wasActive = (id: number) => before === id || (lastChange?.from === id && Date.parse(now) - Date.parse(lastChange.time ?? '') < 30_000);
  for (const n of nodes) {
    const was = prevNodes.get(n.id);
    if (!was || restarting.includes(n.unit)) continue;
    const crashed = n.restarts > (was.engineRestarts ?? 0);
    const lost = was.state === 'Running' && n.broker && !live(n);
    if (!crashed && !lost) continue;
    const facts = [
      ...(crashed ? [`its engine exited unexpectedly and was restarted by its agent (engine restarts: ${n.restarts})`] : []),
      ...(lost ? [`the broker left the cluster (unit ${n.phase})`] : []),
      ...(wasActive(n.id) ? ['it was the active controller'] : []),
    ];
    // The same incident seen again (a crashed engine is restarted at once; the cluster fences its broker later): one
    // record, with what was learnt added.
    const open = status.lastIncident && status.lastIncident.id === n.id && !status.lastIncident.inSyncAt ? status.lastIncident : undefined;
    const known = open?.message ?? '';
    const news = facts.filter((f) => !known.includes(f.replace(/ \(.*\)$/, '')));
    if (open && !news.length && !(lost && open.recoveredAt)) continue;
    const message = open ? [known, ...news].join('; ') : `${n.unit} (node ${n.id}): ${facts.join('; ')}`;
    status.lastIncident = {
      unit: n.unit, id: n.id, detectedAt: open?.detectedAt ?? now, message, wasActiveController: !!open?.wasActiveController || wasActive(n.id),
    };
    await d.events.record(kc, 'Warning', crashed ? 'EngineCrashed' : 'BrokerLost', `${n.unit} (node ${n.id}): ${(open ? news : facts).join('; ') || 'lost again'}`);
  }
  const inc = status.lastIncident;
  const node = nodes.find((n) => n.id === inc?.id);
  if (inc && !inc.recoveredAt && node && live(node) && node.ready) {
    status.lastIncident = { ...inc, recoveredAt: now };
    await d.events.record(kc, 'Normal', 'BrokerRecovered', `${inc.unit} (node ${inc.id}) serves again, ${Math.round((Date.parse(now) - Date.parse(inc.detectedAt ?? now)) / 100) / 10} s after it was lost`);
  }
  const rec = status.lastIncident;
  if (rec?.recoveredAt && !rec.inSyncAt && underReplicated(world.partitions).length === 0 && world.brokers.includes(rec.id ?? -1)) {
    status.lastIncident = { ...rec, inSyncAt: now };
    await d.events.record(kc, 'Normal', 'InSync', `every partition is fully replicated again after ${rec.unit} was lost`);
  }
  if (lastChange && lastChange !== status.lastControllerChange) {
    status.lastControllerChange = lastChange;
    await d.events.record(kc, restarting.length ? 'Normal' : 'Warning', 'ControllerChanged', `the active controller is now node ${lastChange.to} (was ${lastChange.from})`);
  }
}

/** "compose.upm.io/kafkacluster=<name>" on every unit's pod, and "compose.upm.io/kafka-broker" on the brokers that stay. */
async function labelPods(d: KafkaClusterDeps, ns: string, name: string, units: { unit: string; broker: boolean }[]): Promise<void> {
  for (const u of units) {
    const pod = d.pods.get(`${ns}/${u.unit}`);
    if (!pod || pod.metadata.deletionTimestamp) continue;
    const want = { [KIND_LABEL]: name, [BROKER_LABEL]: String(u.broker) };
    if (Object.entries(want).every(([k, v]) => pod.metadata.labels?.[k] === v)) continue;
    await d.client.patch(Resources.pods, u.unit, { metadata: { labels: want } }, 'merge', { namespace: ns })
      .catch((e: unknown) => { if (!isNotFound(e)) throw e; });
  }
}

/** <name>-bootstrap: the brokers' listener, for clients' bootstrap.servers. */
async function ensureBootstrapService(d: KafkaClusterDeps, kc: KafkaCluster, type: string): Promise<string> {
  const ns = kc.metadata.namespace ?? '';
  const name = `${kc.metadata.name}-bootstrap`;
  const spec = { type, selector: { [KIND_LABEL]: kc.metadata.name ?? '', [BROKER_LABEL]: 'true' }, ports: [{ name: 'broker', port: BROKER_PORT, targetPort: BROKER_PORT, protocol: 'TCP' }] };
  const cur = d.services.get(`${ns}/${name}`) as Service | undefined;
  if (!cur) {
    await d.client.create(Resources.services, {
      apiVersion: 'v1', kind: 'Service',
      metadata: { name, namespace: ns, labels: { [KIND_LABEL]: kc.metadata.name ?? '' }, ownerReferences: [ownerRef(kc)] },
      spec,
    } as KubeObject).catch((e: unknown) => { if (!isAlreadyExists(e)) throw e; });
  } else if (cur.spec?.type !== type || JSON.stringify(cur.spec?.selector) !== JSON.stringify(spec.selector)) {
    await d.client.patch(Resources.services, name, { spec: { type, selector: spec.selector } }, 'merge', { namespace: ns });
  }
  return name;
}
