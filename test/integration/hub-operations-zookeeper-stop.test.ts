// Stop and Start of a real ZooKeeper ensemble, run by the hub: a project editor asks with kubectl against the hub.
// Stop stops all three servers at once, in place; the ZookeeperEnsemble holds still (Stopped, not Degraded, no
// reconfiguration, no lost server or leader change recorded) and the service shows Stopped. Start brings them back:
// Ready with one leader, the znode written before read from every server.
import { expect, it } from '@jest/globals';
import { ZookeeperEnsembleResource, type ZookeeperEnsemble } from '../../lib/api/compose.upm.io.generated.ts';
import { waitFor } from '../../lib/wait.ts';
import { ZkSession } from '../../operators/compose/zookeeper/client.ts';
import { connectionOf } from '../connection.ts';
import { describeHub } from '../hub.ts';
import { MEMBER, useHubProject } from '../hub-member.ts';
import { stopStartOf, warningsOf } from '../stop-start.ts';

describeHub('Stop and Start of a ZooKeeper service run by the hub', () => {
  const p = useHubProject('hubzkstop');
  const { stopHeld, start } = stopStartOf(p, { kind: 'ZookeeperService', name: 'zk' });
  const open = (ip: string, port: number) => waitFor(`a session on ${ip}`, () => ZkSession.open(ip, port, { timeoutMs: 5000 }).catch(() => undefined), { timeoutMs: 30_000, intervalMs: 250 });
  const endpoint = async () => (await p.hubObject('zookeeperservice', 'zk')).status?.endpoints?.find((e) => e.role === 'readwrite');
  let addresses: string[] = [];
  let port = 0;
  let warnings: string[] = [];
  let configVersion = '';

  it('has a ZookeeperService of 3 servers Ready on member1, with a znode written', async () => {
    await p.as(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'upm.io/v1alpha1', kind: 'ZookeeperService', metadata: { name: 'zk', namespace: p.project },
      spec: { version: '3.8', topology: { replicas: 3 }, placement: { cluster: MEMBER }, resources: { cpu: '500m', memory: '256Mi' }, storage: { size: '1Gi' } },
    }));
    await p.hubReaches('zookeeperservice', 'zk', 'the service Ready', (s) => s.phase === 'Ready' && s.ready === '3/3', 300_000);
    const rw = await endpoint();
    addresses = [...(rw?.addresses ?? [])].sort();
    port = rw?.port ?? 0;
    expect(addresses).toHaveLength(3);
    // Written with the connection Secret's application account, as the editor reads it (anonymous clients may not).
    const conn = await connectionOf(p, 'zookeeperservice', 'zk');
    const w = await open(addresses[0] ?? '', port);
    try {
      await w.addDigestAuth(`${conn.user ?? ''}:${conn.password ?? ''}`);
      expect(await w.create('/kept', 'before the stop')).toBe('/kept');
    } finally { await w.close(); }
    warnings = await warningsOf(p, 'ZookeeperEnsemble', 'zk');
    configVersion = (await p.member.get<ZookeeperEnsemble>(ZookeeperEnsembleResource, 'zk', p.project)).status?.configVersion ?? '';
    expect(configVersion).not.toBe('');
  }, 360_000);

  it('stops all three servers at once: the ensemble holds still, the service shows Stopped', async () => {
    // Longer than a health pass of the ensemble (stopHeld waits 12 s): it stays held, with no server taken for lost.
    const zke = await stopHeld({ seconds: 300, compose: ZookeeperEnsembleResource, composeKind: 'ZookeeperEnsemble', port, addresses, warnings }) as ZookeeperEnsemble;
    expect(zke.status?.leader).toBe('');
    expect(Object.values(zke.status?.servers ?? {}).map((s) => s.serving)).toEqual([false, false, false]);
    expect(zke.status?.configVersion).toBe(configVersion);
  }, 360_000);

  it('starts them again: Ready with one leader, the znode read from every server, nothing reported lost', async () => {
    await start(300);
    const st = (await p.hubObject('zookeeperservice', 'zk')).status;
    expect(st).toMatchObject({ phase: 'Ready', ready: '3/3' });
    expect(st?.units?.filter((u) => u.role === 'leader')).toHaveLength(1);
    const rw = await endpoint();
    expect([...(rw?.addresses ?? [])].sort()).toEqual(addresses);
    for (const ip of addresses) {
      const r = await open(ip, port);
      try {
        await r.sync('/kept');
        expect(`${ip}=${(await r.getData('/kept')).data.toString()}`).toBe(`${ip}=before the stop`);
      } finally { await r.close(); }
    }
    const zke = await p.member.get<ZookeeperEnsemble>(ZookeeperEnsembleResource, 'zk', p.project);
    expect(zke.status?.phase).toBe('Ready');
    expect(zke.status?.configVersion).toBe(configVersion);
    expect(await warningsOf(p, 'ZookeeperEnsemble', 'zk')).toEqual(warnings);
  }, 360_000);
});
