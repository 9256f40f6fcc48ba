// Declares a controller by its sources instead of positional watch() calls (controller-runtime's builder):
//
//   manager.build('projects')
//     .for(projects, { predicate: or(generationChanged, deletionStarted) })
//     .owns(namespaces, { label: PROJECT_LABEL })            // the label's value names the owner
//     .owns(bindings)                                         // or: its controller owner reference
//     .watches(secrets, (s) => clusters.byIndex('secret', s.metadata.name ?? '').map(objectKey))
//     .withConcurrency(4)
//     .complete(reconciler);
//
// for/owns/watches only record what they are given; complete() checks the whole declaration and only then wires it
// onto a Controller (Controller.source underneath), so a mistake leaves nothing half-registered.
// `owns` files the owned informer under an index whose values are the owner's queue keys (ownerIndex below): an event
// maps to its owner through the same function, and the reconciler lists what it owns with byIndex, not a scan.
import type { Controller, ControllerOptions, KeyMapper, Reconciler } from './controller.ts';
import type { IndexFn, Informer } from './informer.ts';
import type { ResourceType } from './kube/resources.ts';
import type { KubeObject } from './kube/types.ts';
import type { Predicate } from './predicates.ts';
import type { RateLimiter } from './ratelimiter.ts';

export interface ForOptions<T extends KubeObject> { predicate?: Predicate<NoInfer<T>> }

export interface WatchesOptions<T extends KubeObject> {
  predicate?: Predicate<NoInfer<T>>;
  coalesceMs?: number;
  /** false: workers start without waiting for this informer to sync (a member cluster's cache). */
  waitForSync?: boolean;
}

export interface OwnsOptions<T extends KubeObject> extends WatchesOptions<T> {
  /** The label whose value is the owner's name; without it, the owner is the object's controller owner reference. */
  label?: string;
}

interface Declared {
  kind: 'for' | 'owns' | 'watches';
  informer: Informer<KubeObject>;
  predicate?: Predicate<KubeObject>;
  coalesceMs?: number;
  toKeys?: KeyMapper<KubeObject>;
  label?: string;
  waitForSync?: boolean;
}

export type ControllerFactory = (opts: Omit<ControllerOptions, 'logger' | 'metrics' | 'clock'>) => Controller;

export class ControllerBuilder {
  private readonly name: string;
  private readonly create: ControllerFactory;
  private readonly declared: Declared[] = [];
  private concurrency = 1;
  private rateLimiter: RateLimiter | undefined;
  private lowPriority: ((key: string) => boolean) | undefined;
  private completed = false;

  constructor(name: string, create: ControllerFactory) {
    this.name = name;
    this.create = create;
  }

  /**
   * The primary resource: its own events enqueue its own key. At most one; a controller whose keys are not one
   * resource's own (several primary kinds under prefixed keys) declares every source with watches() instead.
   */
  for<T extends KubeObject>(informer: Informer<T>, opts: ForOptions<T> = {}): this {
    this.declared.push({ kind: 'for', informer: erase(informer), predicate: opts.predicate as Predicate<KubeObject> | undefined });
    return this;
  }

  /** Objects the primary resource owns: their events enqueue their owner. */
  owns<T extends KubeObject>(informer: Informer<T>, opts: OwnsOptions<T> = {}): this {
    this.declared.push({ kind: 'owns', informer: erase(informer), predicate: opts.predicate as Predicate<KubeObject> | undefined, coalesceMs: opts.coalesceMs, waitForSync: opts.waitForSync, label: opts.label });
    return this;
  }

  /** Anything else: the mapper names the keys an event concerns (ask an index of the primary informer, not list()). */
  watches<T extends KubeObject>(informer: Informer<T>, toKeys: KeyMapper<T>, opts: WatchesOptions<T> = {}): this {
    this.declared.push({ kind: 'watches', informer: erase(informer), toKeys: toKeys as KeyMapper<KubeObject>, predicate: opts.predicate as Predicate<KubeObject> | undefined, coalesceMs: opts.coalesceMs, waitForSync: opts.waitForSync });
    return this;
  }

  /** Parallel workers; one key is still never reconciled twice at once. */
  withConcurrency(n: number): this {
    this.concurrency = n;
    return this;
  }

  withRateLimiter(limiter: RateLimiter): this {
    this.rateLimiter = limiter;
    return this;
  }

  /** Keys that can wait behind the others in the queue (asked at each add; see WorkQueue). */
  withLowPriority(low: (key: string) => boolean): this {
    this.lowPriority = low;
    return this;
  }

  /** Checks the declaration, creates the controller and connects its sources. */
  complete(reconcile: Reconciler): Controller {
    const fail = (why: string) => new Error(`controller ${this.name}: ${why}`);
    if (this.completed) throw fail('complete() was already called');
    if (!this.name) throw new Error('a controller needs a name');
    const fors = this.declared.filter((d) => d.kind === 'for');
    if (fors.length > 1) throw fail(`for() must be given at most once (given ${fors.length} times)`);
    const primary = fors[0];
    const owned = this.declared.find((d) => d.kind === 'owns');
    if (!primary && owned) throw fail(`owns(${owned.informer.resource.plural}) needs the owner: for() was not given`);
    if (!primary && !this.declared.some((d) => d.kind === 'watches')) throw fail('no sources: give for(), or watches() for a controller whose keys are not one resource\'s own');
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) throw fail(`concurrency must be a whole number of at least 1, not ${this.concurrency}`);
    const owners = new Map<Declared, { name: string; fn: IndexFn<KubeObject> }>();
    for (const d of this.declared) {
      if (d.kind !== 'owns' || !primary) continue;
      if (d.label === '') throw fail(`owns(${d.informer.resource.plural}): the owner label must not be empty`);
      if (d.informer === primary.informer) throw fail(`owns(${d.informer.resource.plural}): a resource cannot own itself`);
      owners.set(d, ownerIndex(primary.informer.resource, d.label === undefined ? {} : { label: d.label }));
    }
    this.completed = true;

    const controller = this.create({ name: this.name, reconcile, concurrency: this.concurrency, rateLimiter: this.rateLimiter, lowPriority: this.lowPriority });
    for (const d of this.declared) {
      const owner = owners.get(d);
      if (owner && !d.informer.hasIndex(owner.name)) d.informer.addIndex(owner.name, owner.fn);
      controller.source(d.informer, { toKeys: owner?.fn ?? d.toKeys, predicate: d.predicate, coalesceMs: d.coalesceMs, waitForSync: d.waitForSync });
    }
    return controller;
  }
}

/**
 * The index of owned objects by their owner's queue key ("namespace/name" for a namespaced owner, which is then in
 * the object's namespace; "name" for a cluster-scoped one), found from a label naming the owner or from the
 * object's controller owner reference of the owner's kind. Its name is stable, so a reconciler asks
 * `informer.byIndex(ownerIndex(Owner, { label }).name, key)` for what it owns.
 */
export function ownerIndex(owner: ResourceType, by: { label?: string }): { name: string; fn: IndexFn<KubeObject> } {
  const keyOf = (obj: KubeObject, name: string) => (owner.namespaced ? `${obj.metadata.namespace ?? ''}/${name}` : name);
  const type = `${owner.kind}.${owner.group || 'core'}`;
  const label = by.label;
  if (label !== undefined) {
    return {
      name: `owner:${type}:label=${label}`,
      fn: (obj) => { const v = obj.metadata.labels?.[label]; return v ? [keyOf(obj, v)] : []; },
    };
  }
  return {
    name: `owner:${type}:controller`,
    fn: (obj) => (obj.metadata.ownerReferences ?? [])
      .filter((r) => r.controller && r.kind === owner.kind && apiGroup(r.apiVersion) === owner.group)
      .map((r) => keyOf(obj, r.name)),
  };
}

const apiGroup = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '');

const erase = <T extends KubeObject>(informer: Informer<T>) => informer as unknown as Informer<KubeObject>;
