// What every compose kind's controller is built from: the manager, the shared caches of units, their pods and
// Secrets, and the event recorder. Each kind's register() adds its own informers and one controller.
import type { Unit } from '../../../lib/api/unit.upm.io.generated.ts';
import type { EventRecorder } from '../../../lib/events.ts';
import type { Informer } from '../../../lib/informer.ts';
import type { KubeClient } from '../../../lib/kube/client.ts';
import type { KubeObject } from '../../../lib/kube/types.ts';
import type { Manager } from '../../../lib/manager.ts';

export type Secret = KubeObject & { data?: Record<string, string> };

export interface ComposeContext {
  manager: Manager;
  client: KubeClient;
  events: EventRecorder;
  /** Watch only this namespace (tests); every namespace when absent. */
  namespace?: string;
  concurrency: number;
  units: Informer<Unit>;
  /** Pods of units (label unit.upm.io/unit). */
  pods: Informer<KubeObject>;
  secrets: Informer<Secret>;
}

/** The annotation that stops a compose controller from changing the engines (it still observes and reports). */
export const ANNOTATION_SKIP = 'compose.upm.io/skip-reconcile';

export const keyOf = (o: KubeObject): string => `${o.metadata.namespace}/${o.metadata.name}`;

/** Update predicate for a compose object: its spec (generation), its annotations, or its deletion changed. */
export const specChanged = <T extends KubeObject>(a: T, b: T): boolean =>
  a.metadata.generation !== b.metadata.generation || !!b.metadata.deletionTimestamp
  || JSON.stringify(a.metadata.annotations) !== JSON.stringify(b.metadata.annotations);

/** Update predicate for units: only what decides a node's address and health. */
export const unitStatusChanged = (a: Unit, b: Unit): boolean =>
  JSON.stringify([a.status?.phase, a.status?.podIP, a.status?.ready]) !== JSON.stringify([b.status?.phase, b.status?.podIP, b.status?.ready]);

export const b64 = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');
