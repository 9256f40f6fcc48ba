// Leader election on a coordination.k8s.io Lease (client-go's algorithm):
// - acquire or renew with optimistic concurrency (resourceVersion), so two candidates never both win an update;
// - a foreign lease counts as expired only when its record has not changed for leaseDuration as observed on OUR
//   clock (no trust in other machines' clocks);
// - a leader that cannot renew within renewDeadline steps down (aborts its leader signal) before anyone else can
//   see the lease expire, so the old and the new leader never work at once;
// - on a graceful stop the lease is released so a successor takes over at once.
import type { Logger } from 'pino';
import { sleep } from './backoff.ts';
import type { KubeClient } from './kube/client.ts';
import { isAlreadyExists, isConflict, isNotFound } from './kube/errors.ts';
import { Resources } from './kube/resources.ts';
import type { KubeObject } from './kube/types.ts';
import { silentLogger } from './log.ts';

export interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaderElectionConfig {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  releaseOnCancel?: boolean;
  logger?: Logger;
  onNewLeader?(identity: string): void;
}

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class LeaderElector {
  readonly identity: string;
  private readonly client: KubeClient;
  private readonly cfg: Required<Omit<LeaderElectionConfig, 'logger' | 'onNewLeader'>>;
  private readonly log: Logger;
  private readonly onNewLeader: ((identity: string) => void) | undefined;
  private observed: { record: string; at: number } | undefined;
  private lastHolder = '';
  private leading = false;

  constructor(client: KubeClient, config: LeaderElectionConfig) {
    const cfg = {
      leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, releaseOnCancel: true, ...config,
    };
    if (cfg.leaseDurationMs <= cfg.renewDeadlineMs) throw new Error('leaseDuration must be greater than renewDeadline');
    if (cfg.renewDeadlineMs <= cfg.retryPeriodMs * 1.2) throw new Error('renewDeadline must be greater than retryPeriod*1.2');
    if (!cfg.identity) throw new Error('leader election needs an identity');
    const { logger, onNewLeader, ...rest } = cfg;
    this.cfg = rest;
    this.client = client;
    this.identity = cfg.identity;
    this.log = (logger ?? silentLogger).child({ lease: `${cfg.namespace}/${cfg.name}`, identity: cfg.identity });
    this.onNewLeader = onNewLeader;
  }

  get isLeader(): boolean { return this.leading; }

  /**
   * Campaigns until elected, runs `lead` with a signal that aborts when leadership is lost or `signal` aborts,
   * and resolves once `lead` has returned. Resolves 'lost' if leadership was lost, 'stopped' on shutdown.
   */
  async run(signal: AbortSignal, lead: (leaderSignal: AbortSignal) => Promise<void>): Promise<'lost' | 'stopped'> {
    while (!signal.aborted && !(await this.tryAcquireOrRenew())) await sleep(this.cfg.retryPeriodMs, signal);
    if (signal.aborted) return 'stopped';
    this.leading = true;
    this.log.info('became leader');
    const leader = new AbortController();
    const stopLeading = () => leader.abort();
    signal.addEventListener('abort', stopLeading, { once: true });
    const work = lead(leader.signal).catch((err: unknown) => {
      this.log.error({ err: String(err) }, 'leader work failed');
    }).finally(stopLeading);
    const outcome = await this.renewLoop(leader.signal);
    leader.abort();
    await work;
    this.leading = false;
    signal.removeEventListener('abort', stopLeading);
    if (outcome === 'stopped' && this.cfg.releaseOnCancel) await this.release();
    this.log.info({ outcome }, 'stopped leading');
    return outcome;
  }

  private async renewLoop(leaderSignal: AbortSignal): Promise<'lost' | 'stopped'> {
    let lastRenew = Date.now();
    while (!leaderSignal.aborted) {
      await sleep(this.cfg.retryPeriodMs, leaderSignal);
      if (leaderSignal.aborted) break;
      // Each attempt is bounded by what remains of the renew deadline, so a hung request cannot keep us leading.
      const remaining = this.cfg.renewDeadlineMs - (Date.now() - lastRenew);
      const ok = remaining > 0 && (await withTimeout(this.tryAcquireOrRenew(), remaining));
      if (ok) lastRenew = Date.now();
      else if (Date.now() - lastRenew >= this.cfg.renewDeadlineMs) {
        this.log.warn('failed to renew the lease within the renew deadline: stepping down');
        return 'lost';
      }
    }
    return 'stopped';
  }

  /** One attempt; true when we hold the lease afterwards. Never throws. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    const { namespace, name, identity } = this.cfg;
    const spec = (prev?: Lease['spec']) => ({
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.cfg.leaseDurationMs / 1000),
      acquireTime: prev?.holderIdentity === identity && prev.acquireTime ? prev.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (prev?.leaseTransitions ?? 0) + (prev?.holderIdentity && prev.holderIdentity !== identity ? 1 : 0),
    });
    try {
      let lease: Lease;
      try {
        lease = await this.client.get<Lease>(Resources.leases, name, namespace);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        await this.client.create<Lease>(Resources.leases, {
          apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: spec(),
        });
        this.noteHolder(identity);
        return true;
      }
      const holder = lease.spec?.holderIdentity ?? '';
      const record = JSON.stringify(lease.spec ?? {});
      if (!this.observed || this.observed.record !== record) this.observed = { record, at: Date.now() };
      this.noteHolder(holder);
      const durationMs = (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
      if (holder && holder !== identity && this.observed.at + durationMs > Date.now()) return false;
      await this.client.update<Lease>(Resources.leases, { ...lease, spec: spec(lease.spec) });
      this.noteHolder(identity);
      return true;
    } catch (err) {
      if (!isConflict(err) && !isAlreadyExists(err)) this.log.warn({ err: String(err) }, 'lease update failed');
      return false;
    }
  }

  private noteHolder(holder: string): void {
    if (holder && holder !== this.lastHolder) {
      this.lastHolder = holder;
      this.onNewLeader?.(holder);
    }
  }

  /** Gives the lease up (empty holder, 1 s duration) so a successor need not wait for it to expire. */
  private async release(): Promise<void> {
    try {
      const lease = await this.client.get<Lease>(Resources.leases, this.cfg.name, this.cfg.namespace);
      if (lease.spec?.holderIdentity !== this.identity) return;
      const now = microTime(new Date());
      await this.client.update<Lease>(Resources.leases, {
        ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now },
      });
    } catch (err) {
      this.log.warn({ err: String(err) }, 'could not release the lease');
    }
  }
}

async function withTimeout(p: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms); });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
