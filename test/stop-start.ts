// What the end-to-end Stop and Start tests share: the Stop and Start Operations run as a project editor asks for
// them (their steps, the hub service Stopped), proof that every engine of a service is down (each Unit reports its
// engine stopped, and nothing answers on the engine's port at the unit's address any more), the compose object's own
// word that it holds still, and the Warning Events it recorded (a stop must not read as a lost server or a new leader).
import { connect } from 'node:net';
import { expect } from '@jest/globals';
import { UnitResource, type Unit } from '../lib/api/unit.upm.io.generated.ts';
import { Resources, type ResourceType } from '../lib/kube/resources.ts';
import type { KubeObject } from '../lib/kube/types.ts';
import type { HubProject } from './hub-member.ts';
import { operationsOf, type Op } from './operations.ts';

type Ev = KubeObject & { type?: string; reason?: string; message?: string; count?: number };
type Composed = KubeObject & { spec?: { stopped?: boolean }; status?: { phase?: string; conditions?: { type: string; status: string; reason?: string }[] } };

/** Whether something accepts a TCP connection at host:port (refused or timed out: no). */
export function listening(host: string, port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (v: boolean) => { s.destroy(); resolve(v); };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** The service's Units on the member, by name. */
export async function unitsOf(p: HubProject, service: string): Promise<Unit[]> {
  const items = (await p.member.list<Unit>(UnitResource, { namespace: p.project, labelSelector: `upm.io/service=${service}` })).items;
  return items.sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '', 'en', { numeric: true }));
}

/**
 * Every engine of the service is down: each Unit (as many as `count`) says Stopped with its engine Stopped, and the
 * engine's port at the address it served on (`addresses`, taken while it ran) accepts no connection.
 */
export async function expectEnginesDown(p: HubProject, service: string, count: number, port: number, addresses: string[]): Promise<void> {
  const units = await unitsOf(p, service);
  expect(units.map((u) => `${u.metadata.name}: ${u.status?.phase} ${u.status?.engine?.state} startup=${String(u.spec.startup)}`))
    .toEqual(units.map((u) => `${u.metadata.name}: Stopped Stopped startup=false`));
  expect(units).toHaveLength(count);
  expect(addresses).toHaveLength(count);
  for (const a of addresses) expect(`${a}:${port} ${(await listening(a, port)) ? 'answers' : 'closed'}`).toBe(`${a}:${port} closed`);
}

/** The compose object holds still: phase Stopped, not Ready, not Degraded (reason Stopped). */
export async function expectHeldStill(p: HubProject, rt: ResourceType, name: string): Promise<Composed> {
  const c = await p.member.get<Composed>(rt, name, p.project);
  expect(c.status?.phase).toBe('Stopped');
  expect(c.status?.conditions?.find((x) => x.type === 'Ready')).toMatchObject({ status: 'False', reason: 'Stopped' });
  expect(c.status?.conditions?.find((x) => x.type === 'Degraded')).toMatchObject({ status: 'False', reason: 'Stopped' });
  return c;
}

/** The Warning Events recorded for the compose object, as "reason: message (count)" (a repeat raises the count). */
export async function warningsOf(p: HubProject, kind: string, name: string): Promise<string[]> {
  const events = (await p.member.list<Ev>(Resources.events, { namespace: p.project, fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name},type=Warning` })).items;
  return events.map((e) => `${e.reason}: ${e.message} (${e.count ?? 1})`);
}

/** How a stopped service of a clustered kind must look, for `stopHeld`. */
export interface HeldStill {
  /** How long the Stop may take. */
  seconds: number;
  /** The member's compose object (of the service's name) and its kind as Events name it. */
  compose: ResourceType;
  composeKind: string;
  /** The engine's port, and the address of each unit while it ran. */
  port: number;
  addresses: string[];
  /** The Warning Events of the compose object before the stop: the stop adds none. */
  warnings: string[];
  /** How long it must hold still: longer than a health pass of the compose object (default 12 s). */
  settleMs?: number;
}

/**
 * The Stop and Start Operations (named `stop` and `start`) of a hub service, as its project's editor creates them,
 * each checked for what every kind shares.
 */
export function stopStartOf(p: HubProject, target: { kind: string; name: string }) {
  const { operation, steps, waitSucceeded } = operationsOf(p, target);
  const resource = target.kind.toLowerCase();
  /** Stop: its steps all Succeeded, the hub service Stopped and not Ready (reason Stopped). */
  const stop = async (seconds: number): Promise<Op> => {
    await p.as(['create', '-f', '-'], JSON.stringify(operation('stop', { type: 'Stop' })));
    const o = await waitSucceeded('stop', seconds);
    expect(steps(o)).toEqual(['check:Succeeded', 'stop-servers:Succeeded', 'wait-stopped:Succeeded']);
    const svc = await p.hubObject(resource, target.name);
    expect(svc.status?.phase).toBe('Stopped');
    expect(svc.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'Stopped' });
    return o;
  };
  return {
    stop,
    /**
     * Stop, then every engine down and, for longer than a health pass, the compose object held still (stopped in its
     * spec, no server taken for lost: no Warning Event more). Returns the compose object for the kind's own checks.
     */
    stopHeld: async (h: HeldStill): Promise<Composed> => {
      await stop(h.seconds);
      await expectEnginesDown(p, target.name, h.addresses.length, h.port, h.addresses);
      await new Promise((r) => setTimeout(r, h.settleMs ?? 12_000));
      const c = await expectHeldStill(p, h.compose, target.name);
      expect(c.spec?.stopped).toBe(true);
      expect(await warningsOf(p, h.composeKind, target.name)).toEqual(h.warnings);
      return c;
    },
    /** Start: its steps all Succeeded. */
    start: async (seconds: number): Promise<Op> => {
      await p.as(['create', '-f', '-'], JSON.stringify(operation('start', { type: 'Start' })));
      const o = await waitSucceeded('start', seconds);
      expect(steps(o)).toEqual(['check:Succeeded', 'start-servers:Succeeded', 'wait-ready:Succeeded']);
      return o;
    },
  };
}
