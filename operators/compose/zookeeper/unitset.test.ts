import { describe, expect, it } from '@jest/globals';
import type { ZookeeperEnsemble } from '../../../lib/api/compose.upm.io.generated.ts';
import type { UnitSet } from '../../../lib/api/unit.upm.io.generated.ts';
import { RESTART_ENV, desiredUnitSetSpec, unitSetDrift } from './unitset.ts';

const zke = (spec: Partial<ZookeeperEnsemble['spec']> = {}): ZookeeperEnsemble => ({
  apiVersion: 'compose.upm.io/v1alpha1', kind: 'ZookeeperEnsemble', metadata: { name: 'zk', namespace: 'ns' }, spec: { replicas: 3, ...spec },
});
const unitSet = (z: ZookeeperEnsemble): UnitSet => ({ apiVersion: 'unit.upm.io/v1alpha1', kind: 'UnitSet', metadata: { name: 'zk' }, spec: desiredUnitSetSpec(z, 3) });

describe('the restart stamp of the owned UnitSet', () => {
  it('a restart of every server changes it (a new revision); one of some servers leaves it as it is', () => {
    const us = unitSet(zke({ restartedAt: 'r1' }));
    expect(us.spec.env).toEqual([{ name: RESTART_ENV, value: 'r1' }]);
    expect(unitSetDrift(us, zke({ restartedAt: 'r2', restartUnits: ['zk-0'] }))).toBeUndefined();
    expect(unitSetDrift(us, zke({ restartedAt: 'r3' }))?.patch).toEqual({ spec: { env: [{ name: RESTART_ENV, value: 'r3' }] } });
    expect(desiredUnitSetSpec(zke({ restartedAt: 'r2', restartUnits: ['zk-0'] }), 3).env).toEqual([]);
    // restartUnits cleared once r2 was taken for zk-0: r2 is not done again for every server.
    expect(unitSetDrift(us, { ...zke({ restartedAt: 'r2' }), status: { unitRestart: { id: 'r2', phase: 'Complete' } } })).toBeUndefined();
  });
});
