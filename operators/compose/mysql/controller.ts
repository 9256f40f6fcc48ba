// MysqlReplication controller. Each pass reads every server, then takes the next safe steps in this order:
//   1. never two writable servers: any writable server other than the wanted source is fenced (read_only), except
//      a server promoted by a failover this controller started and has not recorded yet (it is adopted instead);
//   2. the wanted source unreachable for downAfterSeconds, as seen by the operator and by every replica's IO
//      thread: fail over to the most advanced replica (bounded loss, no errant transactions), then record it in
//      the spec (source and replica swap); or at once to the replica a spec.failover.request names (once per id:
//      status.failoverRequest answers it, Refused while the source is reachable);
//   3. the wanted source is a replica (switchover): lag guard, fence the current source, wait until the candidate
//      has applied everything the old source wrote, promote;
//   4. the source writable (semi-sync on when asked); every other node read-only and replicating from it; a former
//      source that holds transactions the new source never had stays fenced and out of both Services;
//   5. pod role labels and the readwrite/readonly Services; status with per-node health.
// Every step first reads the state it changes, so a pass interrupted anywhere is finished by the next one.
import type { MysqlReplication } from '../../../lib/api/compose.upm.io.generated.ts';
import { MysqlReplicationResource } from '../../../lib/api/compose.upm.io.generated.ts';
import type { Unit } from '../../../lib/api/unit.upm.io.generated.ts';
import { setCondition, type Condition } from '../../../lib/conditions.ts';
import type { ReconcileContext, ReconcileResult } from '../../../lib/controller.ts';
import type { EventRecorder } from '../../../lib/events.ts';
import type { Store } from '../../../lib/informer.ts';
import type { KubeClient } from '../../../lib/kube/client.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import { ANNOTATION_SKIP, b64, type Secret } from '../common/context.ts';
import { allStopped, stoppedConditions } from '../common/stopped.ts';
import { duplicateAddress, resolveNode, type NodeRef } from '../common/nodes.ts';
import { patchStatus } from '../common/status.ts';
import { MutationCache } from '../../../lib/mutationcache.ts';
import { StepLog } from '../common/steps.ts';
import { ensureRoleServices, labelPods, type Role } from '../common/roles.ts';
import { dialectFor, type DialectSql, type ReplicaStatus } from './dialect.ts';
import { ahead, divergedMariadb, hasErrantMariadb, hasErrantMysql, pickCandidate, progress } from '../../../lib/mysql/gtid.ts';
import { closeAll, exec, observe, scalar, type Observed } from './node.ts';
import { judgeSourceLoss } from './vantage.ts';

export const KIND_LABEL = 'compose.upm.io/mysqlreplication';
// Semi-sync waits this long for a replica's ack before it would fall back to async: effectively never, so an
// acknowledged commit is always on a replica (writes block instead while no replica acks).
const SEMI_SYNC_TIMEOUT_MS = 86_400_000;
const HEALTH_INTERVAL_MS = 10_000;
const RETRY_MS = 1000;
/** How long a failover candidate may take to apply its relay log before the failover is refused. */
const RELAY_APPLY_TIMEOUT_S = 30;

type Topology = NonNullable<NonNullable<MysqlReplication['status']>['topology']>;
type Status = NonNullable<MysqlReplication['status']>;
type FailoverRequest = NonNullable<NonNullable<MysqlReplication['spec']['failover']>['request']>;

export interface MysqlReplicationDeps {
  client: KubeClient;
  events: EventRecorder;
  replications: Store<MysqlReplication>;
  units: Store<Unit>;
  pods: Store<KubeObject>;
  services: Store<KubeObject>;
  secrets: Store<Secret>;
}

/** The controller's own: what it last wrote, read back before the cache has it (a failover is recorded in two writes). */
interface Deps extends MysqlReplicationDeps { cache: MutationCache<MysqlReplication> }

export function mysqlReplicationReconciler(deps: MysqlReplicationDeps) {
  const d: Deps = { ...deps, cache: new MutationCache(deps.replications) };
  return async function reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    const mr = d.cache.get(key);
    if (!mr || mr.metadata.deletionTimestamp) { d.cache.forget(key); return; }
    const ns = mr.metadata.namespace ?? '';
    const spec = mr.spec;
    const sql = dialectFor(spec.engine ?? 'mariadb');
    const gen = mr.metadata.generation;
    let conditions = mr.status?.conditions as Condition[] | undefined;
    const status: Status = { ...(mr.status ?? {}), observedGeneration: gen };
    const fail = async (reason: string, message: string): Promise<ReconcileResult> => {
      conditions = setCondition(conditions, { type: 'TopologyReady', status: 'False', reason, message, observedGeneration: gen });
      if (mr.status?.conditions?.find((c) => c.type === 'TopologyReady')?.reason !== reason) await d.events.record(mr, 'Warning', reason, message);
      await writeStatus(d, mr, { ...status, ready: false, phase: 'Failed', conditions });
      return undefined;
    };

    const secret = d.secrets.get(`${ns}/${spec.secretName}`);
    if (!secret) return fail('SecretNotFound', `spec.secretName: Secret "${spec.secretName}" not found in ${ns}`);
    const admin = { user: b64(secret.data?.['admin-username']), password: b64(secret.data?.['admin-password']) };
    const repl = { user: b64(secret.data?.['replication-username']), password: b64(secret.data?.['replication-password']) };
    if (!admin.user || !repl.user) return fail('SecretIncomplete', `spec.secretName: Secret "${spec.secretName}" needs admin-username/-password and replication-username/-password`);

    const refs: NodeRef[] = [spec.source, ...(spec.replicas ?? [])];
    const nodes = refs.map((r) => resolveNode(r, ns, d.units, 3306));
    const dup = duplicateAddress(nodes);
    if (dup) return fail('DuplicateNode', `spec.replicas: ${dup}`);
    if (allStopped(refs.map((r) => r.unit), ns, d.units)) {
      // Stopped on purpose: hold still (no failover, no fencing) until the servers start again.
      delete status.sourceUnreachableSince;
      const topology = Object.fromEntries(Object.entries(status.topology ?? {}).map(([n, t]) => [n, { ...t, ready: false }]));
      if (mr.status?.phase !== 'Stopped') await d.events.record(mr, 'Normal', 'Stopped', `all ${refs.length} servers are stopped on purpose; holding still until they start`);
      await writeStatus(d, mr, { ...status, topology, ready: false, phase: 'Stopped', conditions: stoppedConditions(conditions, refs.length, gen) });
      return undefined;
    }
    const observed = await Promise.all(nodes.map((n) => observe(n, admin.user, admin.password, sql)));
    const byName = new Map(observed.map((o) => [o.node.name, o]));
    const want = byName.get(spec.source.name) as Observed;
    const steps = new StepLog(d.events, mr);
    let requeueMs = HEALTH_INTERVAL_MS;
    let phase: Status['phase'] = 'Ready';
    const skip = mr.metadata.annotations?.[ANNOTATION_SKIP] === 'true';
    /** A switchover or failover was refused in this pass: its reason is the condition (derived again each pass). */
    let refused = false;
    // A failover request not answered yet (each id is acted on once, Done or Refused).
    const req = spec.failover?.request;
    const pending = req && status.failoverRequest?.id !== req.id && status.lastFailover?.request !== req.id ? req : undefined;

    try {
      if (!skip) {
        const writable = observed.filter((o) => o.reachable && !o.readOnly && !o.replica);
        const promotedElsewhere = writable.filter((o) => o !== want);
        if (!want.reachable && promotedElsewhere.length === 1 && mr.status?.phase === 'FailingOver') {
          // A failover promoted this node and was interrupted before it was recorded: record it now.
          const promoted = promotedElsewhere[0] as Observed;
          await recordFailover(d, mr, promoted, 'completing an interrupted failover', status, 0, pending?.candidate === promoted.node.name ? pending.id : undefined);
          return { requeueAfterMs: 0 };
        }
        // 1. Fence every writable server but the wanted source (the switchover path below fences its own).
        const switchover = want.reachable && !!want.replica;
        for (const o of promotedElsewhere) {
          if (switchover && o === currentSource(observed, want)) continue;
          await exec(o, sql.readOnly(true));
          o.readOnly = true;
          await steps.push(`fenced ${o.node.name} (read-only): only ${spec.source.name} may take writes`);
        }

        if (!want.reachable) {
          // 2. Failover.
          const r = pending ? await forcedFailOver(d, mr, observed, want, sql, status, steps, pending) : await maybeFailOver(d, mr, observed, want, sql, status, steps);
          phase = r.phase;
          requeueMs = r.requeueMs;
          if (r.done) return { requeueAfterMs: 0 };
          if (r.refused) {
            conditions = setCondition(conditions, { type: 'TopologyReady', status: 'False', ...r.refused, observedGeneration: gen });
            refused = true;
          }
        } else {
          delete status.sourceUnreachableSince;
          if (pending) await answerReachable(d, mr, want, status, pending);
          if (!want.replica) delete status.failedSwitchover;
          if (want.replica) {
            // 3. Switchover to the wanted source.
            phase = 'SwitchingOver';
            const r = await switchOver(d, mr, observed, want, sql, status, steps);
            if (!r.ok) {
              conditions = setCondition(conditions, { type: 'TopologyReady', status: 'False', reason: r.reason, message: r.message, observedGeneration: gen });
              refused = true;
              await d.events.record(mr, 'Warning', r.reason, r.message);
              requeueMs = 5000;
            }
          }
          if (!want.replica) {
            // 4. The source takes writes; everyone else follows it.
            await ensureSource(want, spec.mode === 'semisync', sql, steps);
            await ensureReplicas(mr, observed, want, sql, repl, steps);
          }
        }
      }

      // 5. Observe again for an honest status, then labels and Services.
      await closeAll(observed);
      const fresh = await Promise.all(nodes.map((n) => observe(n, admin.user, admin.password, sql)));
      const { topology, ready, roles, sourceName, replicasReady } = describe(mr, fresh);
      await closeAll(fresh);
      const freshWant = fresh.find((o) => o.node.name === spec.source.name);
      if (freshWant?.reachable && !freshWant.replica && !freshWant.readOnly) status.sourcePosition = freshWant.binlogPos;
      const changedPods = await labelPods(d.client, d.pods, ns, KIND_LABEL, mr.metadata.name ?? '', roles);
      if (changedPods.length) await steps.push(`labelled ${changedPods.join(', ')} by role`);
      const svc = await ensureRoleServices(d.client, d.services, mr, KIND_LABEL, { name: 'mysql', port: 3306 }, spec.service?.type ?? 'ClusterIP',
        (spec.replicas ?? []).some((r) => !r.isolated));
      if (phase === 'Ready' && !ready) phase = 'Degraded';
      const unreadyNodes = Object.entries(topology).filter(([, t]) => !t.ready && !t.isolated).map(([n, t]) => `${n}: ${t.lastError || t.status}`);
      if (!refused || ready) {
        conditions = setCondition(conditions, ready
          ? { type: 'TopologyReady', status: 'True', reason: 'Synced', message: `${sourceName} takes writes, ${replicasReady} replicas replicating`, observedGeneration: gen }
          : { type: 'TopologyReady', status: 'False', reason: 'NotReady', message: unreadyNodes.join('; ') || 'not ready', observedGeneration: gen });
      }
      conditions = setCondition(conditions, ready
        ? { type: 'Degraded', status: 'False', reason: 'AsExpected', message: '', observedGeneration: gen }
        : { type: 'Degraded', status: 'True', reason: 'NodesNotReady', message: unreadyNodes.join('; '), observedGeneration: gen });
      await writeStatus(d, mr, {
        ...status, ready, phase, topology, source: sourceName, replicasReady, conditions,
        readwriteService: svc.readwrite, readonlyService: svc.readonly,
      });
      ctx.log.debug({ ready, phase, steps: steps.done.length }, 'reconciled');
      // Replication health changes without any Kubernetes event: the servers are polled while this object exists
      // (reads only; status is written when something changed).
      return { requeueAfterMs: ready ? requeueMs : Math.min(requeueMs, RETRY_MS * 2) };
    } finally {
      await closeAll(observed);
    }
  };
}

/** The node currently taking writes, other than the wanted one (during a switchover). */
function currentSource(observed: Observed[], want: Observed): Observed | undefined {
  return observed.find((o) => o !== want && o.reachable && !o.replica && !o.readOnly);
}

async function ensureSource(o: Observed, semiSync: boolean, sql: DialectSql, steps: StepLog): Promise<void> {
  if (o.semiSource !== semiSync) {
    await exec(o, sql.semiSyncSource(semiSync, SEMI_SYNC_TIMEOUT_MS));
    await steps.push(`${semiSync ? 'enabled' : 'disabled'} semi-sync on source ${o.node.name}`);
  }
  if (o.semiReplica) await exec(o, sql.semiSyncReplica(false));
  if (o.readOnly) {
    await exec(o, sql.readOnly(false));
    o.readOnly = false;
    await steps.push(`opened source ${o.node.name} for writes`);
  }
}

async function ensureReplicas(mr: MysqlReplication, observed: Observed[], source: Observed, sql: DialectSql, repl: { user: string; password: string }, steps: StepLog): Promise<void> {
  const semiSync = mr.spec.mode === 'semisync';
  const last = mr.status?.lastFailover;
  for (const o of observed) {
    if (o === source || !o.reachable) continue;
    if (!o.readOnly) { await exec(o, sql.readOnly(true)); o.readOnly = true; }
    // A former source keeps semi-sync's source side on: as a replica it would then wait, forever, for an ack of
    // every transaction its SQL thread applies (nobody replicates from it), and STOP SLAVE would hang behind it.
    if (o.semiSource) {
      await exec(o, sql.semiSyncSource(false, SEMI_SYNC_TIMEOUT_MS));
      o.semiSource = false;
      await steps.push(`disabled semi-sync's source side on ${o.node.name}: it is not the source`);
    }
    if (o.node.isolated) {
      if (o.replica) {
        await exec(o, [sql.stopReplica, sql.resetReplicaAll]);
        await steps.push(`isolated ${o.node.name}: replication stopped`);
      }
      continue;
    }
    if (!o.replica && last?.from === o.node.name && (mr.spec.engine ?? 'mariadb') === 'mariadb' && divergedMariadb(o.binlogPos, last.promotedPosition ?? '')) {
      continue; // a former source with writes nobody else has: left fenced and reported (describe)
    }
    const pointsRight = o.replica && o.replica.sourceHost === source.node.host && o.replica.sourcePort === source.node.port;
    if (!pointsRight || o.semiReplica !== semiSync) {
      if (o.replica) await exec(o, [sql.stopReplica]);
      if (o.semiReplica !== semiSync) await exec(o, sql.semiSyncReplica(semiSync));
      if (!pointsRight) await exec(o, [sql.changeSource({ host: source.node.host, port: source.node.port, user: repl.user, password: repl.password })]);
      await exec(o, [sql.startReplica]);
      await steps.push(pointsRight ? `restarted replication on ${o.node.name} (semi-sync ${semiSync ? 'on' : 'off'})` : `pointed ${o.node.name} at ${source.node.name} (${source.node.host}:${source.node.port})`);
    } else if (o.replica && (o.replica.ioRunning === 'No' || o.replica.sqlRunning === 'No') && !o.replica.lastError.includes('out-of-order')) {
      await exec(o, [sql.startReplica]);
      await steps.push(`started replication on ${o.node.name}`);
    }
  }
}

type SwitchResult = { ok: true } | { ok: false; reason: string; message: string };

async function switchOver(d: Deps, mr: MysqlReplication, observed: Observed[], want: Observed, sql: DialectSql, status: Status, steps: StepLog): Promise<SwitchResult> {
  const cfg = mr.spec.switchover ?? {};
  const maxLag = cfg.maxLagSeconds ?? 60;
  const catchUp = cfg.catchUpTimeoutSeconds ?? 60;
  const rs = want.replica;
  if (!rs) return { ok: true };
  const old = currentSource(observed, want);
  // The node whose writes the candidate must have: the source taking writes, or one fenced by an interrupted pass.
  const former = old ?? observed.find((o) => o !== want && o.reachable && !o.replica && !o.node.isolated);
  const stays = old ? `the source stays ${old.node.name}` : 'it is not promoted';
  if (former && hasErrant(mr, want, former.binlogPos)) {
    return { ok: false, reason: 'SwitchoverBlocked', message: `spec.source: ${want.node.name} holds transactions ${former.node.name} never had (errant; its position ${want.binlogPos}); ${stays}` };
  }
  // After a catch-up timed out, the source is not fenced again until the candidate has applied what it missed
  // (each attempt stops writes for up to catchUpTimeoutSeconds).
  const missed = status.failedSwitchover?.to === want.node.name ? status.failedSwitchover.position : undefined;
  if (missed && Number(await scalar(want, sql.waitForGtid(missed, 1), 6000)) !== 0) {
    return { ok: false, reason: 'SwitchoverFailed', message: `spec.source: ${want.node.name} has not applied ${missed} yet (its catch-up timed out); ${stays}, the switchover is tried again once it has` };
  }
  if (old) {
    if (rs.ioRunning !== 'Yes' || rs.sqlRunning !== 'Yes' || rs.lagSeconds === null || rs.lagSeconds > maxLag) {
      return { ok: false, reason: 'SwitchoverBlocked', message: `spec.source: ${want.node.name} is not a healthy replica within ${maxLag}s of the source (IO ${rs.ioRunning}, SQL ${rs.sqlRunning}, lag ${rs.lagSeconds ?? 'unknown'}); the source stays ${old.node.name}` };
    }
    await exec(old, sql.readOnly(true));
    old.readOnly = true;
    await steps.push(`switchover ${old.node.name} -> ${want.node.name}: fenced ${old.node.name} (read-only)`, 'mysql.switchover.fenced', 'SwitchingOver');
  }
  // Everything the former source wrote (it is read-only now, so its position is final) must be applied first.
  if (former) {
    const pos = String(await scalar(former, sql.ownPosition));
    const waited = Number(await scalar(want, sql.waitForGtid(pos, catchUp), (catchUp + 5) * 1000));
    if (waited !== 0) {
      if (old) { await exec(old, sql.readOnly(false)); old.readOnly = false; }
      status.failedSwitchover = { to: want.node.name, position: pos, time: new Date().toISOString() };
      return { ok: false, reason: 'SwitchoverFailed', message: `spec.source: ${want.node.name} did not apply ${pos} within ${catchUp}s; ${old?.node.name ?? 'the former source'} takes writes again, the switchover is tried again once ${want.node.name} has applied it` };
    }
    await steps.push(`${want.node.name} caught up with ${former.node.name} at ${pos}`);
  }
  delete status.failedSwitchover;
  await promote(want, sql, mr.spec.mode === 'semisync');
  await steps.push(`promoted ${want.node.name}: it takes writes now`, 'mysql.switchover.promoted');
  return { ok: true };
}

/**
 * Whether a replica holds transactions a source at `sourcePos` never had. MariaDB: in some domain its last GTID is
 * beyond the source's or from another server (gtid_strict_mode keeps a domain's history linear); MySQL: a
 * transaction under its own server_uuid missing from the source's gtid_executed.
 */
function hasErrant(mr: MysqlReplication, o: Observed, sourcePos: string): boolean {
  return (mr.spec.engine ?? 'mariadb') === 'mariadb' ? divergedMariadb(o.binlogPos, sourcePos) : hasErrantMysql(o.binlogPos, o.serverUuid, sourcePos);
}

async function promote(o: Observed, sql: DialectSql, semiSync: boolean): Promise<void> {
  await exec(o, [sql.stopReplica, sql.resetReplicaAll]);
  if (semiSync) await exec(o, [...sql.semiSyncReplica(false), ...sql.semiSyncSource(true, SEMI_SYNC_TIMEOUT_MS)]);
  await exec(o, sql.readOnly(false));
  o.replica = undefined;
  o.readOnly = false;
  o.semiReplica = false;
  if (semiSync) o.semiSource = true;
}

interface FailoverOutcome { phase: Status['phase']; requeueMs: number; done: boolean; refused?: { reason: string; message: string } }

async function maybeFailOver(d: Deps, mr: MysqlReplication, observed: Observed[], want: Observed, sql: DialectSql, status: Status, steps: StepLog): Promise<FailoverOutcome> {
  const cfg = mr.spec.failover ?? {};
  const since = status.sourceUnreachableSince ? Date.parse(status.sourceUnreachableSince) : Date.now();
  status.sourceUnreachableSince ??= new Date(since).toISOString();
  const downFor = (Date.now() - since) / 1000;
  const downAfter = cfg.downAfterSeconds ?? 5;
  const replicas = observed.filter((o) => o !== want && o.reachable && !o.node.isolated && o.replica);
  if (cfg.enabled === false) return { phase: 'Degraded', requeueMs: RETRY_MS * 2, done: false };
  if (downFor < downAfter) return { phase: 'Degraded', requeueMs: RETRY_MS, done: false };
  // The operator alone may be cut off from a healthy source: every replica must also have lost it.
  const verdict = judgeSourceLoss(replicas.map((o) => ({ name: o.node.name, replica: o.replica as ReplicaStatus })));
  if (!verdict.gone) {
    return blocked(d, mr, 'FailoverBlocked', `${mr.spec.source.name} unreachable since ${status.sourceUnreachableSince}, but ${verdict.reason}`, RETRY_MS);
  }
  const dialect = mr.spec.engine ?? 'mariadb';
  const clean = replicas.filter((o) => (dialect === 'mariadb'
    ? !hasErrantMariadb(o.binlogPos, o.appliedPos, o.serverId)
    : !hasErrant(mr, o, status.sourcePosition ?? '')));
  const best = pickCandidate(clean.map((o) => ({ name: o.node.name, received: o.replica?.receivedGtid ?? '', applied: o.appliedPos, lagSeconds: o.replica?.lagSeconds ?? null })), dialect);
  const cand = best && clean.find((o) => o.node.name === best.name);
  if (!cand) {
    return blocked(d, mr, 'FailoverBlocked', `no replica without errant transactions to promote (${replicas.map((o) => o.node.name).join(', ')})`, RETRY_MS * 2);
  }
  const lost = ahead(progress(status.sourcePosition ?? '', dialect), progress(cand.replica?.receivedGtid || cand.appliedPos, dialect));
  if (cfg.maxLostTransactions !== undefined && lost > cfg.maxLostTransactions) {
    return blocked(d, mr, 'FailoverBlocked', `promoting ${cand.node.name} would lose ${lost} transactions (more than failover.maxLostTransactions ${cfg.maxLostTransactions})`, RETRY_MS * 2);
  }
  // Say what is about to happen before doing it: a restarted operator finishes this failover instead of fencing
  // the node it promoted.
  await writeStatus(d, mr, { ...status, phase: 'FailingOver' });
  await d.events.record(mr, 'Warning', 'FailingOver', `source ${mr.spec.source.name} unreachable for ${Math.round(downFor)}s from the operator and every replica; promoting ${cand.node.name} (${lost} transactions behind the source's last seen position)`);
  // Everything the candidate received must be applied before it takes writes, or those transactions would be lost.
  const received = cand.replica?.receivedGtid;
  if (received && Number(await scalar(cand, sql.waitForGtid(received, RELAY_APPLY_TIMEOUT_S), (RELAY_APPLY_TIMEOUT_S + 5) * 1000)) !== 0) {
    return blocked(d, mr, 'FailoverBlocked', `${cand.node.name} did not apply what it received (${received}) within ${RELAY_APPLY_TIMEOUT_S}s (SQL thread ${cand.replica?.sqlRunning}); not promoted`, RETRY_MS * 2);
  }
  await promote(cand, sql, mr.spec.mode === 'semisync');
  await steps.push(`promoted ${cand.node.name} after the loss of ${mr.spec.source.name}`, 'mysql.failover.promoted');
  await recordFailover(d, mr, cand, `source ${mr.spec.source.name} unreachable`, status, lost);
  return { phase: 'FailingOver', requeueMs: 0, done: true };
}

/** The request's answer, kept in status so the id is never acted on again. */
function answer(status: Status, req: FailoverRequest, outcome: 'Done' | 'Refused', message: string): void {
  status.failoverRequest = { id: req.id, outcome, message, time: new Date().toISOString() };
}

/** A failover request while the wanted source answers: done when its candidate is that source, else refused. */
async function answerReachable(d: Deps, mr: MysqlReplication, want: Observed, status: Status, req: FailoverRequest): Promise<void> {
  if (req.candidate === want.node.name && !want.replica) {
    answer(status, req, 'Done', `${want.node.name} is the source already`);
    return;
  }
  const message = want.replica
    ? `spec.failover.request: a switchover to ${want.node.name} is under way; not failed over`
    : `spec.failover.request: the source ${want.node.name} is reachable and takes writes: a failover is only for a source that is down (to move the writes, name another source in spec.source: a switchover)`;
  answer(status, req, 'Refused', message);
  await d.events.record(mr, 'Warning', 'FailoverRefused', message);
}

/**
 * A failover asked for by name (spec.failover.request) while the source is unreachable from the operator: no wait
 * for downAfterSeconds nor for the replicas' verdict (whoever asked has decided the source is gone), but the same
 * guards on the candidate as an automatic failover (a reachable replica without errant transactions, its relay log
 * applied first) and the same record. A candidate that cannot be promoted refuses the request for good.
 */
async function forcedFailOver(d: Deps, mr: MysqlReplication, observed: Observed[], want: Observed, sql: DialectSql, status: Status, steps: StepLog, req: FailoverRequest): Promise<FailoverOutcome> {
  status.sourceUnreachableSince ??= new Date().toISOString();
  const refuse = async (message: string): Promise<FailoverOutcome> => {
    answer(status, req, 'Refused', message);
    await d.events.record(mr, 'Warning', 'FailoverRefused', message);
    return { phase: 'Degraded', requeueMs: RETRY_MS, done: false, refused: { reason: 'FailoverRefused', message } };
  };
  const field = 'spec.failover.request.candidate';
  const cand = observed.find((o) => o !== want && o.node.name === req.candidate);
  if (!cand) return refuse(`${field}: ${req.candidate} is not a replica of ${mr.metadata.name ?? ''}`);
  if (cand.node.isolated) return refuse(`${field}: ${req.candidate} is isolated`);
  if (!cand.reachable) return refuse(`${field}: ${req.candidate} is unreachable too (${cand.error ?? 'no answer'})`);
  if (!cand.replica) return refuse(`${field}: ${req.candidate} is not a replica`);
  const dialect = mr.spec.engine ?? 'mariadb';
  const errant = dialect === 'mariadb' ? hasErrantMariadb(cand.binlogPos, cand.appliedPos, cand.serverId) : hasErrant(mr, cand, status.sourcePosition ?? '');
  if (errant) return refuse(`${field}: ${req.candidate} holds transactions the source never had (its position ${cand.binlogPos})`);
  const lost = ahead(progress(status.sourcePosition ?? '', dialect), progress(cand.replica.receivedGtid || cand.appliedPos, dialect));
  await writeStatus(d, mr, { ...status, phase: 'FailingOver' });
  await d.events.record(mr, 'Warning', 'FailingOver', `failover requested (${req.id}): source ${mr.spec.source.name} unreachable; promoting ${cand.node.name} (${lost} transactions behind the source's last seen position)`);
  const received = cand.replica.receivedGtid;
  if (received && Number(await scalar(cand, sql.waitForGtid(received, RELAY_APPLY_TIMEOUT_S), (RELAY_APPLY_TIMEOUT_S + 5) * 1000)) !== 0) {
    return blocked(d, mr, 'FailoverBlocked', `${cand.node.name} did not apply what it received (${received}) within ${RELAY_APPLY_TIMEOUT_S}s (SQL thread ${cand.replica.sqlRunning}); not promoted yet`, RETRY_MS * 2);
  }
  await promote(cand, sql, mr.spec.mode === 'semisync');
  await steps.push(`promoted ${cand.node.name} as requested (${req.id}) after the loss of ${mr.spec.source.name}`, 'mysql.failover.promoted');
  await recordFailover(d, mr, cand, `failover requested (${req.id}): source ${mr.spec.source.name} unreachable`, status, lost, req.id);
  return { phase: 'FailingOver', requeueMs: 0, done: true };
}

/** A failover not taken: the event once, the reason for the TopologyReady condition. */
async function blocked(d: Deps, mr: MysqlReplication, reason: string, message: string, requeueMs: number): Promise<FailoverOutcome> {
  const prev = mr.status?.conditions?.find((c) => c.type === 'TopologyReady');
  if (prev?.reason !== reason || prev.message !== message) await d.events.record(mr, 'Warning', reason, message);
  return { phase: 'Degraded', requeueMs, done: false, refused: { reason, message } };
}

/** Makes the promoted node the spec's source and the former source a replica; records what happened. */
async function recordFailover(d: Deps, mr: MysqlReplication, promoted: Observed, reason: string, status: Status, lost = 0, request?: string): Promise<void> {
  const spec = mr.spec;
  const newSourceRef = (spec.replicas ?? []).find((r) => r.name === promoted.node.name);
  if (!newSourceRef) return;
  const { isolated: _i, ...sourceRef } = newSourceRef;
  const replicas = [...(spec.replicas ?? []).filter((r) => r.name !== promoted.node.name), { ...spec.source }];
  const sql = dialectFor(spec.engine ?? 'mariadb');
  const promotedPosition = String(await scalar(promoted, sql.ownPosition).catch(() => promoted.binlogPos));
  const time = new Date().toISOString();
  const lastFailover = { time, from: spec.source.name, to: promoted.node.name, reason, lostTransactions: lost, promotedPosition, ...(request ? { request } : {}) };
  const updated = await d.client.patch<MysqlReplication>(MysqlReplicationResource, mr.metadata.name ?? '', { spec: { source: sourceRef, replicas } }, 'merge', { namespace: mr.metadata.namespace });
  const { sourceUnreachableSince: _s, ...rest } = status;
  const answered = request ? { failoverRequest: { id: request, outcome: 'Done' as const, message: `${promoted.node.name} promoted (was ${spec.source.name})`, time } } : {};
  await writeStatus(d, updated, { ...rest, phase: 'Ready', lastFailover, ...answered });
  await d.events.record(mr, 'Warning', 'FailedOver', `${promoted.node.name} is the source now (was ${spec.source.name}); ${lost} transactions of the old source's last seen position were not on it`);
}

function describe(mr: MysqlReplication, observed: Observed[]) {
  const topology: Topology = {};
  const roles = new Map<string, Role>();
  const want = observed.find((o) => o.node.name === mr.spec.source.name);
  // The node taking writes: the wanted source, or, while a switchover to it is pending or refused, the one that
  // still does (it keeps the source's label, so the readwrite Service still reaches it).
  const acting = want && !want.replica && !want.readOnly ? want : want?.reachable && want.replica ? currentSource(observed, want) : undefined;
  const follows = (o: Observed, src: Observed | undefined) => !!o.replica && !!src && o.replica.sourceHost === src.node.host && o.replica.sourcePort === src.node.port
    && o.readOnly && o.replica.ioRunning === 'Yes' && o.replica.sqlRunning === 'Yes';
  const last = mr.status?.lastFailover;
  let replicasReady = 0;
  let replicasWanted = 0;
  let ready = !!want?.reachable && !want.replica && !want.readOnly;
  for (const o of observed) {
    const isSource = o === want;
    const role = !o.reachable ? 'None' : o.replica ? 'Replica' : !o.readOnly ? 'Source' : 'None';
    const diverged = !isSource && !o.replica && o.reachable && last?.from === o.node.name && (mr.spec.engine ?? 'mariadb') === 'mariadb' && divergedMariadb(o.binlogPos, last.promotedPosition ?? '');
    const nodeReady = isSource
      ? role === 'Source'
      : o.node.isolated ? o.reachable && o.readOnly : follows(o, want);
    if (!isSource && !o.node.isolated) {
      replicasWanted++;
      if (nodeReady) replicasReady++;
      else ready = false;
    }
    topology[o.node.name] = {
      host: o.node.host, port: o.node.port, role, status: o.reachable ? 'Healthy' : 'Failed', ready: !!nodeReady, readOnly: o.readOnly,
      ...(o.node.isolated || diverged ? { isolated: true } : {}),
      ...(o.replica ? { sourceHost: `${o.replica.sourceHost}:${o.replica.sourcePort}`, ioThread: o.replica.ioRunning, sqlThread: o.replica.sqlRunning, ...(o.replica.lagSeconds !== null ? { lagSeconds: o.replica.lagSeconds } : {}) } : {}),
      gtidPosition: o.currentPos || o.binlogPos,
      semiSync: isSource ? o.semiSource : o.semiReplica,
      lastError: !o.reachable ? o.error ?? 'unreachable' : diverged ? `diverged: holds transactions beyond ${last?.promotedPosition} that the new source never had; rebuild it` : o.replica?.lastError ?? '',
    };
    if (o.node.unit) roles.set(o.node.unit, o === acting ? 'source' : !o.node.isolated && follows(o, acting) ? 'replica' : 'none');
  }
  return { topology, ready, roles, sourceName: acting?.node.name ?? '', replicasReady: `${replicasReady}/${replicasWanted}` };
}

/** Writes what changed against the latest copy this controller knows (a pass may write status more than once). */
async function writeStatus(d: Deps, mr: MysqlReplication, status: Status): Promise<void> {
  const latest = d.cache.get(`${mr.metadata.namespace}/${mr.metadata.name}`) ?? mr;
  d.cache.mutated(await patchStatus(d.client, MysqlReplicationResource, latest, status));
}
