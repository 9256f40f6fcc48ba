// Prometheus metrics shared by every controller, named after controller-runtime's so existing dashboards fit.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ControllerMetrics {
  readonly registry: Registry;
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileErrors: Counter<'controller'>;
  readonly reconcileTime: Histogram<'controller'>;
  readonly queueDepth: Gauge<'name'>;
  readonly queueAdds: Counter<'name'>;
  readonly queueRetries: Counter<'name'>;
  readonly queueWait: Histogram<'name'>;
  readonly activeWorkers: Gauge<'controller'>;
  readonly leader: Gauge<'lease'>;
  readonly restRequests: Counter<'method' | 'code'>;
  readonly restLatency: Histogram<'method'>;

  constructor(registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    this.reconcileTotal = new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller, by result (success, requeue, requeue_after, error)',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Total number of reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    });
    this.reconcileTime = new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.queueDepth = new Gauge({ name: 'workqueue_depth', help: 'Current depth of the work queue', labelNames: ['name'], registers });
    this.queueAdds = new Counter({ name: 'workqueue_adds_total', help: 'Total adds handled by the work queue', labelNames: ['name'], registers });
    this.queueRetries = new Counter({ name: 'workqueue_retries_total', help: 'Total rate-limited retries handled by the work queue', labelNames: ['name'], registers });
    this.queueWait = new Histogram({
      name: 'workqueue_queue_duration_seconds', help: 'How long a key waits in the work queue, from its add until a worker takes it', labelNames: ['name'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10, 30], registers,
    });
    this.activeWorkers = new Gauge({ name: 'controller_runtime_active_workers', help: 'Number of workers currently reconciling', labelNames: ['controller'], registers });
    this.restRequests = new Counter({
      name: 'rest_client_requests_total', help: 'Requests to the Kubernetes API, by method and HTTP code (0: no answer)', labelNames: ['method', 'code'], registers,
    });
    this.restLatency = new Histogram({
      name: 'rest_client_request_duration_seconds', help: 'Kubernetes API request latency (watches: time to response headers)', labelNames: ['method'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers,
    });
    this.leader = new Gauge({ name: 'leader_election_master_status', help: '1 while this process holds the lease', labelNames: ['lease'], registers });
  }

  /** Process metrics (CPU, memory, event loop lag) for a long-running component. */
  withProcessMetrics(): this {
    collectDefaultMetrics({ register: this.registry });
    return this;
  }
}
