// MysqlReplication failover on real MariaDB servers with the Compose Operator killed at its worst moment: right
// after it promoted a replica, before it wrote the failover into the spec and status. The next operator finds the
// promoted server and records the failover instead of starting another one; the servers' own counters show that
// the promotion and the re-pointing of the other replica happened once each.
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { MysqlReplication } from '../../lib/api/compose.upm.io.generated.ts';
import { MysqlReplicationResource } from '../../lib/api/compose.upm.io.generated.ts';
import type { Unit, UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { mariadbReplication } from '../fixtures.ts';
import { kubectlOk } from '../kubectl.ts';
import { SQL_CONNECT_TIMEOUT_MS } from '../mysql.ts';
import { useUnitOperator } from '../unit-operator.ts';

const CLUSTER = 'member1';
type Secret = KubeObject & { data?: Record<string, string> };
type Event = KubeObject & { reason?: string; message?: string; count?: number };
const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

describe('MysqlReplication failover with the Compose Operator killed after the promotion', () => {
  const f = useUnitOperator(CLUSTER, 'cmysqlcrash', { engines: true, compose: true });
  let c: KubeClient;
  let ns: string;
  let admin: { user: string; password: string };
  beforeAll(() => { c = f.client; ns = f.ns; });

  const ipOf = async (name: string) => (await c.get<Unit>(UnitResource, name, ns)).status?.podIP ?? '';
  const query = async (name: string, sql: string): Promise<RowDataPacket[]> => {
    const conn: Connection = await createConnection({ host: await ipOf(name), port: 3306, user: admin.user, password: admin.password, connectTimeout: SQL_CONNECT_TIMEOUT_MS });
    try { return (await conn.query<RowDataPacket[]>(sql))[0]; } finally { await conn.end(); }
  };
  const one = async (name: string, sql: string): Promise<unknown> => Object.values((await query(name, sql))[0] ?? {})[0];
  /** A statement counter of the server (SHOW GLOBAL STATUS), e.g. how often it ran STOP SLAVE. */
  const counter = async (name: string, variable: string) => Number((await query(name, `SHOW GLOBAL STATUS LIKE '${variable}'`))[0]?.Value ?? NaN);
  const mr = () => c.get<MysqlReplication>(MysqlReplicationResource, 'db', ns);
  /** How many times an event with this reason and message fragment was recorded (repeats folded into count). */
  const eventCount = async (reason: string, fragment: string) => {
    const list = await c.list<Event>(Resources.events, { namespace: ns, fieldSelector: 'involvedObject.name=db,involvedObject.kind=MysqlReplication' });
    return list.items.filter((e) => e.reason === reason && (e.message ?? '').includes(fragment)).reduce((n, e) => n + (e.count ?? 1), 0);
  };

  it('finishes the failover forward: the promoted replica is recorded as the source, nothing is promoted twice', async () => {
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], mariadbReplication(ns));
    await waitFor('UnitSet ready', async () => (await c.get<UnitSet>(UnitSetResource, 'db', ns)).status?.readyUnits === 3, { timeoutMs: 90_000 });
    const secret = await c.get<Secret>(Resources.secrets, 'db-credentials', ns);
    admin = { user: b64(secret.data?.['admin-username']), password: b64(secret.data?.['admin-password']) };
    await waitFor('replication ready', async () => (await mr()).status?.ready === true, { timeoutMs: 60_000, intervalMs: 250 });
    await query('db-0', 'CREATE DATABASE shop');
    await query('db-0', 'CREATE TABLE shop.orders (id INT PRIMARY KEY)');
    await query('db-0', `INSERT INTO shop.orders (id) VALUES ${Array.from({ length: 100 }, (_, i) => `(${i})`).join(', ')}`);
    for (const r of ['db-1', 'db-2']) await waitFor(`rows on ${r}`, async () => Number(await one(r, 'SELECT COUNT(*) FROM shop.orders')) === 100, { timeoutMs: 20_000 });
    const before = await mr();
    const stops = { 'db-1': await counter('db-1', 'Com_stop_slave'), 'db-2': await counter('db-2', 'Com_stop_slave') };
    const changes = { 'db-1': await counter('db-1', 'Com_change_master'), 'db-2': await counter('db-2', 'Com_change_master') };

    // The operator that will die the moment it has promoted a replica.
    const died = await f.crashComposeAt('mysql.failover.promoted');
    // The source's node is lost.
    await f.loseEngine('db-0');
    await died(90_000);

    // At the kill: one replica promoted (writable, replicating from nobody), the other still a read-only replica
    // of the lost source; the spec still names db-0, status says a failover is under way and records none.
    const roles = await Promise.all(['db-1', 'db-2'].map(async (n) => ({ n, ro: Number(await one(n, 'SELECT @@global.read_only')), replica: (await query(n, 'SHOW SLAVE STATUS')).length })));
    const promoted = roles.filter((r) => r.ro === 0 && r.replica === 0).map((r) => r.n);
    expect(promoted).toHaveLength(1);
    const source = promoted[0]!;
    const other = source === 'db-1' ? 'db-2' : 'db-1';
    expect(roles.find((r) => r.n === other)).toMatchObject({ ro: 1, replica: 1 });
    const atKill = await mr();
    expect(atKill.spec.source.name).toBe('db-0');
    expect(atKill.metadata.generation).toBe(before.metadata.generation);
    expect(atKill.status?.phase).toBe('FailingOver');
    expect(atKill.status?.lastFailover).toBeUndefined();
    expect(await eventCount('Synced', `promoted ${source} after the loss of db-0`)).toBe(1);
    expect(await counter(source, 'Com_stop_slave')).toBe(stops[source as 'db-1'] + 1);

    await f.restartCompose();
    const done = await waitFor('the failover recorded', async () => {
      const m = await mr();
      return m.spec.source.name === source && m.status?.lastFailover?.to === source && m.status.topology?.[other]?.ready === true ? m : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    // Recorded by the next operator, as the completion of this failover: the spec swapped once, one failover.
    expect(done.metadata.generation).toBe((before.metadata.generation ?? 0) + 1);
    expect(done.spec.replicas?.map((r) => r.name).sort()).toEqual(['db-0', other].sort());
    expect(done.status?.lastFailover).toMatchObject({ from: 'db-0', to: source, reason: 'completing an interrupted failover' });
    expect(await eventCount('FailingOver', `promoting ${source}`)).toBe(1);
    expect(await eventCount('Synced', `promoted ${source} after the loss of db-0`)).toBe(1);
    expect(await eventCount('FailedOver', `${source} is the source now (was db-0)`)).toBe(1);
    // The servers agree: the promoted one ran STOP SLAVE once (its promotion) and nothing since; the other replica
    // was pointed at it once; writes on the new source carry its own server id and reach the other replica.
    expect(await counter(source, 'Com_stop_slave')).toBe(stops[source as 'db-1'] + 1);
    expect(await counter(source, 'Com_change_master')).toBe(changes[source as 'db-1']);
    expect(await counter(other, 'Com_change_master')).toBe(changes[other as 'db-1'] + 1);
    expect(Number(await one(source, 'SELECT COUNT(*) FROM shop.orders'))).toBe(100);
    await query(source, 'INSERT INTO shop.orders (id) VALUES (100)');
    const serverId = Number(await one(source, 'SELECT @@global.server_id'));
    const pos = String(await one(source, 'SELECT @@global.gtid_binlog_pos'));
    expect(pos).toMatch(new RegExp(`(^|,)0-${serverId}-\\d+($|,)`));
    await waitFor(`${other} applied the new source's write`, async () => Number(await one(other, 'SELECT COUNT(*) FROM shop.orders')) === 101, { timeoutMs: 20_000 });
    expect(String(await one(other, 'SELECT @@global.gtid_slave_pos'))).toBe(pos);
    expect((await query(other, 'SHOW SLAVE STATUS'))[0]?.Master_Host).toBe(await ipOf(source));
  }, 300_000);
});
