// Wires the ZookeeperEnsemble controller into the Compose Operator: its caches and what wakes it (its objects, the
// UnitSet it owns, that UnitSet's units and their pods' readiness, the credentials Secret, its client Service).
import { ZookeeperEnsembleResource, type ZookeeperEnsemble } from '../../../lib/api/compose.upm.io.generated.ts';
import { EngineTemplateResource, UnitSetResource, type EngineTemplate, type UnitSet } from '../../../lib/api/unit.upm.io.generated.ts';
import { Resources } from '../../../lib/kube/resources.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import { LABEL_UNITSET, credentialsSecretName } from '../../unit/naming.ts';
import { keyOf, specChanged, unitStatusChanged, type ComposeContext } from '../common/context.ts';
import { KIND_LABEL, zookeeperReconciler } from './controller.ts';

export function registerZookeeperEnsemble(ctx: ComposeContext): void {
  const { manager, namespace } = ctx;
  const ensembles = manager.informer<ZookeeperEnsemble>(ZookeeperEnsembleResource, { namespace });
  const unitSets = manager.informer<UnitSet>(UnitSetResource, { namespace, labelSelector: KIND_LABEL });
  const services = manager.informer<KubeObject>(Resources.services, { namespace, labelSelector: KIND_LABEL });
  const templates = manager.informer<EngineTemplate>(EngineTemplateResource);
  /** The ensemble of a UnitSet-labelled object (unit, pod): the ensemble owns the UnitSet of its own name. */
  const byUnitSet = (o: KubeObject) => {
    const us = o.metadata.labels?.[LABEL_UNITSET];
    return us && ensembles.get(`${o.metadata.namespace}/${us}`) ? [`${o.metadata.namespace}/${us}`] : [];
  };
  const byLabel = (o: KubeObject) => { const n = o.metadata.labels?.[KIND_LABEL]; return n ? [`${o.metadata.namespace}/${n}`] : []; };
  const bySecret = (s: KubeObject) => ensembles.list()
    .filter((e) => e.metadata.namespace === s.metadata.namespace && credentialsSecretName(e.metadata.name ?? '') === s.metadata.name).map(keyOf);
  const podReady = (p: KubeObject) => {
    const st = (p as KubeObject & { status?: { podIP?: string; conditions?: { type: string; status: string }[] } }).status;
    return JSON.stringify([st?.podIP, st?.conditions?.find((x) => x.type === 'Ready')?.status]);
  };
  /** The UnitSet's progress: its size, status lists and the unit named for update. */
  const unitSetProgress = (a: UnitSet, b: UnitSet) => JSON.stringify([a.spec.units, a.status, a.metadata.annotations]) !== JSON.stringify([b.spec.units, b.status, b.metadata.annotations]);
  const engineRestarts = (u: KubeObject) => JSON.stringify((u as KubeObject & { status?: { engine?: { restarts?: number; state?: string } } }).status?.engine ?? {});
  const { reconcile } = zookeeperReconciler({
    client: ctx.client, events: ctx.events, ensembles, unitSets, units: ctx.units, pods: ctx.pods, services, secrets: ctx.secrets, templates,
  });
  manager.controller({ name: 'zookeeperensemble', concurrency: ctx.concurrency, reconcile })
    .watch(ensembles, undefined, specChanged)
    .watch(unitSets, byLabel, unitSetProgress)
    .watch(ctx.units, byUnitSet, (a, b) => unitStatusChanged(a, b) || engineRestarts(a) !== engineRestarts(b))
    .watch(ctx.pods, byUnitSet, (a, b) => podReady(a) !== podReady(b))
    .watch(ctx.secrets, bySecret)
    .watch(services, byLabel)
    .watch(templates, (t) => ensembles.list().filter((e) => `zookeeper-${e.spec.version ?? '3.8'}` === t.metadata.name).map(keyOf));
}
