// A member's watches (real Informers) against an in-memory API: what they record as heard, failed and known, and
// when they tell the controller; /version read once per (re)connection, never on a timer.
import { afterEach, describe, expect, it } from '@jest/globals';
import { FakeApi } from '../../lib/kube/fake.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { KubeApiError } from '../../lib/kube/errors.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { failureOf, MemberWatch } from './watch.ts';

const lease = (name: string, renew: string): KubeObject => ({
  apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
  metadata: { name, namespace: 'kube-system', labels: { 'apiserver.kubernetes.io/identity': 'kube-apiserver' } },
  spec: { renewTime: renew },
} as KubeObject);
const node = (name: string, zone: string, extra: Record<string, string> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'topology.kubernetes.io/zone': zone, ...extra } } });

const open: MemberWatch[] = [];
afterEach(async () => { await Promise.all(open.splice(0).map((w) => w.close())); });

function member(opts: { refuse?: number } = {}) {
  const api = new FakeApi();
  let now = 1_000_000;
  let changes = 0;
  const versions: string[] = [];
  let refusals = opts.refuse ?? 0;
  const client = {
    ...api.client,
    list: async (...args: Parameters<KubeClient['list']>) => {
      if (args[0].plural === 'leases' && refusals-- > 0) throw new KubeApiError(401, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 401, reason: 'Unauthorized', message: 'Unauthorized' }, 'GET leases');
      return api.client.list(...args);
    },
    raw: async (_m: string, path: string) => { versions.push(path); return { statusCode: 200, headers: {}, body: { gitVersion: 'v1.36.3' } }; },
  } as unknown as KubeClient;
  const make = () => {
    const w = new MemberWatch(client, 'uid/1/kubeconfig', { now: () => now, onChange: () => { changes++; }, staleMs: 25_000 });
    open.push(w);
    return w;
  };
  return { api, make, versions, changes: () => changes, step: (ms: number) => { now += ms; }, now: () => now };
}

describe('a member watch', () => {
  it('hears the identity Leases (the list, then each renewal), and knows the inventory and version', async () => {
    const m = member();
    m.api.put('leases', lease('apiserver-a', 't0'));
    m.api.put('nodes', node('n1', 'zone-a'));
    m.api.put('nodes', node('n2', 'zone-b'));
    m.api.put('storageclasses', { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'fast' }, provisioner: 'p' } as KubeObject);
    const w = m.make();
    await waitFor('heard, inventory and version', () => { const f = w.facts(); return f.heardAt !== undefined && !!f.inventory && !!f.version; });
    expect(w.facts()).toMatchObject({ since: 1_000_000, heardAt: 1_000_000, reconnects: 0, version: 'v1.36.3', nodes: 2, inventory: { zones: ['zone-a', 'zone-b'], storageClasses: [{ name: 'fast' }] } });
    expect(m.versions).toEqual(['/version']);
    const told = m.changes();
    // A renewal 10 s later: heard, but nothing for the controller (it looks on its own timer).
    m.step(10_000);
    m.api.put('leases', lease('apiserver-a', 't1'));
    await waitFor('the renewal heard', () => w.facts().heardAt === 1_010_000);
    expect(m.changes()).toBe(told);
    // A Node's status changing: no new inventory, nothing told. Its labels, or a new Node: told.
    m.api.put('nodes', { ...node('n1', 'zone-a'), status: { conditions: [] } } as KubeObject);
    m.api.put('nodes', node('n3', 'zone-c'));
    await waitFor('n3 counted', () => w.facts().nodes === 3);
    expect(w.facts().inventory?.zones).toEqual(['zone-a', 'zone-b', 'zone-c']);
    expect(m.changes()).toBe(told + 1);
    // Heard again after a silence of the staleness bound: told, and /version read again (it may have been upgraded).
    m.step(30_000);
    m.api.put('leases', lease('apiserver-a', 't2'));
    await waitFor('heard after the silence', () => m.changes() === told + 2);
    expect(w.facts().heardAt).toBe(1_040_000);
    expect(m.versions).toEqual(['/version']); // version already read and not lost: no re-read for a silence alone
  });

  it('records a refusal, tells the controller, reads /version again once heard after it, and forgets it then', async () => {
    const m = member({ refuse: 1 });
    m.api.put('leases', lease('apiserver-a', 't0'));
    const w = m.make();
    await waitFor('heard after the refusal', () => w.facts().heardAt !== undefined);
    expect(w.facts().failure).toBeUndefined();
    expect(m.changes()).toBeGreaterThanOrEqual(2); // the failure, then heard
    expect(m.versions.length).toBeGreaterThanOrEqual(1);
  });

  it('reconnect() restarts the watches, counts the restarts, and being heard again resets them', async () => {
    const m = member();
    m.api.put('leases', lease('apiserver-a', 't0'));
    const w = m.make();
    await waitFor('heard', () => w.facts().heardAt !== undefined);
    m.step(30_000);
    w.reconnect();
    expect(w.facts()).toMatchObject({ reconnects: 1, reconnectedAt: 1_030_000 });
    m.api.put('leases', lease('apiserver-a', 't1'));
    await waitFor('heard through the new watch', () => w.facts().heardAt === 1_030_000);
    expect(w.facts().reconnects).toBe(0);
  });
});

describe('failures in words', () => {
  it('names the refusal and the server error by code, and an unanswered connection by its cause', () => {
    expect(failureOf(new KubeApiError(401, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 401, reason: 'Unauthorized', message: 'Unauthorized' }, 'x'), 5))
      .toEqual({ at: 5, code: 401, detail: '401 Unauthorized on the watch of its identity Leases (kube-system)' });
    expect(failureOf(new KubeApiError(403, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 403, reason: 'Forbidden', message: 'leases.coordination.k8s.io is forbidden: User "u" cannot list resource "leases"' }, 'x'), 5).detail)
      .toBe('403 Forbidden on the watch of its identity Leases (kube-system): leases.coordination.k8s.io is forbidden: User "u" cannot list resource "leases"');
    const refused = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) });
    expect(failureOf(refused, 5)).toEqual({ at: 5, detail: 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9' });
    expect(failureOf(Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' }), 5).detail).toBe('timed out');
  });
});
