// UnitSet controller: resolves the engine template, keeps the credentials Secret, Services, per-unit config and the
// Units in step with the UnitSet, and rolls changes out. Level-based: each pass reads the cache, does the next
// safe step(s), records status, and is re-triggered by the events its own writes cause.
//   scale out : create missing ordinals (at the update revision)
//   scale in  : delete the highest surplus ordinal, wait until it is gone (foreground), then the next
//   rollout   : highest outdated ordinal >= partition first, while fewer than maxUnavailable units are unavailable;
//               a unit counts as done when its spec carries the update revision, so a restart never repeats one
//   stop/start: spec.stopped sets every unit's spec.startup (the engines stop in place; no new revision)
//   restart   : spec.restart restarts each unit's engine once, one at a time, in the order asked (restart-plan.ts)
import { randomBytes } from 'node:crypto';
import type { EngineTemplate, Unit, UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import { setCondition, type Condition } from '../../lib/conditions.ts';
import type { ReconcileContext, ReconcileResult } from '../../lib/controller.ts';
import type { EventRecorder } from '../../lib/events.ts';
import type { Store } from '../../lib/informer.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { isAlreadyExists, isNotFound } from '../../lib/kube/errors.ts';
import { Resources } from '../../lib/kube/resources.ts';
import { splitKey, type KubeObject } from '../../lib/kube/types.ts';
import { AGENT_TOKEN_KEY, AGENT_TOKEN_SECRET, type ConfigInput } from '../../agent/api.ts';
import { validateParameters } from '../../lib/paramcheck.ts';
import { needsTransportCerts, TRANSPORT_KEYS, transportCredentials } from '../../lib/transportcerts.ts';
import { WriteExpectations } from './expectations.ts';
import {
  ANNOTATION_CONFIG_BASE, ANNOTATION_CONFIG_HASH, ANNOTATION_MAINTENANCE, ANNOTATION_STOPPED_BY_UNITSET, ANNOTATION_UPDATE_NEXT, CONFIG_INPUT_KEY, LABEL_UNIT, LABEL_UNITSET, configMapName, credentialsSecretName, headlessServiceName, ordinalOf, templateName, unitName,
} from './naming.ts';
import { planRestart, type RestartStatus } from './restart-plan.ts';
import { claimTemplates, desiredUnit, ownerRef, servicePorts, unitConfig, updateRevision, type UnitConfig } from './unitset-build.ts';

type ConfigMap = KubeObject & { data?: Record<string, string> };
type Service = KubeObject & { spec?: { type?: string; ports?: unknown[] } };
type Pvc = KubeObject;

export interface UnitSetControllerDeps {
  client: KubeClient;
  events: EventRecorder;
  unitSets: Store<UnitSet>;
  units: Store<Unit>;
  templates: Store<EngineTemplate>;
  configMaps: Store<ConfigMap>;
  services: Store<Service>;
  secrets: Store<KubeObject>;
  /** The namespaces' agent key Secrets. */
  agentTokens: Store<KubeObject>;
  pvcs: Store<Pvc>;
}

export const isUnitAvailable = (u: Unit): boolean =>
  !u.metadata.deletionTimestamp && u.status?.ready === true && u.status.podRevision === u.spec.revision
  && (u.status.configRevision ?? '') === (u.spec.configRevision ?? '');

/** A unit whose engine reports stopped, as the UnitSet asked (its pod at its revision). */
export const isUnitStopped = (u: Unit): boolean =>
  !u.metadata.deletionTimestamp && u.spec.startup === false && u.status?.phase === 'Stopped' && u.status.podRevision === u.spec.revision;

export function unitSetReconciler(d: UnitSetControllerDeps) {
  // The Unit writes of this process that the unit cache may not show yet (see expectations.ts).
  const expectations = new WriteExpectations();
  return async function reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    const us = d.unitSets.get(key);
    if (!us || us.metadata.deletionTimestamp) return; // owned objects go with it (garbage collector)
    const { namespace, name } = splitKey(key) as { namespace: string; name: string };
    const generation = us.metadata.generation;
    const desired = us.spec.units ?? 1;
    const tplName = templateName(us.spec.engine, us.spec.version);
    const tpl = d.templates.get(tplName);
    const units = d.units.list().filter((u) => u.metadata.namespace === namespace && u.metadata.labels?.[LABEL_UNITSET] === name && u.metadata.ownerReferences?.some((o) => o.uid === us.metadata.uid));
    expectations.forgetMissing(namespace, (k) => !!d.units.get(k));
    // Units whose cached copy is older than this controller's last write to them: in flux, neither counted as
    // available nor written again until the cache shows the write.
    const inFlux = new Set(units.filter((u) => !expectations.caughtUp(u)).map((u) => u.metadata.name ?? ''));
    const settled = (u: Unit) => !inFlux.has(u.metadata.name ?? '');
    let conditions = us.status?.conditions as Condition[] | undefined;

    const fail = async (reason: string, message: string) => {
      conditions = setCondition(conditions, { type: 'Ready', status: 'False', reason, message, observedGeneration: generation });
      conditions = setCondition(conditions, { type: 'Degraded', status: 'True', reason, message, observedGeneration: generation });
      if (us.status?.conditions?.find((c) => c.type === 'Degraded')?.reason !== reason) await d.events.record(us, 'Warning', reason, message);
      await writeStatus(d, us, { phase: 'Failed', conditions, observedGeneration: generation, ...counts(units, desired, undefined), selector: `${LABEL_UNITSET}=${name}` });
    };
    if (!tpl) return fail('TemplateNotFound', `no EngineTemplate "${tplName}" for engine ${us.spec.engine} version ${us.spec.version}`);
    const paramErrors = validateParameters(tpl.spec.engine, tpl.spec.parameters, us.spec.parameters);
    if (paramErrors.length) return fail('InvalidParameters', paramErrors.map((e) => `${e.field}: ${e.message}`).join('; '));

    const revision = updateRevision(us, tpl);
    if (us.spec.paused) {
      conditions = setCondition(conditions, { type: 'Progressing', status: 'False', reason: 'Paused', message: 'the UnitSet is paused', observedGeneration: generation });
      return writeStatus(d, us, { phase: 'Paused', conditions, observedGeneration: generation, updateRevision: revision, ...counts(units, desired, revision), selector: `${LABEL_UNITSET}=${name}` });
    }

    const secretName = await ensureCredentials(d, us, tpl);
    await ensureAgentToken(d, namespace);
    await ensureServices(d, us, tpl);

    // Each unit's config; a unit's ConfigMap is written when the unit may take the change (below).
    const configs = new Map<number, UnitConfig | undefined>();
    for (let o = 0; o < desired; o++) configs.set(o, unitConfig(us, tpl, o));
    const hashOf = (o: number) => configs.get(o)?.hash ?? '';

    // Scale out: every missing ordinal.
    const byOrdinal = new Map(units.map((u) => [ordinalOf(u), u]));
    const createdNames: string[] = [];
    for (let o = 0; o < desired; o++) {
      if (byOrdinal.has(o)) continue;
      await writeUnitConfig(d, us, o, configs.get(o));
      const unit = desiredUnit(us, tpl, o, revision, hashOf(o));
      try {
        byOrdinal.set(o, await d.client.create<Unit>(UnitResource, unit));
        createdNames.push(unit.metadata.name ?? '');
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
    }
    if (createdNames.length) await d.events.record(us, 'Normal', 'CreatedUnits', `created ${createdNames.length > 1 ? 'units' : 'unit'} ${createdNames.join(', ')}`);

    // Scale in: highest surplus ordinal first, one at a time (foreground, so its pod is gone before the next).
    const surplus = units.filter((u) => ordinalOf(u) >= desired).sort((a, b) => ordinalOf(b) - ordinalOf(a));
    if (surplus.length && !surplus.some((u) => u.metadata.deletionTimestamp || !settled(u))) {
      const victim = surplus[0] as Unit;
      await d.client.delete(UnitResource, victim.metadata.name ?? '', namespace, { propagationPolicy: 'Foreground' }).catch((e: unknown) => { if (!isNotFound(e)) throw e; });
      expectations.deleted(victim);
      await d.events.record(us, 'Normal', 'DeletedUnit', `deleted unit ${victim.metadata.name} (scale in to ${desired})`);
    }
    await cleanupScaledClaims(d, us, desired, units);

    // Storage expansion goes to every unit at once, outside the rollout: it restarts nothing.
    const live = [...byOrdinal.values()].filter((u) => ordinalOf(u) < desired);
    const claims = claimTemplates(us);
    for (const u of live.filter(settled)) {
      if (JSON.stringify(u.spec.volumeClaimTemplates ?? []) === JSON.stringify(claims)) continue;
      expectations.written(await d.client.patch<Unit>(UnitResource, u.metadata.name ?? '', { spec: { volumeClaimTemplates: claims } }, 'merge', { namespace }));
    }

    // Stop and start: every unit's engine follows spec.stopped. Only units this UnitSet stopped are started again (a
    // unit a user stopped by its own spec.startup stays stopped); neither is a new revision, so no pod is replaced.
    const stopped = us.spec.stopped === true;
    const toggled: string[] = [];
    for (const u of live.filter(settled)) {
      const byUs = u.metadata.annotations?.[ANNOTATION_STOPPED_BY_UNITSET] === 'true';
      let patch: Record<string, unknown> | undefined;
      if (stopped && u.spec.startup !== false) patch = { metadata: { annotations: { [ANNOTATION_STOPPED_BY_UNITSET]: 'true' } }, spec: { startup: false } };
      else if (!stopped && byUs) patch = { metadata: { annotations: { [ANNOTATION_STOPPED_BY_UNITSET]: null } }, spec: { startup: true } };
      if (!patch) continue;
      expectations.written(await d.client.patch<Unit>(UnitResource, u.metadata.name ?? '', patch, 'merge', { namespace }));
      toggled.push(u.metadata.name ?? '');
    }
    if (toggled.length) await d.events.record(us, 'Normal', stopped ? 'StoppingUnits' : 'StartingUnits', `${stopped ? 'stopping' : 'starting'} the engines of ${toggled.join(', ')} (spec.stopped: ${stopped})`);
    // While stopped, a unit whose engine is stopped at its revision is as good as a Ready one: a rollout goes on.
    const available = (u: Unit) => isUnitAvailable(u) || (stopped && isUnitStopped(u));

    // Config changes: those the engine applies live go to every unit at once (the agents apply them without a
    // restart); the others need the engine restarted, so they roll out like a new revision, unit by unit.
    const needsRestart = new Set<string>();
    const liveChanged: string[] = [];
    for (const u of live.filter(settled)) {
      const cfg = configs.get(ordinalOf(u));
      if (!cfg || u.spec.revision !== revision) continue; // an outdated unit takes its config with its update
      const cm = d.configMaps.get(`${namespace}/${configMapName(u.metadata.name ?? '')}`);
      if (u.spec.configRevision === cfg.hash) {
        if (!cm) await writeUnitConfig(d, us, ordinalOf(u), cfg); // deleted by someone: put it back
        continue;
      }
      if (!appliesLive(cm, u, cfg, tpl)) { needsRestart.add(u.metadata.name ?? ''); continue; }
      await writeUnitConfig(d, us, ordinalOf(u), cfg);
      expectations.written(await d.client.patch<Unit>(UnitResource, u.metadata.name ?? '', { spec: { configRevision: cfg.hash } }, 'merge', { namespace }));
      liveChanged.push(u.metadata.name ?? '');
    }
    if (liveChanged.length) await d.events.record(us, 'Normal', 'ReconfiguringLive', `applying a dynamic config change to ${liveChanged.join(', ')} without restarts`);

    // Rollout.
    const updating: string[] = [];
    const strategy = us.spec.updateStrategy ?? {};
    const outdated = live.filter((u) => settled(u) && (u.spec.revision !== revision || needsRestart.has(u.metadata.name ?? ''))).sort((a, b) => ordinalOf(b) - ordinalOf(a));
    const update = async (u: Unit) => expectations.written(await updateUnit(d, us, tpl, u, revision, configs.get(ordinalOf(u))));
    if (strategy.type === 'OnDelete') {
      for (const u of outdated) await update(u);
    } else if (strategy.type === 'Managed') {
      // Another controller chooses the order and owns the safety of each step: only the units it names move.
      const next = new Set((us.metadata.annotations?.[ANNOTATION_UPDATE_NEXT] ?? '').split(',').map((n) => n.trim()).filter(Boolean));
      for (const u of outdated) {
        if (!next.has(u.metadata.name ?? '')) continue;
        await update(u);
        await d.events.record(us, 'Normal', 'UpdatingUnit', `updating unit ${u.metadata.name} (named by ${ANNOTATION_UPDATE_NEXT})`);
        updating.push(u.metadata.name ?? '');
      }
    } else {
      const partition = strategy.rollingUpdate?.partition ?? 0;
      const maxUnavailable = strategy.rollingUpdate?.maxUnavailable ?? 1;
      let taken = unavailableUnits(desired, live, settled, available);
      for (const u of outdated) {
        if (ordinalOf(u) < partition) continue;
        if (taken >= maxUnavailable) break;
        await update(u);
        await d.events.record(us, 'Normal', 'UpdatingUnit', u.spec.revision !== revision
          ? `updating unit ${u.metadata.name} to revision ${revision}`
          : `restarting unit ${u.metadata.name}'s engine for config ${hashOf(ordinalOf(u))} (a setting that needs a restart changed)`);
        updating.push(u.metadata.name ?? '');
        if (available(u)) taken++;
      }
    }
    for (const u of live) {
      const inUpdate = !settled(u) || (u.spec.revision === revision && !needsRestart.has(u.metadata.name ?? '') && !available(u));
      if (inUpdate && !updating.includes(u.metadata.name ?? '')) updating.push(u.metadata.name ?? '');
    }

    // Rolling restart (spec.restart): after the rollout, so that this pass's updates count against maxUnavailable.
    let restart = us.status?.restart as RestartStatus | undefined;
    if (us.spec.restart) {
      // A unit stopped by its own spec.startup (not by this UnitSet) has no engine to restart, and is down on purpose.
      const stoppedAlone = (u: Unit) => u.spec.startup === false && u.metadata.annotations?.[ANNOTATION_STOPPED_BY_UNITSET] !== 'true';
      const justUpdated = updating.filter((n) => live.some((u) => u.metadata.name === n && settled(u) && isUnitAvailable(u))).length;
      const plan = planRestart(us.spec.restart, restart, live.filter((u) => !u.metadata.deletionTimestamp).map((u) => ({
        name: u.metadata.name ?? '', ordinal: ordinalOf(u), requested: u.spec.restartId ?? '', restarted: u.status?.lastRestartId ?? '',
        available: isUnitAvailable(u), inFlux: !settled(u), maintenance: u.metadata.annotations?.[ANNOTATION_MAINTENANCE] === 'true', stopped: stoppedAlone(u),
      })), {
        stopped, maxUnavailable: strategy.rollingUpdate?.maxUnavailable ?? 1,
        unavailable: unavailableUnits(desired, live, settled, (u) => isUnitAvailable(u) || stoppedAlone(u)) + justUpdated,
      });
      const ask = plan.ask ? live.find((u) => u.metadata.name === plan.ask) : undefined;
      if (ask) {
        expectations.written(await d.client.patch<Unit>(UnitResource, plan.ask ?? '', { spec: { restartId: us.spec.restart.id } }, 'merge', { namespace }));
        await d.events.record(us, 'Normal', 'RestartingUnit', `restarting unit ${plan.ask}'s engine (restart ${us.spec.restart.id}, ${plan.status.done?.length ?? 0} of ${us.spec.restart.units?.length ?? live.length} done)`);
      }
      if (plan.status.phase !== restart?.phase || plan.status.id !== restart?.id) {
        if (plan.status.phase === 'Complete') await d.events.record(us, 'Normal', 'Restarted', `restart ${plan.status.id}: ${plan.status.message}`);
        if (plan.status.phase === 'Invalid') await d.events.record(us, 'Warning', 'InvalidRestart', plan.status.message ?? '');
      }
      restart = plan.status;
    }

    // Status.
    const c = counts([...byOrdinal.values()], desired, revision, needsRestart);
    const done = c.units === desired && c.readyUnits === desired && c.updatedUnits === desired;
    const partitioned = (strategy.rollingUpdate?.partition ?? 0) > 0 && c.readyUnits === desired && c.units === desired;
    const allStopped = c.units === desired && c.stoppedUnits === desired;
    const rolledOut = c.units === desired && c.updatedUnits === desired;
    conditions = setCondition(conditions, { type: 'Degraded', status: 'False', reason: 'AsExpected', message: '', observedGeneration: generation });
    if (stopped) {
      conditions = setCondition(conditions, { type: 'Ready', status: 'False', reason: allStopped ? 'Stopped' : 'Stopping', message: `${c.stoppedUnits}/${desired} engines stopped (spec.stopped)`, observedGeneration: generation });
      conditions = setCondition(conditions, allStopped && rolledOut
        ? { type: 'Progressing', status: 'False', reason: 'Stopped', message: `every engine is stopped; revision ${revision}`, observedGeneration: generation }
        : { type: 'Progressing', status: 'True', reason: allStopped ? 'Updating' : 'Stopping', message: `${c.stoppedUnits}/${desired} engines stopped, ${c.updatedUnits} at revision ${revision}`, observedGeneration: generation });
      if (allStopped && us.status?.phase !== 'Stopped') await d.events.record(us, 'Normal', 'Stopped', `the engines of all ${desired} units are stopped`);
    } else {
      conditions = setCondition(conditions, done || partitioned
        ? { type: 'Ready', status: 'True', reason: 'AllUnitsReady', message: `${c.readyUnits}/${desired} units ready`, observedGeneration: generation }
        : { type: 'Ready', status: 'False', reason: 'UnitsNotReady', message: `${c.readyUnits}/${desired} units ready, ${c.updatedUnits} updated`, observedGeneration: generation });
      const restarting = restart?.id === us.spec.restart?.id && (restart?.phase === 'Restarting' || restart?.phase === 'Waiting');
      conditions = setCondition(conditions, done || partitioned
        ? restarting
          ? { type: 'Progressing', status: 'True', reason: 'Restarting', message: restart?.message ?? '', observedGeneration: generation }
          : { type: 'Progressing', status: 'False', reason: 'Complete', message: `revision ${revision} rolled out`, observedGeneration: generation }
        : { type: 'Progressing', status: 'True', reason: c.units !== desired ? 'Scaling' : 'Updating', message: `${c.units}/${desired} units, ${c.updatedUnits} at revision ${revision}`, observedGeneration: generation });
      if ((done || partitioned) && us.status?.phase !== 'Ready') await d.events.record(us, 'Normal', 'Ready', `${desired} units ready at revision ${revision}`);
    }
    const phase = stopped ? (allStopped ? 'Stopped' : 'Stopping') : done || partitioned ? 'Ready' : 'Progressing';
    await writeStatus(d, us, {
      ...c, phase, conditions, observedGeneration: generation, selector: `${LABEL_UNITSET}=${name}`, ...(restart ? { restart } : {}),
      updateRevision: revision, currentRevision: done ? revision : us.status?.currentRevision ?? revision, updating: updating.sort(), credentialsSecret: secretName,
      outdated: outdated.filter((u) => !updating.includes(u.metadata.name ?? '')).map((u) => u.metadata.name ?? '').sort((a, b) => a.localeCompare(b, 'en', { numeric: true })),
    });
    ctx.log.debug({ units: c.units, ready: c.readyUnits, updated: c.updatedUnits }, 'reconciled');
  };
}

/**
 * The units that count against maxUnavailable: every ordinal below `desired` without a unit (not created yet, or
 * created and not in the cache yet), not available, or in flux after a write of ours the cache does not show.
 */
export function unavailableUnits(desired: number, live: Unit[], settled: (u: Unit) => boolean, available: (u: Unit) => boolean = isUnitAvailable): number {
  return desired - live.filter((u) => ordinalOf(u) < desired && settled(u) && available(u)).length;
}

function counts(units: Unit[], desired: number, revision: string | undefined, needsRestart = new Set<string>()) {
  const present = units.filter((u) => ordinalOf(u) < desired && !u.metadata.deletionTimestamp);
  const readyUnits = present.filter((u) => u.status?.ready && (u.status.configRevision ?? '') === (u.spec.configRevision ?? '')).length;
  const updatedUnits = revision ? present.filter((u) => u.spec.revision === revision && !needsRestart.has(u.metadata.name ?? '')).length : 0;
  const stoppedUnits = present.filter(isUnitStopped).length;
  return { units: units.filter((u) => !u.metadata.deletionTimestamp).length, readyUnits, updatedUnits, stoppedUnits, ready: `${readyUnits}/${desired}` };
}

/** Patches status only when it changed, so a settled UnitSet causes no writes. */
async function writeStatus(d: UnitSetControllerDeps, us: UnitSet, status: NonNullable<UnitSet['status']>): Promise<void> {
  const next = { ...(us.status ?? {}), ...status };
  if (JSON.stringify(next) === JSON.stringify(us.status ?? {})) return;
  await d.client.patch(UnitSetResource, us.metadata.name ?? '', { status: next }, 'merge', { namespace: us.metadata.namespace, subresource: 'status' });
}

const keepsData = (us: UnitSet) => us.spec.pvcRetentionPolicy?.whenDeleted === 'Retain';

/**
 * The UnitSet's `upm.io/` labels (the hub's service, kind and project), also on its credentials Secret: the hub finds
 * the Secrets of its services by them, and reads no other.
 */
export const credentialsLabels = (us: KubeObject): Record<string, string> =>
  Object.fromEntries(Object.entries(us.metadata.labels ?? {}).filter(([k]) => k.startsWith('upm.io/')));

async function ensureCredentials(d: UnitSetControllerDeps, us: UnitSet, tpl: EngineTemplate): Promise<string> {
  const name = credentialsSecretName(us.metadata.name ?? '');
  const ns = us.metadata.namespace ?? '';
  const existing = d.secrets.get(`${ns}/${name}`) as (KubeObject & { data?: Record<string, string> }) | undefined;
  const want: Record<string, string> = {};
  for (const u of tpl.spec.users ?? []) {
    want[`${u.role}-username`] = Buffer.from(u.username).toString('base64');
    want[`${u.role}-password`] = randomBytes(18).toString('base64url');
  }
  // Transport TLS material, all or nothing (one CA for every node of the UnitSet); generated only when missing.
  const transport = Object.values(TRANSPORT_KEYS);
  if (needsTransportCerts(tpl.spec.engine) && transport.every((k) => !existing?.data?.[k])) {
    for (const [k, v] of Object.entries(await transportCredentials(tpl.spec.engine))) want[k] = Buffer.from(v).toString('base64');
  }
  if (!existing) {
    const data = Object.fromEntries(Object.entries(want).map(([k, v]) => [k, k.endsWith('-password') ? Buffer.from(v).toString('base64') : v]));
    try {
      await d.client.create(Resources.secrets, {
        apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
        // With whenDeleted Retain the data outlives the UnitSet, and so do the accounts that open it.
        metadata: { name, namespace: ns, labels: { ...credentialsLabels(us), [LABEL_UNITSET]: us.metadata.name ?? '' }, ...(keepsData(us) ? {} : { ownerReferences: [ownerRef(us)] }) },
        data,
      } as KubeObject);
    } catch (err) {
      if (isAlreadyExists(err)) return name; // created by an earlier pass the cache has not shown yet
      throw err;
    }
    await d.events.record(us, 'Normal', 'CreatedCredentials', `created Secret ${name} with engine accounts (${(tpl.spec.users ?? []).map((u) => u.role).join(', ')})`);
    return name;
  }
  // whenDeleted turned to Retain after the Secret was made: it is released from the UnitSet too.
  if (keepsData(us) && existing.metadata.ownerReferences?.some((o) => o.uid === us.metadata.uid)) {
    const rest = existing.metadata.ownerReferences.filter((o) => o.uid !== us.metadata.uid);
    await d.client.patch(Resources.secrets, name, { metadata: { ownerReferences: rest.length ? rest : null } }, 'merge', { namespace: ns });
  }
  // The service labels reach a Secret made before they were given.
  const labels = credentialsLabels(us);
  if (Object.entries(labels).some(([k, v]) => existing.metadata.labels?.[k] !== v)) {
    await d.client.patch(Resources.secrets, name, { metadata: { labels } }, 'merge', { namespace: ns });
  }
  // A new template version may add accounts; existing passwords are never rotated here.
  const missing = Object.keys(want).filter((k) => !existing.data?.[k]);
  if (missing.length) {
    const add = Object.fromEntries(missing.map((k) => [k, k.endsWith('-password') ? Buffer.from(want[k] as string).toString('base64') : want[k]]));
    await d.client.patch(Resources.secrets, name, { data: add }, 'merge', { namespace: ns });
  }
  return name;
}

async function ensureServices(d: UnitSetControllerDeps, us: UnitSet, tpl: EngineTemplate): Promise<void> {
  const name = us.metadata.name ?? '';
  const ns = us.metadata.namespace ?? '';
  const ports = servicePorts(tpl);
  const labels = { [LABEL_UNITSET]: name, 'app.kubernetes.io/managed-by': 'upm' };
  const want: KubeObject[] = [{
    apiVersion: 'v1', kind: 'Service',
    metadata: { name: headlessServiceName(name), namespace: ns, labels, ownerReferences: [ownerRef(us)] },
    spec: { clusterIP: 'None', publishNotReadyAddresses: true, selector: { [LABEL_UNITSET]: name }, ports },
  } as KubeObject];
  const type = us.spec.unitService?.type ?? 'ClusterIP';
  for (let o = 0; o < (us.spec.units ?? 1); o++) {
    const unit = unitName(name, o);
    want.push({
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: unit, namespace: ns, labels: { ...labels, 'unit.upm.io/unit': unit }, ownerReferences: [ownerRef(us)] },
      spec: { type, selector: { 'unit.upm.io/unit': unit }, ports },
    } as KubeObject);
  }
  for (const svc of want) {
    const cur = d.services.get(`${ns}/${svc.metadata.name}`);
    const spec = (svc as Service).spec ?? {};
    if (!cur) {
      await d.client.create(Resources.services, svc).catch((e: unknown) => { if (!isAlreadyExists(e)) throw e; });
    } else if (JSON.stringify(cur.spec?.ports ? (cur.spec.ports as { name: string; port: number }[]).map((p) => [p.name, p.port]) : []) !== JSON.stringify(ports.map((p) => [p.name, p.port]))
      || (spec.type && cur.spec?.type !== spec.type)) {
      await d.client.patch(Resources.services, svc.metadata.name ?? '', { spec: { ports, ...(spec.type ? { type: spec.type } : {}) } }, 'merge', { namespace: ns });
    }
  }
  // Per-unit Services and configs of ordinals scaled away.
  for (const cm of d.configMaps.list()) {
    const unit = cm.metadata.labels?.['unit.upm.io/unit'];
    if (cm.metadata.namespace !== ns || cm.metadata.labels?.[LABEL_UNITSET] !== name || !unit) continue;
    if (Number(unit.slice(name.length + 1)) >= (us.spec.units ?? 1)) await d.client.delete(Resources.configMaps, cm.metadata.name ?? '', ns).catch((e: unknown) => { if (!isNotFound(e)) throw e; });
  }
  for (const svc of d.services.list()) {
    const unit = svc.metadata.labels?.['unit.upm.io/unit'];
    if (svc.metadata.namespace !== ns || svc.metadata.labels?.[LABEL_UNITSET] !== name || !unit) continue;
    const o = Number(unit.slice(name.length + 1));
    if (o >= (us.spec.units ?? 1)) await d.client.delete(Resources.services, svc.metadata.name ?? '', ns).catch((e: unknown) => { if (!isNotFound(e)) throw e; });
  }
}

/**
 * The namespace's agent key (random, created once, never rotated here): the Unit controller derives each unit's
 * token from it; it is never given to a pod.
 */
async function ensureAgentToken(d: UnitSetControllerDeps, ns: string): Promise<void> {
  if (d.agentTokens.get(`${ns}/${AGENT_TOKEN_SECRET}`)) return;
  await d.client.create(Resources.secrets, {
    apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
    metadata: { name: AGENT_TOKEN_SECRET, namespace: ns, labels: { 'app.kubernetes.io/managed-by': 'upm' } },
    data: { [AGENT_TOKEN_KEY]: Buffer.from(randomBytes(32).toString('base64url')).toString('base64') },
  } as KubeObject).catch((e: unknown) => { if (!isAlreadyExists(e)) throw e; });
}

/** True when going from the unit's current config to `next` changes only parameters the engine applies live. */
function appliesLive(cm: ConfigMap | undefined, unit: Unit, next: UnitConfig, tpl: EngineTemplate): boolean {
  if (!cm) return true; // nothing runs with a config yet
  // A ConfigMap ahead of the unit (written, the unit not yet moved to it: a crash between the two writes) no
  // longer says what the unit runs: roll it out like any change that may need a restart.
  if (cm.metadata.annotations?.[ANNOTATION_CONFIG_HASH] !== unit.spec.configRevision) return false;
  if (cm.metadata.annotations?.[ANNOTATION_CONFIG_BASE] !== next.baseHash) return false;
  let prev: ConfigInput;
  try {
    prev = JSON.parse(cm.data?.[CONFIG_INPUT_KEY] ?? '') as ConfigInput;
  } catch {
    return false;
  }
  const dynamic = new Set((tpl.spec.parameters ?? []).filter((p) => p.dynamic).map((p) => p.key));
  const keys = new Set([...Object.keys(prev.parameters ?? {}), ...Object.keys(next.input.parameters)]);
  return [...keys].every((k) => prev.parameters?.[k] === next.input.parameters[k] || dynamic.has(k));
}

/** Writes "<unit>-config" (owned by the UnitSet): the rendered file, and its inputs for the unit agent. */
async function writeUnitConfig(d: UnitSetControllerDeps, us: UnitSet, ordinal: number, cfg: UnitConfig | undefined): Promise<void> {
  if (!cfg) return;
  const ns = us.metadata.namespace ?? '';
  const unit = unitName(us.metadata.name ?? '', ordinal);
  const name = configMapName(unit);
  const cur = d.configMaps.get(`${ns}/${name}`);
  if (cur?.metadata.annotations?.[ANNOTATION_CONFIG_HASH] === cfg.hash) return;
  const body: ConfigMap = {
    apiVersion: 'v1', kind: 'ConfigMap',
    metadata: {
      name, namespace: ns,
      labels: { [LABEL_UNITSET]: us.metadata.name ?? '', [LABEL_UNIT]: unit },
      annotations: { [ANNOTATION_CONFIG_HASH]: cfg.hash, [ANNOTATION_CONFIG_BASE]: cfg.baseHash },
      ownerReferences: [ownerRef(us)],
    },
    data: { [cfg.fileName]: cfg.content, [CONFIG_INPUT_KEY]: JSON.stringify(cfg.input) },
  };
  if (!cur) {
    await d.client.create(Resources.configMaps, body).catch((e: unknown) => { if (!isAlreadyExists(e)) throw e; });
  } else {
    await d.client.update(Resources.configMaps, { ...body, metadata: { ...body.metadata, resourceVersion: cur.metadata.resourceVersion } });
  }
}

async function updateUnit(d: UnitSetControllerDeps, us: UnitSet, tpl: EngineTemplate, u: Unit, revision: string, cfg: UnitConfig | undefined): Promise<Unit> {
  await writeUnitConfig(d, us, ordinalOf(u), cfg);
  const want = desiredUnit(us, tpl, ordinalOf(u), revision, cfg?.hash ?? '');
  return d.client.update<Unit>(UnitResource, {
    ...u,
    metadata: { ...u.metadata, labels: want.metadata.labels, annotations: { ...(u.metadata.annotations ?? {}), ...withoutStopMark(want.metadata.annotations) } },
    // Whether it runs, and the restart asked of it, are the unit's own (set in place, never by a new revision).
    spec: { ...want.spec, startup: u.spec.startup ?? true, restartId: u.spec.restartId },
  });
}

function withoutStopMark(annotations: Record<string, string> | undefined): Record<string, string> {
  const { [ANNOTATION_STOPPED_BY_UNITSET]: _mark, ...rest } = annotations ?? {};
  return rest;
}

/** whenScaled=Delete: drop the claims of ordinals that were scaled away, once their unit is gone. */
async function cleanupScaledClaims(d: UnitSetControllerDeps, us: UnitSet, desired: number, units: Unit[]): Promise<void> {
  if ((us.spec.pvcRetentionPolicy?.whenScaled ?? 'Retain') !== 'Delete') return;
  const name = us.metadata.name ?? '';
  const ns = us.metadata.namespace ?? '';
  const present = new Set(units.map((u) => u.metadata.name));
  for (const pvc of d.pvcs.list()) {
    if (pvc.metadata.namespace !== ns || pvc.metadata.labels?.[LABEL_UNITSET] !== name || pvc.metadata.deletionTimestamp) continue;
    const unit = pvc.metadata.labels?.['unit.upm.io/unit'] ?? '';
    const o = Number(pvc.metadata.labels?.['unit.upm.io/ordinal'] ?? -1);
    if (o >= desired && !present.has(unit)) {
      await d.client.delete(Resources.persistentVolumeClaims, pvc.metadata.name ?? '', ns).catch((e: unknown) => { if (!isNotFound(e)) throw e; });
      await d.events.record(us, 'Normal', 'DeletedClaim', `deleted PVC ${pvc.metadata.name} of scaled-away unit ${unit} (whenScaled: Delete)`);
    }
  }
}

