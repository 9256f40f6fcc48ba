// Real Redis and ZooKeeper behind simulated pods: each unit's agent renders the engine's config from the template
// and starts the engine on the pod's loopback address. ZooKeeper's units find each other by their DNS names,
// which the local runtime resolves to the pods' stable addresses, and form a quorum.
import { connect } from 'node:net';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { AGENT_PORT } from '../../agent/api.ts';
import { AgentClient } from '../../agent/client.ts';
import { readUnitAgentToken } from '../../agent/tokens.ts';
import type { Unit, UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { kubectlOk } from '../kubectl.ts';
import { useUnitOperator } from '../unit-operator.ts';

const CLUSTER = 'member2';
type Pod = KubeObject & { status?: { podIP?: string; conditions?: { type: string; status: string; reason?: string }[] } };
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

// How long a UnitSet may take to be Ready here; tests that wait for it get a jest timeout above it.
const READY_MS = 120_000;

/** Sends one line to host:port and returns everything the server answers before closing (or the timeout). */
function ask(host: string, port: number, line: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    let out = '';
    const timer = setTimeout(() => { s.destroy(); resolve(out); }, timeoutMs);
    s.on('connect', () => s.write(line));
    s.on('data', (d) => {
      out += d.toString();
      if (port !== 2181 && out.endsWith('\r\n')) { clearTimeout(timer); s.end(); resolve(out); }
    });
    s.on('end', () => { clearTimeout(timer); resolve(out); });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

const unitSet = (ns: string, name: string, engine: string, version: string, storage: string) => `
apiVersion: unit.upm.io/v1alpha1
kind: UnitSet
metadata: { name: ${name}, namespace: ${ns} }
spec:
  engine: ${engine}
  version: "${version}"
  units: 3
  resources: { limits: { cpu: 500m, memory: 256Mi } }
  storage: [{ name: data, size: 1Gi, mountPath: ${storage} }]
`;

describe('Redis and ZooKeeper units on real engines', () => {
  const f = useUnitOperator(CLUSTER, 'kvzk', { engines: true });
  let c: KubeClient;
  let ns: string;
  beforeAll(() => { c = f.client; ns = f.ns; });

  const waitReady = (name: string) => waitFor(`UnitSet ${name} Ready`, async () => {
    const us = await c.get<UnitSet>(UnitSetResource, name, ns);
    return us.status?.phase === 'Ready' && us.status.readyUnits === 3;
  }, { timeoutMs: READY_MS, intervalMs: 250 });
  const ips = async (name: string) => Promise.all([0, 1, 2].map(async (o) => (await c.get<Pod>(Resources.pods, `${name}-${o}`, ns)).status?.podIP ?? ''));

  it('runs three Redis servers configured from the template', async () => {
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], unitSet(ns, 'kv', 'redis', '7.2', '/data'));
    await waitReady('kv');
    const addrs = await ips('kv');
    expect(new Set(addrs).size).toBe(3);
    for (const a of addrs) {
      expect(await ask(a, 6379, 'PING\r\n')).toBe('+PONG\r\n');
      // maxmemory: 70% of the 256Mi limit, as the template's default says (179mb).
      expect(await ask(a, 6379, 'CONFIG GET maxmemory\r\n')).toContain(String(179 * 1024 * 1024));
    }
    // Data written to one unit stays on it (no replication yet: that is the Compose Operator's job).
    expect(await ask(addrs[0] as string, 6379, 'SET greeting hello\r\n')).toBe('+OK\r\n');
    expect(await ask(addrs[0] as string, 6379, 'GET greeting\r\n')).toBe('$5\r\nhello\r\n');
    const units = (await c.list<Unit>(UnitResource, { namespace: ns, labelSelector: 'unit.upm.io/unitset=kv' })).items;
    expect(units.map((u) => u.status?.engine?.state)).toEqual(['Running', 'Running', 'Running']);
    expect(units.every((u) => (u.status?.engine?.pid ?? 0) > 0)).toBe(true);
  }, READY_MS + 60_000);

  it('backs up a Redis unit as RDB and restores it through the agent', async () => {
    const addr = (await ips('kv'))[1] as string;
    const agent = new AgentClient(addr, AGENT_PORT, await readUnitAgentToken(c, ns, 'kv-1'));
    for (let i = 0; i < 50; i++) expect(await ask(addr, 6379, `SET k${i} v${i}\r\n`)).toBe('+OK\r\n');
    const b = await agent.backup({ path: `${ns}/kv-1.rdb` });
    expect(b.format).toBe('rdb');
    expect(await ask(addr, 6379, 'FLUSHALL\r\n')).toBe('+OK\r\n');
    expect(await ask(addr, 6379, 'DBSIZE\r\n')).toBe(':0\r\n');
    const st = await agent.restore({ path: `${ns}/kv-1.rdb` }); // RDB is file-level: the agent stops, restores, starts
    expect(st.state).toMatch(/Starting|Running/);
    await waitFor('kv-1 serving again', async () => (await ask(addr, 6379, 'PING\r\n').catch(() => '')) === '+PONG\r\n', { timeoutMs: 30_000 });
    expect(await ask(addr, 6379, 'DBSIZE\r\n')).toBe(':50\r\n');
    expect(await ask(addr, 6379, 'GET k49\r\n')).toBe('$3\r\nv49\r\n');
  });

  it('restarts the engine with its data when the pod is replaced, and stops the old process', async () => {
    const addr = (await ips('kv'))[0] as string;
    const before = await c.get<Unit>(UnitResource, 'kv-0', ns);
    const oldPid = before.status?.engine?.pid ?? 0;
    expect(alive(oldPid)).toBe(true);
    const oldUid = (await c.get<Pod>(Resources.pods, 'kv-0', ns)).metadata.uid;
    await kubectlOk(CLUSTER, ['-n', ns, 'delete', 'pod', 'kv-0', '--wait=false']);
    await waitFor('kv-0 back on a new pod', async () => {
      const u = await c.get<Unit>(UnitResource, 'kv-0', ns);
      const pod = await c.get<Pod>(Resources.pods, 'kv-0', ns).catch(() => undefined);
      return !!pod && pod.metadata.uid !== oldUid && u.status?.phase === 'Ready' && u.status.engine?.pid !== oldPid;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    expect(alive(oldPid)).toBe(false);
    expect((await ips('kv'))[0]).toBe(addr); // the same stable address, as a DNS name would be
    expect(await ask(addr, 6379, 'GET greeting\r\n')).toBe('$5\r\nhello\r\n'); // from the volume (AOF)
  });

  it('restarts a crashed engine and counts the restart in the unit and the pod', async () => {
    let before: Unit | undefined;
    await waitFor('kv-2 reporting its engine\'s pid', async () => {
      before = await c.get<Unit>(UnitResource, 'kv-2', ns);
      return before.status?.engine?.state === 'Running' && (before.status.engine.pid ?? 0) > 0;
    }, { timeoutMs: 60_000 });
    const pid = before?.status?.engine?.pid as number;
    process.kill(pid, 'SIGKILL');
    await waitFor('kv-2 Ready again after the crash', async () => {
      const u = await c.get<Unit>(UnitResource, 'kv-2', ns);
      return u.status?.phase === 'Ready' && (u.status.engine?.restarts ?? 0) === (before?.status?.engine?.restarts ?? 0) + 1 && u.status.engine?.pid !== pid;
    }, { timeoutMs: 60_000, intervalMs: 100 }).catch(async (err: unknown) => {
      // Say where the chain stopped: the agent's own view, the pod the runtime wrote, or the unit.
      const pod = await c.get<KubeObject & { status?: unknown }>(Resources.pods, 'kv-2', ns);
      const unit = await c.get<Unit>(UnitResource, 'kv-2', ns);
      throw new Error(`${String(err)}; agent ${JSON.stringify(f.runtime?.statuses()[`${ns}/kv-2`])}; pod ${JSON.stringify(pod.status)}; unit ${JSON.stringify(unit.status)}`, { cause: err });
    });
    const u = await c.get<Unit>(UnitResource, 'kv-2', ns);
    expect(u.status?.restartCount).toBe(1); // the pod's main container reports it, as a kubelet would
    expect(await ask((await ips('kv'))[2] as string, 6379, 'PING\r\n')).toBe('+PONG\r\n');
    const events = await kubectlOk(CLUSTER, ['-n', ns, 'get', 'events', '--field-selector', 'involvedObject.name=kv-2', '-o', 'jsonpath={.items[*].reason}']);
    expect(events).toContain('StartingEngine');
  });

  it('reports an engine that cannot run locally plainly instead of faking it', async () => {
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], unitSet(ns, 'my8', 'mysql', '8.0', '/var/lib/mysql').replace('units: 3', 'units: 1'));
    let unit: Unit | undefined;
    await waitFor('my8-0 NotRunnable', async () => {
      unit = await c.get<Unit>(UnitResource, 'my8-0', ns).catch(() => undefined);
      return unit?.status?.phase === 'NotRunnable';
    }, { timeoutMs: 60_000, intervalMs: 250 });
    expect(unit?.status?.ready).toBe(false);
    expect(unit?.status?.engine?.state).toBe('NotRunnable');
    expect(unit?.status?.engine?.message).toContain('no MySQL 8 package');
    const pod = await c.get<Pod>(Resources.pods, 'my8-0', ns);
    expect(pod.status?.conditions?.find((x) => x.type === 'Ready')).toMatchObject({ status: 'False', reason: 'EngineNotRunnable' });
    const events = await kubectlOk(CLUSTER, ['-n', ns, 'get', 'events', '--field-selector', 'reason=EngineNotRunnable', '-o', 'name']);
    expect(events.trim()).not.toBe('');
    await kubectlOk(CLUSTER, ['-n', ns, 'delete', 'us', 'my8', '--wait=false']);
  });

  it('runs a ZooKeeper ensemble of three that elects exactly one leader', async () => {
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], unitSet(ns, 'zk', 'zookeeper', '3.8', '/data'));
    await waitReady('zk');
    const addrs = await ips('zk');
    let modes: string[] = [];
    await waitFor('a leader and two followers', async () => {
      modes = await Promise.all(addrs.map(async (a) => /Mode: (\w+)/.exec(await ask(a, 2181, 'srvr'))?.[1] ?? 'none'));
      return modes.filter((m) => m === 'leader').length === 1 && modes.filter((m) => m === 'follower').length === 2;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    expect(modes.sort()).toEqual(['follower', 'follower', 'leader']);
    // Each server's id came from its unit's ordinal (myid), and the ensemble lists every peer.
    for (const [o, a] of addrs.entries()) {
      const conf = await ask(a, 2181, 'conf');
      expect(conf).toContain(`serverId=${o + 1}`);
      for (const peer of addrs) expect(conf).toContain(peer);
    }
  }, READY_MS + 60_000 + 60_000); // Ready, then a leader elected
});
