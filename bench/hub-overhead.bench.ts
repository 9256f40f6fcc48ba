// What the hub adds to creating a service: create-to-Ready of a 3-unit MariaDB MysqlService (semisync) through the
// hub's public API against the same member objects (the services controller's desired function) applied directly
// to the member by server-side apply, as the hub applies them. One member (control plane with KWOK nodes, the Unit
// and Compose Operators, real MariaDB servers behind the simulated pods), the hub on the management cluster.
// Ready: the hub service's status.phase (polled through the public API) against the status function on what the
// member shows (polled on the member); both every 250 ms. Rounds alternate direct and hub (BENCH_ROUNDS, default 2);
// the first hub round also starts the hub's mirror of the member. Goal: overhead <= 1 s.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MysqlReplicationResource } from '../lib/api/compose.upm.io.generated.ts';
import type { ClusterRecord } from '../lib/api/internal.upm.io.generated.ts';
import { UnitResource, UnitSetResource } from '../lib/api/unit.upm.io.generated.ts';
import { readInventory, type StorageClassObject } from '../lib/inventory.ts';
import type { KubeClient } from '../lib/kube/client.ts';
import { Resources, type ResourceType } from '../lib/kube/resources.ts';
import type { KubeObject } from '../lib/kube/types.ts';
import { waitFor } from '../lib/wait.ts';
import { FIELD_MANAGER, SERVICE_NAME_LABEL, UNIT_SELECTOR, type HubService, type ServiceStatus } from '../controllers/services/contract.ts';
import { desiredMysql } from '../controllers/services/desired/mysql.ts';
import { serviceStatus } from '../controllers/services/status.ts';
import { installEngine, startOperator } from '../hack/local/engine.ts';
import { LocalHub } from '../hack/local/hub.ts';
import type { ManagedProcess } from '../hack/local/process.ts';
import { EngineRuntime } from '../hack/local/runtime.ts';
import { LocalSystem } from '../hack/local/system.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const MEMBER = 'member1';
const DIRECT_NS = 'direct';
const PROJECT = 'viahub';
const RESOURCE: Record<string, ResourceType> = { Namespace: Resources.namespaces, UnitSet: UnitSetResource, MysqlReplication: MysqlReplicationResource };
const SPEC = { engine: 'mariadb', version: '10.11', topology: { mode: 'semisync', replicas: 3 }, resources: { cpu: '1', memory: '256Mi' }, storage: { size: '1Gi' }, placement: { cluster: MEMBER } };
const progress = (msg: string) => process.stderr.write(`  [${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the mirror's informers would hold for the service: its objects by label, its Units, the member's Nodes. */
async function observe(c: KubeClient, ns: string, name: string): Promise<KubeObject[]> {
  const sel = { namespace: ns, labelSelector: `${SERVICE_NAME_LABEL}=${name}` };
  const [units, nodes, us, mr] = await Promise.all([
    c.list<KubeObject>(UnitResource, { namespace: ns, labelSelector: `${UNIT_SELECTOR},${SERVICE_NAME_LABEL}=${name}` }), c.list<KubeObject>(Resources.nodes),
    c.list<KubeObject>(UnitSetResource, sel), c.list<KubeObject>(MysqlReplicationResource, sel),
  ]);
  return [...units.items.map((o) => ({ ...o, kind: 'Unit' })), ...nodes.items.map((o) => ({ ...o, kind: 'Node' })),
    ...us.items.map((o) => ({ ...o, kind: 'UnitSet' })), ...mr.items.map((o) => ({ ...o, kind: 'MysqlReplication' }))];
}

const record = (ns: string, name: string): HubService => ({ apiVersion: 'internal.upm.io/v1alpha1', kind: 'MysqlServiceRecord', metadata: { name, namespace: ns, generation: 1 }, spec: { ...SPEC, deletionPolicy: 'Delete' } }) as HubService;

/** The status function on what the member shows of the service now (as the hub would compute it). */
function memberStatus(c: KubeClient, cluster: ClusterRecord, svc: HubService): () => Promise<ServiceStatus | undefined> {
  let last: ServiceStatus | undefined;
  return async () => {
    const objects = await observe(c, svc.metadata.namespace ?? '', svc.metadata.name ?? '').catch(() => undefined);
    if (!objects) return undefined;
    last = serviceStatus({ ...svc, ...(last ? { status: last } : {}) }, { reachable: true, objects, desired: desiredMysql(svc, cluster, objects) }, new Date());
    return last;
  };
}

/** Desired objects applied to the member as the hub applies them; then the status function until Ready. */
async function direct(c: KubeClient, cluster: ClusterRecord, name: string): Promise<number> {
  const svc = record(DIRECT_NS, name);
  const t0 = performance.now();
  const d = desiredMysql(svc, cluster, await observe(c, DIRECT_NS, name).catch(() => []));
  if (!('objects' in d)) throw new Error(`refused: ${d.refused.field}: ${d.refused.message}`);
  for (const o of d.objects) {
    const rt = RESOURCE[o.kind ?? ''];
    if (!rt) throw new Error(`no resource for ${o.kind}`);
    await c.patch(rt, o.metadata.name ?? '', o, 'apply', { namespace: rt.namespaced ? o.metadata.namespace : undefined, fieldManager: FIELD_MANAGER, force: true });
  }
  const status = memberStatus(c, cluster, svc);
  await waitFor(`${name} Ready (direct)`, async () => (await status())?.phase === 'Ready', { timeoutMs: 300_000, intervalMs: 250 });
  return performance.now() - t0;
}

/** Through the hub: to its UnitSet on the member, to Ready as the member shows it, to Ready on the hub. */
async function viaHub(admin: KubeClient, c: KubeClient, cluster: ClusterRecord, name: string): Promise<{ placed: number; memberReady: number; hubReady: number }> {
  const path = `/apis/upm.io/v1alpha1/namespaces/${PROJECT}/mysqlservices`;
  const status = memberStatus(c, cluster, record(PROJECT, name));
  const t0 = performance.now();
  await admin.request('POST', path, { body: { apiVersion: 'upm.io/v1alpha1', kind: 'MysqlService', metadata: { name, namespace: PROJECT }, spec: SPEC } });
  let placed = 0;
  let memberReady = 0;
  await waitFor(`${name} Ready (hub)`, async () => {
    const [hubSvc, onMember] = await Promise.all([admin.request<{ status?: ServiceStatus }>('GET', `${path}/${name}`), memberReady ? undefined : status()]);
    const t = performance.now() - t0;
    if (!placed && onMember && onMember.phase !== 'Pending' && (onMember.units?.length ?? 0) > 0) placed = t;
    if (!memberReady && onMember?.phase === 'Ready') memberReady = t;
    return hubSvc.status?.phase === 'Ready';
  }, { timeoutMs: 300_000, intervalMs: 250 });
  return { placed, memberReady, hubReady: performance.now() - t0 };
}

const dir = await mkdtemp(join(tmpdir(), 'upm-bench-hub-overhead-'));
progress('starting the management cluster and the member with the engine layer');
const sys = await LocalSystem.start(join(dir, 'system'), [{ name: 'mgmt', role: 'management', nodes: 1 }, { name: MEMBER, role: 'member', nodes: 3 }]);
const member = sys.cluster(MEMBER);
let hub: LocalHub | undefined;
let runtime: EngineRuntime | undefined;
const clients: KubeClient[] = [];
const operators: ManagedProcess[] = [];
try {
  await installEngine(sys.bins.kubectl, member.kubeconfig);
  runtime = await EngineRuntime.start({ cluster: MEMBER, kubeconfig: member.kubeconfig, dir: join(dir, 'engines') });
  for (const kind of ['unit', 'compose'] as const) operators.push((await startOperator(kind, member, join(dir, 'system', MEMBER))).process);
  progress('starting the hub');
  hub = await LocalHub.start(sys.bins.kubectl, sys.cluster('mgmt'), join(dir, 'hub'), { members: [member] });
  const m = await member.client();
  const admin = await sys.cluster('mgmt').client();
  clients.push(m, admin);
  await waitFor('engine catalog', () => m.get(Resources.configMaps, 'upm-engine-catalog', 'upm-system').then(() => true), { timeoutMs: 60_000 });
  await admin.request('POST', '/apis/upm.io/v1alpha1/projects', { body: { apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: PROJECT } } });
  await waitFor('the project namespace', () => admin.request('GET', `/api/v1/namespaces/${PROJECT}`).then(() => true, () => false), { timeoutMs: 30_000, intervalMs: 250 });
  const cluster: ClusterRecord = {
    apiVersion: 'internal.upm.io/v1alpha1', kind: 'ClusterRecord', metadata: { name: MEMBER }, spec: {},
    status: readInventory((await m.list<KubeObject>(Resources.nodes)).items, (await m.list<StorageClassObject>(Resources.storageClasses)).items),
  };
  const rows: [number, number, { placed: number; memberReady: number; hubReady: number }][] = [];
  for (let r = 1; r <= ROUNDS; r++) {
    progress(`round ${r}: direct`);
    const d = await direct(m, cluster, `db-${r}`);
    await sleep(5000);
    progress(`round ${r}: through the hub`);
    const h = await viaHub(admin, m, cluster, `db-${r}`);
    rows.push([r, d, h]);
    await sleep(5000);
  }
  console.log('3-unit MariaDB MysqlService (semisync), create to Ready:');
  console.log('| round | member objects applied directly | through the hub | hub overhead (goal <= 1 s) | hub: Units on the member | hub: Ready as the member shows it |');
  console.log('|---|---|---|---|---|---|');
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  for (const [r, d, h] of rows) console.log(`| ${r}${r === 1 ? ' (hub starts its mirror of the member)' : ''} | ${s(d)} | ${s(h.hubReady)} | ${s(h.hubReady - d)} | ${s(h.placed)} | ${s(h.memberReady)} |`);
} finally {
  for (const c of clients) await c.close().catch(() => undefined);
  await hub?.stop();
  await Promise.all(operators.map((p) => p.stop()));
  await runtime?.stop();
  await sys.stop();
  if (process.env.BENCH_KEEP_DIR) console.log(`  logs kept in ${dir}`);
  else await rm(dir, { recursive: true, force: true });
}
