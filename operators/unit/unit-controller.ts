// Unit controller: exactly one Pod per Unit (same name), PVCs "<unit>-<volume>", and a status that tells the
// truth about the pod. The pod is recreated when its revision differs from the unit's (unless the unit updates
// only on delete), a Failed pod is recreated a bounded number of times, and a unit in maintenance is left alone.
import { AgentClient } from '../../agent/client.ts';
import { agentTokenForPod, unitAgentToken, unitTokenSecretName } from '../../agent/tokens.ts';
import { AGENT_CONTAINER, AGENT_PORT, AGENT_TOKEN_KEY, AGENT_TOKEN_SECRET, type AgentStatus, type ConfigInput } from '../../agent/api.ts';
import type { Unit } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitResource } from '../../lib/api/unit.upm.io.generated.ts';
import { setCondition, type Condition } from '../../lib/conditions.ts';
import type { ReconcileContext, ReconcileResult } from '../../lib/controller.ts';
import type { EventRecorder } from '../../lib/events.ts';
import type { Store } from '../../lib/informer.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { isAlreadyExists, isNotFound } from '../../lib/kube/errors.ts';
import { Resources } from '../../lib/kube/resources.ts';
import { splitKey, type KubeObject } from '../../lib/kube/types.ts';
import { crashPoint } from '../../lib/crashpoint.ts';
import { quantityMiB } from '../../lib/engineconfig.ts';
import {
  ANNOTATION_CONFIG_HASH, ANNOTATION_MAINTENANCE, CONFIG_INPUT_KEY, ANNOTATION_PVC_OWNED_BY_UNITSET, ANNOTATION_REVISION, ANNOTATION_UPDATE_ON_DELETE, LABEL_ORDINAL, LABEL_UNIT, LABEL_UNITSET, claimName,
} from './naming.ts';
import { ownerRef } from './unitset-build.ts';

export interface Pod extends KubeObject {
  spec?: {
    nodeName?: string;
    containers?: { name: string; ports?: { name?: string; containerPort: number }[]; env?: { name: string; valueFrom?: { secretKeyRef?: { name: string } } }[] }[];
    [k: string]: unknown;
  };
  status?: {
    phase?: string;
    podIP?: string;
    hostIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { restartCount?: number }[];
  };
}
export interface Pvc extends KubeObject {
  spec?: { resources?: { requests?: { storage?: string } }; storageClassName?: string; volumeName?: string };
  status?: { phase?: string; capacity?: { storage?: string } };
}

export const MAX_RECOVERIES = 5;

export interface StorageClass extends KubeObject { volumeBindingMode?: string }

export interface UnitControllerDeps {
  client: KubeClient;
  events: EventRecorder;
  units: Store<Unit>;
  pods: Store<Pod>;
  pvcs: Store<Pvc>;
  storageClasses: Store<StorageClass>;
  configMaps: Store<KubeObject & { data?: Record<string, string> }>;
  /** The namespaces' agent key Secrets (each unit's token is derived from its namespace's key). */
  agentTokens: Store<KubeObject & { data?: Record<string, string> }>;
  /** The units' own agent token Secrets ("<unit>-agent-token", labelled with the unit). */
  unitTokens: Store<KubeObject & { data?: Record<string, string> }>;
  /**
   * Drive each pod's unit agent (config, start/stop, restarts) and report the engine's real state. Off only where
   * pods are simulated without agents (a bare KWOK cluster): then the pod's readiness is all there is to report.
   */
  agents: boolean;
}

/** The agent's answer; `restartedFor` is the spec.restartId this pass found done (or did). */
type EngineView = { status: AgentStatus; restartedFor?: string } | { error: string };

/**
 * Claims that must bind before the pod is created: those of an Immediate storage class that are not Bound yet. A
 * pod sent earlier is unschedulable until they bind, and the scheduler retries it with backoff and an event each
 * time. WaitForFirstConsumer claims bind only once a pod exists, so they never hold the pod back once the cache
 * shows them; a claim created in this very pass (not cached yet) defers the pod by one pass, which the claim's own
 * add event triggers.
 */
function unboundImmediateClaims(d: UnitControllerDeps, unit: Unit): string[] {
  const ns = unit.metadata.namespace ?? '';
  return (unit.spec.volumeClaimTemplates ?? []).map((v) => claimName(unit.metadata.name ?? '', v.name)).filter((name) => {
    const pvc = d.pvcs.get(`${ns}/${name}`);
    if (!pvc || pvc.status?.phase === 'Bound') return false;
    const sc = pvc.spec?.storageClassName ? d.storageClasses.get(pvc.spec.storageClassName) : undefined;
    return !!sc && (sc.volumeBindingMode ?? 'Immediate') === 'Immediate';
  });
}

export function unitReconciler(d: UnitControllerDeps) {
  return async function reconcile(key: string, _ctx: ReconcileContext): Promise<ReconcileResult> {
    const unit = d.units.get(key);
    if (!unit || unit.metadata.deletionTimestamp) return;
    const { namespace, name } = splitKey(key) as { namespace: string; name: string };
    const maintenance = unit.metadata.annotations?.[ANNOTATION_MAINTENANCE] === 'true';
    let pod = d.pods.get(key);
    let recoveries = unit.status?.recoveries ?? 0;
    let task = '';

    if (!maintenance) {
      const createdClaims = await ensureClaims(d, unit);
      if (pod && !pod.metadata.ownerReferences?.some((o) => o.uid === unit.metadata.uid)) {
        throw new Error(`pod ${name} exists but is not owned by this unit; refusing to touch it`);
      }
      if (pod && !pod.metadata.deletionTimestamp) {
        const podRevision = pod.metadata.annotations?.[ANNOTATION_REVISION];
        const onDelete = unit.metadata.annotations?.[ANNOTATION_UPDATE_ON_DELETE] === 'true';
        if (podRevision !== unit.spec.revision && !onDelete) {
          task = `recreating pod for revision ${unit.spec.revision}`;
          await deletePod(d, pod);
          await d.events.record(unit, 'Normal', 'RecreatingPod', `pod revision ${podRevision} -> ${unit.spec.revision}`);
          pod = undefined;
        } else if (pod.status?.phase === 'Failed' && recoveries < MAX_RECOVERIES) {
          recoveries++;
          task = `recovering failed pod (${recoveries}/${MAX_RECOVERIES})`;
          await deletePod(d, pod);
          await d.events.record(unit, 'Warning', 'RecoveringPod', `pod failed; recreating it (attempt ${recoveries} of ${MAX_RECOVERIES})`);
          pod = undefined;
        }
      }
      const waitingFor = createdClaims.length ? createdClaims : unboundImmediateClaims(d, unit);
      const nsKey = namespaceKey(d, namespace);
      // The pod's agent reads its token from the unit's Secret: it exists before the pod, and is put back if lost.
      if (d.agents && nsKey) await ensureUnitToken(d, unit, nsKey);
      if (!d.pods.get(key) && !task && waitingFor.length) {
        task = `waiting for claims ${waitingFor.join(', ')} to bind`;
      } else if (!d.pods.get(key) && !task && d.agents && !nsKey) {
        task = `waiting for the namespace's agent key (Secret ${AGENT_TOKEN_SECRET})`;
      } else if (!d.pods.get(key) && !task) {
        pod = await createPod(d, unit);
        await d.events.record(unit, 'Normal', 'CreatedPod', `created pod ${name}`);
      }
    }
    const engine = d.agents && !maintenance && pod && !pod.metadata.deletionTimestamp && pod.status?.phase === 'Running' && pod.status.podIP
      ? await driveAgent(d, unit, pod) : undefined;
    let restartedFor = engine && 'restartedFor' in engine ? engine.restartedFor : undefined;
    if (!d.agents && !maintenance && restartDue(unit)) {
      // Simulated pods have no engine process: there is nothing to restart, and a restart must not wait forever.
      restartedFor = unit.spec.restartId;
      await d.events.record(unit, 'Normal', 'RestartSkipped', `restart ${unit.spec.restartId}: no agent drives this unit's engine (simulated pod); nothing to restart`);
    }
    await writeStatus(d, unit, pod, recoveries, task, maintenance, namespace, engine, restartedFor);
    // An agent that does not answer yet (just started, address being assigned) is asked again; every other
    // change reaches us as a pod or unit event.
    if (engine && 'error' in engine) return { requeue: true };
  };
}

/**
 * Brings the engine to what the unit asks for, through the pod's agent: the unit's config revision pushed (the
 * agent applies what it can live and says what needs a restart), started or stopped per spec.startup, restarted
 * when a pushed change needs it or spec.restartId asks for it. Each step first reads the agent's state, so repeating
 * a pass repeats nothing: a restart carries the unit's restartId, which the agent remembers, so a pass that died
 * after the restart and before recording it in status does not restart the engine again.
 */
async function driveAgent(d: UnitControllerDeps, unit: Unit, pod: Pod): Promise<EngineView> {
  const ns = unit.metadata.namespace ?? '';
  const nsKey = namespaceKey(d, ns);
  if (!nsKey) return { error: `no agent key Secret ${AGENT_TOKEN_SECRET} in ${ns} yet` };
  const port = pod.spec?.containers?.find((c) => c.name === AGENT_CONTAINER)?.ports?.find((p) => p.name === 'agent')?.containerPort ?? AGENT_PORT;
  const agent = new AgentClient(pod.status?.podIP ?? '', port, agentTokenForPod(nsKey, ns, unit.metadata.name ?? '', pod));
  try {
    let st = await agent.status();
    if (st.podUID !== pod.metadata.uid) return { error: `the agent at ${agent.base} serves another pod (${st.pod}); waiting for this pod's address` };
    if (st.state === 'NotRunnable') return { status: st };
    const cm = unit.spec.configMapName ? d.configMaps.get(`${ns}/${unit.spec.configMapName}`) : undefined;
    const cmRevision = cm?.metadata.annotations?.[ANNOTATION_CONFIG_HASH];
    if (cm && cmRevision && cmRevision === unit.spec.configRevision && st.configRevision !== cmRevision) {
      const input = JSON.parse(cm.data?.[CONFIG_INPUT_KEY] ?? '{}') as ConfigInput;
      const first = !st.configRevision;
      st = await agent.pushConfig({ ...input, revision: cmRevision });
      if (!first) {
        await d.events.record(unit, 'Normal', 'Reconfigured', st.restartRequired
          ? `config ${cmRevision} written; ${st.pendingRestart.join(', ')} take effect after a restart`
          : `config ${cmRevision} applied live`);
      }
    }
    const wantRunning = unit.spec.startup !== false;
    const restartId = unit.spec.restartId ?? '';
    const due = restartDue(unit);
    let restartedFor: string | undefined;
    if (wantRunning && st.configRevision) {
      if (st.state === 'Stopped') {
        st = await agent.start();
        await d.events.record(unit, 'Normal', 'StartingEngine', `starting ${st.engine} (config ${st.configRevision})`);
        if (due) restartedFor = restartId; // an engine started after the request is a restarted one
      } else if (due && st.restartId === restartId) {
        restartedFor = restartId; // done by a pass that did not live to record it
      } else if (st.state === 'Running' && (st.restartRequired || due)) {
        const why = due ? `restart ${restartId} asked for` : `to apply ${st.pendingRestart.join(', ')}`;
        st = await agent.restart(due ? restartId : undefined);
        crashPoint('unit.engine-restarted');
        await d.events.record(unit, 'Normal', 'RestartingEngine', `restarting ${st.engine} (${why})`);
        if (due) restartedFor = restartId;
      }
    } else if (!wantRunning && ['Running', 'Starting', 'Crashed'].includes(st.state)) {
      st = await agent.stop();
      await d.events.record(unit, 'Normal', 'StoppedEngine', `stopped ${st.engine} (spec.startup is false); its data stays`);
    }
    return { status: st, ...(restartedFor ? { restartedFor } : {}) };
  } catch (err) {
    return { error: `agent at ${agent.base}: ${(err as Error).message}` };
  }
}

/** spec.restartId asks for a restart the unit's status does not record as done. */
const restartDue = (unit: Unit): boolean => !!unit.spec.restartId && unit.status?.lastRestartId !== unit.spec.restartId;

/** The namespace's agent key, decoded; empty until the UnitSet controller has created it and the cache shows it. */
function namespaceKey(d: UnitControllerDeps, ns: string): string {
  const key = d.agentTokens.get(`${ns}/${AGENT_TOKEN_SECRET}`)?.data?.[AGENT_TOKEN_KEY];
  return key ? Buffer.from(key, 'base64').toString('utf8') : '';
}

/**
 * Keeps the unit's own agent token in "<unit>-agent-token", owned by this unit (a Secret left by an earlier unit of
 * the same name would go with that unit). The token is derived, so a settled Secret is never written again, and
 * one found holding anything else, or owned by another, is put right.
 */
async function ensureUnitToken(d: UnitControllerDeps, unit: Unit, nsKey: string): Promise<void> {
  const ns = unit.metadata.namespace ?? '';
  const name = unitTokenSecretName(unit.metadata.name ?? '');
  const data = { [AGENT_TOKEN_KEY]: Buffer.from(unitAgentToken(nsKey, ns, unit.metadata.name ?? '')).toString('base64') };
  type Secret = KubeObject & { data?: Record<string, string> };
  const right = (s: Secret) => s.data?.[AGENT_TOKEN_KEY] === data[AGENT_TOKEN_KEY] && s.metadata.ownerReferences?.some((o) => o.uid === unit.metadata.uid) === true;
  let cur = d.unitTokens.get(`${ns}/${name}`);
  if (cur && right(cur)) return;
  if (!cur) {
    try {
      await d.client.create(Resources.secrets, {
        apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
        metadata: { name, namespace: ns, labels: { [LABEL_UNIT]: unit.metadata.name ?? '', 'app.kubernetes.io/managed-by': 'upm' }, ownerReferences: [ownerRef(unit)] },
        data,
      } as KubeObject);
      return;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      cur = await d.client.get<Secret>(Resources.secrets, name, ns); // created by an earlier pass the cache does not show yet
      if (right(cur)) return;
    }
  }
  await d.client.patch(Resources.secrets, name, { metadata: { labels: { [LABEL_UNIT]: unit.metadata.name ?? '' }, ownerReferences: [ownerRef(unit)] }, data }, 'merge', { namespace: ns });
}

async function deletePod(d: UnitControllerDeps, pod: Pod): Promise<void> {
  await d.client.delete(Resources.pods, pod.metadata.name ?? '', pod.metadata.namespace).catch((e: unknown) => { if (!isNotFound(e)) throw e; });
}

async function createPod(d: UnitControllerDeps, unit: Unit): Promise<Pod> {
  const tpl = unit.spec.template as { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: Record<string, unknown> };
  const pod: Pod = {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name: unit.metadata.name,
      namespace: unit.metadata.namespace,
      labels: { ...(tpl.metadata?.labels ?? {}), ...(unit.metadata.labels ?? {}) },
      annotations: { ...(tpl.metadata?.annotations ?? {}), [ANNOTATION_REVISION]: unit.spec.revision ?? '' },
      ownerReferences: [ownerRef(unit)],
    },
    spec: { ...(tpl.spec ?? {}) },
  };
  try {
    return await d.client.create<Pod>(Resources.pods, pod);
  } catch (err) {
    if (isAlreadyExists(err)) return pod; // a previous pass created it; the informer will show it
    throw err;
  }
}

/** Creates missing claims and grows smaller ones; returns the names it created. */
async function ensureClaims(d: UnitControllerDeps, unit: Unit): Promise<string[]> {
  const created: string[] = [];
  const ns = unit.metadata.namespace ?? '';
  const unitSetOwner = unit.metadata.ownerReferences?.find((o) => o.controller);
  const ownedByUnitSet = unit.metadata.annotations?.[ANNOTATION_PVC_OWNED_BY_UNITSET] === 'true' && unitSetOwner;
  for (const v of unit.spec.volumeClaimTemplates ?? []) {
    const name = claimName(unit.metadata.name ?? '', v.name);
    const cur = d.pvcs.get(`${ns}/${name}`);
    if (!cur) {
      await d.client.create<Pvc>(Resources.persistentVolumeClaims, {
        apiVersion: 'v1', kind: 'PersistentVolumeClaim',
        metadata: {
          name, namespace: ns,
          labels: {
            [LABEL_UNITSET]: unit.metadata.labels?.[LABEL_UNITSET] ?? '', [LABEL_UNIT]: unit.metadata.name ?? '',
            [LABEL_ORDINAL]: unit.metadata.labels?.[LABEL_ORDINAL] ?? '', 'unit.upm.io/volume': v.name,
          },
          // whenDeleted=Delete: the garbage collector removes the claim with the UnitSet. Otherwise the claim
          // outlives both the Unit and the UnitSet, and a unit recreated at this ordinal finds its data again.
          ...(ownedByUnitSet ? { ownerReferences: [{ ...unitSetOwner, controller: false }] } : {}),
        },
        spec: {
          accessModes: ['ReadWriteOnce'],
          resources: { requests: { storage: v.size } },
          ...(v.storageClassName ? { storageClassName: v.storageClassName } : {}),
        },
      } as Pvc).catch((e: unknown) => { if (!isAlreadyExists(e)) throw e; });
      await d.events.record(unit, 'Normal', 'CreatedClaim', `created PVC ${name} (${v.size})`);
      created.push(name);
    } else if ((quantityMiB(cur.spec?.resources?.requests?.storage) ?? 0) < (quantityMiB(v.size) ?? 0)) {
      // Storage only grows (the CRD refuses a shrink); the storage class must allow expansion.
      await d.client.patch(Resources.persistentVolumeClaims, name, { spec: { resources: { requests: { storage: v.size } } } }, 'merge', { namespace: ns });
      await d.events.record(unit, 'Normal', 'ExpandingClaim', `expanding PVC ${name} to ${v.size}`);
    }
  }
  return created;
}

type Phase = NonNullable<Unit['status']>['phase'];

/** With an agent, the engine's own state; unreachable agents leave the phase at Running (pod up, engine unknown). */
function enginePhase(engine: EngineView | undefined, podReady: boolean): Phase {
  if (!engine || 'error' in engine) return 'Running';
  const st = engine.status;
  switch (st.state) {
    case 'Running': return st.ready && podReady ? 'Ready' : 'Running';
    case 'Crashed': return 'Failed';
    default: return st.state;
  }
}

function phaseOf(pod: Pod | undefined, startup: boolean, engine?: EngineView): Phase {
  if (!pod) return 'Pending';
  if (pod.metadata.deletionTimestamp) return 'Terminating';
  const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  switch (pod.status?.phase) {
    case 'Running': return engine ? enginePhase(engine, !!ready) : !startup ? 'Stopped' : ready ? 'Ready' : 'Running';
    case 'Failed': return 'Failed';
    case 'Pending': return pod.spec?.nodeName ? 'Scheduled' : 'Pending';
    case 'Succeeded': return 'Failed';
    default: return 'Unknown';
  }
}

async function writeStatus(d: UnitControllerDeps, unit: Unit, pod: Pod | undefined, recoveries: number, task: string, maintenance: boolean, ns: string, engine?: EngineView, restartedFor?: string): Promise<void> {
  const phase = phaseOf(pod, unit.spec.startup ?? true, engine);
  const ready = phase === 'Ready';
  const st = engine && 'status' in engine ? engine.status : undefined;
  if (engine && 'error' in engine && !task) task = engine.error;
  else if (st && !ready && !task) task = st.message;
  const generation = unit.metadata.generation;
  let conditions = unit.status?.conditions as Condition[] | undefined;
  conditions = setCondition(conditions, ready
    ? { type: 'Ready', status: 'True', reason: 'PodReady', message: '', observedGeneration: generation }
    : { type: 'Ready', status: 'False', reason: engine ? `Engine${st?.state ?? 'Unreachable'}` : task ? 'Updating' : `Pod${phase}`, message: task || `pod is ${phase}`, observedGeneration: generation });
  conditions = setCondition(conditions, phase === 'Failed' && recoveries >= MAX_RECOVERIES
    ? { type: 'Degraded', status: 'True', reason: 'RecoveryExhausted', message: `pod failed ${recoveries} times; left for inspection`, observedGeneration: generation }
    : { type: 'Degraded', status: 'False', reason: 'AsExpected', message: '', observedGeneration: generation });
  conditions = setCondition(conditions, maintenance
    ? { type: 'Maintenance', status: 'True', reason: 'Annotated', message: 'the operator leaves this unit alone', observedGeneration: generation }
    : { type: 'Maintenance', status: 'False', reason: 'NotAnnotated', message: '', observedGeneration: generation });
  const volumes = (unit.spec.volumeClaimTemplates ?? []).map((v) => {
    const pvc = d.pvcs.get(`${ns}/${claimName(unit.metadata.name ?? '', v.name)}`);
    return { name: v.name, claimName: claimName(unit.metadata.name ?? '', v.name), phase: pvc?.status?.phase ?? 'Missing', capacity: pvc?.status?.capacity?.storage ?? '' };
  });
  const status: NonNullable<Unit['status']> = {
    ...(unit.status ?? {}),
    observedGeneration: generation,
    phase, ready,
    nodeName: pod?.spec?.nodeName ?? '',
    podIP: pod?.status?.podIP ?? '',
    hostIP: pod?.status?.hostIP ?? '',
    restartCount: (pod?.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0),
    podRevision: pod?.metadata.annotations?.[ANNOTATION_REVISION] ?? '',
    // Without agents nothing applies a config but the pod mount: the unit runs what its ConfigMap says.
    configRevision: d.agents ? st?.configRevision ?? unit.status?.configRevision ?? '' : unit.spec.configRevision ?? '',
    ...(st ? {
      engine: {
        state: st.state, ready: st.ready, restarts: st.restarts, restartRequired: st.restartRequired, pendingRestart: st.pendingRestart, message: st.message,
        ...(st.pid ? { pid: st.pid } : {}), ...(st.startedAt ? { startedAt: st.startedAt } : {}),
      },
    } : engine && 'error' in engine ? { engine: { state: 'Unknown', message: engine.error } } : {}),
    recoveries,
    volumes,
    conditions,
    ...(restartedFor ? { lastRestartId: restartedFor } : {}),
  };
  if (JSON.stringify(status) === JSON.stringify(unit.status ?? {})) return;
  await d.client.patch(UnitResource, unit.metadata.name ?? '', { status }, 'merge', { namespace: ns, subresource: 'status' });
}
