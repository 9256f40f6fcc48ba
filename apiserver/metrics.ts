// Prometheus metrics of the API server, named after the kube-apiserver's so the same dashboards read them.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const KIB = 1024;
const MIB = 1024 * KIB;

export class ApiServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'verb' | 'resource' | 'code'>;
  readonly latency: Histogram<'verb' | 'resource'>;
  readonly inflight: Gauge<'kind'>;
  readonly watchers: Gauge<'resource'>;
  readonly watchEvents: Counter<'resource'>;
  readonly sar: Counter<'result'>;
  readonly operationLogs: Gauge<'result'>;
  readonly connections: Counter<'protocol'>;
  readonly terminatedWatchers: Counter<'resource'>;
  readonly watchesRefused: Counter<'limit'>;
  readonly tokenReviews: Counter<'result'>;
  readonly tokenCache: Gauge;
  readonly watchPeakUnsent: Histogram<'resource'>;
  /** What each open watch holds unsent now, read when scraped. */
  private readonly holding = new Map<string, Set<() => number>>();

  constructor() {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'apiserver_request_total', help: 'Requests by verb, resource and HTTP code', labelNames: ['verb', 'resource', 'code'], registers });
    this.latency = new Histogram({
      name: 'apiserver_request_duration_seconds', help: 'Response latency by verb and resource (watches: until the stream opened)', labelNames: ['verb', 'resource'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers,
    });
    this.inflight = new Gauge({ name: 'apiserver_current_inflight_requests', help: 'Requests being served (watches excluded)', labelNames: ['kind'], registers });
    this.watchers = new Gauge({ name: 'apiserver_registered_watchers', help: 'Open watches by resource', labelNames: ['resource'], registers });
    this.watchEvents = new Counter({ name: 'apiserver_watch_events_total', help: 'Watch events sent by resource', labelNames: ['resource'], registers });
    this.sar = new Counter({ name: 'upm_apiserver_subjectaccessreviews_total', help: 'SubjectAccessReviews by answer (allowed, denied, error)', labelNames: ['result'], registers });
    this.operationLogs = new Gauge({ name: 'upm_apiserver_operationlogs', help: 'OperationLog records written, failed and dropped since start', labelNames: ['result'], registers });
    this.connections = new Counter({ name: 'upm_apiserver_tls_connections_total', help: 'TLS connections accepted, by the protocol agreed (h2 or http/1.1)', labelNames: ['protocol'], registers });
    this.terminatedWatchers = new Counter({
      name: 'apiserver_terminated_watchers_total', help: 'Watches ended because their client did not read what was sent in time', labelNames: ['resource'], registers,
    });
    this.watchesRefused = new Counter({ name: 'upm_apiserver_watches_refused_total', help: 'Watches answered 429, by the cap reached (user, overall)', labelNames: ['limit'], registers });
    this.tokenReviews = new Counter({
      name: 'upm_apiserver_tokenreviews_total', help: 'TokenReviews sent (authenticated, rejected, error) and bearer tokens not reviewed for lack of budget (throttled)', labelNames: ['result'], registers,
    });
    this.tokenCache = new Gauge({ name: 'upm_apiserver_token_cache_entries', help: 'Bearer tokens whose review answer is cached', registers });
    const holding = this.holding;
    new Gauge({
      name: 'upm_apiserver_watch_unsent_bytes', help: 'Bytes written to open watches and not yet sent to their clients, by resource', labelNames: ['resource'], registers,
      collect() {
        this.reset();
        for (const [resource, probes] of holding) {
          let sum = 0;
          for (const unsent of probes) sum += unsent();
          this.set({ resource }, sum);
        }
      },
    });
    this.watchPeakUnsent = new Histogram({
      name: 'upm_apiserver_watch_peak_unsent_bytes', help: 'The most a watch ever held unsent, observed when it ends', labelNames: ['resource'],
      buckets: [64 * KIB, 256 * KIB, MIB, 4 * MIB, 16 * MIB, 16.5 * MIB, 32 * MIB, 64 * MIB, 256 * MIB], registers,
    });
    collectDefaultMetrics({ register: this.registry });
  }

  /** Counts a watch's unsent bytes until the returned function is called, with its peak, when it ends. */
  holdWatch(resource: string, unsent: () => number): (peakUnsentBytes: number) => void {
    let probes = this.holding.get(resource);
    if (!probes) this.holding.set(resource, (probes = new Set()));
    probes.add(unsent);
    return (peak) => {
      probes.delete(unsent);
      this.watchPeakUnsent.observe({ resource }, peak);
    };
  }
}
