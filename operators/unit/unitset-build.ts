// What a UnitSet wants, computed without side effects: the unit template revision, each Unit, each unit's
// rendered config, and the Services. The controller compares these with the world and writes the difference.
import { AGENT_CONTAINER, AGENT_TOKEN_KEY, CREDENTIALS_ENV_PREFIX, ENV_AGENT_TOKEN, type ConfigInput } from '../../agent/api.ts';
import { unitTokenSecretName } from '../../agent/tokens.ts';
import { HUB_DESIRED_HASH_ANNOTATION } from '../../lib/annotations.ts';
import type { EngineTemplate, Unit, UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeObject, OwnerReference } from '../../lib/kube/types.ts';
import { cpuMillis, effectiveParameters, hash, quantityMiB, renderConfig, unitSetId, type RenderContext } from '../../lib/engineconfig.ts';
import {
  ANNOTATION_PVC_OWNED_BY_UNITSET, ANNOTATION_REVISION, ANNOTATION_STOPPED_BY_UNITSET, ANNOTATION_UPDATE_ON_DELETE, CREDENTIALS_PLACEHOLDER,
  LABEL_ORDINAL, LABEL_UNIT, LABEL_UNITSET, configMapName, credentialsSecretName, headlessServiceName, unitName,
} from './naming.ts';

type Json = Record<string, unknown>;
interface Container { name: string; image?: string; env?: { name: string }[]; envFrom?: Json[]; ports?: { name?: string; containerPort: number; protocol?: string }[]; resources?: unknown; volumeMounts?: { name: string; mountPath: string }[] }
interface PodTemplate { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: Json & { containers: Container[]; volumes?: Json[] } }

export function ownerRef(obj: KubeObject, controller = true): OwnerReference {
  return { apiVersion: obj.apiVersion ?? '', kind: obj.kind ?? '', name: obj.metadata.name ?? '', uid: obj.metadata.uid ?? '', controller, blockOwnerDeletion: true };
}

/**
 * The revision every unit's pod should reach: a hash of everything that shapes the pod. Parameters shape only the
 * config, which the unit agent applies (live, or by restarting the engine), so changing one never recreates a pod.
 */
export function updateRevision(us: UnitSet, tpl: EngineTemplate): string {
  // Stopping and restarting act on the engines in place, never on the pods.
  const { units: _u, paused: _p, updateStrategy: _s, pvcRetentionPolicy: _r, parameters: _params, stopped: _st, restart: _rs, storage, ...shaping } = us.spec;
  // Volume sizes shape the claims, not the pod: growing a volume must not restart anything.
  const volumes = (storage ?? []).map((v) => ({ name: v.name, mountPath: v.mountPath, storageClassName: v.storageClassName }));
  return hash({ template: tpl.spec, shaping, volumes, labels: us.metadata.labels ?? {}, annotations: podAnnotations(us) });
}

/** The claim templates a unit should carry (sizes included). */
export function claimTemplates(us: UnitSet): NonNullable<Unit['spec']['volumeClaimTemplates']> {
  return (us.spec.storage ?? []).map((s) => ({ name: s.name, size: s.size, ...(s.storageClassName ? { storageClassName: s.storageClassName } : {}) }));
}

/** UnitSet annotations worth carrying to units and pods (not kubectl's or the hub's bookkeeping). */
function podAnnotations(us: UnitSet): Record<string, string> {
  // Nor the UnitSet's own steering (unit.upm.io/update-next changes as a rollout moves; it must not be a new revision),
  // nor the hub's hash of what it applied (with it, a dynamic parameter or a new unit count set by the hub restarted
  // every unit).
  return Object.fromEntries(Object.entries(us.metadata.annotations ?? {})
    .filter(([k]) => !k.startsWith('kubectl.kubernetes.io/') && !k.startsWith('unit.upm.io/') && k !== HUB_DESIRED_HASH_ANNOTATION));
}

export function renderContext(us: UnitSet, ordinal: number): RenderContext {
  const ns = us.metadata.namespace ?? 'default';
  const name = us.metadata.name ?? '';
  const fqdn = (o: number) => `${unitName(name, o)}.${headlessServiceName(name)}.${ns}.svc.cluster.local`;
  const res = us.spec.resources ?? {};
  const mem = quantityMiB(res.limits?.memory ?? res.requests?.memory) ?? 1024;
  const units = us.spec.units ?? 1;
  return {
    unit: { name: unitName(name, ordinal), ordinal, fqdn: fqdn(ordinal) },
    // Before the UnitSet is stored it has no uid (a dry run): its name stands in.
    unitSet: { name, units, id: unitSetId(us.metadata.uid ?? `${ns}/${name}`) },
    namespace: ns,
    serverId: ordinal + 1,
    resources: {
      cpuMillis: cpuMillis(res.limits?.cpu ?? res.requests?.cpu) ?? 1000,
      memoryMiB: mem, memoryMiB25: Math.floor(mem * 0.25), memoryMiB50: Math.floor(mem * 0.5), memoryMiB70: Math.floor(mem * 0.7),
    },
    peers: Array.from({ length: units }, (_, o) => ({ name: unitName(name, o), ordinal: o, id: o + 1, fqdn: fqdn(o) })),
  };
}

export interface UnitConfig {
  fileName: string;
  /** The rendered file, as a pod mounts it. */
  content: string;
  /** What the agent renders it from. */
  input: ConfigInput;
  /** Hash of the whole config: the unit's configRevision. */
  hash: string;
  /** Hash of everything but parameter values: equal hashes mean only parameters changed. */
  baseHash: string;
}

/** The config of one unit (rendered file and its inputs), or undefined when the template has none. */
export function unitConfig(us: UnitSet, tpl: EngineTemplate, ordinal: number): UnitConfig | undefined {
  const cfg = tpl.spec.config;
  if (!cfg) return undefined;
  const full = renderContext(us, ordinal);
  const params = effectiveParameters(tpl.spec.parameters, us.spec.parameters, full);
  const content = renderConfig(cfg.template, params, full);
  // Peers are only carried when the template uses them: a 1,000-unit set must not store 1,000 peers per unit. The
  // UnitSet's id likewise, so that configs of templates without it keep their hashes.
  const { id, ...unitSet } = full.unitSet;
  const used = { ...full, unitSet: cfg.template.includes('unitSet.id') ? { ...unitSet, id } : unitSet };
  const context = cfg.template.includes('peers') || cfg.template.includes('quorum') ? used : { ...used, peers: [] };
  const input: ConfigInput = { fileName: cfg.fileName, template: cfg.template, context, parameters: Object.fromEntries(params), specs: tpl.spec.parameters ?? [] };
  return { fileName: cfg.fileName, content, input, hash: hash(content), baseHash: hash({ template: cfg.template, context }) };
}

export function unitLabels(us: UnitSet, ordinal: number): Record<string, string> {
  const name = us.metadata.name ?? '';
  return {
    ...(us.metadata.labels ?? {}),
    'app.kubernetes.io/name': us.spec.engine,
    'app.kubernetes.io/instance': name,
    'app.kubernetes.io/managed-by': 'upm',
    [LABEL_UNITSET]: name,
    [LABEL_UNIT]: unitName(name, ordinal),
    [LABEL_ORDINAL]: String(ordinal),
  };
}

/** The full desired Unit for an ordinal at the given revision. */
export function desiredUnit(us: UnitSet, tpl: EngineTemplate, ordinal: number, revision: string, configHash: string): Unit {
  const name = us.metadata.name ?? '';
  const unit = unitName(name, ordinal);
  const labels = unitLabels(us, ordinal);
  const retention = us.spec.pvcRetentionPolicy ?? {};
  return {
    apiVersion: 'unit.upm.io/v1alpha1',
    kind: 'Unit',
    metadata: {
      name: unit,
      namespace: us.metadata.namespace,
      labels,
      annotations: {
        ...podAnnotations(us),
        ...((retention.whenDeleted ?? 'Delete') === 'Delete' ? { [ANNOTATION_PVC_OWNED_BY_UNITSET]: 'true' } : {}),
        ...(us.spec.updateStrategy?.type === 'OnDelete' ? { [ANNOTATION_UPDATE_ON_DELETE]: 'true' } : {}),
        ...(us.spec.stopped ? { [ANNOTATION_STOPPED_BY_UNITSET]: 'true' } : {}),
      },
      ownerReferences: [ownerRef(us)],
    },
    spec: {
      engine: us.spec.engine,
      version: us.spec.version,
      // A unit created while the UnitSet is stopped starts stopped; one created during a restart is fresh.
      startup: !us.spec.stopped,
      ...(us.spec.restart?.id ? { restartId: us.spec.restart.id } : {}),
      revision,
      template: podTemplate(us, tpl, ordinal, revision) as unknown as Unit['spec']['template'],
      volumeClaimTemplates: claimTemplates(us),
      configMapName: tpl.spec.config ? configMapName(unit) : undefined,
      ...(configHash ? { configRevision: configHash } : {}),
    },
  };
}

function podTemplate(us: UnitSet, tpl: EngineTemplate, ordinal: number, revision: string): PodTemplate {
  const name = us.metadata.name ?? '';
  const unit = unitName(name, ordinal);
  // The template names the credentials Secret with a placeholder; each UnitSet has its own.
  const base = JSON.parse(JSON.stringify(tpl.spec.podTemplate).replaceAll(CREDENTIALS_PLACEHOLDER, credentialsSecretName(name))) as PodTemplate;
  const spec = base.spec;
  const userEnv = us.spec.env ?? [];
  for (const c of spec.containers) {
    if (c.name === tpl.spec.mainContainer) {
      c.image = tpl.spec.image;
      if (us.spec.resources) c.resources = us.spec.resources;
    }
    // UnitSet env reaches the engine's container only (wins over the template's there): in the agent's it could
    // change what the agent runs (NODE_OPTIONS), in the exporter's what it reads.
    c.env = c.name === tpl.spec.mainContainer ? [...userEnv, ...(c.env ?? []).filter((e) => !userEnv.some((u) => u.name === e.name))] : (c.env ?? []);
    if (c.name === AGENT_CONTAINER) {
      // The agent accepts only callers holding its own unit's token (never another unit's: the pod gets only its
      // own), and needs the unit's engine accounts.
      c.env = [...c.env.filter((e) => e.name !== ENV_AGENT_TOKEN), { name: ENV_AGENT_TOKEN, valueFrom: { secretKeyRef: { name: unitTokenSecretName(unit), key: AGENT_TOKEN_KEY } } } as { name: string }];
      c.envFrom = [...(c.envFrom ?? []).filter((e) => e.prefix !== CREDENTIALS_ENV_PREFIX), { prefix: CREDENTIALS_ENV_PREFIX, secretRef: { name: credentialsSecretName(name) } }];
    }
  }
  const volumes: Json[] = (spec.volumes ?? []).filter((v) => !['config', 'data'].includes(String(v.name)));
  const mounted = new Set(spec.containers.flatMap((c) => (c.volumeMounts ?? []).map((m) => m.name)));
  if (tpl.spec.config) volumes.push({ name: 'config', configMap: { name: configMapName(unit) } });
  else if (mounted.has('config')) volumes.push({ name: 'config', emptyDir: {} });
  const storage = us.spec.storage ?? [];
  for (const s of storage) {
    volumes.push({ name: s.name, persistentVolumeClaim: { claimName: `${unit}-${s.name}` } });
    const main = spec.containers.find((c) => c.name === tpl.spec.mainContainer);
    if (main && !(main.volumeMounts ?? []).some((m) => m.name === s.name)) main.volumeMounts = [...(main.volumeMounts ?? []), { name: s.name, mountPath: s.mountPath }];
  }
  if (mounted.has('data') && !storage.some((s) => s.name === 'data')) volumes.push({ name: 'data', emptyDir: {} });
  spec.volumes = volumes;
  spec.hostname = unit;
  spec.subdomain = headlessServiceName(name);
  if (us.spec.nodeSelector) spec.nodeSelector = { ...(spec.nodeSelector as Record<string, string> | undefined), ...us.spec.nodeSelector };
  const selector = { matchLabels: { [LABEL_UNITSET]: name } };
  const policy = us.spec.podAntiAffinity ?? 'Soft';
  if (policy !== 'None') {
    const term = { labelSelector: selector, topologyKey: 'kubernetes.io/hostname' };
    spec.affinity = {
      ...(spec.affinity as Json | undefined),
      podAntiAffinity: policy === 'Hard'
        ? { requiredDuringSchedulingIgnoredDuringExecution: [term] }
        : { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }] },
    };
  }
  if (us.spec.nodeAffinity) spec.affinity = { ...(spec.affinity as Json | undefined), nodeAffinity: us.spec.nodeAffinity };
  if (us.spec.topologySpreadConstraints?.length) {
    spec.topologySpreadConstraints = us.spec.topologySpreadConstraints.map((t) => ({ labelSelector: selector, ...t }));
  }
  return {
    metadata: {
      labels: { ...(base.metadata?.labels ?? {}), ...unitLabels(us, ordinal) },
      annotations: { ...(base.metadata?.annotations ?? {}), ...podAnnotations(us), [ANNOTATION_REVISION]: revision },
    },
    spec,
  };
}

/** Ports of the main container: what the Services expose. */
export function servicePorts(tpl: EngineTemplate): { name: string; port: number; targetPort: number; protocol: string }[] {
  const spec = (tpl.spec.podTemplate as unknown as PodTemplate).spec;
  const main = spec?.containers?.find((c) => c.name === tpl.spec.mainContainer);
  return (main?.ports ?? []).filter((p) => p.name).map((p) => ({ name: p.name as string, port: p.containerPort, targetPort: p.containerPort, protocol: p.protocol ?? 'TCP' }));
}
