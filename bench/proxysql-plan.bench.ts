// ProxysqlSync's pure work at scale: the desired state for one source, 15 replicas and 10,000 accounts, the plan
// against an empty node and against one already in step (every pass does this), the plan after a switchover, and
// the statements run against ProxySQL's admin table definitions in SQLite (not a ProxySQL: there is none here).
import { performance } from 'node:perf_hooks';
import { SqliteAdmin } from '../operators/compose/proxysql/admin-tables.testing.ts';
import { desiredState } from '../operators/compose/proxysql/desired.ts';
import { planSync } from '../operators/compose/proxysql/statements.ts';
import { readState, syncNode, digestState } from '../operators/compose/proxysql/sync.ts';
import type { MysqlUser, ProxysqlState, Topology } from '../operators/compose/proxysql/types.ts';

const USERS = Number(process.env.BENCH_USERS ?? 10_000);
const REPLICAS = 15;

function topology(source: number): Topology {
  const node = (n: number) => ({ name: `db-${n}`, host: `127.128.0.${10 + n}`, port: 3306, ready: true });
  return { mode: 'async', source: node(source), replicas: Array.from({ length: REPLICAS + 1 }, (_, n) => n).filter((n) => n !== source).map(node) };
}
const users: MysqlUser[] = Array.from({ length: USERS }, (_, i) => ({ username: `app${i}`, passwordHash: `*${i.toString(16).toUpperCase().padStart(40, '0')}` }));

function timed<T>(f: () => T): [T, number] {
  const t = performance.now();
  const r = f();
  return [r, performance.now() - t];
}
async function timedAsync<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await f();
  return [r, performance.now() - t];
}
const desired = (source: number): ProxysqlState => {
  const r = desiredState(topology(source), {}, users, { monitor: { username: 'upm_monitor', password: 'pw' } });
  if (!r.desired) throw new Error(JSON.stringify(r.errors.slice(0, 3)));
  return r.desired;
};
const ms = (x: number) => `${x.toFixed(1)} ms`;

const [d0, tDesired] = timed(() => desired(0));
const empty: ProxysqlState = { mysql_servers: [], mysql_replication_hostgroups: [], mysql_users: [], global_variables: {} };
const [fresh, tFresh] = timed(() => planSync(empty, d0));
const copy = structuredClone(d0);
const [same, tSame] = timed(() => planSync(copy, d0));
const d1 = desired(1);
const [switched, tSwitch] = timed(() => planSync(d0, d1));

const admin = new SqliteAdmin();
const [first, tFirst] = await timedAsync(() => syncNode(admin, { desired: d0, manageUsers: true, digest: digestState(d0, true, 'k'), apply: true }));
const [, tRead] = await timedAsync(() => readState(admin));
const [steady, tSteady] = await timedAsync(() => syncNode(admin, { desired: d0, manageUsers: true, digest: digestState(d0, true, 'k'), appliedDigest: digestState(d0, true, 'k'), apply: true }));
const [after, tAfter] = await timedAsync(() => syncNode(admin, { desired: d1, manageUsers: true, digest: digestState(d1, true, 'k'), appliedDigest: digestState(d0, true, 'k'), apply: true }));

process.stdout.write([
  `${REPLICAS + 1} servers, ${USERS} accounts`,
  `desired state: ${ms(tDesired)}`,
  `plan, empty node: ${fresh.statements.length} statements in ${ms(tFresh)}`,
  `plan, node in step: ${same.statements.length} statements in ${ms(tSame)}`,
  `plan, after a switchover: ${switched.statements.length} statements in ${ms(tSwitch)}`,
  `sync of an empty node (read, plan, ${first.statements} statements, read back; SQLite tables): ${ms(tFirst)}`,
  `read of the admin tables alone: ${ms(tRead)}`,
  `pass on a node in step (read, plan, nothing run): ${ms(tSteady)} (${steady.statements} statements)`,
  `pass after a switchover: ${ms(tAfter)} (${after.statements} statements: ${after.change})`,
].join('\n') + '\n');
