// More of the hub driving member1, each service created by a project editor with the real kubectl: who may see and
// change a service (a member of another project learns nothing of it, not even that it exists; a viewer of the
// project reads it but changes nothing and reads no Secret of the project), a ZooKeeper service of 3 servers whose
// connection Secret's account (read by the editor) writes a znode read from every server, where anonymous clients
// may read but not write, and a Redis Cluster service of 3 shards (a master and a replica each) holding
// 1,000 keys written through a cluster client; deleting them removes what the hub put on the member. Real engines,
// run by the engine runtime on member1 for the project's namespace, as in hub-services.
import { expect, it } from '@jest/globals';
import { Cluster } from 'ioredis';
import type { KubeObject } from '../../lib/kube/types.ts';
import { isNotFound } from '../../lib/kube/errors.ts';
import { Resources } from '../../lib/kube/resources.ts';
import { RedisClusterResource, ZookeeperEnsembleResource } from '../../lib/api/compose.upm.io.generated.ts';
import { UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import { waitFor } from '../../lib/wait.ts';
import { parseClusterNodes } from '../../operators/compose/rediscluster/plan.ts';
import { ZkError, ZkSession } from '../../operators/compose/zookeeper/client.ts';
import { connectionOf } from '../connection.ts';
import { uniqueName } from '../env.ts';
import { describeHub, kubectlAs, kubectlOkAs, userKubeconfig } from '../hub.ts';
import { MEMBER, useHubProject } from '../hub-member.ts';

type Secret = KubeObject & { data?: Record<string, string> };
const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');
const svc = (kind: string, name: string, ns: string, spec: Record<string, unknown>) =>
  JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind, metadata: { name, namespace: ns }, spec: { placement: { cluster: MEMBER }, ...spec } });

describeHub('more services driven by the hub onto member1', () => {
  const suffix = uniqueName('x').slice(2);
  const viewer = `view-${suffix}`;
  const outsider = `out-${suffix}`;
  const p = useHubProject('hubmore', [{ name: viewer, role: 'viewer' }]);
  const zkSpec = { version: '3.8', topology: { replicas: 3 }, resources: { cpu: '500m', memory: '256Mi' }, storage: { size: '1Gi' } };

  it('hides the service from a member of another project and lets a viewer read it but change nothing', async () => {
    const created = await p.as(['create', '-f', '-'], svc('ZookeeperService', 'zk', p.project, zkSpec));
    expect(created.trim()).toBe('zookeeperservice.upm.io/zk created');
    // The outsider belongs to a project of their own, nothing else.
    const other = uniqueName('hubother');
    await kubectlOkAs(undefined, ['create', '-f', '-'], JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: other }, spec: { members: [{ name: outsider, role: 'editor' }] } }));
    try {
      const out = await userKubeconfig(outsider);
      const vk = await userKubeconfig(viewer);
      await waitFor('the roles bound', async () => (await kubectlAs(out, ['auth', 'can-i', 'create', 'zookeeperservices.upm.io', '-n', other])).stdout.trim() === 'yes'
        && (await kubectlAs(vk, ['auth', 'can-i', 'list', 'zookeeperservices.upm.io', '-n', p.project])).stdout.trim() === 'yes', { timeoutMs: 30_000, intervalMs: 250 });

      // The hub answers 404 for a service of another project's namespace, the same answer as for a namespace and a
      // service that do not exist: it tells the outsider nothing about the project or the service.
      const denied = async (ns: string, name: string) => {
        const r = await kubectlAs(out, ['get', 'zookeeperservice', name, '-n', ns]);
        expect(r.code).not.toBe(0);
        return r.stderr.trim().replaceAll(ns, '<ns>').replaceAll(`"${name}"`, '"<name>"');
      };
      const get = await denied(p.project, 'zk');
      expect(get).toBe('Error from server (NotFound): zookeeperservices.upm.io "<name>" not found');
      expect(await denied(uniqueName('nosuchproject'), 'nosuch')).toBe(get);
      // Services are listed per project namespace: across all of them only by those RBAC lets list at the cluster
      // scope (no project role does), so the outsider's -A listing is refused as a whole and shows nothing.
      const all = await kubectlAs(out, ['get', 'zookeeperservices', '-A', '-o', 'json']);
      expect(all.code).not.toBe(0);
      expect((JSON.parse(all.stdout || '{"items":[]}') as { items: KubeObject[] }).items).toEqual([]);
      expect(all.stderr.trim()).toBe(`Error from server (Forbidden): zookeeperservices.upm.io is forbidden: User "${outsider}" cannot list resource "zookeeperservices" in API group "upm.io" at the cluster scope`);
      // Their own project's listing holds only their own services: none.
      expect(JSON.parse(await kubectlOkAs(out, ['get', 'zookeeperservices', '-n', other, '-o', 'json']))).toMatchObject({ items: [] });

      const seen = JSON.parse(await kubectlOkAs(vk, ['get', 'zookeeperservice', 'zk', '-n', p.project, '-o', 'json'])) as KubeObject;
      expect(seen.metadata.name).toBe('zk');
      const forbidden = async (args: string[], input?: string) => {
        const r = await kubectlAs(vk, args, input);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain('Error from server (Forbidden)');
      };
      await forbidden(['create', '-f', '-'], svc('ZookeeperService', 'zk2', p.project, zkSpec));
      await forbidden(['patch', 'zookeeperservice', 'zk', '-n', p.project, '--type', 'merge', '-p', '{"spec":{"topology":{"replicas":5}}}']);
      await forbidden(['delete', 'zookeeperservice', 'zk', '-n', p.project]);
      await forbidden(['get', 'secrets', '-n', p.project]);
      // Nothing the viewer tried took effect.
      expect((await p.hubObject('zookeeperservice', 'zk')).spec.topology).toEqual({ replicas: 3 });
      expect((await kubectlAs(p.kc, ['get', 'zookeeperservice', 'zk2', '-n', p.project])).stderr).toContain('NotFound');
    } finally {
      await kubectlAs(undefined, ['delete', 'project', other, '--wait=false', '--ignore-not-found']);
    }
  }, 90_000);

  it('runs the ZooKeeper service of 3 servers: Ready with its client endpoint; the connection Secret\'s account creates a znode read from every server, anonymous writes are refused', async () => {
    const t0 = Date.now();
    const st = await p.hubReaches('zookeeperservice', 'zk', 'the ZookeeperService Ready', (s) => s.phase === 'Ready', 300_000);
    process.stdout.write(`ZookeeperService Ready after ${Date.now() - t0} ms\n`);
    expect(st).toMatchObject({ ready: '3/3', version: '3.8' });
    expect(st.units?.filter((u) => u.role === 'leader')).toHaveLength(1);
    expect(st.endpoints).toHaveLength(1);
    const client = st.endpoints?.[0];
    expect(client).toMatchObject({ name: 'zk-client', role: 'readwrite', port: 2181 });
    expect(client?.addresses).toHaveLength(3);
    const [first, ...rest] = client?.addresses ?? [];
    const open = (ip: string) => waitFor(`a session on ${ip}`, () => ZkSession.open(ip, client?.port ?? 0, { timeoutMs: 5000 }).catch(() => undefined), { timeoutMs: 30_000, intervalMs: 250 });

    // The connection Secret as the project's editor reads it with kubectl: the client Service and the account.
    const conn = await connectionOf(p, 'zookeeperservice', 'zk');
    expect(Object.keys(conn).sort()).toEqual(['host', 'password', 'port', 'user']);
    expect(conn).toMatchObject({ host: `zk-client.${p.project}.svc`, port: '2181', user: 'upm_app' });
    expect(conn.password?.length).toBeGreaterThanOrEqual(16);
    // The member's DNS name does not resolve here: the endpoint's addresses (of that Service) stand for it.
    const w = await open(first ?? '');
    try {
      await w.addDigestAuth(`${conn.user}:${conn.password}`);
      expect(await w.create('/from-the-hub', 'hello')).toBe('/from-the-hub');
    } finally { await w.close(); }
    for (const ip of [first ?? '', ...rest]) {
      const r = await open(ip);
      try {
        await r.sync('/from-the-hub');
        expect(`${ip}=${(await r.getData('/from-the-hub')).data.toString()}`).toBe(`${ip}=hello`);
        // An anonymous client reads, and is refused a write, on every server.
        const refused = await r.create(`/anonymous-${ip}`, 'x').then(() => 'created', (e: unknown) => (e instanceof ZkError ? e.codeName : String(e)));
        expect(`${ip} ${refused}`).toBe(`${ip} NoAuth`);
      } finally { await r.close(); }
    }
  }, 360_000);

  it('runs the Redis Cluster service of 3 shards: Ready with its endpoint, 1,000 keys written through a cluster client all read back', async () => {
    await p.as(['create', '-f', '-'], svc('RedisClusterService', 'rc', p.project, { version: '7.2', topology: { shards: 3, replicasPerShard: 1 }, resources: { cpu: '500m', memory: '256Mi' }, storage: { size: '1Gi' } }));
    const t0 = Date.now();
    const st = await p.hubReaches('redisclusterservice', 'rc', 'the RedisClusterService Ready', (s) => s.phase === 'Ready', 300_000);
    process.stdout.write(`RedisClusterService Ready after ${Date.now() - t0} ms\n`);
    expect(st).toMatchObject({ ready: '6/6', slotsAssigned: 16384 });
    const rw = st.endpoints?.find((e) => e.role === 'readwrite');
    expect(rw).toMatchObject({ name: 'rc-readwrite', port: 6379 });
    expect(rw?.addresses).toHaveLength(3);
    expect(st.units?.map((u) => u.role).sort()).toEqual(['master', 'master', 'master', 'replica', 'replica', 'replica']);
    // The credentials the member's RedisCluster uses, from member1 (the hub's connection Secret is not there yet).
    const secret = await p.member.get<Secret>(Resources.secrets, 'rc-credentials', p.project);
    const auth = { username: b64(secret.data?.['admin-username']), password: b64(secret.data?.['admin-password']) };
    const cl = new Cluster((rw?.addresses ?? []).map((host) => ({ host, port: rw?.port ?? 0 })), { redisOptions: auth, maxRedirections: 64 });
    cl.on('error', () => undefined);
    try {
      const keys = Array.from({ length: 1000 }, (_, i) => `key:${i}`);
      await Promise.all(keys.map((k) => cl.set(k, `value:${k}`)));
      const values = await Promise.all(keys.map((k) => cl.get(k)));
      expect(values.filter((v, i) => v !== `value:${keys[i]}`)).toEqual([]);
      // Spread over the shards: every master holds some of them.
      const counts = await Promise.all(cl.nodes('master').map((n) => n.dbsize()));
      expect(counts).toHaveLength(3);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(1000);
      for (const c of counts) expect(c).toBeGreaterThan(0);
      // The cluster's own view: each master followed by one replica, as the hub reports the units.
      const nodes = parseClusterNodes(String(await cl.nodes('master')[0]?.call('CLUSTER', 'NODES')));
      const masters = nodes.filter((n) => n.role === 'master' && n.slots.length > 0);
      expect(masters).toHaveLength(3);
      for (const mst of masters) expect(nodes.filter((n) => n.role === 'replica' && n.masterId === mst.id)).toHaveLength(1);
    } finally { cl.disconnect(); }
  }, 360_000);

  it('removes the ZooKeeper and Redis Cluster services\' objects from member1 when they are deleted through the hub', async () => {
    const t0 = Date.now();
    for (const [kind, name] of [['zookeeperservice', 'zk'], ['redisclusterservice', 'rc']] as const) {
      await p.as(['delete', kind, name, '-n', p.project, '--timeout=120s']);
      expect((await kubectlAs(p.kc, ['get', kind, name, '-n', p.project])).stderr).toContain('NotFound');
    }
    process.stdout.write(`both services deleted after ${Date.now() - t0} ms\n`);
    // The hub's last service in the project is gone: so is everything it put on member1, the namespace too.
    await waitFor('the namespace gone from member1', async () => {
      try { await p.member.get(Resources.namespaces, p.project); return false; } catch (err) { if (isNotFound(err)) return true; throw err; }
    }, { timeoutMs: 120_000, intervalMs: 500 });
    for (const rt of [UnitSetResource, UnitResource, ZookeeperEnsembleResource, RedisClusterResource, Resources.persistentVolumeClaims, Resources.pods]) {
      expect((await p.member.list(rt, { namespace: p.project })).items.map((o) => o.metadata.name)).toEqual([]);
    }
  }, 300_000);
});
