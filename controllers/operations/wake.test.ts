import { describe, expect, it } from '@jest/globals';
import type { Operation, OperationStatus } from '../../lib/operations/types.ts';
import { concernedBySibling, concernedByService, onlyQueued } from './wake.ts';

const op = (name: string, status?: OperationStatus, created = '2026-01-01T00:00:00Z'): Operation => ({
  metadata: { name, namespace: 'p', creationTimestamp: created }, spec: { type: 'Scale', target: { kind: 'MysqlService', name: 'db' } }, ...(status ? { status } : {}),
});
const names = (ops: Operation[]) => ops.map((o) => o.metadata.name);

describe('the Operations an event concerns', () => {
  const running = op('a', { phase: 'Running', startTime: '2026-01-01T00:00:01Z' });
  const queuedB = op('b', { phase: 'Pending', waitingFor: 'a' });
  const queuedC = op('c', { phase: 'Pending', waitingFor: 'a' });
  const fresh = op('d'); // not reconciled yet: no status
  const precondition = op('e', { phase: 'Pending', message: 'check: service db: not Ready' }); // not queued: waits for the service

  it('a change of the service: the running one, one not reconciled yet, one waiting for its precondition; not the queued ones', () => {
    expect(names(concernedByService([running, queuedB, queuedC, fresh, precondition]))).toEqual(['a', 'd', 'e']);
  });

  it('a change of the service: one whose Operation ahead is gone from the unfinished ones (it ended) is concerned again', () => {
    expect(names(concernedByService([queuedB, queuedC]))).toEqual(['b', 'c']);
  });

  it('a sibling that arrives, starts or ends: the ones not started, head of the queue first; never the running one nor itself', () => {
    const late = op('b0', { phase: 'Pending', waitingFor: 'a' }, '2026-01-01T00:00:05Z');
    const early = op('z', undefined, '2025-12-31T23:59:59Z');
    expect(names(concernedBySibling([late, running, queuedC, queuedB, early], running))).toEqual(['z', 'b', 'c', 'b0']);
    expect(names(concernedBySibling([running, queuedB, queuedC], queuedB))).toEqual(['c']);
  });

  it('only queued: not started, another unfinished ahead, not cancelled', () => {
    const all = [running, queuedB, queuedC, fresh];
    expect(all.map((o) => onlyQueued(o, all))).toEqual([false, true, true, true]);
    // The one ahead ended: the head of the queue is no longer only queued, the next one still is.
    const rest = [queuedB, queuedC];
    expect(rest.map((o) => onlyQueued(o, rest))).toEqual([false, true]);
    expect(onlyQueued({ ...queuedC, spec: { ...queuedC.spec, cancel: true } }, all)).toBe(false);
    expect(onlyQueued({ ...queuedC, spec: { ...queuedC.spec, type: 'Backup' } }, all)).toBe(false); // read-only: never waits
    expect(onlyQueued(undefined, all)).toBe(false);
  });
});
