// What the end-to-end Stop and Start tests of the clustered kinds (ZooKeeper, Kafka, OpenSearch) share: proof that
// every engine of a service is down (each Unit reports its engine stopped, and nothing answers on the engine's port at
// the unit's address any more), the compose object's own word that it holds still, and the Warning Events it
// recorded (a stop must not read as a lost server or a new leader).
import { connect } from 'node:net';
import { expect } from '@jest/globals';
import { UnitResource, type Unit } from '../lib/api/unit.upm.io.generated.ts';
import { Resources, type ResourceType } from '../lib/kube/resources.ts';
import type { KubeObject } from '../lib/kube/types.ts';
import type { HubProject } from './hub-member.ts';

type Ev = KubeObject & { type?: string; reason?: string; message?: string; count?: number };
type Composed = KubeObject & { status?: { phase?: string; conditions?: { type: string; status: string; reason?: string }[] } };

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
