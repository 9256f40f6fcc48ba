import { describe, expect, it } from '@jest/globals';
import type { KubeClient } from '../lib/kube/client.ts';
import { AuditLog, type OperationRecord } from './audit.ts';

const record = (name: string): OperationRecord => ({
  user: { name: 'alice', groups: [], extra: {} }, verb: 'patch', apiGroup: 'upm.io', resource: 'projects', subresource: '',
  namespace: '', name, project: name, projectUid: 'uid-1', code: 200, reason: '', message: '', userAgent: 'test',
});

/** A storage whose writes complete only when the test says so, and which remembers what it was sent. */
function storage() {
  const pending: (() => void)[] = [];
  const bodies: { metadata: { labels: Record<string, string> } }[] = [];
  const client = {
    request: (_m: string, _p: string, args: { body: { metadata: { labels: Record<string, string> } } }) => {
      bodies.push(args.body);
      return new Promise<void>((resolve) => pending.push(resolve));
    },
  } as unknown as KubeClient;
  return { client, pending, bodies };
}

describe('AuditLog', () => {
  it('makes a change wait for room in a full queue instead of dropping its record, and refuses it after the deadline', async () => {
    const s = storage();
    const log = new AuditLog(s.client, { concurrency: 1, maxQueue: 2 });
    const a = await log.reserve(0);
    const b = await log.reserve(0);
    expect(a && b).toBeTruthy();
    expect(await log.reserve(50)).toBeUndefined(); // full: no place within 50 ms
    expect(log.stats.queueFull).toBe(1);
    const waiting = log.reserve(5000);
    a?.fill(record('one')); // goes straight to the writer: a place frees and the waiter gets it
    const c = await waiting;
    expect(c).toBeDefined();
    b?.fill(record('two'));
    c?.release();
    expect(log.stats.dropped).toBe(0);
    while (s.pending.length) { (s.pending.shift() as () => void)(); await new Promise((r) => setImmediate(r)); }
    await log.drain();
    expect(log.stats.written).toBe(2);
    expect(s.bodies.map((bd) => bd.metadata.labels['upm.io/project-uid'])).toEqual(['uid-1', 'uid-1']);
  });

  it('fills or releases a place once only', async () => {
    const log = new AuditLog(storage().client, { concurrency: 1, maxQueue: 1 });
    const a = await log.reserve(0);
    a?.release();
    a?.release();
    a?.fill(record('late'));
    expect(log.pending).toBe(0);
  });
});
