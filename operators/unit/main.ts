// The Unit Operator process: `node operators/unit/main.ts [--kubeconfig FILE] [--namespace NS] [--health-port N]
// [--leader-elect]`. In a pod it uses the in-cluster service account.
import { parseArgs } from 'node:util';
import type { EngineTemplate, Unit, UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { EngineTemplateResource, UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { runUntilSignalled } from '../../lib/manager.ts';
import { controllerProcess, MANAGER_FLAGS } from '../../lib/process.ts';
import { AGENT_TOKEN_SECRET } from '../../agent/api.ts';
import { CATALOG_KEY, catalogReconciler } from './catalog.ts';
import { COMPONENT, LABEL_UNIT, LABEL_UNITSET, templateName } from './naming.ts';
import { unitReconciler, type Pod, type Pvc, type StorageClass } from './unit-controller.ts';
import { unitSetReconciler } from './unitset-controller.ts';

const { values } = parseArgs({
  options: {
    ...MANAGER_FLAGS,
    namespace: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
    // "off" only where pods are simulated without unit agents (a bare KWOK cluster, the scale benchmark).
    agents: { type: 'string', default: 'on' },
  },
});

const { log, client, manager, events } = await controllerProcess(COMPONENT, values);
const namespace = values.namespace;
const owned = { namespace, labelSelector: LABEL_UNITSET };

const unitSets = manager.informer<UnitSet>(UnitSetResource, { namespace });
const units = manager.informer<Unit>(UnitResource, { namespace });
const templates = manager.informer<EngineTemplate>(EngineTemplateResource);
const configMaps = manager.informer<KubeObject & { data?: Record<string, string> }>(Resources.configMaps, owned);
const services = manager.informer<KubeObject>(Resources.services, owned);
const secrets = manager.informer<KubeObject>(Resources.secrets, owned);
const pvcs = manager.informer<Pvc>(Resources.persistentVolumeClaims, owned);
const pods = manager.informer<Pod>(Resources.pods, { namespace, labelSelector: LABEL_UNIT });
const storageClasses = manager.informer<StorageClass>(Resources.storageClasses);
const agentTokens = manager.informer<KubeObject & { data?: Record<string, string> }>(Resources.secrets, { namespace, fieldSelector: `metadata.name=${AGENT_TOKEN_SECRET}` });
// Each unit's own agent token Secret carries the unit's label (no other Secret of ours does).
const unitTokens = manager.informer<KubeObject & { data?: Record<string, string> }>(Resources.secrets, { namespace, labelSelector: LABEL_UNIT });
const agents = values.agents !== 'off';

const concurrency = Number(values.concurrency);
const specChanged = <T extends KubeObject>(a: T, b: T) =>
  a.metadata.generation !== b.metadata.generation || !!b.metadata.deletionTimestamp
  || JSON.stringify([a.metadata.labels, a.metadata.annotations]) !== JSON.stringify([b.metadata.labels, b.metadata.annotations]);
const unitSetKey = (o: KubeObject) => {
  const us = o.metadata.labels?.[LABEL_UNITSET];
  return us ? [`${o.metadata.namespace}/${us}`] : [];
};

manager.controller({
  name: 'unitset',
  concurrency,
  reconcile: unitSetReconciler({ client, events, unitSets, units, templates, configMaps, services, secrets, agentTokens, pvcs }),
})
  .watch(unitSets, undefined, specChanged)
  .watch(units, unitSetKey, undefined, { coalesceMs: 250 })
  .watch(templates, (t) => unitSets.list().filter((us) => templateName(us.spec.engine, us.spec.version) === t.metadata.name).map((us) => `${us.metadata.namespace}/${us.metadata.name}`))
  .watch(services, unitSetKey)
  .watch(secrets, unitSetKey)
  .watch(configMaps, unitSetKey)
  .watch(pvcs, unitSetKey)
  .watch(agentTokens, (s) => unitSets.list().filter((us) => us.metadata.namespace === s.metadata.namespace).map((us) => `${us.metadata.namespace}/${us.metadata.name}`));

const unitKey = (o: KubeObject) => {
  const u = o.metadata.labels?.[LABEL_UNIT];
  return u ? [`${o.metadata.namespace}/${u}`] : [];
};
manager.controller({ name: 'unit', concurrency, reconcile: unitReconciler({ client, events, units, pods, pvcs, storageClasses, configMaps, agentTokens, unitTokens, agents }) })
  .watch(units, undefined, specChanged)
  // A pod goes Pending -> scheduled -> Running in quick steps: one status write for the lot is enough.
  .watch(pods, unitKey, undefined, { coalesceMs: 200 })
  .watch(pvcs, unitKey, undefined, { coalesceMs: 200 })
  // A unit's config reaches its agent once the ConfigMap shows the unit's configRevision.
  .watch(configMaps, unitKey)
  .watch(unitTokens, unitKey)
  .watch(agentTokens, (s) => (agents ? units.list().filter((u) => u.metadata.namespace === s.metadata.namespace).map((u) => `${u.metadata.namespace}/${u.metadata.name}`) : []));

manager.controller({ name: 'engine-catalog', reconcile: catalogReconciler(client, templates) }).watch(templates, () => [CATALOG_KEY]);

log.info({ namespace: namespace ?? '(all)', agents }, 'starting');
await runUntilSignalled(manager);
