// MysqlReplication on real MariaDB (1 source + 2 replicas, semi-sync): planned switchover time (the old source
// fenced read-only to the new source writable, both observed from outside every 5 ms) and automatic failover time
// (kill -9 of the source's engine to the first write accepted by the new source), under a steady write load.
// Goals: switchover 3 s or less; failover 15 s or less.
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { AGENT_PORT } from '../agent/api.ts';
import { AgentClient } from '../agent/client.ts';
import { readUnitAgentToken } from '../agent/tokens.ts';
import { MysqlReplicationResource, type MysqlReplication } from '../lib/api/compose.upm.io.generated.ts';
import { UnitResource, UnitSetResource, type Unit, type UnitSet } from '../lib/api/unit.upm.io.generated.ts';
import { Resources } from '../lib/kube/resources.ts';
import type { KubeObject } from '../lib/kube/types.ts';
import { waitFor } from '../lib/wait.ts';
import { percentiles, startComposeBenchSystem } from './lib/compose-system.ts';

const SWITCHOVERS = Number(process.env.BENCH_SWITCHOVERS ?? 4);
const DOWN_AFTER_S = Number(process.env.BENCH_DOWN_AFTER_S ?? 2);
type Secret = KubeObject & { data?: Record<string, string> };
const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

const s = await startComposeBenchSystem('mysql');
const { client: c, ns } = s;
try {
  await c.create<UnitSet>(UnitSetResource, {
    apiVersion: 'unit.upm.io/v1alpha1', kind: 'UnitSet', metadata: { name: 'db', namespace: ns },
    spec: { engine: 'mariadb', version: '10.11', units: 3, resources: { limits: { cpu: '1', memory: '256Mi' } }, storage: [{ name: 'data', size: '1Gi', mountPath: '/var/lib/mysql' }], parameters: { innodb_log_file_size: '16M' } },
  });
  const nodes = ['db-0', 'db-1', 'db-2'];
  await c.create<MysqlReplication>(MysqlReplicationResource, {
    apiVersion: 'compose.upm.io/v1alpha1', kind: 'MysqlReplication', metadata: { name: 'db', namespace: ns },
    spec: { secretName: 'db-credentials', mode: 'semisync', source: { name: 'db-0', unit: 'db-0' }, replicas: [{ name: 'db-1', unit: 'db-1' }, { name: 'db-2', unit: 'db-2' }], failover: { downAfterSeconds: DOWN_AFTER_S } },
  });
  const mr = () => c.get<MysqlReplication>(MysqlReplicationResource, 'db', ns);
  await waitFor('replication ready', async () => (await mr()).status?.ready === true, { timeoutMs: 180_000, intervalMs: 250 });
  const secret = await c.get<Secret>(Resources.secrets, 'db-credentials', ns);
  const admin = { user: b64(secret.data?.['admin-username']), password: b64(secret.data?.['admin-password']) };
  const ips = new Map<string, string>();
  for (const n of nodes) ips.set(n, (await c.get<Unit>(UnitResource, n, ns)).status?.podIP ?? '');
  const conns = new Map<string, Connection>();
  for (const n of nodes) conns.set(n, await createConnection({ host: ips.get(n), port: 3306, ...admin }));
  const q = async (n: string, sql: string) => (await (conns.get(n) as Connection).query<RowDataPacket[]>(sql))[0];
  await q('db-0', 'CREATE DATABASE bench');
  await q('db-0', 'CREATE TABLE bench.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)');
  await q('db-0', "CREATE USER 'app'@'%' IDENTIFIED BY 'app-pw'");
  await q('db-0', "GRANT INSERT, SELECT ON bench.* TO 'app'@'%'");

  // A steady writer through whichever node takes writes (as a client of the readwrite Service would be).
  let writes = 0;
  let running = true;
  const writer = (async () => {
    const app = new Map<string, Connection>();
    while (running) {
      for (const n of nodes) {
        try {
          if (!app.has(n)) app.set(n, await createConnection({ host: ips.get(n), port: 3306, user: 'app', password: 'app-pw', connectTimeout: 500 }));
          await (app.get(n) as Connection).query({ sql: 'INSERT INTO bench.t (v) VALUES (1)', timeout: 2000 });
          writes++;
          break;
        } catch (err) {
          // A read-only server refuses the write: try the next one. Only a broken connection is replaced.
          if ((err as { errno?: number }).errno === 1290) continue;
          await app.get(n)?.end().catch(() => undefined);
          app.delete(n);
        }
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const x of app.values()) await x.end().catch(() => undefined);
  })();

  const readOnly = async (n: string) => Number((await q(n, 'SELECT @@global.read_only AS ro'))[0]?.ro);
  const fenceToWritable: number[] = [];
  const patchToWritable: number[] = [];
  let source = 'db-0';
  for (let i = 0; i < SWITCHOVERS; i++) {
    const target = nodes[(nodes.indexOf(source) + 1) % nodes.length] as string;
    if (process.env.BENCH_VERBOSE) console.log(`  switchover ${i + 1}: ${source} -> ${target}`);
    const t0 = performance.now();
    let fencedAt = 0;
    await c.patch(MysqlReplicationResource, 'db', { spec: { source: { name: target, unit: target }, replicas: nodes.filter((n) => n !== target).map((n) => ({ name: n, unit: n })) } }, 'merge', { namespace: ns });
    await waitFor('new source writable', async () => {
      if (!fencedAt && (await readOnly(source)) === 1) fencedAt = performance.now();
      return (await readOnly(target)) === 0 && (await q(target, 'SHOW SLAVE STATUS')).length === 0;
    }, { timeoutMs: 60_000, intervalMs: 5 });
    const done = performance.now();
    if (process.env.BENCH_VERBOSE) console.log(`  ${target} writable after ${((done - t0) / 1000).toFixed(2)} s`);
    fenceToWritable.push((done - (fencedAt || done)) / 1000);
    patchToWritable.push((done - t0) / 1000);
    source = target;
    await waitFor('ready again', async () => { const m = await mr(); return m.status?.ready === true && m.status.source === target; }, { timeoutMs: 60_000, intervalMs: 100 })
      .catch(async (err: unknown) => { throw new Error(`${String(err)}; status ${JSON.stringify((await mr()).status)}`, { cause: err }); });
    await new Promise((r) => setTimeout(r, 1000));
  }

  // Failover: the source's engine dies and stays down.
  await s.client.patch(UnitResource, source, { metadata: { annotations: { 'unit.upm.io/maintenance': 'true' } } }, 'merge', { namespace: ns });
  const agent = new AgentClient(ips.get(source) ?? '', AGENT_PORT, await readUnitAgentToken(c, ns, source));
  const pid = (await agent.status()).pid ?? 0;
  await conns.get(source)?.end().catch(() => undefined);
  conns.delete(source);
  const before = writes;
  process.kill(pid, 'SIGKILL');
  const killedAt = performance.now();
  await agent.stop();
  await waitFor('writes accepted by a new source', async () => writes > before + 1, { timeoutMs: 120_000, intervalMs: 10 });
  const failover = (performance.now() - killedAt) / 1000;
  const m = await mr();
  running = false;
  await writer;
  for (const x of conns.values()) await x.end().catch(() => undefined);

  const f = (xs: number[]) => { const p = percentiles(xs); return `p50 ${p.p50.toFixed(2)} s, max ${p.max.toFixed(2)} s`; };
  console.log(`MysqlReplication on real MariaDB 10.11: 1 source + 2 replicas, semi-sync (AFTER_SYNC), steady writer (${writes} inserts in all)`);
  console.log(`  switchover, fence -> new source writable   ${f(fenceToWritable)}   (${SWITCHOVERS} switchovers; goal 3 s)`);
  console.log(`  switchover, kubectl patch -> writable       ${f(patchToWritable)}`);
  console.log(`  failover, kill -9 -> writes accepted        ${failover.toFixed(2)} s   (goal 15 s; downAfterSeconds ${DOWN_AFTER_S}, connect timeout 2 s, promoted ${m.status?.lastFailover?.to ?? '?'})`);
} finally {
  await s.stop();
}
