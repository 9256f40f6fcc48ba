import { describe, expect, it } from '@jest/globals';
import type { Operation, OperationStatus } from '../../lib/operations/types.ts';
import { transitions } from './events.ts';

const op = (status?: OperationStatus): Operation => ({ metadata: { name: 'o' }, spec: { type: 'Scale', target: { kind: 'MysqlService', name: 'db' } }, ...(status ? { status } : {}) });

describe('Operation events', () => {
  it('tells each step that starts, succeeds or fails, the queue and the end, once', () => {
    const before = op({ phase: 'Running', steps: [{ name: 'check', phase: 'Succeeded' }, { name: 'set-replicas', phase: 'Pending' }, { name: 'wait-ready', phase: 'Pending' }] });
    const after = op({ phase: 'Running', steps: [{ name: 'check', phase: 'Succeeded' }, { name: 'set-replicas', phase: 'Succeeded', message: 'spec.topology.replicas is 5' }, { name: 'wait-ready', phase: 'Running', message: 'waiting' }] });
    expect(transitions(before, after).map((e) => `${e.reason}: ${e.message}`)).toEqual(['StepSucceeded: step set-replicas: spec.topology.replicas is 5', 'StepStarted: step wait-ready: waiting']);
    expect(transitions(after, after)).toEqual([]);
    const failed = op({ phase: 'Failed', message: 'step wait-ready failed: x', steps: [{ name: 'wait-ready', phase: 'Failed', message: 'x' }] });
    expect(transitions(after, failed).map((e) => [e.type, e.reason])).toEqual([['Warning', 'StepFailed'], ['Warning', 'Failed']]);
    expect(transitions(op(), op({ phase: 'Pending', waitingFor: 'a', message: 'waiting for Operation a on the same service' }))).toEqual([{ type: 'Normal', reason: 'Queued', message: 'waiting for Operation a on the same service' }]);
  });
});
