// Wires the operations controller into a manager. Sources: the Operation records (a new one, spec.cancel set), the
// other Operations of the same service (one that arrives, starts or ends moves the queue: the ones not started), and
// the service records (a change of spec or status is what a waiting step waits for: not the ones queued behind
// another). Both map through an index of the unfinished Operations by their service, not a scan (wake.ts).
// Its reconciles mostly wait on the API server (a status write, a patch), so it runs more workers than the others;
// an Operation that would only record its place in its service's queue waits in the work queue behind the others.
import type { ClusterRecord } from '../../lib/api/internal.upm.io.generated.ts';
import { ClusterRecordResource, OperationRecordResource } from '../../lib/api/internal.upm.io.generated.ts';
import type { EventRecorder } from '../../lib/events.ts';
import type { Informer } from '../../lib/informer.ts';
import type { MemberClients } from '../../lib/kube/member-clients.ts';
import { objectKey } from '../../lib/kube/types.ts';
import type { Manager } from '../../lib/manager.ts';
import { MutationCache } from '../../lib/mutationcache.ts';
import { isTerminal } from '../../lib/operations/plan.ts';
import type { Operation, ServiceView } from '../../lib/operations/types.ts';
import { generationChanged, onUpdate, or, resourceVersionChanged } from '../../lib/predicates.ts';
import type { EngineTemplateInfo } from '../../lib/templates.ts';
import { SERVICE_KINDS } from '../services/register.ts';
import { BY_TARGET, operationsReconciler, targetKey, targetOf } from './controller.ts';
import { concernedBySibling, concernedByService, onlyQueued } from './wake.ts';

/**
 * Workers of the operations controller. A reconcile is a few round trips to the API server and little CPU: 4 workers
 * left a burst of 200 Operations on 50 services waiting seconds in the queue (the bench hub-operations).
 */
export const OPERATIONS_WORKERS = 16;

const phaseChanged = onUpdate<Operation>((a, b) => a.status?.phase !== b.status?.phase || !!a.status?.startTime !== !!b.status?.startTime);

export function registerOperations(manager: Manager, events: EventRecorder, members: MemberClients, templates: ReadonlyMap<string, EngineTemplateInfo>): void {
  const operations = manager.informer<Operation>(OperationRecordResource);
  if (!operations.hasIndex(BY_TARGET)) operations.addIndex(BY_TARGET, (o) => (isTerminal(o) || !o.spec?.target ? [] : [targetOf(o)]));
  const clusters = manager.informer<ClusterRecord>(ClusterRecordResource);
  const services = new Map<string, Informer<ServiceView>>(SERVICE_KINDS.map((k) => [k.kind, manager.informer<ServiceView>(k.storage)]));
  const written = new MutationCache<Operation>(operations);
  const unfinished = (target: string) => operations.byIndex(BY_TARGET, target).map((o) => written.get(objectKey(o)) ?? o).filter((o) => !isTerminal(o));
  const onService = (kind: string) => (s: ServiceView) => concernedByService(unfinished(targetKey(kind, s.metadata.namespace ?? '', s.metadata.name ?? ''))).map(objectKey);
  let wake: (key: string) => void = () => undefined;
  let b = manager.build('operations')
    .for(operations, { predicate: generationChanged })
    .watches(operations, (o) => concernedBySibling(unfinished(targetOf(o)), o).map(objectKey), { predicate: or(phaseChanged) });
  for (const [kind, inf] of services) b = b.watches(inf, onService(kind), { predicate: resourceVersionChanged });
  // Recording that an Operation waits behind another (a burst of them) goes after the ones that start a step.
  const queuedOnly = (key: string) => { const op = written.get(key); return !!op && !isTerminal(op) && onlyQueued(op, unfinished(targetOf(op))); };
  const controller = b.withConcurrency(OPERATIONS_WORKERS).withLowPriority(queuedOnly).complete(operationsReconciler({
    client: manager.client, events, operations, kinds: SERVICE_KINDS, services, clusters, members, templates, written, wake: (key) => wake(key),
  }));
  wake = (key) => controller.enqueue(key);
}
