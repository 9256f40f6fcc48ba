// Wires the operations controller into a manager. Sources: the Operation records (a new one, spec.cancel set), the
// other Operations of the same service (one that starts or ends moves the queue), and the service records (a change
// of spec or status is what a waiting step waits for). Both map through an index of the unfinished Operations by
// their service, not a scan.
import type { ClusterRecord } from '../../lib/api/internal.upm.io.generated.ts';
import { ClusterRecordResource, OperationRecordResource } from '../../lib/api/internal.upm.io.generated.ts';
import type { EventRecorder } from '../../lib/events.ts';
import type { Informer } from '../../lib/informer.ts';
import type { MemberClients } from '../../lib/kube/member-clients.ts';
import { objectKey } from '../../lib/kube/types.ts';
import type { Manager } from '../../lib/manager.ts';
import { isTerminal } from '../../lib/operations/plan.ts';
import type { Operation, ServiceView } from '../../lib/operations/types.ts';
import { generationChanged, onUpdate, or, resourceVersionChanged } from '../../lib/predicates.ts';
import type { EngineTemplateInfo } from '../../lib/templates.ts';
import { SERVICE_KINDS } from '../services/register.ts';
import { BY_TARGET, operationsReconciler, targetKey, targetOf } from './controller.ts';

const phaseChanged = onUpdate<Operation>((a, b) => a.status?.phase !== b.status?.phase || !!a.status?.startTime !== !!b.status?.startTime);

export function registerOperations(manager: Manager, events: EventRecorder, members: MemberClients, templates: ReadonlyMap<string, EngineTemplateInfo>): void {
  const operations = manager.informer<Operation>(OperationRecordResource);
  if (!operations.hasIndex(BY_TARGET)) operations.addIndex(BY_TARGET, (o) => (isTerminal(o) || !o.spec?.target ? [] : [targetOf(o)]));
  const clusters = manager.informer<ClusterRecord>(ClusterRecordResource);
  const services = new Map<string, Informer<ServiceView>>(SERVICE_KINDS.map((k) => [k.kind, manager.informer<ServiceView>(k.storage)]));
  const onService = (kind: string) => (s: ServiceView) => operations.indexKeys(BY_TARGET, targetKey(kind, s.metadata.namespace ?? '', s.metadata.name ?? ''));
  let b = manager.build('operations')
    .for(operations, { predicate: generationChanged })
    .watches(operations, (o) => operations.indexKeys(BY_TARGET, targetOf(o)).filter((k) => k !== objectKey(o)), { predicate: or(phaseChanged) });
  for (const [kind, inf] of services) b = b.watches(inf, onService(kind), { predicate: resourceVersionChanged });
  b.withConcurrency(4).complete(operationsReconciler({
    client: manager.client, events, operations, kinds: SERVICE_KINDS, services, clusters, members, templates,
  }));
}
