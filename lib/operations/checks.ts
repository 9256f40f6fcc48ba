// The checks steps share, each a fact about the world now, worded so a plan preview reads as a list of facts
// ("cluster member1: Ready", "template mariadb-10.11: present").
import { KINDS, type KindInfo } from './kinds.ts';
import type { Check, Operation, ServiceView, World } from './types.ts';

export const ok = (message: string): Check => ({ ok: true, message });
export const refuse = (message: string): Check => ({ ok: false, fatal: true, message });
export const notYet = (message: string): Check => ({ ok: false, message });

/** All of them: ok when each is, fatal when one refusal is among the failures; the message lists every fact. */
export function all(...checks: Check[]): Check {
  const failed = checks.filter((c) => !c.ok);
  const fatal = failed.filter((c) => c.fatal);
  const shown = fatal.length ? fatal : failed.length ? failed : checks;
  return { ok: failed.length === 0, ...(fatal.length ? { fatal: true } : {}), message: shown.map((c) => c.message).join('; ') };
}

export const kindOf = (op: Operation): KindInfo | undefined => KINDS[op.spec.target.kind];
export const serviceName = (op: Operation): string => `${op.spec.target.kind} ${op.spec.target.name}`;

export function serviceFound(op: Operation, w: World): Check {
  if (!w.service) return refuse(`spec.target.name: ${serviceName(op)} not found`);
  if (w.service.metadata.deletionTimestamp) return refuse(`spec.target.name: ${serviceName(op)} is being deleted`);
  return ok(`service ${op.spec.target.name}: found`);
}

export function clusterReady(w: World): Check {
  if (!w.cluster) return notYet(`cluster ${(w.service?.spec.placement as { cluster?: string } | undefined)?.cluster ?? '?'}: not found`);
  return w.cluster.ready ? ok(`cluster ${w.cluster.name}: Ready`) : notYet(`cluster ${w.cluster.name}: not Ready${w.cluster.message ? ` (${w.cluster.message})` : ''}`);
}

/** The services controller has acted on the current spec and the member reports it running. */
export function settled(svc: ServiceView | undefined): boolean {
  const st = svc?.status;
  return !!svc && !!st && (st.observedGeneration ?? 0) >= (svc.metadata.generation ?? 0) && st.phase === 'Ready';
}

export function serviceReady(op: Operation, w: World): Check {
  const st = w.service?.status;
  if (settled(w.service)) return ok(`service ${op.spec.target.name}: Ready${st?.ready ? ` (${st.ready})` : ''}`);
  const behind = (st?.observedGeneration ?? 0) < (w.service?.metadata.generation ?? 0);
  return notYet(`service ${op.spec.target.name}: ${behind ? 'its last change is not applied yet' : `${st?.phase ?? 'no status yet'}`}${st?.ready ? ` (${st.ready})` : ''}`);
}

/** The basics every type checks first: the service is there, its cluster answers, it is Ready (not mid-change). */
export const basics = (op: Operation, w: World): Check[] => [serviceFound(op, w), clusterReady(w), serviceReady(op, w)];

export function templateOf(op: Operation, w: World, version: string): Check & { key: string } {
  const k = kindOf(op);
  const key = `${k?.family(w.service?.spec ?? {}) ?? '?'}-${version}`;
  return { key, ...(w.templates.has(key) ? ok(`template ${key}: present`) : refuse(`template ${key}: missing`)) };
}
