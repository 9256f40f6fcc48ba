// The REST calls the operator makes to an Elasticsearch or OpenSearch node, over plain HTTP with basic auth as the
// cluster's admin account (Elasticsearch 8's security; OpenSearch's security plugin). Reading builds
// the ClusterView the planner decides from; every write is one idempotent call.
import { Agent, request } from 'undici';
import type { Dialect } from './dialect.ts';
import type { ClusterNode, ClusterView, Health } from './plan.ts';

export const HTTP_PORT = 9200;

export class RestError extends Error {
  readonly status: number;
  readonly type: string;
  constructor(status: number, type: string, message: string) {
    super(message);
    this.name = 'RestError';
    this.status = status;
    this.type = type;
  }
}

export interface Credentials { username: string; password: string }

/** HTTP basic authentication (user name and password as UTF-8, as the engines decode them). */
export const basicAuth = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

/** What the cluster settings API returns with flat_settings. */
interface Settings { persistent: Record<string, unknown>; transient: Record<string, unknown> }

const EXCLUDE_NAME = 'cluster.routing.allocation.exclude._name';
const ALLOCATION_ENABLE = 'cluster.routing.allocation.enable';

export class SearchRest {
  private readonly dispatcher = new Agent({ connectTimeout: 2000, keepAliveTimeout: 10_000, connections: 4 });
  private readonly auth?: string;
  readonly dialect: Dialect;

  constructor(dialect: Dialect, credentials?: Credentials) {
    this.dialect = dialect;
    if (credentials?.password) this.auth = basicAuth(credentials.username, credentials.password);
  }

  /** One call; throws RestError with the engine's own reason when it answers an error. */
  async call<T>(host: string, method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown, timeoutMs = 10_000, port = HTTP_PORT): Promise<T> {
    const res = await request(`http://${host}:${port}${path}`, {
      method, dispatcher: this.dispatcher, headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
      headers: { ...(this.auth ? { authorization: this.auth } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) {
      let type = '';
      let reason = text.slice(0, 300);
      try {
        const e = (JSON.parse(text) as { error?: { type?: string; reason?: string } | string }).error;
        if (typeof e === 'string') reason = e;
        else if (e) { type = e.type ?? ''; reason = e.reason ?? reason; }
      } catch { /* not JSON */ }
      throw new RestError(res.statusCode, type, `${method} ${path.split('?')[0]}: ${res.statusCode}${type ? ` ${type}` : ''}: ${reason}`);
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  /** Whether an account logs in with this authorization (OpenSearch's security plugin answers 401 when not). */
  async loginWorks(host: string, authorization: string): Promise<boolean> {
    const res = await request(`http://${host}:${HTTP_PORT}/_plugins/_security/authinfo`, { method: 'GET', dispatcher: this.dispatcher, headersTimeout: 10_000, bodyTimeout: 10_000, headers: { authorization } });
    await res.body.text();
    if (res.statusCode === 401) return false;
    if (res.statusCode >= 300) throw new RestError(res.statusCode, '', `GET /_plugins/_security/authinfo: ${res.statusCode}`);
    return true;
  }

  /** Whether the node has an elected manager (its own view, answered at once). */
  async knowsManager(host: string): Promise<boolean> {
    const h = await this.call<{ discovered_master?: boolean; discovered_cluster_manager?: boolean }>(host, 'GET', '/_cluster/health?local=true', undefined, 3000);
    return h.discovered_cluster_manager === true || h.discovered_master === true;
  }

  /** The cluster as seen through `host` (a node with an elected manager). */
  async view(via: { name: string; host: string }): Promise<ClusterView> {
    const host = via.host;
    const wait = `${this.dialect.managerTimeout}=5s`;
    const [health, nodes, state, coordination, settings, shards, indexSettings] = await Promise.all([
      this.call<HealthBody>(host, 'GET', `/_cluster/health?${wait}`),
      this.call<{ nodes?: Record<string, { name: string; ip?: string; host?: string; roles?: string[] }> }>(host, 'GET', '/_nodes?filter_path=nodes.*.name,nodes.*.ip,nodes.*.host,nodes.*.roles'),
      this.call<{ cluster_name: string; cluster_uuid?: string; master_node?: string }>(host, 'GET', `/_cluster/state/master_node?${wait}`),
      this.call<CoordinationBody>(host, 'GET', `/_cluster/state/metadata?filter_path=metadata.cluster_uuid,metadata.cluster_coordination&${wait}`),
      this.call<Settings>(host, 'GET', `/_cluster/settings?flat_settings=true&${wait}`),
      this.call<CatShard[]>(host, 'GET', '/_cat/shards?format=json&h=index,shard,prirep,state,node'),
      this.call<Record<string, { settings?: Record<string, string> }>>(host, 'GET', '/_all/_settings/index.number_of_replicas,index.auto_expand_replicas?flat_settings=true&expand_wildcards=all'),
    ]);
    const setting = (k: string): unknown => settings.transient[k] ?? settings.persistent[k];
    const excl = setting(EXCLUDE_NAME);
    const enable = setting(ALLOCATION_ENABLE);
    const coord = coordination.metadata?.cluster_coordination;
    let maxReplicas = 0;
    for (const idx of Object.values(indexSettings)) {
      const s = idx.settings ?? {};
      const auto = s['index.auto_expand_replicas'];
      if (auto && auto !== 'false') continue; // expands and shrinks with the data nodes by itself
      maxReplicas = Math.max(maxReplicas, Number(s['index.number_of_replicas'] ?? 0));
    }
    return {
      via: via.name,
      clusterName: state.cluster_name ?? health.cluster_name,
      clusterUUID: state.cluster_uuid ?? coordination.metadata?.cluster_uuid ?? '',
      health: {
        status: health.status, nodes: num(health.number_of_nodes), dataNodes: num(health.number_of_data_nodes),
        activePrimary: num(health.active_primary_shards), active: num(health.active_shards), relocating: num(health.relocating_shards),
        initializing: num(health.initializing_shards), unassigned: num(health.unassigned_shards), activePercent: num(health.active_shards_percent_as_number),
      },
      nodes: Object.entries(nodes.nodes ?? {}).map(([id, n]): ClusterNode => ({ id, name: n.name, ip: n.ip ?? n.host ?? '', roles: n.roles ?? [] }))
        .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true })),
      ...(state.master_node ? { managerId: state.master_node } : {}),
      votingExclusions: (coord?.voting_config_exclusions ?? []).map((x) => ({ id: x.node_id, name: x.node_name })),
      allocation: {
        ...(typeof enable === 'string' ? { enable } : {}),
        excludeNames: typeof excl === 'string' ? excl.split(',').map((s) => s.trim()).filter(Boolean) : [],
      },
      shardsByNode: shardsByNode(shards),
      indices: Object.keys(indexSettings).length,
      maxReplicas,
    };
  }

  /** Persistent cluster settings (null removes one, back to its default). */
  async putSettings(host: string, persistent: Record<string, string | null>): Promise<void> {
    await this.call(host, 'PUT', '/_cluster/settings', { persistent });
  }

  setExcludedNames(host: string, names: string[]): Promise<void> {
    return this.putSettings(host, { [EXCLUDE_NAME]: names.length ? names.join(',') : null });
  }

  /** "primaries" while a node restarts (no replica is rebuilt elsewhere meanwhile); null is "all", the default. */
  setAllocation(host: string, enable: 'primaries' | null): Promise<void> {
    return this.putSettings(host, { [ALLOCATION_ENABLE]: enable });
  }

  /** Takes nodes out of the voting configuration; answers once they are out (an elected manager among them steps down). */
  async excludeFromVoting(host: string, names: string[]): Promise<void> {
    await this.call(host, 'POST', `/_cluster/voting_config_exclusions?node_names=${encodeURIComponent(names.join(','))}&timeout=10s`, undefined, 20_000);
  }

  /** Clears every voting exclusion without waiting (the excluded nodes are gone already). */
  async clearVotingExclusions(host: string): Promise<void> {
    await this.call(host, 'DELETE', '/_cluster/voting_config_exclusions?wait_for_removal=false');
  }

  /** Flushes every index so that a restarted node recovers its copies from its own disk quickly. */
  async flush(host: string): Promise<void> {
    await this.call(host, 'POST', '/_flush?expand_wildcards=all', undefined, 30_000);
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

/** A number of the health answer: the engine writes a percentage it cannot compute (no shard known yet) as "NaN". */
const num = (v: number | string | undefined): number => (Number.isFinite(Number(v)) ? Number(v) : 0);

interface HealthBody {
  cluster_name: string; status: Health; number_of_nodes: number; number_of_data_nodes: number;
  active_primary_shards: number; active_shards: number; relocating_shards: number; initializing_shards: number; unassigned_shards: number;
  active_shards_percent_as_number: number | string;
}
interface CoordinationBody {
  metadata?: { cluster_uuid?: string; cluster_coordination?: { voting_config_exclusions?: { node_id: string; node_name: string }[] } };
}
export interface CatShard { index: string; shard: string; prirep: string; state: string; node: string | null }

/**
 * Shard copies per node. A relocating copy is listed once, as "<source> -> <ip> <id> <target>": it counts on both
 * nodes, since the source holds it until the target has it.
 */
export function shardsByNode(shards: readonly CatShard[]): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (n: string | undefined) => { if (n) out[n] = (out[n] ?? 0) + 1; };
  for (const s of shards) {
    if (!s.node) continue;
    const [source, target] = s.node.split('->').map((x) => x.trim());
    add(source?.split(/\s+/)[0]);
    add(target?.split(/\s+/).at(-1));
  }
  return out;
}
