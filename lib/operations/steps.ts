// Each Operation type as an ordered list of named steps, declared as data: a precondition (checked before the step
// starts; a refusal fails the Operation before anything changes), the effect it makes (a merge patch of the hub
// service's spec, or of the member's compose object), whether that effect is already there (so a repeated step never
// does anything twice), when it is done, and its timeout. The hub never connects to an engine.
import { parseQuantity } from '../quantity.ts';
import { all, basics, kindOf, notYet, ok, refuse, serviceReady, templateOf } from './checks.ts';
import { at, patchAt, type SizeField } from './kinds.ts';
import { failoverCandidate, mysqlFailoverSteps, redisFailoverSteps } from './steps-failover.ts';
import { redisSwitchoverSteps, scaleSettled } from './steps-kinds.ts';
import { restartSteps, startSteps, stopSteps } from './steps-lifecycle.ts';
import type { Check, Effect, Operation, World } from './types.ts';

export interface StepDef {
  name: string;
  description: string;
  timeoutSeconds: number;
  precondition?: (op: Operation, w: World) => Check;
  /** The change the step makes; none for a step that checks or waits. */
  effect?: (op: Operation, w: World) => Effect;
  /** The effect is already there (a step with an effect must say). */
  applied?: (op: Operation, w: World) => boolean;
  done: (op: Operation, w: World) => Check;
}

/** Types that change nothing on the service: they never wait in a service's queue. */
export const READ_ONLY_TYPES: ReadonlySet<string> = new Set(['Backup']);
export const isMutating = (op: Operation): boolean => !READ_ONLY_TYPES.has(op.spec.type);

export const instant = (): Check => ok('done');
export const MIN = 60;

export function checkStep(description: string, extra: (op: Operation, w: World) => Check[] = () => []): StepDef {
  return { name: 'check', description, timeoutSeconds: 10 * MIN, precondition: (op, w) => all(...basics(op, w), ...(w.service ? extra(op, w) : [])), done: instant };
}

/** Waits until the services controller applied the spec and the member runs it, plus what the type adds. */
export function waitStep(name: string, description: string, timeoutSeconds: number, more: (op: Operation, w: World) => Check = () => ok('')): StepDef {
  return {
    name, description, timeoutSeconds,
    done: (op, w) => {
      if (w.service?.status?.phase === 'Failed') return refuse(`service ${op.spec.target.name} Failed: ${w.service.status.conditions?.find((c) => c.type === 'Ready')?.message ?? ''}`);
      const ready = serviceReady(op, w);
      if (!ready.ok) return ready;
      const m = more(op, w);
      return m.ok ? ready : m;
    },
  };
}

/** A step that sets one spec field of the hub service. */
function setStep(name: string, description: string, path: string[], want: (op: Operation) => unknown, same: (have: unknown, want: unknown) => boolean = (a, b) => a === b): StepDef {
  return {
    name, description, timeoutSeconds: 2 * MIN,
    effect: (op) => ({ on: 'service', patch: patchAt(path, want(op)), what: `spec.${path.join('.')} = ${JSON.stringify(want(op))}` }),
    applied: (op, w) => same(at(w.service?.spec ?? {}, path), want(op)),
    done: (op, w) => (same(at(w.service?.spec ?? {}, path), want(op)) ? ok(`spec.${path.join('.')} is ${JSON.stringify(want(op))}`) : notYet('not written yet')),
  };
}

// ---- Scale ------------------------------------------------------------------------------------------------------

function sizeCheck(f: SizeField, want: number | undefined, field: string, kind: string): Check[] {
  if (want === undefined) return [];
  if (want < f.min) return [refuse(`${field}: ${want} is below the minimum of ${f.min} ${f.noun} of a ${kind}`)];
  if (want > f.max) return [refuse(`${field}: ${want} is above the maximum of ${f.max} ${f.noun} of a ${kind}`)];
  if (f.odd && want % 2 === 0) return [refuse(`${field}: ${want} must be odd: a ${kind} needs a majority of its ${f.noun}`)];
  return [ok(`${field}: ${want} ${f.noun} (${f.min} to ${f.max})`)];
}

function storageCheck(op: Operation, w: World): Check[] {
  const size = op.spec.scale?.storage?.size;
  if (size === undefined) return [];
  const have = at(w.service?.spec ?? {}, ['storage', 'size']) ?? '10Gi';
  const [a, b] = [parseQuantity(size), parseQuantity(have)];
  if (a === undefined || b === undefined) return [refuse(`spec.scale.storage.size: ${JSON.stringify(size)} is not a quantity`)];
  if (a < b) return [refuse(`spec.scale.storage.size: ${String(size)} would shrink the storage (now ${String(have)}): storage may only grow`)];
  return [ok(`storage: ${String(have)} -> ${String(size)}`), ...(a > b ? expandable(w) : [])];
}

/** The claims can grow: the service's storage class (else the Cluster's default), as read from the member, allows expansion. */
function expandable(w: World): Check[] {
  const asked = at(w.service?.spec ?? {}, ['storage', 'storageClassName']);
  const classes = w.cluster?.storageClasses;
  const cls = classes?.find((c) => (typeof asked === 'string' && asked ? c.name === asked : c.default));
  if (!cls) return [];
  return cls.allowVolumeExpansion === false
    ? [refuse(`spec.scale.storage.size: the storage class "${cls.name}" of Cluster "${w.cluster?.name ?? ''}" does not allow volume expansion`)]
    : [ok(`storage class ${cls.name}: allows expansion`)];
}

const sameQuantity = (have: unknown, want: unknown) => { const a = parseQuantity(have); const b = parseQuantity(want); return a !== undefined && b !== undefined && a >= b; };
const sameResources = (have: unknown, want: unknown) => Object.entries((want ?? {}) as Record<string, unknown>).every(([k, v]) => String((have as Record<string, unknown> | undefined)?.[k]) === String(v));

function scaleSteps(op: Operation): StepDef[] {
  const k = kindOf(op);
  const s = op.spec.scale ?? {};
  if (!k) return [];
  const kind = op.spec.target.kind;
  const steps: StepDef[] = [checkStep('the service is Ready, its cluster answers, the new size is within the engine\'s bounds and storage only grows', (o, w) => [
    ...sizeCheck(k.replicas, s.replicas, 'spec.scale.replicas', kind),
    ...(s.shards !== undefined && !k.shards ? [refuse(`spec.scale.shards: a ${kind} has no shards`)] : k.shards ? sizeCheck(k.shards, s.shards, 'spec.scale.shards', kind) : []),
    ...storageCheck(o, w),
  ])];
  if (s.replicas !== undefined) steps.push(setStep('set-replicas', `set ${k.replicas.noun} to ${s.replicas}`, k.replicas.path, () => s.replicas));
  if (s.shards !== undefined && k.shards) steps.push(setStep('set-shards', `set shards to ${s.shards}`, k.shards.path, () => s.shards));
  if (s.resources !== undefined) steps.push(setStep('set-resources', `set resources to ${JSON.stringify(s.resources)} (a rolling update)`, ['resources'], () => s.resources, sameResources));
  if (s.storage?.size !== undefined) steps.push(setStep('grow-storage', `grow each data volume to ${String(s.storage.size)}`, ['storage', 'size'], () => s.storage?.size, sameQuantity));
  steps.push(waitStep('wait-ready', kind === 'RedisClusterService' ? 'wait until every server is ready and the slots are settled: all assigned, none moving, no node leaving' : 'wait until every server runs the new size and is ready', 20 * MIN, scaleSettled));
  return steps;
}

// ---- Upgrade ----------------------------------------------------------------------------------------------------

const versionKey = (v: string) => v.split('.').map(Number);
const older = (a: string, b: string) => { const [x, y] = [versionKey(a), versionKey(b)]; return (x[0] ?? 0) < (y[0] ?? 0) || ((x[0] ?? 0) === (y[0] ?? 0) && (x[1] ?? 0) < (y[1] ?? 0)); };

function upgradeSteps(op: Operation): StepDef[] {
  const to = op.spec.upgrade?.version ?? '';
  return [
    checkStep(`the service is Ready and an engine template for ${to} exists`, (o, w) => {
      const from = String(w.service?.spec.version ?? '');
      const t = templateOf(o, w, to);
      return [t, older(to, from) ? refuse(`spec.upgrade.version: ${to} is older than ${from}: a downgrade is not supported`) : ok(`version: ${from} -> ${to}`)];
    }),
    setStep('set-version', `set the version to ${to} (a rolling update, one server at a time)`, ['version'], () => to),
    waitStep('wait-ready', `wait until every server runs ${to} and is ready`, 30 * MIN, (o, w) => (w.service?.status?.version === to ? ok('') : notYet(`servers still differ from ${to}`))),
  ];
}

// ---- Reconfigure ------------------------------------------------------------------------------------------------

/** Which of the parameters the template applies live and which need a restart (unknown keys are refused). */
export function parameterKinds(op: Operation, w: World): { dynamic: string[]; restart: string[]; unknown: string[]; template?: string } {
  const keys = Object.keys(op.spec.reconfigure?.parameters ?? {}).sort();
  const t = w.service ? templateOf(op, w, String(w.service.spec.version ?? '')) : undefined;
  const specs = t ? w.templates.get(t.key)?.parameters : undefined;
  if (!specs) return { dynamic: [], restart: [], unknown: [], ...(t ? { template: t.key } : {}) };
  const meta = new Map(specs.map((p) => [p.key, p]));
  return {
    dynamic: keys.filter((k) => meta.get(k)?.dynamic === true),
    restart: keys.filter((k) => meta.has(k) && meta.get(k)?.dynamic !== true),
    unknown: keys.filter((k) => !meta.has(k)),
    template: t?.key,
  };
}

const listed = (keys: string[]) => (keys.length ? keys.join(', ') : 'none');

function reconfigureSteps(op: Operation, w: World): StepDef[] {
  const want = op.spec.reconfigure?.parameters ?? {};
  const p = parameterKinds(op, w);
  const which = `applied live: ${listed(p.dynamic)}; with a rolling restart: ${listed(p.restart)}`;
  return [
    checkStep(`the service is Ready and the template knows every parameter (${which})`, (o, world) => {
      const now = parameterKinds(o, world);
      if (!now.template || !world.templates.has(now.template)) return [refuse(`template ${now.template ?? '?'}: missing`)];
      return [ok(`template ${now.template}: present`), ...now.unknown.map((k) => refuse(`spec.reconfigure.parameters[${k}]: not a parameter of ${now.template}`))];
    }),
    {
      name: 'set-parameters', description: `set ${listed(Object.keys(want).sort())} in the service's parameters (${which})`, timeoutSeconds: 2 * MIN,
      effect: () => ({ on: 'service', patch: { options: { parameters: want } }, what: `spec.options.parameters ${JSON.stringify(want)}` }),
      applied: (_o, world) => Object.entries(want).every(([k, v]) => (at(world.service?.spec ?? {}, ['options', 'parameters']) as Record<string, unknown> | undefined)?.[k] === v),
      done: instant,
    },
    p.restart.length
      ? waitStep('rolling-restart', `wait while the servers restart one at a time for ${listed(p.restart)}${p.dynamic.length ? ` (${listed(p.dynamic)} live)` : ''}`, 30 * MIN)
      : waitStep('apply-live', `wait until every server applied ${listed(p.dynamic)} live, without a restart`, 5 * MIN),
  ];
}

// ---- Switchover (MySQL) -----------------------------------------------------------------------------------------

/** The server to hand over to: the one chosen before, the one asked for, or the ready replica least behind (the first of equals). */
export function candidateOf(op: Operation, w: World): string | undefined {
  if (op.status?.candidate) return op.status.candidate;
  if (op.spec.switchover?.candidate) return op.spec.switchover.candidate;
  const ready = (w.service?.status?.units ?? []).filter((u) => u.role === 'replica' && u.ready);
  return ready.sort((a, b) => (a.lagSeconds ?? 0) - (b.lagSeconds ?? 0))[0]?.name;
}

/** The server an Operation hands the writes to, of the types that choose one (Switchover, Failover). */
export function chosenCandidate(op: Operation, w: World): string | undefined {
  if (op.spec.type === 'Switchover') return candidateOf(op, w);
  if (op.spec.type === 'Failover' && (op.spec.target.kind === 'MysqlService' || op.spec.target.kind === 'RedisService')) return failoverCandidate(op, w);
  return undefined;
}

const composeSource = (w: World) => String((w.compose?.spec?.source as { unit?: string } | undefined)?.unit ?? '');

/**
 * How far behind its source a switchover candidate may be: what the member's Compose Operator allows (its
 * MysqlReplication's spec.switchover.maxLagSeconds, which the hub leaves at its default of 60 s). Beyond it the member
 * would refuse only after spec.source was changed; the hub refuses first, before anything changes.
 */
export const MYSQL_SWITCHOVER_MAX_LAG_S = 60;

/** The candidate's lag in seconds: the member's MysqlReplication when it was read, else what the hub last saw of it. */
function mysqlLag(w: World, unit: string): { lag?: number; bound: number } {
  const topo = w.compose?.status?.topology as Record<string, { lagSeconds?: number }> | undefined;
  const fromMember = w.compose ? topo?.[unit]?.lagSeconds : undefined;
  const lag = fromMember ?? w.service?.status?.units?.find((u) => u.name === unit)?.lagSeconds;
  const bound = (w.compose?.spec?.switchover as { maxLagSeconds?: number } | undefined)?.maxLagSeconds ?? MYSQL_SWITCHOVER_MAX_LAG_S;
  return { ...(typeof lag === 'number' ? { lag } : {}), bound };
}

function switchoverSteps(op: Operation): StepDef[] {
  const name = op.spec.target.name;
  return [
    checkStep('the service is Ready and the candidate is a replica in sync with the source (no further behind than a switchover allows)', (o, w) => {
      const c = candidateOf(o, w);
      const field = o.spec.switchover?.candidate ? 'spec.switchover.candidate' : 'spec.type';
      if (!c) return [refuse(`${field}: service ${name} has no ready replica to hand over to`)];
      const u = w.service?.status?.units?.find((x) => x.name === c);
      if (!u) return [refuse(`${field}: ${c} is not a server of service ${name}`)];
      if (u.role === 'source') return [refuse(`${field}: ${c} already takes the writes`)];
      if (u.role !== 'replica' || !u.ready) return [notYet(`candidate ${c}: ${u.ready ? u.role ?? 'no role' : 'not ready'}`)];
      const { lag, bound } = mysqlLag(w, c);
      if (lag === undefined) return [notYet(`candidate ${c}: its lag is not reported yet`)];
      const source = String(w.service?.status?.source ?? '') || 'the source';
      // Writes stop from the fence until the candidate has applied everything: a candidate far behind would hold them.
      if (lag > bound) return [refuse(`${field}: candidate ${c} in sync: no: ${lag} s behind ${source}, more than the ${bound} s a switchover allows`)];
      return [ok(`candidate ${c} in sync: yes (lag ${lag} s, within ${bound} s)`)];
    }),
    {
      name: 'switch-source', description: 'name the candidate as the source of the member\'s MysqlReplication (the Compose Operator fences the old source, waits for the candidate to catch up, promotes it)', timeoutSeconds: 2 * MIN,
      effect: (o, w) => {
        const c = candidateOf(o, w) ?? '';
        // The others as the hub's mirror derives them (desired/common.ts replicationMembers): every server of the
        // UnitSet "<name>" (not ProxySQL's) but the source.
        const replicas = (w.service?.status?.units ?? []).map((u) => u.name).filter((u) => u !== c && new RegExp(`^${name}-\\d+$`).test(u)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
        return { on: 'compose', kind: 'MysqlReplication', name, patch: { spec: { source: { name: c, unit: c }, replicas: replicas.map((u) => ({ name: u, unit: u })) } }, what: `MysqlReplication ${name} spec.source = ${c}` };
      },
      // The member's object when it was read, else what the hub last saw of it.
      applied: (o, w) => (w.compose ? composeSource(w) : String(w.service?.status?.source ?? '')) === candidateOf(o, w),
      done: instant,
    },
    waitStep('wait-source', 'wait until the Compose Operator reports the candidate as the source', 5 * MIN, (o, w) => {
      const c = candidateOf(o, w);
      return w.service?.status?.source === c ? ok('') : notYet(`the source is still ${String(w.service?.status?.source ?? '?')}`);
    }),
  ];
}

// ---- Create ---------------------------------------------------------------------------------------------------

const createSteps = (): StepDef[] => [
  { name: 'check', description: 'the service exists', timeoutSeconds: 60, precondition: (op, w) => (w.service ? ok(`service ${op.spec.target.name}: found`) : refuse(`spec.target.name: ${op.spec.target.kind} ${op.spec.target.name} not found`)), done: instant },
  waitStep('wait-ready', 'wait until the service is placed and every server is ready', 30 * MIN),
];

/** The steps of an Operation, or why its type cannot run on its kind. */
export function stepsFor(op: Operation, w: World): StepDef[] | { unsupported: string } {
  const kind = op.spec.target.kind;
  if (!kindOf(op)) return { unsupported: `spec.target.kind: unknown kind ${kind}` };
  switch (op.spec.type) {
    case 'Create': return createSteps();
    case 'Scale': return scaleSteps(op);
    case 'Upgrade': return upgradeSteps(op);
    case 'Reconfigure': return reconfigureSteps(op, w);
    case 'Switchover': return kind === 'MysqlService' ? switchoverSteps(op) : kind === 'RedisService' ? redisSwitchoverSteps(op) : { unsupported: `spec.type: Switchover of a ${kind} is not supported yet` };
    case 'Failover': return kind === 'MysqlService' ? mysqlFailoverSteps(op) : kind === 'RedisService' ? redisFailoverSteps(op, w) : { unsupported: `spec.type: Failover of a ${kind} is not supported yet` };
    case 'Restart': return restartSteps(op, w);
    case 'Stop': return stopSteps();
    case 'Start': return startSteps();
    default: return { unsupported: `spec.type: ${op.spec.type} is not supported yet` };
  }
}
