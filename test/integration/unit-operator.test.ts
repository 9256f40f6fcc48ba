// The Unit Operator against the local control plane (KWOK pods): create, kubectl columns, scale through the scale
// subresource, PVC retention, API-side rejection of invalid specs, and cleanup on delete.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { Unit, UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { kubectl, kubectlOk } from '../kubectl.ts';
import { useUnitOperator } from '../unit-operator.ts';
import { watchStates } from '../watch-states.ts';

const CLUSTER = 'member1';
type Pod = KubeObject & { spec?: { nodeName?: string }; status?: { phase?: string } };
type Pvc = KubeObject & { status?: { phase?: string } };
type ConfigMap = KubeObject & { data?: Record<string, string> };

const unitSetYaml = (ns: string, name: string, units: number, extra = '') => `
apiVersion: unit.upm.io/v1alpha1
kind: UnitSet
metadata:
  name: ${name}
  namespace: ${ns}
  labels: { team: data }
spec:
  engine: mariadb
  version: "10.11"
  units: ${units}
  resources: { requests: { cpu: 500m, memory: 1Gi }, limits: { cpu: "1", memory: 1Gi } }
  storage:
    - { name: data, size: 1Gi, mountPath: /var/lib/mysql }
${extra}`;

describe('Unit Operator', () => {
  const f = useUnitOperator(CLUSTER, 'unitop');
  let c: KubeClient;
  let ns: string;
  beforeAll(() => { c = f.client; ns = f.ns; });

  const unitsOf = async (us: string) =>
    (await c.list<Unit>(UnitResource, { namespace: ns, labelSelector: `unit.upm.io/unitset=${us}` })).items;
  const ordinals = async (us: string) => (await unitsOf(us)).map((u) => Number(u.metadata.labels?.['unit.upm.io/ordinal'])).sort();
  const waitReady = (us: string, units: number) => waitFor(`${us} Ready with ${units} units`, async () => {
    const obj = await c.get<UnitSet>(UnitSetResource, us, ns);
    return obj.status?.phase === 'Ready' && obj.status.readyUnits === units && obj.status.units === units && obj.status.observedGeneration === obj.metadata.generation;
  }, { timeoutMs: 90_000, intervalMs: 250 });

  it('creates 3 units with Running pods, Bound PVCs, Services, credentials and per-unit config', async () => {
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], unitSetYaml(ns, 'db', 3));
    await waitReady('db', 3);
    const units = await unitsOf('db');
    expect(units.map((u) => u.metadata.name).sort()).toEqual(['db-0', 'db-1', 'db-2']);
    for (const u of units) {
      expect(u.status?.phase).toBe('Ready');
      const pod = await c.get<Pod>(Resources.pods, u.metadata.name ?? '', ns);
      expect(pod.status?.phase).toBe('Running');
      expect(pod.spec?.nodeName).toMatch(/^member1-node-/);
      expect(pod.metadata.ownerReferences?.[0]?.kind).toBe('Unit');
      const pvc = await c.get<Pvc>(Resources.persistentVolumeClaims, `${u.metadata.name}-data`, ns);
      await waitFor('PVC Bound', async () => (await c.get<Pvc>(Resources.persistentVolumeClaims, `${u.metadata.name}-data`, ns)).status?.phase === 'Bound');
      expect(pvc.metadata.labels?.['unit.upm.io/unit']).toBe(u.metadata.name);
      await c.get(Resources.services, u.metadata.name ?? '', ns);
    }
    // Soft anti-affinity spreads three units over three nodes.
    const nodes = new Set(units.map((u) => u.status?.nodeName));
    expect(nodes.size).toBe(3);
    await c.get(Resources.services, 'db-headless', ns);
    const secret = await c.get<KubeObject & { data: Record<string, string> }>(Resources.secrets, 'db-credentials', ns);
    expect(Object.keys(secret.data).sort()).toEqual(expect.arrayContaining(['admin-password', 'admin-username', 'replication-password', 'monitor-password']));
    // Rendered config: server_id differs per unit, the buffer pool follows the memory limit (70% of 1Gi).
    const configs = await Promise.all([0, 1, 2].map((o) => c.get<ConfigMap>(Resources.configMaps, `db-${o}-config`, ns)));
    const texts = configs.map((cm) => Object.values(cm.data ?? {})[0] ?? '');
    expect(texts.map((t) => /server[_-]id\s*=\s*(\d+)/.exec(t)?.[1])).toEqual(['1', '2', '3']);
    for (const t of texts) expect(t).toMatch(/innodb_buffer_pool_size\s*=\s*716M/);
    // Labels propagate to units and pods.
    expect(units[0]?.metadata.labels?.team).toBe('data');
    expect((await c.get<Pod>(Resources.pods, 'db-0', ns)).metadata.labels?.team).toBe('data');
    // Each step left an Event on its object (kubectl describe shows them).
    await waitFor('events', async () => {
      const events = (await c.list<KubeObject & { reason?: string; involvedObject?: { kind?: string; name?: string } }>(Resources.events, { namespace: ns })).items;
      const reasons = (kind: string, name: string) => events.filter((e) => e.involvedObject?.kind === kind && e.involvedObject.name === name).map((e) => e.reason);
      return ['CreatedCredentials', 'CreatedUnits', 'Ready'].every((r) => reasons('UnitSet', 'db').includes(r))
        && ['CreatedClaim', 'CreatedPod'].every((r) => reasons('Unit', 'db-0').includes(r));
    }, { timeoutMs: 10_000 });

    const table = await kubectlOk(CLUSTER, ['get', 'us,un', '-n', ns]);
    expect(table).toMatch(/NAME\s+ENGINE\s+VERSION\s+READY\s+PHASE\s+AGE/);
    expect(table).toMatch(/unitset\.unit\.upm\.io\/db\s+mariadb\s+10\.11\s+3\/3\s+Ready/);
    expect(table).toMatch(/NAME\s+PHASE\s+READY\s+NODE\s+IP\s+ENGINE\s+AGE/);
    expect(table).toMatch(/unit\.unit\.upm\.io\/db-0\s+Ready\s+true\s+member1-node-\d\s+127\./);
    const all = await kubectlOk(CLUSTER, ['get', 'upm', '-n', ns, '-o', 'name']); // the category
    expect(all).toContain('unitset.unit.upm.io/db');
  }, 180_000);

  it('scales 3 -> 5 -> 2 with kubectl scale; highest ordinals go first; claims follow the retention policy', async () => {
    await kubectlOk(CLUSTER, ['scale', '-n', ns, 'us/db', '--replicas=5']);
    await waitReady('db', 5);
    expect(await ordinals('db')).toEqual([0, 1, 2, 3, 4]);

    // Every state of the units (a watch event each): the order units start to go, and how many go at once.
    const deletions: string[] = [];
    let mostGoing = 0;
    let worst = '';
    const watch = await watchStates<Unit>(c, UnitResource, { namespace: ns, labelSelector: 'unit.upm.io/unitset=db' }, (all, change) => {
      const going = [...all.values()].filter((u) => u.metadata.deletionTimestamp).map((u) => u.metadata.name ?? '');
      if (change?.type === 'DELETED') going.push(change.name);
      for (const n of going) if (!deletions.includes(n)) deletions.push(n);
      if (going.length > mostGoing) worst = `going at once: ${going.join(', ')}`;
      mostGoing = Math.max(mostGoing, going.length);
    });
    await kubectlOk(CLUSTER, ['scale', '-n', ns, 'us/db', '--replicas=2']);
    await waitFor('scaled in', async () => (await unitsOf('db')).length === 2, { timeoutMs: 60_000, intervalMs: 100 });
    await waitReady('db', 2);
    await watch.stop();
    expect(await ordinals('db')).toEqual([0, 1]);
    expect(deletions).toEqual(['db-4', 'db-3', 'db-2']);
    expect({ mostGoing, worst: mostGoing > 1 ? worst : '' }).toEqual({ mostGoing: 1, worst: '' }); // one at a time
    // whenScaled defaults to Retain: the data of scaled-away units stays.
    const claims = (await c.list<Pvc>(Resources.persistentVolumeClaims, { namespace: ns })).items.map((p) => p.metadata.name).sort();
    expect(claims).toEqual(['db-0-data', 'db-1-data', 'db-2-data', 'db-3-data', 'db-4-data']);
    expect((await c.list(Resources.pods, { namespace: ns })).items).toHaveLength(2);

    // whenScaled: Delete drops the claims of units that are gone.
    await kubectlOk(CLUSTER, ['patch', '-n', ns, 'us/db', '--type=merge', '-p', '{"spec":{"pvcRetentionPolicy":{"whenScaled":"Delete"}}}']);
    await waitFor('claims of scaled-away units deleted', async () => {
      const left = (await c.list<Pvc>(Resources.persistentVolumeClaims, { namespace: ns })).items.filter((p) => !p.metadata.deletionTimestamp);
      return left.map((p) => p.metadata.name).sort().join(',') === 'db-0-data,db-1-data';
    }, { timeoutMs: 30_000 });
  }, 300_000);

  it('rejects invalid specs at the API, naming the field, and creates nothing', async () => {
    const cases: { yaml: string; field: RegExp; why: RegExp }[] = [
      { yaml: unitSetYaml(ns, 'bad-engine', 1).replace('engine: mariadb', 'engine: oracle'), field: /spec\.engine/, why: /unknown engine "oracle"/ },
      { yaml: unitSetYaml(ns, 'bad-version', 1).replace('version: "10.11"', 'version: "9.9"'), field: /spec\.version/, why: /no EngineTemplate "mariadb-9\.9"/ },
      { yaml: unitSetYaml(ns, 'bad-units', -1), field: /spec\.units/, why: /greater than or equal to 0/ },
      { yaml: unitSetYaml(ns, 'bad-size', 1).replace('size: 1Gi', 'size: lots'), field: /spec\.storage\[0\]\.size/, why: /must be a quantity/ },
    ];
    for (const t of cases) {
      const r = await kubectl(CLUSTER, ['apply', '-f', '-'], t.yaml);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(t.field);
      expect(r.stderr).toMatch(t.why);
    }
    // Changes to an existing UnitSet: storage may only grow, the engine is immutable.
    const shrink = await kubectl(CLUSTER, ['patch', '-n', ns, 'us/db', '--type=json', '-p', '[{"op":"replace","path":"/spec/storage/0/size","value":"512Mi"}]']);
    expect(shrink.code).not.toBe(0);
    expect(shrink.stderr).toMatch(/spec\.storage\[0\]\.size/);
    expect(shrink.stderr).toMatch(/storage may only grow/);
    const engine = await kubectl(CLUSTER, ['patch', '-n', ns, 'us/db', '--type=merge', '-p', '{"spec":{"engine":"mysql"}}']);
    expect(engine.code).not.toBe(0);
    expect(engine.stderr).toMatch(/spec\.engine/);
    expect(engine.stderr).toMatch(/engine is immutable/);
    // Nothing of the rejected UnitSets exists.
    const names = (await c.list(UnitSetResource, { namespace: ns })).items.map((u) => u.metadata.name);
    expect(names).toEqual(['db']);
    expect((await c.list(UnitResource, { namespace: ns })).items.map((u) => u.metadata.name).sort()).toEqual(['db-0', 'db-1']);
  });

  it('deletes units, pods, services, config and claims with the UnitSet: no orphans', async () => {
    // The engine accounts' real values, to look for wherever the operator writes: status, events, its log.
    const secret = await c.get<KubeObject & { data: Record<string, string> }>(Resources.secrets, 'db-credentials', ns);
    const passwords = Object.entries(secret.data).filter(([k]) => k.endsWith('-password')).map(([, v]) => Buffer.from(v, 'base64').toString('utf8'));
    expect(passwords.length).toBeGreaterThanOrEqual(3);
    const secretForms = passwords.flatMap((p) => [p, Buffer.from(p).toString('base64')]);
    const status = JSON.stringify((await c.get<UnitSet>(UnitSetResource, 'db', ns)).status);
    const specs = JSON.stringify([(await c.get<UnitSet>(UnitSetResource, 'db', ns)).spec, ...(await unitsOf('db')).map((u) => u.spec)]);
    await kubectlOk(CLUSTER, ['delete', '-n', ns, 'us/db', '--wait=true']);
    await waitFor('everything gone', async () => {
      const sel = { namespace: ns, labelSelector: 'unit.upm.io/unitset=db' };
      const lists = await Promise.all([
        c.list(UnitResource, sel), c.list(Resources.pods, { namespace: ns }), c.list(Resources.services, sel),
        c.list(Resources.configMaps, sel), c.list(Resources.secrets, sel), c.list(Resources.persistentVolumeClaims, { namespace: ns }),
      ]);
      return lists.every((l) => l.items.length === 0);
    }, { timeoutMs: 60_000, intervalMs: 250 });
    const log = (await Promise.all((await readdir(f.dir)).map((n) => readFile(join(f.dir, n), 'utf8')))).join('\n');
    expect(log).toContain('reconciled'); // the log is the operator's (debug level), not empty
    const events = JSON.stringify((await c.list(Resources.events, { namespace: ns })).items);
    expect(events).toContain('CreatedCredentials');
    // Credentials never reach the operator's log, its events, the UnitSet's status or any spec it wrote.
    const leaks = (where: string, text: string) => secretForms.filter((p) => text.includes(p)).map(() => where);
    expect([...leaks('log', log), ...leaks('events', events), ...leaks('status', status), ...leaks('specs', specs)]).toEqual([]);
  });
});
