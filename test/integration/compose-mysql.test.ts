// MysqlReplication on real MariaDB servers (one per simulated pod, run by the engine runtime): wiring, read-only
// replicas and role labels, a switchover and a failover under a steady write load with every acknowledged write
// kept, the former source fenced when it returns, and bad specs refused.
import type { Connection } from 'mysql2/promise';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { MysqlReplicationResource, type MysqlReplication } from '../../lib/api/compose.upm.io.generated.ts';
import type { UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { kubectl, kubectlOk } from '../kubectl.ts';
import { useUnitOperator } from '../unit-operator.ts';
import { mariadbReplication } from '../fixtures.ts';
import { mysqlSuite } from '../mysql.ts';

const CLUSTER = 'member1';
type Service = KubeObject & { spec?: { selector?: Record<string, string> } };

describe('MysqlReplication on real MariaDB', () => {
  const f = useUnitOperator(CLUSTER, 'cmysql', { engines: true, compose: true });
  let c: KubeClient;
  let ns: string;
  beforeAll(() => { c = f.client; ns = f.ns; });
  const { ipOf, connect, query, mr, waitReady, loadAdmin, loseEngine } = mysqlSuite(f, CLUSTER);

  /** Ids are unique across writers: every writer adds to the same table. */
  let lastId = 0;
  /** Inserts rows through whichever node status says is the source, as a client of the readwrite Service would. */
  function writer() {
    const acked: number[] = [];
    let running = true;
    let failures = 0;
    let lastError = '';
    const done = (async () => {
      let conn: Connection | undefined;
      while (running) {
        try {
          if (!conn) {
            const source = (await mr()).status?.source;
            if (!source) { await new Promise((r) => setTimeout(r, 100)); continue; }
            conn = await connect(source, 'app', 'app-pw');
          }
          const id = ++lastId;
          await conn.query({ sql: 'INSERT INTO shop.orders (id) VALUES (?)', values: [id], timeout: 5000 });
          acked.push(id);
        } catch (err) {
          failures++;
          lastError = (err as Error).message;
          await conn?.end().catch(() => undefined);
          conn = undefined;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      await conn?.end().catch(() => undefined);
    })();
    return { acked, lastError: () => lastError, stop: async () => { running = false; await done; return failures; } };
  }

  it('wires 1 source + 2 replicas: data flows, replicas are read-only, pods and Services carry the roles', async () => {
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], mariadbReplication(ns));
    await waitFor('UnitSet ready', async () => (await c.get<UnitSet>(UnitSetResource, 'db', ns)).status?.readyUnits === 3, { timeoutMs: 90_000 });
    await loadAdmin();
    await waitReady('replication ready');
    const m = await mr();
    expect(m.status?.source).toBe('db-0');
    expect(m.status?.topology?.['db-1']).toMatchObject({ role: 'Replica', ioThread: 'Yes', sqlThread: 'Yes', readOnly: true, ready: true });
    // An application account with ordinary grants: created on the source, replicated everywhere.
    await query('db-0', "CREATE DATABASE shop");
    await query('db-0', "CREATE TABLE shop.orders (id INT PRIMARY KEY, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6))");
    await query('db-0', "CREATE USER 'app'@'%' IDENTIFIED BY 'app-pw'");
    await query('db-0', "GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO 'app'@'%'");
    await query('db-0', 'INSERT INTO shop.orders (id) VALUES (-1), (-2)', 'app', 'app-pw');
    for (const r of ['db-1', 'db-2']) {
      await waitFor(`rows on ${r}`, async () => (await query(r, 'SELECT COUNT(*) AS n FROM shop.orders'))[0]?.n === 2, { timeoutMs: 10_000 });
      expect((await query(r, 'SELECT @@global.read_only AS ro'))[0]?.ro).toBe(1);
      await expect(query(r, 'INSERT INTO shop.orders (id) VALUES (-3)', 'app', 'app-pw')).rejects.toThrow(/read-only|READ ONLY|--read-only/i);
    }
    const pods = await Promise.all(['db-0', 'db-1', 'db-2'].map((p) => c.get<KubeObject>(Resources.pods, p, ns)));
    expect(pods.map((p) => p.metadata.labels?.['compose.upm.io/role'])).toEqual(['source', 'replica', 'replica']);
    const rw = await c.get<Service>(Resources.services, 'db-readwrite', ns);
    expect(rw.spec?.selector).toEqual({ 'compose.upm.io/mysqlreplication': 'db', 'compose.upm.io/role': 'source' });
    const ro = await c.get<Service>(Resources.services, 'db-readonly', ns);
    expect(ro.spec?.selector).toEqual({ 'compose.upm.io/mysqlreplication': 'db', 'compose.upm.io/role': 'replica' });
    expect(await kubectlOk(CLUSTER, ['-n', ns, 'get', 'mr'])).toMatch(/db\s+db-0\s+async\s+true\s+Ready\s+2\/2/);
  });

  it('switches over under a steady write load without losing an acknowledged write', async () => {
    const w = writer();
    await waitFor('writes flowing', async () => w.acked.length > 50, { timeoutMs: 20_000 });
    await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'mr', 'db', '--type', 'merge', '-p',
      JSON.stringify({ spec: { source: { name: 'db-1', unit: 'db-1' }, replicas: [{ name: 'db-0', unit: 'db-0' }, { name: 'db-2', unit: 'db-2' }] } })]);
    await waitReady('db-1 is the source', (m) => m.status?.source === 'db-1' && m.status.observedGeneration === m.metadata.generation);
    const before = w.acked.length;
    await waitFor('writes flowing to the new source', async () => w.acked.length > before + 50, { timeoutMs: 20_000 });
    await w.stop();
    const ids = new Set((await query('db-1', 'SELECT id FROM shop.orders')).map((r) => Number(r.id)));
    const lost = w.acked.filter((id) => !ids.has(id));
    expect(lost).toEqual([]);
    expect((await query('db-0', 'SELECT @@global.read_only AS ro'))[0]?.ro).toBe(1);
    await waitReady('old source replicating', (m) => m.status?.topology?.['db-0']?.role === 'Replica');
    const pods = await Promise.all(['db-0', 'db-1', 'db-2'].map((p) => c.get<KubeObject>(Resources.pods, p, ns)));
    expect(pods.map((p) => p.metadata.labels?.['compose.upm.io/role'])).toEqual(['replica', 'source', 'replica']);
  });

  it('finishes a switchover when the operator is killed right after fencing, taking each step once', async () => {
    const eventCount = async (fragment: string) => {
      const list = await c.list<KubeObject & { message?: string; count?: number }>(Resources.events, { namespace: ns, fieldSelector: 'involvedObject.name=db,involvedObject.kind=MysqlReplication' });
      return list.items.filter((e) => (e.message ?? '').includes(fragment)).reduce((n, e) => n + (e.count ?? 1), 0);
    };
    // This operator dies (as under kill -9) the moment it has fenced the old source.
    await f.restartCompose({ UPM_CRASH_AT: 'mysql.switchover.fenced' });
    const crashed = new Promise((r) => f.compose?.once('exit', r));
    await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'mr', 'db', '--type', 'merge', '-p',
      JSON.stringify({ spec: { source: { name: 'db-0', unit: 'db-0' }, replicas: [{ name: 'db-1', unit: 'db-1' }, { name: 'db-2', unit: 'db-2' }] } })]);
    await Promise.race([crashed, new Promise((_, reject) => setTimeout(() => reject(new Error('the operator never reached its crash point')), 60_000))]);
    // Mid-way: the old source fenced, the new one still a replica; nobody takes writes.
    expect((await query('db-1', 'SELECT @@global.read_only AS ro'))[0]?.ro).toBe(1);
    expect((await query('db-0', 'SELECT @@global.read_only AS ro'))[0]?.ro).toBe(1);
    expect(await query('db-0', 'SHOW SLAVE STATUS')).toHaveLength(1);
    await f.restartCompose();
    await waitReady('db-0 is the source again', (m) => m.status?.source === 'db-0' && m.status.topology?.['db-1']?.role === 'Replica');
    expect(await eventCount('fenced db-1 (read-only)')).toBe(1);
    expect(await eventCount('promoted db-0: it takes writes now')).toBe(1);
  });

  it('fails over when the source dies under load (semi-sync: no acknowledged write lost), never to a lagging replica, and fences it when it returns', async () => {
    await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'mr', 'db', '--type', 'merge', '-p', '{"spec":{"mode":"semisync"}}']);
    const source = (await mr()).status?.source as string;
    const [fresh, lagging] = ['db-0', 'db-1', 'db-2'].filter((n) => n !== source) as [string, string];
    await waitReady('semi-sync on', (m) => m.status?.topology?.[fresh]?.semiSync === true && m.status.topology[source]?.semiSync === true);
    // One replica applies an hour late (it still receives everything): it must not win over the one that is current.
    await query(lagging, 'STOP SLAVE');
    await query(lagging, 'CHANGE MASTER TO MASTER_DELAY=3600');
    await query(lagging, 'START SLAVE');
    const w = writer();
    try {
      await waitFor('writes flowing', async () => w.acked.length > 50, { timeoutMs: 20_000 });
    } catch (err) {
      const semi = await query(source, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_%'");
      const repl = await Promise.all([fresh, lagging].map(async (n) => [n, (await query(n, 'SHOW SLAVE STATUS'))[0]]));
      throw new Error(`${(err as Error).message}; writer: ${w.lastError()}; source: ${JSON.stringify(semi)}; replicas: ${JSON.stringify(repl)}`, { cause: err });
    }
    // The source's node is lost.
    const lost = await loseEngine(source);
    const killedAt = Date.now();
    // Not ready while the old source is away (a replica is missing): the promotion is what counts here.
    await waitReady('a replica promoted', (m) => !!m.status?.source && m.status.source !== source && m.spec.source.name !== source, 60_000, false);
    const m = await mr();
    expect(m.status?.source).toBe(fresh);
    expect(m.status?.lastFailover).toMatchObject({ from: source, to: fresh });
    const before = w.acked.length;
    await waitFor('writes resume on the new source', async () => w.acked.length > before + 50, { timeoutMs: 30_000 });
    process.stdout.write(`failover: writes resumed ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill\n`);
    await w.stop();
    const ids = new Set((await query(fresh, 'SELECT id FROM shop.orders')).map((r) => Number(r.id)));
    expect(w.acked.filter((id) => !ids.has(id))).toEqual([]);
    await waitFor(`${lagging} follows ${fresh}`, async () => (await mr()).status?.topology?.[lagging]?.sourceHost === `${await ipOf(fresh)}:3306`, { timeoutMs: 20_000 });

    // The old source comes back: it starts read-only and stays out of the readwrite Service.
    await lost.restore();
    await waitFor(`${source} back and fenced`, async () => {
      const t = (await mr()).status?.topology?.[source];
      return t?.status === 'Healthy' && t.readOnly === true;
    }, { timeoutMs: 30_000 });
    expect((await query(source, 'SELECT @@global.read_only AS ro'))[0]?.ro).toBe(1);
    await expect(query(source, 'INSERT INTO shop.orders (id) VALUES (-99)', 'app', 'app-pw')).rejects.toThrow(/read-only|READ ONLY/i);
    const pod = await c.get<KubeObject>(Resources.pods, source, ns);
    expect(pod.metadata.labels?.['compose.upm.io/role']).not.toBe('source');
    const writable = [];
    for (const n of ['db-0', 'db-1', 'db-2']) if ((await query(n, 'SELECT @@global.read_only AS ro'))[0]?.ro === 0) writable.push(n);
    expect(writable).toEqual([fresh]);
  });

  it('refuses a switchover to a lagging replica, then switches over in semi-sync mode once it caught up', async () => {
    const current = (await mr()).status?.source as string;
    const delayed = [];
    for (const n of ['db-0', 'db-1', 'db-2']) if (Number((await query(n, 'SHOW SLAVE STATUS'))[0]?.SQL_Delay ?? 0) > 0) delayed.push(n);
    expect(delayed).toHaveLength(1);
    const lagging = delayed[0] as string;
    const others = ['db-0', 'db-1', 'db-2'].filter((n) => n !== lagging);
    await kubectlOk(CLUSTER, ['-n', ns, 'patch', 'mr', 'db', '--type', 'merge', '-p', JSON.stringify({
      spec: { source: { name: lagging, unit: lagging }, replicas: others.map((n) => ({ name: n, unit: n })), switchover: { maxLagSeconds: 1 } },
    })]);
    await waitFor('SwitchoverBlocked', async () => (await mr()).status?.conditions?.some((x) => x.reason === 'SwitchoverBlocked' && (x.message ?? '').includes(lagging)) === true, { timeoutMs: 20_000 });
    expect((await query(current, 'SELECT @@global.read_only AS ro'))[0]?.ro).toBe(0);
    expect((await query(lagging, 'SELECT @@global.read_only AS ro'))[0]?.ro).toBe(1);
    // Caught up, the same request goes through; no server but the source keeps semi-sync's source side on (a
    // replica with it on would wait forever for acks of what it applies).
    await query(lagging, 'STOP SLAVE');
    await query(lagging, 'CHANGE MASTER TO MASTER_DELAY=0');
    await query(lagging, 'START SLAVE');
    await waitReady(`${lagging} is the source`, (m) => m.status?.source === lagging, 60_000, false);
    for (const n of others) {
      await waitFor(`${n} without semi-sync source side`, async () => Number((await query(n, 'SELECT @@global.rpl_semi_sync_master_enabled AS s'))[0]?.s) === 0, { timeoutMs: 20_000 });
    }
    expect((await query(lagging, 'SELECT @@global.rpl_semi_sync_master_enabled AS s'))[0]?.s).toBe(1);
  });

  it('refuses bad specs: a replica equal to the source, the same node twice, a missing Secret', async () => {
    const base = (name: string, extra: string) => `
apiVersion: compose.upm.io/v1alpha1
kind: MysqlReplication
metadata: { name: ${name}, namespace: ${ns} }
spec:
${extra}`;
    const same = await kubectl(CLUSTER, ['apply', '-f', '-'], base('bad1', '  secretName: db-credentials\n  source: { name: a, unit: db-0 }\n  replicas: [{ name: b, unit: db-0 }]'));
    expect(same.code).not.toBe(0);
    expect(same.stderr).toContain("spec.replicas: a replica cannot be the source's unit");
    const twice = await kubectl(CLUSTER, ['apply', '-f', '-'], base('bad2', '  secretName: db-credentials\n  source: { name: a, unit: db-0 }\n  replicas: [{ name: b, unit: db-1 }, { name: c, unit: db-1 }]'));
    expect(twice.stderr).toContain('spec.replicas: the same unit is listed twice');
    const semi = await kubectl(CLUSTER, ['apply', '-f', '-'], base('bad3', '  secretName: db-credentials\n  mode: semisync\n  source: { name: a, unit: db-0 }'));
    expect(semi.stderr).toContain('spec.mode: semisync needs at least one replica');
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], base('nosecret', '  secretName: nope\n  source: { name: a, unit: db-0 }\n  replicas: [{ name: b, unit: db-2 }]'));
    await waitFor('SecretNotFound condition', async () => {
      const o = await c.get<MysqlReplication>(MysqlReplicationResource, 'nosecret', ns);
      return o.status?.conditions?.some((x) => x.type === 'TopologyReady' && x.reason === 'SecretNotFound' && (x.message ?? '').startsWith('spec.secretName')) === true;
    }, { timeoutMs: 20_000 });
    for (const bad of ['bad1', 'bad2', 'bad3']) expect((await kubectl(CLUSTER, ['-n', ns, 'get', 'mr', bad])).code).not.toBe(0);
  });
});
