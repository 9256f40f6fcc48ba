import { describe, expect, it } from '@jest/globals';
import type { Unit } from '../../../lib/api/unit.upm.io.generated.ts';
import { allStopped, stoppedConditions } from './stopped.ts';

const store = (startup: Record<string, boolean | undefined>) => ({
  get: (key: string) => {
    const name = key.split('/')[1] ?? '';
    return name in startup ? ({ metadata: { name }, spec: { startup: startup[name] } } as unknown as Unit) : undefined;
  },
});

describe('a replication stopped on purpose', () => {
  it('is so only when every server is a Unit asked to stop', () => {
    expect(allStopped(['db-0', 'db-1'], 'p', store({ 'db-0': false, 'db-1': false }))).toBe(true);
    expect(allStopped(['db-0', 'db-1'], 'p', store({ 'db-0': false, 'db-1': true }))).toBe(false);
    expect(allStopped(['db-0', 'db-1'], 'p', store({ 'db-0': false, 'db-1': undefined }))).toBe(false);
    expect(allStopped(['db-0', undefined], 'p', store({ 'db-0': false }))).toBe(false);
    expect(allStopped(['db-0', 'db-9'], 'p', store({ 'db-0': false }))).toBe(false);
    expect(allStopped([], 'p', store({}))).toBe(false);
  });

  it('reads as not Degraded, with the reason Stopped', () => {
    const c = stoppedConditions([{ type: 'Degraded', status: 'True', reason: 'NodesNotReady', message: 'db-0: unreachable' }], 3, 2);
    expect(c.find((x) => x.type === 'Degraded')).toMatchObject({ status: 'False', reason: 'Stopped', observedGeneration: 2 });
    expect(c.find((x) => x.type === 'TopologyReady')).toMatchObject({ status: 'False', reason: 'Stopped' });
    expect(c.find((x) => x.type === 'TopologyReady')?.message).toContain('all 3 servers are stopped on purpose');
  });
});
