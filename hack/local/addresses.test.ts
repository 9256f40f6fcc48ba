import { describe, expect, it } from '@jest/globals';
import { resolveLocal, stableAddress } from './addresses.ts';

describe('stable loopback addresses', () => {
  it('maps a pod name to the same 127.128.0.0/9 address every time, different per cluster, namespace and name', () => {
    const a = stableAddress('member1', 'db', 'mdb-0');
    expect(a).toBe(stableAddress('member1', 'db', 'mdb-0'));
    expect(a).toMatch(/^127\.(1[2-9][0-9]|2[0-5][0-9])\.[0-9]+\.[0-9]+$/);
    const last = Number(a.split('.')[3]);
    expect(last).toBeGreaterThan(0);
    expect(last).toBeLessThan(255);
    const others = [stableAddress('member2', 'db', 'mdb-0'), stableAddress('member1', 'db2', 'mdb-0'), stableAddress('member1', 'db', 'mdb-1')];
    for (const o of others) expect(o).not.toBe(a);
  });

  it('spreads 1,000 names without a collision', () => {
    const seen = new Set(Array.from({ length: 1000 }, (_, i) => stableAddress('c', 'ns', `u-${i}`)));
    expect(seen.size).toBe(1000);
  });

  it('resolves pod and per-unit Service DNS names, and leaves other hosts alone', () => {
    const pod = stableAddress('m', 'ns1', 'zk-1');
    expect(resolveLocal('m', 'zk-1.zk-headless.ns1.svc.cluster.local')).toBe(pod);
    expect(resolveLocal('m', 'zk-1.zk-headless.ns1.svc')).toBe(pod);
    expect(resolveLocal('m', 'zk-1.ns1.svc.cluster.local')).toBe(pod);
    expect(resolveLocal('m', '127.0.0.1')).toBe('127.0.0.1');
    expect(resolveLocal('m', 'example.com')).toBe('example.com');
  });
});
