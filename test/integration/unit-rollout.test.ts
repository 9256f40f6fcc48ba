// Rolling updates of a UnitSet: highest ordinal first, one unit at a time (maxUnavailable 1), the next only after
// the updated one is Ready again, units below the partition untouched; kill -9 of the operator mid-rollout (a new
// operator finishes the job without replacing any unit twice); and maxUnavailable 2 taking two units at once.
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { Unit, UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { kubectlOk } from '../kubectl.ts';
import { useUnitOperator } from '../unit-operator.ts';
import { watchStates } from '../watch-states.ts';

const CLUSTER = 'member2';
type Pod = KubeObject & { status?: { conditions?: { type: string; status: string }[] } };

/**
 * Every state of the pods of a namespace until stopped (one sample per watch event, none missed): which pod (uid)
 * each unit has, and whether it is Ready. A pod being deleted counts as missing.
 */
async function sampler(c: KubeClient, ns: string) {
  const samples: { t: number; pods: Map<string, { uid: string; ready: boolean }> }[] = [];
  const watch = await watchStates<Pod>(c, Resources.pods, { namespace: ns }, (pods) => {
    samples.push({
      t: Date.now(),
      pods: new Map([...pods.values()].filter((p) => !p.metadata.deletionTimestamp).map((p) => [p.metadata.name ?? '', {
        uid: p.metadata.uid ?? '', ready: !!p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'),
      }])),
    });
  });
  return {
    samples,
    stop: () => watch.stop(),
    /** Waits until the stream has shown the final state: every unit with a Ready pod. */
    caughtUp: (units: string[]) => waitFor('the watch to show every unit Ready', () => units.every((u) => samples.at(-1)?.pods.get(u)?.ready), { timeoutMs: 30_000, intervalMs: 50 }),
    /** Units in the order their pod was first replaced (relative to the pods at the first sample). */
    replacementOrder(): string[] {
      const first = samples[0]?.pods ?? new Map();
      const order: string[] = [];
      for (const s of samples) for (const [unit, p] of s.pods) if (first.get(unit)?.uid !== p.uid && !order.includes(unit)) order.push(unit);
      return order;
    },
    /** The most units that were missing or not Ready at one moment. */
    maxUnavailable(units: string[]): number {
      return Math.max(0, ...samples.map((s) => units.filter((u) => !s.pods.get(u)?.ready).length));
    },
    /** Distinct pods each unit had over the whole sampling. */
    podsPerUnit(): Map<string, number> {
      const m = new Map<string, Set<string>>();
      for (const s of samples) for (const [u, p] of s.pods) m.set(u, (m.get(u) ?? new Set()).add(p.uid));
      return new Map([...m].map(([u, set]) => [u, set.size]));
    },
  };
}

describe('UnitSet rolling update', () => {
  const f = useUnitOperator(CLUSTER, 'roll');
  let c: KubeClient;
  let ns: string;
  beforeAll(() => { c = f.client; ns = f.ns; });

  const revisions = async () => (await c.list<Unit>(UnitResource, { namespace: ns, labelSelector: 'unit.upm.io/unitset=roll' })).items.map((u) => u.spec.revision);
  const readyAt = (revisionChanged: boolean) => waitFor('rollout complete', async () => {
    const us = await c.get<UnitSet>(UnitSetResource, 'roll', ns);
    return us.status?.phase === 'Ready' && us.status.observedGeneration === us.metadata.generation && (!revisionChanged || (us.status.updating ?? []).length === 0);
  }, { timeoutMs: 120_000, intervalMs: 200 });

  it('goes highest ordinal first, one at a time, gated on readiness, and honours the partition', async () => {
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], `
apiVersion: unit.upm.io/v1alpha1
kind: UnitSet
metadata:
  name: roll
  namespace: ${ns}
  annotations: { pod-ready.stage.kwok.x-k8s.io/delay: 1500ms }
spec:
  engine: mariadb
  version: "10.11"
  units: 3
  updateStrategy: { type: RollingUpdate, rollingUpdate: { partition: 1, maxUnavailable: 1 } }
`);
    await readyAt(false);
    const s = await sampler(c, ns);
    await kubectlOk(CLUSTER, ['patch', '-n', ns, 'us/roll', '--type=merge', '-p', '{"spec":{"env":[{"name":"TUNING","value":"a"}]}}']);
    await waitFor('two units updated', async () => (await c.get<UnitSet>(UnitSetResource, 'roll', ns)).status?.updatedUnits === 2, { timeoutMs: 60_000 });
    await readyAt(true);
    await s.caughtUp(['roll-0', 'roll-1', 'roll-2']);
    await s.stop();
    expect(s.replacementOrder()).toEqual(['roll-2', 'roll-1']); // roll-0 is below the partition
    const done = await c.get<UnitSet>(UnitSetResource, 'roll', ns);
    expect((await c.get<Unit>(UnitResource, 'roll-0', ns)).spec.revision).not.toBe(done.status?.updateRevision);
    expect(done.status?.outdated).toEqual(['roll-0']);
    expect(s.maxUnavailable(['roll-0', 'roll-1', 'roll-2'])).toBe(1);
    const per = s.podsPerUnit();
    expect(per.get('roll-0')).toBe(1);
    expect(per.get('roll-2')).toBe(2);
    // Readiness gating: roll-1 was only replaced after the new roll-2 had turned Ready (1.5 s after it started).
    const firstSample = s.samples[0]!.pods;
    const roll1Replaced = s.samples.findIndex((x) => x.pods.get('roll-1')?.uid !== firstSample.get('roll-1')?.uid);
    const roll2ReadyAgain = s.samples.findIndex((x) => x.pods.get('roll-2')?.uid !== firstSample.get('roll-2')?.uid && x.pods.get('roll-2')?.ready);
    expect(roll2ReadyAgain).toBeGreaterThan(0);
    expect(roll1Replaced).toBeGreaterThanOrEqual(roll2ReadyAgain);
  }, 300_000);

  it('finishes after kill -9 of the operator mid-rollout, replacing each unit exactly once', async () => {
    const s = await sampler(c, ns);
    await kubectlOk(CLUSTER, ['patch', '-n', ns, 'us/roll', '--type=merge', '-p',
      '{"spec":{"env":[{"name":"TUNING","value":"b"}],"updateStrategy":{"rollingUpdate":{"partition":0}}}}']);
    // Kill the operator once the first unit is being replaced.
    await waitFor('first unit replaced', () => s.replacementOrder().length >= 1, { timeoutMs: 30_000, intervalMs: 20 });
    await f.restart();
    await waitFor('all updated', async () => (await c.get<UnitSet>(UnitSetResource, 'roll', ns)).status?.updatedUnits === 3, { timeoutMs: 90_000 });
    await readyAt(true);
    await s.caughtUp(['roll-0', 'roll-1', 'roll-2']);
    await s.stop();
    expect(s.replacementOrder()).toEqual(['roll-2', 'roll-1', 'roll-0']);
    const per = [...s.podsPerUnit().values()];
    // Should a unit have had more pods, say who deleted them: the operator's events, or someone else's.
    if (per.some((n) => n !== 2)) process.stdout.write(`pods per unit ${JSON.stringify([...s.podsPerUnit()])}; events:\n${await kubectlOk(CLUSTER, ['-n', ns, 'get', 'events', '--sort-by=.lastTimestamp'])}\n`);
    expect(per).toEqual([2, 2, 2]); // old pod + exactly one new pod per unit
    expect(s.maxUnavailable(['roll-0', 'roll-1', 'roll-2'])).toBe(1);
  }, 300_000);

  it('takes up to maxUnavailable units at once, never more', async () => {
    await readyAt(true);
    const s = await sampler(c, ns);
    await kubectlOk(CLUSTER, ['patch', '-n', ns, 'us/roll', '--type=merge', '-p',
      '{"spec":{"env":[{"name":"TUNING","value":"c"}],"updateStrategy":{"rollingUpdate":{"maxUnavailable":2}}}}']);
    await waitFor('all updated', async () => (await c.get<UnitSet>(UnitSetResource, 'roll', ns)).status?.updatedUnits === 3, { timeoutMs: 60_000 });
    await readyAt(true);
    await s.caughtUp(['roll-0', 'roll-1', 'roll-2']);
    await s.stop();
    expect(s.maxUnavailable(['roll-0', 'roll-1', 'roll-2'])).toBe(2);
    // roll-2 and roll-1 go together (their order within one sample is not observable); roll-0 waits for a slot.
    const order = s.replacementOrder();
    expect([...order].sort()).toEqual(['roll-0', 'roll-1', 'roll-2']);
    expect(order.at(-1)).toBe('roll-0');
    expect([...s.podsPerUnit().values()]).toEqual([2, 2, 2]);
  }, 300_000);

  it('with updateStrategy Managed, updates only the units another controller names, in its order', async () => {
    await readyAt(true);
    const outdated = () => c.get<UnitSet>(UnitSetResource, 'roll', ns).then((u) => u.status?.outdated ?? []);
    const s = await sampler(c, ns);
    try {
      await kubectlOk(CLUSTER, ['patch', '-n', ns, 'us/roll', '--type=merge', '-p',
        '{"spec":{"env":[{"name":"TUNING","value":"d"}],"updateStrategy":{"type":"Managed"}}}']);
      // The controller's pass for this generation found three units outdated; had it moved one, the Unit would
      // carry the new revision before that status was written.
      const seen = await waitFor('all three outdated at this generation', async () => {
        const obj = await c.get<UnitSet>(UnitSetResource, 'roll', ns);
        return obj.status?.observedGeneration === obj.metadata.generation && (obj.status?.outdated ?? []).length === 3 && obj;
      }, { timeoutMs: 30_000 });
      expect(await revisions()).not.toContain(seen.status?.updateRevision); // nobody named a unit: nothing moves
      expect(s.replacementOrder()).toEqual([]);
      // The middle unit first, then the lowest: not the order RollingUpdate would take.
      await kubectlOk(CLUSTER, ['annotate', '-n', ns, 'us/roll', 'unit.upm.io/update-next=roll-1']);
      await waitFor('roll-1 updated', async () => JSON.stringify(await outdated()) === JSON.stringify(['roll-0', 'roll-2']), { timeoutMs: 30_000 });
      await kubectlOk(CLUSTER, ['annotate', '-n', ns, '--overwrite', 'us/roll', 'unit.upm.io/update-next=roll-0']);
      await waitFor('roll-0 updated', async () => JSON.stringify(await outdated()) === JSON.stringify(['roll-2']), { timeoutMs: 30_000 })
        .catch(async (err: unknown) => { throw new Error(`${String(err)}; ${JSON.stringify((await c.get<UnitSet>(UnitSetResource, 'roll', ns)).status)}`, { cause: err }); });
      await kubectlOk(CLUSTER, ['annotate', '-n', ns, '--overwrite', 'us/roll', 'unit.upm.io/update-next=roll-2']);
      await waitFor('all updated', async () => (await c.get<UnitSet>(UnitSetResource, 'roll', ns)).status?.updatedUnits === 3, { timeoutMs: 60_000 });
      await readyAt(true);
      await s.caughtUp(['roll-0', 'roll-1', 'roll-2']);
    } finally {
      await s.stop();
    }
    expect(s.replacementOrder()).toEqual(['roll-1', 'roll-0', 'roll-2']);
    expect([...s.podsPerUnit().values()]).toEqual([2, 2, 2]);
    expect(await outdated()).toEqual([]);
  }, 400_000);
});
