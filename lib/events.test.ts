import { describe, expect, it } from '@jest/globals';
import { EventRecorder } from './events.ts';
import type { KubeClient } from './kube/client.ts';
import type { KubeObject } from './kube/types.ts';

/** An API whose Event creates answer only when the test lets them: what is in flight, and what was created. */
function slowApi() {
  const created: { name: string; reason: string }[] = [];
  const pending: (() => void)[] = [];
  let inFlight = 0;
  let most = 0;
  const client = {
    create: async (_rt: unknown, obj: KubeObject & { reason?: string }) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise<void>((r) => pending.push(r));
      inFlight--;
      created.push({ name: obj.metadata.name ?? '', reason: obj.reason ?? '' });
      return obj;
    },
  } as unknown as KubeClient;
  return { client, created, pending, most: () => most };
}

const op = (name: string): KubeObject => ({ apiVersion: 'upm.io/v1alpha1', kind: 'Operation', metadata: { name, namespace: 'p', uid: `uid-${name}` } });

describe('EventRecorder.emit', () => {
  it('returns before the Event is written, sends a few at a time, names them in the order emitted', async () => {
    const api = slowApi();
    const rec = new EventRecorder(api.client, 'test');
    for (let i = 0; i < 6; i++) rec.emit(op('a'), 'Normal', `R${i}`, 'm');
    let flushed = false;
    const flushing = rec.flush().then(() => { flushed = true; });
    // Let the senders reach the API: two at once, the rest wait.
    await new Promise((r) => setImmediate(r));
    expect(api.pending).toHaveLength(2);
    expect(api.created).toHaveLength(0);
    while (api.created.length < 6) {
      for (const r of api.pending.splice(0)) r();
      await new Promise((r) => setImmediate(r));
    }
    await flushing;
    expect(flushed).toBe(true);
    expect(api.most()).toBe(2);
    expect(api.created.map((e) => e.reason).sort()).toEqual(['R0', 'R1', 'R2', 'R3', 'R4', 'R5']);
    // The names (<object>.<hex nanoseconds>) sort as the Events were emitted, whatever order they were sent in.
    const byName = [...api.created].sort((x, y) => (x.name.length - y.name.length) || x.name.localeCompare(y.name));
    expect(byName.map((e) => e.reason)).toEqual(['R0', 'R1', 'R2', 'R3', 'R4', 'R5']);
  });

  it('flush() resolves at once when nothing is pending', async () => {
    await expect(new EventRecorder(slowApi().client, 'test').flush()).resolves.toBeUndefined();
  });
});
