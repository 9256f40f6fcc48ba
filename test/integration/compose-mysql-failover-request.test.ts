// A failover asked of the MysqlReplication by name (spec.failover.request), on real MariaDB servers with automatic
// failover off: while the source answers, the request is refused once (status.failoverRequest) and nothing moves,
// and that answered request does not fire later when the source is lost; a new request, once the source is gone,
// promotes the named replica at once (not the first by name, not after any vote of the replicas), records it with
// the request's id, and the other replica follows it with the writes made there.
import { describe, expect, it } from '@jest/globals';
import type { UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { kubectlOk } from '../kubectl.ts';
import { useUnitOperator } from '../unit-operator.ts';
import { mariadbReplication } from '../fixtures.ts';
import { mysqlSuite } from '../mysql.ts';

const CLUSTER = 'member1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('MysqlReplication failover requests on real MariaDB', () => {
  const f = useUnitOperator(CLUSTER, 'cmfreq', { engines: true, compose: true });
  const { query, mr, waitReady, loadAdmin, loseEngine, readOnly, patch, ipOf } = mysqlSuite(f, CLUSTER);
  const eventCount = async (reason: string) => {
    const list = await f.client.list<KubeObject & { reason?: string; count?: number }>(Resources.events, { namespace: f.ns, fieldSelector: `involvedObject.name=db,involvedObject.kind=MysqlReplication,reason=${reason}` });
    return list.items.reduce((n, e) => n + (e.count ?? 1), 0);
  };

  it('wires 1 source + 2 replicas with automatic failover off', async () => {
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], mariadbReplication(f.ns));
    await waitFor('UnitSet ready', async () => (await f.client.get<UnitSet>(UnitSetResource, 'db', f.ns)).status?.readyUnits === 3, { timeoutMs: 90_000 });
    await loadAdmin();
    await patch({ failover: { enabled: false } });
    await waitReady('replication ready');
    await query('db-0', 'CREATE DATABASE fr');
    await query('db-0', 'CREATE TABLE fr.t (id INT PRIMARY KEY)');
    await query('db-0', 'INSERT INTO fr.t VALUES (1)');
  }, 180_000);

  it('refuses a request while the source answers, once, and changes nothing', async () => {
    await patch({ failover: { request: { id: 'r1', candidate: 'db-1' } } });
    await waitReady('r1 answered', (m) => m.status?.failoverRequest?.id === 'r1');
    const m = await mr();
    expect(m.status?.failoverRequest).toMatchObject({ id: 'r1', outcome: 'Refused', message: expect.stringContaining('the source db-0 is reachable and takes writes') });
    expect(m.spec.source.name).toBe('db-0');
    expect(m.status?.lastFailover).toBeUndefined();
    expect(await readOnly('db-1')).toBe(1);
    // Answered once: later passes (every 10 s while ready, at once on any change) say nothing more.
    await patch({ switchover: { maxLagSeconds: 61 } });
    await waitReady('the next generation seen', (x) => x.status?.observedGeneration === x.metadata.generation);
    expect(await eventCount('FailoverRefused')).toBe(1);
  }, 60_000);

  it('does not act on that answered request when the source is lost; a new one promotes the named replica at once', async () => {
    await loseEngine('db-0');
    await waitReady('db-0 lost by both replicas', (m) => m.status?.topology?.['db-0']?.status === 'Failed'
      && ['db-1', 'db-2'].every((n) => m.status?.topology?.[n]?.ioThread !== 'Yes'), 60_000, false);
    // Past downAfterSeconds (3 s): with automatic failover off and r1 answered, nobody is promoted.
    for (const end = Date.now() + 5000; Date.now() < end; await sleep(500)) {
      const m = await mr();
      expect(m.spec.source.name).toBe('db-0');
      expect(m.status?.lastFailover).toBeUndefined();
    }
    // db-2 is not the first replica by name: the request, not the operator's choice, decides.
    await patch({ failover: { request: { id: 'r2', candidate: 'db-2' } } });
    await waitReady('db-2 promoted', (m) => m.status?.source === 'db-2', 30_000, false);
    const m = await mr();
    expect(m.spec.source).toMatchObject({ name: 'db-2', unit: 'db-2' });
    expect(m.spec.replicas?.map((r) => r.name).sort()).toEqual(['db-0', 'db-1']);
    expect(m.status?.lastFailover).toMatchObject({ from: 'db-0', to: 'db-2', request: 'r2', lostTransactions: 0 });
    expect(m.status?.failoverRequest).toMatchObject({ id: 'r2', outcome: 'Done' });
    expect(await readOnly('db-2')).toBe(0);
    await query('db-2', 'INSERT INTO fr.t VALUES (2)');
    const db2 = await ipOf('db-2');
    await waitReady('db-1 follows db-2', (x) => x.status?.topology?.['db-1']?.sourceHost === `${db2}:3306`, 30_000, false);
    await waitFor('the new row on db-1', async () => Number((await query('db-1', 'SELECT COUNT(*) AS n FROM fr.t'))[0]?.n) === 2, { timeoutMs: 20_000 });
    expect(await eventCount('FailedOver')).toBe(1);
  }, 180_000);
});
