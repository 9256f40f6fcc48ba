// What differs between the two engines an ElasticsearchCluster runs: Elasticsearch 8 says "master" where OpenSearch 2
// says "cluster_manager" (OpenSearch still accepts the old names, deprecated). Everything else the operator uses (health,
// allocation filters and the allocation switch, voting configuration exclusions, _cat and _cluster/state) is the same
// REST API in both.

export type Engine = 'opensearch' | 'elasticsearch';

export interface Dialect {
  engine: Engine;
  /** The manager role in node.roles. */
  managerRole: string;
  /** The query parameter bounding a wait for the elected manager. */
  managerTimeout: string;
  /** Where the template mounts the data volume. */
  dataPath: string;
}

const DIALECTS: Record<Engine, Dialect> = {
  opensearch: { engine: 'opensearch', managerRole: 'cluster_manager', managerTimeout: 'cluster_manager_timeout', dataPath: '/usr/share/opensearch/data' },
  elasticsearch: { engine: 'elasticsearch', managerRole: 'master', managerTimeout: 'master_timeout', dataPath: '/usr/share/elasticsearch/data' },
};

export const dialectOf = (engine: string | undefined): Dialect => DIALECTS[engine === 'elasticsearch' ? 'elasticsearch' : 'opensearch'];

/** Either spelling of the manager role. */
export const isManagerRole = (role: string): boolean => role === 'cluster_manager' || role === 'master';

/** Elasticsearch's data tiers hold shards as "data" does. */
export const isDataRole = (role: string): boolean => role === 'data' || role.startsWith('data_');

/** node.roles of a node set in the engine's own words (the spec accepts either spelling of the manager role). */
export function engineRoles(d: Dialect, roles: readonly string[]): string[] {
  const out = roles.map((r) => (isManagerRole(r) ? d.managerRole : r));
  return [...new Set(out)];
}
