// ProxysqlSync controller. Each pass:
//   1. the MysqlReplication's status gives the topology (topology.ts): writer, readers, nodes left out;
//   2. the application accounts are read off the MySQL source (a healthy replica when the source cannot be
//      reached; mysql_users is left as it is when no server answers);
//   3. desired.ts turns both into the rows ProxySQL should hold;
//   4. every ProxySQL node, in parallel, is read, planned, changed by exactly the difference, loaded to runtime and
//      saved to disk, then read again (sync.ts). A node that cannot be reached or refuses a change is reported in
//      status under its spec.proxysql[<i>] and retried with backoff (1 s doubling to 30 s), never holding back the
//      others;
//   5. status (desired state without any secret, per-node state, conditions) and an event for each step.
// Nothing is written to a node whose tables already match; a pass killed anywhere is finished by the next one.
import type { MysqlReplication, ProxysqlSync, ProxysqlSyncStatus } from '../../../lib/api/compose.upm.io.generated.ts';
import { ProxysqlSyncResource } from '../../../lib/api/compose.upm.io.generated.ts';
import type { Unit } from '../../../lib/api/unit.upm.io.generated.ts';
import { getCondition, setCondition, type Condition } from '../../../lib/conditions.ts';
import type { ReconcileContext, ReconcileResult } from '../../../lib/controller.ts';
import type { EventRecorder } from '../../../lib/events.ts';
import type { Store } from '../../../lib/informer.ts';
import type { KubeClient } from '../../../lib/kube/client.ts';
import { patchStatus } from '../common/status.ts';
import { ANNOTATION_SKIP, b64, type Secret } from '../common/context.ts';
import { resolveNode, type ResolvedNode } from '../common/nodes.ts';
import { usersFromAccounts, type Account } from './accounts.ts';
import { openAdmin, readAccounts } from './admin.ts';
import { desiredState } from './desired.ts';
import { describeDesired, desiredSummary } from './summary.ts';
import { digestState, syncNode } from './sync.ts';
import { topologyOf, type TopologyView } from './topology.ts';
import { DEFAULT_USER_FILTER, type FieldError, type HostgroupSettings, type ProxysqlState, type Topology } from './types.ts';

export const ADMIN_PORT = 6032;
const MYSQL_PORT = 3306;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30_000;

type Status = ProxysqlSyncStatus;
type NodeStatus = NonNullable<Status['nodes']>[number];
type NodeRef = ProxysqlSync['spec']['proxysql'][number];

export interface ProxysqlSyncDeps {
  client: KubeClient;
  events: EventRecorder;
  syncs: Store<ProxysqlSync>;
  replications: Store<MysqlReplication>;
  units: Store<Unit>;
  secrets: Store<Secret>;
}

/** Per node retry times, kept in memory: a restarted operator simply tries every node once more. */
export class Backoff {
  private readonly state = new Map<string, { failures: number; nextAt: number }>();
  due(id: string, now: number): boolean { return (this.state.get(id)?.nextAt ?? 0) <= now; }
  fail(id: string, now: number): void {
    const failures = (this.state.get(id)?.failures ?? 0) + 1;
    this.state.set(id, { failures, nextAt: now + Math.min(BACKOFF_MIN_MS * 2 ** (failures - 1), BACKOFF_MAX_MS) });
  }
  ok(id: string): void { this.state.delete(id); }
  /** Milliseconds until the earliest retry among these ids, if any is waiting. */
  next(ids: string[], now: number): number | undefined {
    const waits = ids.map((id) => this.state.get(id)).filter((s) => s !== undefined).map((s) => Math.max(0, s.nextAt - now));
    return waits.length > 0 ? Math.min(...waits) : undefined;
  }
  forget(prefix: string): void { this.retain(prefix, []); }
  /** Drops the entries under prefix but these (nodes removed from the spec, or moved to another address). */
  retain(prefix: string, ids: string[]): void {
    for (const id of this.state.keys()) if (id.startsWith(prefix) && !ids.includes(id)) this.state.delete(id);
  }
}

interface Credentials { user: string; password: string }

export function proxysqlSyncReconciler(d: ProxysqlSyncDeps) {
  const backoff = new Backoff();

  return async function reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    const ps = d.syncs.get(key);
    if (!ps || ps.metadata.deletionTimestamp) {
      backoff.forget(`${key}|`);
      return undefined;
    }
    const ns = ps.metadata.namespace ?? '';
    const spec = ps.spec;
    const gen = ps.metadata.generation;
    const prev: Status = ps.status ?? {};
    let conditions = prev.conditions as Condition[] | undefined;
    const set = (c: Omit<Condition, 'observedGeneration' | 'lastTransitionTime'>) => { conditions = setCondition(conditions, { ...c, observedGeneration: gen }); };
    const apply = ps.metadata.annotations?.[ANNOTATION_SKIP] !== 'true';
    const interval = (spec.syncIntervalSeconds ?? 30) * 1000;
    const hg = spec.hostgroups ?? {};
    const writer = hg.writer ?? 10;
    const reader = hg.reader ?? 20;

    // 1. Topology.
    const mr = d.replications.get(`${ns}/${spec.mysqlReplication}`);
    let view: TopologyView | undefined;
    if (!mr) {
      set({ type: 'TopologyReady', status: 'False', reason: 'MysqlReplicationNotFound', message: `spec.mysqlReplication: MysqlReplication "${spec.mysqlReplication}" not found in ${ns}` });
    } else {
      view = topologyOf(mr);
      if (!view.topology) set({ type: 'TopologyReady', status: 'False', reason: 'TopologyUnknown', message: `spec.mysqlReplication: ${view.problem ?? 'no topology'}` });
    }
    const topology = view?.topology;

    // 2. The MySQL accounts.
    const mysqlSecretName = spec.mysqlSecretName ?? mr?.spec.secretName;
    const mysqlSecret = mysqlSecretName ? d.secrets.get(`${ns}/${mysqlSecretName}`) : undefined;
    const mysqlAdmin = creds(mysqlSecret, 'admin');
    const monitor = creds(mysqlSecret, 'monitor');
    const proxySecret = d.secrets.get(`${ns}/${spec.secretName}`);
    const proxyAdmin = creds(proxySecret, 'admin');
    let accounts: Account[] | undefined;
    let usersProblem: { reason: string; message: string } | undefined;
    const secretField = spec.mysqlSecretName ? 'spec.mysqlSecretName' : `spec.mysqlSecretName (unset: the MysqlReplication's secretName)`;
    if (!topology) {
      usersProblem = { reason: 'NoTopology', message: 'spec.mysqlReplication: no MySQL server to read the accounts from' };
    } else if (!mysqlSecret) {
      usersProblem = { reason: 'SecretNotFound', message: `${secretField}: Secret "${mysqlSecretName}" not found in ${ns}` };
    } else if (!mysqlAdmin) {
      usersProblem = { reason: 'SecretIncomplete', message: `${secretField}: Secret "${mysqlSecretName}" needs admin-username and admin-password` };
    } else {
      const read = await readSourceAccounts(topology, mysqlAdmin, mr?.spec.engine ?? 'mariadb');
      if (read.accounts) accounts = read.accounts;
      else usersProblem = { reason: 'MysqlUnreachable', message: `spec.mysqlReplication: could not read the accounts (${read.error}); mysql_users is left as it is` };
    }

    // 3. The desired state.
    let desired: ProxysqlState | undefined;
    const usersLeftOut: { account: string; reason: string }[] = [];
    if (topology) {
      const { users, labels } = usersFromAccounts(accounts ?? [], {
        ...(spec.users?.defaultHostgroup === 'reader' ? { defaultHostgroup: reader } : {}),
        maxConnections: spec.users?.maxConnections ?? 10000,
      });
      const platform = platformUsernames(mysqlSecret, proxySecret);
      const settings: Partial<HostgroupSettings> = {
        writer, reader, maxConnections: hg.maxConnections ?? 2000, maxReplicationLagSeconds: hg.maxReplicationLagSeconds ?? 0,
        sourceAlsoReads: hg.sourceAlsoReads ?? false, ...(hg.comment ? { comment: hg.comment } : {}),
      };
      const result = desiredState(topology, settings, users, {
        checkType: hg.checkType ?? 'read_only',
        ...(monitor ? { monitor: { username: monitor.user, password: monitor.password } } : {}),
        userFilter: [...DEFAULT_USER_FILTER, ...platform, ...(spec.users?.exclude ?? [])],
        userInclude: spec.users?.include ?? ['%'],
      });
      const userErrors = result.errors.filter((e) => e.field.startsWith('users['));
      for (const e of userErrors) usersLeftOut.push({ account: labels[Number(/^users\[(\d+)\]/.exec(e.field)?.[1])] ?? e.field, reason: e.message });
      if (result.desired) {
        desired = result.desired;
        const left = view?.leftOut.map((l) => `${l.name} (${l.reason})`).join(', ');
        set({
          type: 'TopologyReady', status: 'True', reason: 'Resolved',
          message: `writer ${topology.source?.name ?? 'none'}${topology.source && !topology.source.ready ? ' (not ready)' : ''}, ${topology.replicas.length} readers${left ? `; left out: ${left}` : ''}`,
        });
      } else {
        const fatal = result.errors.filter((e) => !e.field.startsWith('users[')).map(fieldOf).join('; ');
        set({ type: 'TopologyReady', status: 'False', reason: 'InvalidTopology', message: fatal });
      }
    }
    const usersManaged = !!desired && accounts !== undefined;
    if (usersProblem) set({ type: 'UsersReady', status: usersProblem.reason === 'NoTopology' ? 'Unknown' : 'False', ...usersProblem });
    else if (usersLeftOut.length > 0) set({ type: 'UsersReady', status: 'False', reason: 'UsersLeftOut', message: usersLeftOut.map((u) => `${u.account}: ${u.reason}`).join('; ') });
    else if (desired) set({ type: 'UsersReady', status: 'True', reason: 'Copied', message: `${desired.mysql_users.length} accounts copied` });
    else set({ type: 'UsersReady', status: 'Unknown', reason: 'NoDesiredState', message: getCondition(conditions, 'TopologyReady')?.message ?? '' });

    const digest = desired ? digestState(desired, usersManaged, mysqlAdmin?.password ?? '') : '';
    const summary = desiredSummary({ ...(desired ? { desired } : {}), writer, reader, usersManaged, leftOut: view?.leftOut ?? [], usersLeftOut });
    if (digest && digest !== prev.desiredDigest) await d.events.record(ps, 'Normal', 'DesiredStateChanged', describeDesired(summary));

    // 4. The ProxySQL nodes.
    const now = Date.now();
    const ids: string[] = [];
    const nodes = await Promise.all(spec.proxysql.map(async (ref, i): Promise<NodeStatus> => {
      const field = `spec.proxysql[${i}]`;
      const node = resolveNode(ref, ns, d.units, ADMIN_PORT);
      const was = prev.nodes?.find((n) => n.name === ref.name && n.host === node.host && n.port === node.port);
      const keep: NodeStatus = {
        name: ref.name, host: node.host, port: node.port, reachable: was?.reachable ?? false, synced: false,
        appliedDigest: was?.appliedDigest ?? '', servers: was?.servers ?? 0, users: was?.users ?? 0,
        lastChange: was?.lastChange ?? '', ...(was?.lastSyncTime ? { lastSyncTime: was.lastSyncTime } : {}), lastError: was?.lastError ?? '',
      };
      const label = `${field} (${ref.name}${node.host ? ` ${node.host}:${node.port}` : ''})`;
      const failed = async (status: NodeStatus): Promise<NodeStatus> => {
        if (status.lastError && status.lastError !== was?.lastError) await d.events.record(ps, 'Warning', 'NodeNotSynced', `${label}: ${status.lastError}`);
        return status;
      };
      const claimed = claimedElsewhere(d, ps, ref, node);
      if (claimed) return failed({ ...keep, lastError: claimed });
      if (!node.host) return failed({ ...keep, reachable: false, lastError: node.problem ?? 'no address' });
      if (!desired || !proxyAdmin) return { ...keep, synced: false };
      const id = `${key}|${ref.name}|${node.host}:${node.port}`;
      ids.push(id);
      if (!backoff.due(id, now)) return keep;

      let session;
      try {
        session = await openAdmin({ host: node.host, port: node.port, ...proxyAdmin });
      } catch (err) {
        backoff.fail(id, Date.now());
        return failed({ ...keep, reachable: false, lastError: `cannot connect to the admin interface: ${message(err)}` });
      }
      try {
        const r = await syncNode(session, { desired, manageUsers: usersManaged, digest, appliedDigest: keep.appliedDigest, apply });
        const changed = r.statements > 0;
        const status: NodeStatus = {
          ...keep, reachable: true, synced: r.synced, servers: r.servers, users: r.users,
          appliedDigest: apply && r.synced ? digest : keep.appliedDigest,
          lastChange: changed ? r.change : keep.lastChange,
          ...(changed ? { lastSyncTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') } : {}),
          lastError: r.error ?? (apply || r.synced ? '' : `not in sync (${r.change}); compose.upm.io/skip-reconcile is set`),
        };
        if (r.error) backoff.fail(id, Date.now());
        else backoff.ok(id);
        if (changed) {
          await d.events.record(ps, 'Normal', 'NodeSynced', r.resumed
            ? `${label}: main tables already as desired; loaded to runtime and saved to disk again`
            : `${label}: ${r.change}; loaded to runtime and saved to disk`);
        }
        if (r.error) return failed(status);
        return status;
      } catch (err) {
        backoff.fail(id, Date.now());
        return failed({ ...keep, reachable: true, synced: false, lastError: scrub(message(err), desired) });
      } finally {
        await session.close();
      }
    }));

    // 5. Status.
    const syncedCount = nodes.filter((n) => n.synced).length;
    const notSynced = nodes.map((n, i) => ({ n, i })).filter(({ n }) => !n.synced);
    if (!desired) {
      set({ type: 'Synced', status: 'False', reason: 'NoDesiredState', message: getCondition(conditions, 'TopologyReady')?.message ?? 'no desired state' });
    } else if (!proxySecret || !proxyAdmin) {
      set({
        type: 'Synced', status: 'False', reason: proxySecret ? 'SecretIncomplete' : 'SecretNotFound',
        message: proxySecret ? `spec.secretName: Secret "${spec.secretName}" needs admin-username and admin-password` : `spec.secretName: Secret "${spec.secretName}" not found in ${ns}`,
      });
    } else if (notSynced.length === 0) {
      set({ type: 'Synced', status: 'True', reason: 'Synced', message: `${syncedCount} ProxySQL nodes hold the desired state` });
    } else {
      const list = notSynced.map(({ n, i }) => `spec.proxysql[${i}] (${n.name}): ${n.lastError || 'not synced yet'}`).join('; ');
      set({ type: 'Synced', status: 'False', reason: apply ? 'NodesNotSynced' : 'ReconcileSkipped', message: list });
    }
    const problems = [
      ...(desired && proxyAdmin ? notSynced.map(({ n, i }) => `spec.proxysql[${i}] (${n.name}) not synced`) : []),
      ...(desired && !usersManaged ? ['accounts not read; mysql_users left as it is'] : []),
      ...(usersLeftOut.length > 0 ? [`${usersLeftOut.length} accounts left out`] : []),
    ];
    set(problems.length > 0
      ? { type: 'Degraded', status: 'True', reason: 'NotFullySynced', message: problems.join('; ') }
      : { type: 'Degraded', status: 'False', reason: 'AsExpected', message: '' });
    await recordTransitions(d, ps, prev.conditions as Condition[] | undefined, conditions ?? []);

    const status: Status = {
      observedGeneration: gen,
      synced: !!desired && !!proxyAdmin && notSynced.length === 0,
      syncedNodes: `${syncedCount}/${nodes.length}`,
      servers: desired?.mysql_servers.length ?? 0,
      users: desired?.mysql_users.length ?? 0,
      source: topology?.source?.name ?? '',
      desiredDigest: digest,
      desired: summary,
      nodes,
      conditions,
    };
    await writeStatus(d, ps, status);
    backoff.retain(`${key}|`, ids);
    const retry = backoff.next(ids, Date.now());
    ctx.log.debug({ synced: status.synced, nodes: status.syncedNodes, retryMs: retry }, 'reconciled');
    return { requeueAfterMs: Math.max(250, Math.min(interval, retry ?? interval)) };
  };
}

/**
 * The usernames of the platform's own accounts in the MySQL and ProxySQL Secrets, never copied to ProxySQL. The
 * application account (app-username) is not one of them: applications reach the servers through ProxySQL with it.
 */
export function platformUsernames(mysqlSecret: Secret | undefined, proxySecret: Secret | undefined): string[] {
  const accounts = [...['admin', 'replication', 'monitor'].map((r) => creds(mysqlSecret, r)), creds(proxySecret, 'admin'), creds(proxySecret, 'monitor')];
  return accounts.map((c) => c?.user).filter((u): u is string => !!u);
}

function creds(secret: Secret | undefined, role: string): Credentials | undefined {
  const user = b64(secret?.data?.[`${role}-username`]);
  const password = b64(secret?.data?.[`${role}-password`]);
  return user && password ? { user, password } : undefined;
}

/** The source first, then the ready readers: accounts replicate, so any of them has them. */
async function readSourceAccounts(t: Topology, admin: Credentials, dialect: 'mariadb' | 'mysql'): Promise<{ accounts?: Account[]; error?: string }> {
  const candidates = [...(t.source ? [t.source] : []), ...t.replicas.filter((r) => r.ready)];
  const errors: string[] = [];
  for (const n of candidates) {
    try {
      return { accounts: await readAccounts({ host: n.host, port: n.port || MYSQL_PORT, ...admin }, dialect) };
    } catch (err) {
      errors.push(`${n.name}: ${message(err)}`);
    }
  }
  return { error: errors.join('; ') || 'no server with an address' };
}

/** Another ProxysqlSync created earlier names the same ProxySQL: two syncs would rewrite each other's rows. */
function claimedElsewhere(d: ProxysqlSyncDeps, ps: ProxysqlSync, ref: NodeRef, node: ResolvedNode): string | undefined {
  const ns = ps.metadata.namespace;
  const mine = [ps.metadata.creationTimestamp ?? '', ps.metadata.name ?? ''].join('/');
  for (const other of d.syncs.list()) {
    if (other.metadata.namespace !== ns || other.metadata.uid === ps.metadata.uid || other.metadata.deletionTimestamp) continue;
    if ([other.metadata.creationTimestamp ?? '', other.metadata.name ?? ''].join('/') > mine) continue;
    const j = other.spec.proxysql.findIndex((o) => {
      if (ref.unit && o.unit === ref.unit) return true;
      const theirs = resolveNode(o, ns ?? '', d.units, ADMIN_PORT);
      return !!node.host && theirs.host === node.host && theirs.port === node.port;
    });
    if (j >= 0) return `also named by ProxysqlSync "${other.metadata.name}" (spec.proxysql[${j}]), created earlier; left to it`;
  }
  return undefined;
}

/** desired.ts field names, as the spec or the MysqlReplication names them. */
export function fieldOf(e: FieldError): string {
  const f = e.field
    .replace(/^settings\./, 'spec.hostgroups.')
    .replace(/^checkType$/, 'spec.hostgroups.checkType')
    .replace(/^monitor\./, 'spec.mysqlSecretName: monitor-')
    .replace(/^topology\./, 'spec.mysqlReplication: status.topology ');
  return `${f}: ${e.message}`;
}

/** Admin errors may quote a statement: no hash or password leaves this function. */
export function scrub(text: string, desired: ProxysqlState): string {
  const secrets = [...desired.mysql_users.map((u) => u.password), ...Object.values(desired.global_variables)].filter((s) => s.length >= 6);
  return secrets.reduce((t, s) => t.split(s).join('***'), text);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** An event for each condition that changed: Warning when it went bad, Normal when it recovered. */
async function recordTransitions(d: ProxysqlSyncDeps, ps: ProxysqlSync, before: Condition[] | undefined, after: Condition[]): Promise<void> {
  const good = (c: Condition) => (c.type === 'Degraded' ? c.status === 'False' : c.status === 'True');
  for (const c of after) {
    const b = before?.find((x) => x.type === c.type);
    if (b && b.status === c.status && b.reason === c.reason && b.message === c.message) continue;
    if (!b && good(c)) continue; // fine from the start: nothing to say
    if (c.type === 'Degraded' && b?.status === c.status) continue; // its message only repeats the other conditions
    await d.events.record(ps, good(c) ? 'Normal' : 'Warning', c.reason ?? c.type, c.message || `${c.type} is ${c.status}`);
  }
}

async function writeStatus(d: ProxysqlSyncDeps, ps: ProxysqlSync, status: Status): Promise<void> {
  await patchStatus(d.client, ProxysqlSyncResource, ps, status);
}
