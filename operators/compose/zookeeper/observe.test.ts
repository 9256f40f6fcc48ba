import { describe, expect, it } from '@jest/globals';
import { Framer, Reader } from './client.ts';
import { parseMntr, parseSrvr, portsOf } from './observe.ts';
import { desiredUnitSetSpec, specErrors, unitSetDrift, whitelist } from './unitset.ts';
import type { ZookeeperEnsemble } from '../../../lib/api/compose.upm.io.generated.ts';
import type { EngineTemplate, UnitSet } from '../../../lib/api/unit.upm.io.generated.ts';

const SRVR = `Zookeeper version: 3.8.0-\${mvngit.commit.id}, built on 2024-12-29 17:54 UTC
Latency min/avg/max: 0/0.0/0
Received: 1
Sent: 0
Connections: 2
Outstanding: 0
Zxid: 0x100000007
Mode: follower
Node count: 5
`;

describe('four-letter words', () => {
  it('reads srvr: mode, zxid, connections and node count; or why the server does not serve', () => {
    expect(parseSrvr(SRVR)).toEqual({ mode: 'follower', zxid: 0x100000007n, connections: 2, nodeCount: 5 });
    expect(parseSrvr('This ZooKeeper instance is not currently serving requests\n')).toEqual({ message: 'This ZooKeeper instance is not currently serving requests' });
  });

  it('reads mntr and the ports of a server line', () => {
    expect(parseMntr('zk_synced_followers\t3\nzk_synced_non_voting_followers\t1\n').get('zk_synced_followers')).toBe('3');
    expect(portsOf('127.0.0.1:2890:3890:participant')).toEqual([2890, 3890]);
    expect(portsOf(undefined)).toEqual([2888, 3888]);
  });
});

describe('ZooKeeper wire framing', () => {
  it('splits a byte stream into frames, whatever the chunking', () => {
    const frame = (body: number[]) => { const b = Buffer.alloc(4 + body.length); b.writeInt32BE(body.length); Buffer.from(body).copy(b, 4); return b; };
    const stream = Buffer.concat([frame([1, 2, 3]), frame([]), frame([9])]);
    const f = new Framer();
    const out = [...f.push(stream.subarray(0, 5)), ...f.push(stream.subarray(5, 9)), ...f.push(stream.subarray(9))];
    expect(out.map((b) => [...b])).toEqual([[1, 2, 3], [], [9]]);
    expect(() => new Framer().push(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toThrow(/bad frame length/);
  });

  it('reads jute records: ints, longs, buffers (null as -1), strings', () => {
    const b = Buffer.alloc(4 + 8 + 4 + 4 + 2);
    b.writeInt32BE(-101, 0);
    b.writeBigInt64BE(0x500000001n, 4);
    b.writeInt32BE(-1, 12);
    b.writeInt32BE(2, 16);
    b.write('ok', 20);
    const r = new Reader(b);
    expect([r.int(), r.long(), r.buffer(), r.string(), r.remaining]).toEqual([-101, 0x500000001n, undefined, 'ok', 0]);
  });
});

const zke = (spec: ZookeeperEnsemble['spec']): ZookeeperEnsemble => ({ apiVersion: 'compose.upm.io/v1alpha1', kind: 'ZookeeperEnsemble', metadata: { name: 'zk', namespace: 'ns' }, spec });
const tpl = { metadata: { name: 'zookeeper-3.8' }, spec: { parameters: [] } } as unknown as EngineTemplate;

describe('the UnitSet of an ensemble', () => {
  it('turns reconfig on, keeps the words the operator needs on, and updates only when named', () => {
    const spec = desiredUnitSetSpec(zke({ replicas: 3, fourLetterWords: ['stat', 'srvr'], parameters: { tickTime: '1000' } }), 3);
    expect(spec.parameters).toEqual({ tickTime: '1000', reconfigEnabled: 'true', '4lw.commands.whitelist': 'srvr,ruok,mntr,conf,stat' });
    expect(spec.updateStrategy).toEqual({ type: 'Managed' });
    expect(spec.env).toEqual([]);
    expect(whitelist(zke({}))).toBe('srvr,ruok,mntr,conf');
  });

  it('patches what drifted (never the size), removing parameters the ensemble dropped', () => {
    const us = { metadata: { name: 'zk' }, spec: { ...desiredUnitSetSpec(zke({ parameters: { tickTime: '1000' } }), 5), pvcRetentionPolicy: { whenScaled: 'Retain' } } } as UnitSet;
    expect(unitSetDrift(us, zke({ parameters: { tickTime: '1000' } }))).toBeUndefined();
    const d = unitSetDrift(us, zke({ restartedAt: 't1' }));
    expect(d?.fields.sort()).toEqual(['spec.env', 'spec.parameters']);
    expect(d?.patch.spec.parameters).toMatchObject({ tickTime: null, reconfigEnabled: 'true' });
    expect(d?.patch.spec.env).toEqual([{ name: 'UPM_RESTARTED_AT', value: 't1' }]);
    expect(d?.patch.spec).not.toHaveProperty('units');
  });

  it('passes spec.stopped to the UnitSet (every server at once) and takes it back on start', () => {
    expect(desiredUnitSetSpec(zke({}), 3).stopped).toBe(false);
    const running = { metadata: { name: 'zk' }, spec: desiredUnitSetSpec(zke({}), 3) } as UnitSet;
    expect(unitSetDrift(running, zke({ stopped: false }))).toBeUndefined();
    const stop = unitSetDrift(running, zke({ stopped: true }));
    expect(stop).toEqual({ patch: { spec: { stopped: true } }, fields: ['spec.stopped'] });
    const stopped = { metadata: { name: 'zk' }, spec: desiredUnitSetSpec(zke({ stopped: true }), 3) } as UnitSet;
    expect(unitSetDrift(stopped, zke({}))).toEqual({ patch: { spec: { stopped: false } }, fields: ['spec.stopped'] });
  });

  it('carries where the servers may run to the UnitSet, and takes it off when the ensemble drops it', () => {
    const placed = zke({ nodeSelector: { pool: 'zk' }, nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['a', 'b'] }] }] } }, topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule' }] });
    expect(desiredUnitSetSpec(placed, 3)).toMatchObject({ nodeSelector: { pool: 'zk' }, nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['a', 'b'] }] }] } }, topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule' }] });
    const us = { metadata: { name: 'zk' }, spec: desiredUnitSetSpec(placed, 3) } as UnitSet;
    expect(unitSetDrift(us, placed)).toBeUndefined();
    const d = unitSetDrift(us, zke({}));
    expect(d?.fields.sort()).toEqual(['spec.nodeAffinity', 'spec.nodeSelector', 'spec.topologySpreadConstraints']);
    expect(d?.patch.spec).toMatchObject({ nodeAffinity: null, topologySpreadConstraints: null });
  });

  it('names the field of a spec that cannot be', () => {
    expect(specErrors(zke({ replicas: 4 }), tpl)).toEqual(['spec.replicas: must be odd and at least 3, got 4']);
    expect(specErrors(zke({ version: '9.9' }), undefined)).toEqual(['spec.version: no EngineTemplate "zookeeper-9.9" in this cluster']);
    expect(specErrors(zke({ parameters: { reconfigEnabled: 'false' } }), tpl)).toEqual(['spec.parameters[reconfigEnabled]: is set by the operator']);
  });
});
