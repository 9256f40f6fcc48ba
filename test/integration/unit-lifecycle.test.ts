// Unit Operator behaviours beyond create/scale/rollout: pause, hard anti-affinity, recovery of a failed pod and its
// cap, maintenance hand-off, claims of an Immediate storage class bound before the pod, claims kept with
// whenDeleted: Retain, a template removed after use, invalid parameters, a move to another version's template that
// keeps the user's parameter overrides and passwords, and storage expansion without restarts.
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { Unit, UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { EngineTemplateResource, UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { isNotFound } from '../../lib/kube/errors.ts';
import { Resources, type ResourceType } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { uniqueName } from '../env.ts';
import { kubectlOk } from '../kubectl.ts';
import { useUnitOperator } from '../unit-operator.ts';

const CLUSTER = 'member1';
const PersistentVolumes: ResourceType = { group: '', version: 'v1', plural: 'persistentvolumes', kind: 'PersistentVolume', namespaced: false };
type Pod = KubeObject & { spec?: { hostname?: string; subdomain?: string; containers?: { name: string; image: string }[] }; status?: { phase?: string } };
type Pvc = KubeObject & { spec?: { resources?: { requests?: { storage?: string } } } };
type ConfigMap = KubeObject & { data?: Record<string, string> };
type Secret = KubeObject & { data?: Record<string, string> };

describe('Unit Operator lifecycle', () => {
  const f = useUnitOperator(CLUSTER, 'life');
  let c: KubeClient;
  let ns: string;
  beforeAll(() => { c = f.client; ns = f.ns; });

  const us = (name: string) => c.get<UnitSet>(UnitSetResource, name, ns);
  const unit = (name: string) => c.get<Unit>(UnitResource, name, ns);
  const pod = (name: string) => c.get<Pod>(Resources.pods, name, ns);
  const gone = async (fn: () => Promise<unknown>) => { try { await fn(); return false; } catch (e) { if (isNotFound(e)) return true; throw e; } };
  const ready = (name: string, units: number) => waitFor(`${name} Ready`, async () => {
    const o = await us(name);
    return o.status?.phase === 'Ready' && o.status.readyUnits === units && o.status.observedGeneration === o.metadata.generation && !(o.status.updating ?? []).length;
  }, { timeoutMs: 90_000, intervalMs: 200 });
  const apply = (yaml: string) => kubectlOk(CLUSTER, ['apply', '-f', '-'], yaml);
  const unitSet = (name: string, spec: string, meta = '') => `
apiVersion: unit.upm.io/v1alpha1
kind: UnitSet
metadata:
  name: ${name}
  namespace: ${ns}
${meta}
spec:
${spec}`;

  it('changes nothing while paused, and catches up when resumed', async () => {
    await apply(unitSet('paused', '  engine: redis\n  version: "7.2"\n  units: 1'));
    await ready('paused', 1);
    await kubectlOk(CLUSTER, ['patch', '-n', ns, 'us/paused', '--type=merge', '-p', '{"spec":{"paused":true,"units":3}}']);
    // The controller has handled this very generation (its status says so), and created nothing in that pass.
    await waitFor('Paused at this generation', async () => {
      const o = await us('paused');
      return o.status?.phase === 'Paused' && o.status.observedGeneration === o.metadata.generation;
    });
    expect((await c.list(UnitResource, { namespace: ns, labelSelector: 'unit.upm.io/unitset=paused' })).items).toHaveLength(1);
    await kubectlOk(CLUSTER, ['patch', '-n', ns, 'us/paused', '--type=merge', '-p', '{"spec":{"paused":false}}']);
    await ready('paused', 3);
  }, 240_000);

  it('hard anti-affinity keeps one unit per node: the fourth unit waits unschedulable', async () => {
    await apply(unitSet('hard', '  engine: redis\n  version: "7.2"\n  units: 4\n  podAntiAffinity: Hard'));
    await waitFor('three running, one pending', async () => {
      const units = (await c.list<Unit>(UnitResource, { namespace: ns, labelSelector: 'unit.upm.io/unitset=hard' })).items;
      return units.length === 4 && units.filter((u) => u.status?.phase === 'Ready').length === 3 && units.filter((u) => u.status?.phase === 'Pending').length === 1;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    const units = (await c.list<Unit>(UnitResource, { namespace: ns, labelSelector: 'unit.upm.io/unitset=hard' })).items;
    expect(new Set(units.filter((u) => u.status?.nodeName).map((u) => u.status?.nodeName)).size).toBe(3);
    await waitFor('UnitSet reports 3/4', async () => (await us('hard')).status?.ready === '3/4', { timeoutMs: 10_000 });
    expect((await us('hard')).status?.phase).toBe('Progressing');
    const p = await pod('hard-0');
    expect(p.spec?.hostname).toBe('hard-0');
    expect(p.spec?.subdomain).toBe('hard-headless');
    await kubectlOk(CLUSTER, ['delete', '-n', ns, 'us/hard', '--wait=false']);
  });

  it('spreads units over zones with a topology spread constraint', async () => {
    await apply(unitSet('spread', [
      '  engine: redis', '  version: "7.2"', '  units: 3', '  podAntiAffinity: None',
      '  topologySpreadConstraints: [{ maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule }]',
    ].join('\n')));
    await ready('spread', 3);
    const nodes = (await c.list<Unit>(UnitResource, { namespace: ns, labelSelector: 'unit.upm.io/unitset=spread' })).items.map((u) => u.status?.nodeName ?? '');
    const zones = await Promise.all(nodes.map(async (n) => (await c.get(Resources.nodes, n)).metadata.labels?.['topology.kubernetes.io/zone']));
    expect(new Set(zones).size).toBe(3);
    const p = await c.get<Pod & { spec?: { topologySpreadConstraints?: { labelSelector?: { matchLabels?: Record<string, string> } }[] } }>(Resources.pods, 'spread-0', ns);
    expect(p.spec?.topologySpreadConstraints?.[0]?.labelSelector?.matchLabels).toEqual({ 'unit.upm.io/unitset': 'spread' });
    await kubectlOk(CLUSTER, ['delete', '-n', ns, 'us/spread', '--wait=false']);
  });

  it('recreates a Failed pod (bounded), and leaves a unit in maintenance alone', async () => {
    await apply(unitSet('heal', '  engine: redis\n  version: "7.2"\n  units: 1'));
    await ready('heal', 1);
    const before = (await pod('heal-0')).metadata.uid;
    await c.patch(Resources.pods, 'heal-0', { status: { phase: 'Failed', reason: 'Evicted', message: 'test' } }, 'merge', { namespace: ns, subresource: 'status' });
    await waitFor('recovered', async () => {
      const u = await unit('heal-0');
      const p = await pod('heal-0').catch(() => undefined);
      return u.status?.recoveries === 1 && p?.metadata.uid !== before && u.status.phase === 'Ready';
    }, { timeoutMs: 30_000, intervalMs: 200 });

    await kubectlOk(CLUSTER, ['annotate', '-n', ns, 'un/heal-0', 'unit.upm.io/maintenance=true']);
    await waitFor('maintenance condition', async () => (await unit('heal-0')).status?.conditions?.some((x) => x.type === 'Maintenance' && x.status === 'True'));
    await c.delete(Resources.pods, 'heal-0', ns);
    await waitFor('pod gone', () => gone(() => pod('heal-0')), { timeoutMs: 20_000 });
    // The unit controller has seen the pod gone (it reports the unit Pending) and, in that pass, created none.
    await waitFor('unit reports no pod', async () => (await unit('heal-0')).status?.phase === 'Pending', { timeoutMs: 20_000 });
    expect(await gone(() => pod('heal-0'))).toBe(true); // hands off
    await kubectlOk(CLUSTER, ['annotate', '-n', ns, 'un/heal-0', 'unit.upm.io/maintenance-']);
    await waitFor('pod back', async () => (await pod('heal-0').catch(() => undefined))?.status?.phase === 'Running', { timeoutMs: 30_000 });
  }, 180_000);

  const failPod = (name: string) => c.patch(Resources.pods, name, { status: { phase: 'Failed', reason: 'Evicted', message: 'test' } }, 'merge', { namespace: ns, subresource: 'status' });

  it('recreates a Failed pod 5 times, then leaves the sixth failure for inspection and reports Degraded', async () => {
    await apply(unitSet('crash', '  engine: redis\n  version: "7.2"\n  units: 1'));
    await ready('crash', 1);
    for (let i = 1; i <= 5; i++) {
      const before = (await pod('crash-0')).metadata.uid;
      await failPod('crash-0');
      await waitFor(`recovery ${i}`, async () => {
        const u = await unit('crash-0');
        const p = await pod('crash-0').catch(() => undefined);
        return u.status?.recoveries === i && p?.metadata.uid !== before && p?.status?.phase === 'Running' && u.status.phase === 'Ready';
      }, { timeoutMs: 30_000, intervalMs: 200 });
    }
    const last = (await pod('crash-0')).metadata.uid;
    await failPod('crash-0');
    // The pass that saw the sixth failure reports it and, in the same pass, leaves the pod where it is.
    const degraded = await waitFor('Degraded', async () => {
      const u = await unit('crash-0');
      return u.status?.conditions?.some((x) => x.type === 'Degraded' && x.status === 'True' && x.reason === 'RecoveryExhausted') && u;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    expect(degraded.status?.recoveries).toBe(5);
    expect(degraded.status?.phase).toBe('Failed');
    const p = await pod('crash-0');
    expect(p.metadata.uid).toBe(last);
    expect(p.status?.phase).toBe('Failed');
    await kubectlOk(CLUSTER, ['delete', '-n', ns, 'us/crash', '--wait=false']);
  }, 300_000);

  it('creates the pod of a unit whose claim uses an Immediate storage class only once the claim is Bound', async () => {
    // A class nothing provisions (the local cluster runs no PV binder): its claims stay Pending until bound here.
    const sc = uniqueName('immediate');
    await c.create(Resources.storageClasses, {
      apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: sc },
      provisioner: 'upm.test/by-hand', volumeBindingMode: 'Immediate', reclaimPolicy: 'Retain',
    } as KubeObject);
    const pvName = uniqueName('pv');
    try {
      await apply(unitSet('gated', `  engine: redis\n  version: "7.2"\n  units: 1\n  storage: [{ name: data, size: 1Gi, mountPath: /data, storageClassName: ${sc} }]`));
      // A pass that had the claim in its cache (the unit reports its phase) found it unbound and created no pod.
      await waitFor('unit waiting for its claim', async () => {
        const u = await unit('gated-0').catch(() => undefined);
        return u?.status?.volumes?.[0]?.phase === 'Pending'
          && u.status.conditions?.find((x) => x.type === 'Ready')?.message === 'waiting for claims gated-0-data to bind';
      }, { timeoutMs: 30_000, intervalMs: 200 });
      expect(await gone(() => pod('gated-0'))).toBe(true);
      // Bind it as a provisioner would: a volume for the claim, the claim naming it, both Bound.
      const pvc = await c.get<Pvc>(Resources.persistentVolumeClaims, 'gated-0-data', ns);
      await c.create(PersistentVolumes, {
        apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: pvName },
        spec: {
          accessModes: ['ReadWriteOnce'], capacity: { storage: '1Gi' }, storageClassName: sc, persistentVolumeReclaimPolicy: 'Retain',
          hostPath: { path: `/tmp/${pvName}` }, claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: ns, name: 'gated-0-data', uid: pvc.metadata.uid },
        },
      } as KubeObject);
      await c.patch(PersistentVolumes, pvName, { status: { phase: 'Bound' } }, 'merge', { subresource: 'status' });
      await c.patch(Resources.persistentVolumeClaims, 'gated-0-data', {
        metadata: { annotations: { 'pv.kubernetes.io/bind-completed': 'yes', 'pv.kubernetes.io/bound-by-controller': 'yes' } }, spec: { volumeName: pvName },
      }, 'merge', { namespace: ns });
      await c.patch(Resources.persistentVolumeClaims, 'gated-0-data', { status: { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '1Gi' } } }, 'merge', { namespace: ns, subresource: 'status' });
      await waitFor('pod created and Running', async () => (await pod('gated-0').catch(() => undefined))?.status?.phase === 'Running', { timeoutMs: 30_000, intervalMs: 200 })
        .catch(async (err: unknown) => {
          const p = await pod('gated-0').catch(() => undefined);
          throw new Error(`${String(err)}; pod: ${JSON.stringify(p?.status)}; unit: ${JSON.stringify((await unit('gated-0')).status)}`, { cause: err });
        });
      await ready('gated', 1);
    } finally {
      await kubectlOk(CLUSTER, ['delete', '-n', ns, 'us/gated', '--ignore-not-found', '--wait=false']);
      await c.delete(PersistentVolumes, pvName).catch(() => undefined);
      await c.delete(Resources.storageClasses, sc).catch(() => undefined);
    }
  }, 180_000);

  it('keeps the claims of a UnitSet deleted with whenDeleted: Retain; a new UnitSet of that name finds them', async () => {
    const spec = '  engine: redis\n  version: "7.2"\n  units: 2\n  pvcRetentionPolicy: { whenDeleted: Retain }\n  storage: [{ name: data, size: 1Gi, mountPath: /data }]';
    const claims = async () => new Map((await c.list<Pvc>(Resources.persistentVolumeClaims, { namespace: ns, labelSelector: 'unit.upm.io/unitset=kept' })).items
      .filter((p) => !p.metadata.deletionTimestamp).map((p) => [p.metadata.name ?? '', p.metadata.uid]));
    await apply(unitSet('kept', spec));
    await ready('kept', 2);
    const before = await claims();
    expect([...before.keys()].sort()).toEqual(['kept-0-data', 'kept-1-data']);
    const owner = (await us('kept')).metadata.uid;
    await kubectlOk(CLUSTER, ['delete', '-n', ns, 'us/kept', '--wait=true']);
    // The garbage collector has removed everything the UnitSet owned (units, pods, config, Services) ...
    await waitFor('owned objects gone', async () => {
      const sel = { namespace: ns, labelSelector: 'unit.upm.io/unitset=kept' };
      const lists = await Promise.all([c.list(UnitResource, sel), c.list(Resources.pods, sel), c.list(Resources.configMaps, sel), c.list(Resources.services, sel)]);
      return lists.every((l) => l.items.length === 0);
    }, { timeoutMs: 60_000, intervalMs: 250 });
    // ... and the claims, which it never owned, are still there.
    expect(await claims()).toEqual(before);
    const left = (await c.list<Pvc>(Resources.persistentVolumeClaims, { namespace: ns, labelSelector: 'unit.upm.io/unitset=kept' })).items;
    expect(left.flatMap((p) => p.metadata.ownerReferences ?? []).filter((o) => o.uid === owner)).toEqual([]);
    await apply(unitSet('kept', spec));
    await ready('kept', 2);
    expect(await claims()).toEqual(before);
    await kubectlOk(CLUSTER, ['delete', '-n', ns, 'us/kept', '--wait=false']);
  }, 300_000);

  it('reports a template removed after use as a condition, and invalid parameters likewise, creating nothing', async () => {
    const engine = uniqueName('scratch');
    await apply(`
apiVersion: unit.upm.io/v1alpha1
kind: EngineTemplate
metadata: { name: ${engine}-1.0 }
spec:
  engine: ${engine}
  version: "1.0"
  image: scratch:1
  mainContainer: main
  podTemplate: { spec: { containers: [{ name: main, image: scratch:1, ports: [{ name: main, containerPort: 1234 }] }] } }
  parameters: [{ key: threads, type: integer, minimum: 1, maximum: 64, default: "4" }]
`);
    await waitFor('template in the catalog', async () => !!(await c.get<ConfigMap>(Resources.configMaps, 'upm-engine-catalog', 'upm-system')).data?.[`${engine}-1.0`]);
    await apply(unitSet('orphan', `  engine: ${engine}\n  version: "1.0"\n  units: 1`));
    await ready('orphan', 1);
    await c.delete(EngineTemplateResource, `${engine}-1.0`);
    await waitFor('TemplateNotFound', async () => {
      const o = await us('orphan');
      return o.status?.phase === 'Failed' && o.status.conditions?.some((x) => x.type === 'Ready' && x.status === 'False' && x.reason === 'TemplateNotFound');
    }, { timeoutMs: 30_000 });
    expect((await us('orphan')).status?.conditions?.find((x) => x.type === 'Degraded')?.message).toContain(`no EngineTemplate "${engine}-1.0"`);

    await apply(unitSet('badparams', '  engine: redis\n  version: "7.2"\n  units: 2\n  parameters: { nope: "1", maxmemory-policy: sometimes }'));
    await waitFor('InvalidParameters', async () => (await us('badparams')).status?.conditions?.some((x) => x.reason === 'InvalidParameters'), { timeoutMs: 30_000 });
    const msg = (await us('badparams')).status?.conditions?.find((x) => x.type === 'Ready')?.message ?? '';
    expect(msg).toContain('spec.parameters[nope]: unknown parameter');
    expect(msg).toContain('spec.parameters[maxmemory-policy]: must be one of');
    expect((await c.list(UnitResource, { namespace: ns, labelSelector: 'unit.upm.io/unitset=badparams' })).items).toHaveLength(0);
  }, 240_000);

  // Agents are off in this suite: no engine runs, so this shows the pods, config and Secret across the template
  // change, not a MySQL data upgrade.
  it('moves a MySQL UnitSet from the 8.0 to the 8.4 template (new image, overrides and passwords kept); grows storage without restarting', async () => {
    await apply(unitSet('my', [
      '  engine: mysql', '  version: "8.0"', '  units: 2', '  parameters: { max_connections: "777" }',
      '  storage: [{ name: data, size: 1Gi, mountPath: /var/lib/mysql }]',
    ].join('\n')));
    await ready('my', 2);
    const secretBefore = (await c.get<Secret>(Resources.secrets, 'my-credentials', ns)).data;
    await kubectlOk(CLUSTER, ['patch', '-n', ns, 'us/my', '--type=merge', '-p', '{"spec":{"version":"8.4"}}']);
    await waitFor('upgraded', async () => (await pod('my-0').catch(() => undefined))?.spec?.containers?.find((x) => x.name === 'mysql')?.image === 'mysql:8.4.3', { timeoutMs: 60_000 });
    await ready('my', 2);
    for (const o of [0, 1]) {
      const cfg = Object.values((await c.get<ConfigMap>(Resources.configMaps, `my-${o}-config`, ns)).data ?? {})[0] ?? '';
      expect(cfg).toMatch(/max_connections\s*=\s*777/);
      expect((await pod(`my-${o}`)).spec?.containers?.find((x) => x.name === 'mysql')?.image).toBe('mysql:8.4.3');
    }
    expect((await c.get<Secret>(Resources.secrets, 'my-credentials', ns)).data).toEqual(secretBefore);

    const uids = await Promise.all([0, 1].map(async (o) => (await pod(`my-${o}`)).metadata.uid));
    await kubectlOk(CLUSTER, ['patch', '-n', ns, 'us/my', '--type=json', '-p', '[{"op":"replace","path":"/spec/storage/0/size","value":"3Gi"}]']);
    await waitFor('claims grown', async () => {
      const sizes = await Promise.all([0, 1].map(async (o) => (await c.get<Pvc>(Resources.persistentVolumeClaims, `my-${o}-data`, ns)).spec?.resources?.requests?.storage));
      return sizes.every((s) => s === '3Gi');
    }, { timeoutMs: 30_000 });
    expect(await Promise.all([0, 1].map(async (o) => (await pod(`my-${o}`)).metadata.uid))).toEqual(uids);
  }, 300_000);
});
