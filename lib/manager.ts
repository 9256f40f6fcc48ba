// The manager owns a component's long-lived parts and starts them in order: health server, shared informers
// (caches sync whether or not we lead, so a new leader starts warm), then controllers, gated by leader election
// when configured. Losing the lease ends run() with 'lost' so the process exits and restarts clean.
import type { Logger } from 'pino';
import { ControllerBuilder } from './builder.ts';
import { realClock, type Clock } from './clock.ts';
import { Controller, type ControllerOptions } from './controller.ts';
import { HealthServer } from './health.ts';
import { Informer, type InformerOptions } from './informer.ts';
import type { KubeClient } from './kube/client.ts';
import type { ResourceType } from './kube/resources.ts';
import type { KubeObject } from './kube/types.ts';
import { LeaderElector, type LeaderElectionConfig } from './leaderelection.ts';
import { silentLogger } from './log.ts';
import { ControllerMetrics } from './metrics.ts';

export interface ManagerOptions {
  client: KubeClient;
  logger?: Logger;
  metrics?: ControllerMetrics;
  leaderElection?: Omit<LeaderElectionConfig, 'logger'>;
  health?: { host?: string; port?: number };
  /** What its controllers read as "now" (see lib/clock.ts). */
  clock?: Clock;
}

export class Manager {
  readonly client: KubeClient;
  readonly metrics: ControllerMetrics;
  readonly log: Logger;
  readonly elector: LeaderElector | undefined;
  readonly clock: Clock;
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private readonly controllers: Controller[] = [];
  private readonly opts: ManagerOptions;
  private healthPort: number | undefined;

  constructor(opts: ManagerOptions) {
    this.opts = opts;
    this.client = opts.client;
    this.log = opts.logger ?? silentLogger;
    this.metrics = opts.metrics ?? new ControllerMetrics();
    this.clock = opts.clock ?? realClock;
    const m = this.metrics;
    this.client.observe = (method, code, seconds) => {
      m.restRequests.inc({ method, code: String(code) });
      m.restLatency.observe({ method }, seconds);
    };
    this.elector = opts.leaderElection
      ? new LeaderElector(opts.client, { ...opts.leaderElection, logger: this.log })
      : undefined;
  }

  /** One shared informer per resource type and scope: every controller that asks gets the same cache. */
  informer<T extends KubeObject>(rt: ResourceType, opts: Omit<InformerOptions, 'logger'> = {}): Informer<T> {
    const key = JSON.stringify([rt.group, rt.version, rt.plural, opts.namespace, opts.labelSelector, opts.fieldSelector]);
    let inf = this.informers.get(key);
    if (!inf) {
      inf = new Informer<KubeObject>(this.client, rt, { ...opts, logger: this.log });
      this.informers.set(key, inf);
    }
    return inf as unknown as Informer<T>;
  }

  controller(opts: Omit<ControllerOptions, 'logger' | 'metrics' | 'clock'>): Controller {
    if (this.controllers.some((c) => c.name === opts.name)) throw new Error(`controller ${opts.name} is registered twice`);
    const c = new Controller({ ...opts, logger: this.log, metrics: this.metrics, clock: this.clock });
    this.controllers.push(c);
    return c;
  }

  /** A controller declared by its sources: manager.build('name').for(...).owns(...).watches(...).complete(reconcile). */
  build(name: string): ControllerBuilder {
    return new ControllerBuilder(name, (opts) => this.controller(opts));
  }

  get ready(): boolean {
    return [...this.informers.values()].every((i) => i.hasSynced);
  }

  get port(): number | undefined { return this.healthPort; }

  /** Runs until the signal aborts ('stopped') or leadership is lost ('lost'); everything is drained on return. */
  async run(signal: AbortSignal): Promise<'stopped' | 'lost'> {
    let health: HealthServer | undefined;
    if (this.opts.health) {
      health = new HealthServer({ ...this.opts.health, registry: this.metrics.registry, ready: () => this.ready });
      this.healthPort = await health.listen();
    }
    const cacheStop = new AbortController();
    const stopCaches = () => cacheStop.abort();
    signal.addEventListener('abort', stopCaches, { once: true });
    const caches = [...this.informers.values()].map((i) => i.run(cacheStop.signal));
    const runControllers = (s: AbortSignal) => Promise.all(this.controllers.map((c) => c.run(s))).then(() => undefined);
    let outcome: 'stopped' | 'lost' = 'stopped';
    try {
      if (this.elector) {
        const lease = `${this.opts.leaderElection?.namespace}/${this.opts.leaderElection?.name}`;
        outcome = await this.elector.run(signal, async (leaderSignal) => {
          this.metrics.leader.set({ lease }, 1);
          try { await runControllers(leaderSignal); } finally { this.metrics.leader.set({ lease }, 0); }
        });
      } else {
        await runControllers(signal);
      }
    } finally {
      cacheStop.abort();
      signal.removeEventListener('abort', stopCaches);
      await Promise.all(caches);
      await health?.close();
    }
    return outcome;
  }
}

/**
 * Runs a manager as a process: SIGTERM/SIGINT stop it gracefully (in-flight reconciles finish, the lease is
 * released); exit code 0 on a clean stop, 1 when leadership was lost.
 */
export async function runUntilSignalled(manager: Manager): Promise<never> {
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    manager.log.info({ signal: sig }, 'shutting down');
    stop.abort();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const outcome = await manager.run(stop.signal);
  await manager.client.close();
  process.exit(outcome === 'lost' ? 1 : 0);
}
