// What the ProxySQL sync computes from and what it produces. Everything here is plain data: the controller reads a
// MysqlReplication's status, mysql.user on the source and ProxySQL's admin tables, and these modules decide which rows
// ProxySQL should hold and which admin statements get it there. No I/O happens in this folder.

/** One MySQL/MariaDB server as a MysqlReplication's status reports it. */
export interface TopologyNode {
  name: string;
  host: string;
  port: number;
  /** The replication controller's verdict (source: writable; replica: read-only and both threads running). */
  ready: boolean;
}

export interface TopologyReplica extends TopologyNode {
  /** Detached for maintenance: it serves neither reads nor writes, so it must not be in any hostgroup. */
  isolated?: boolean;
  /**
   * Informational only. Lag-based routing is left to ProxySQL's own monitor (max_replication_lag shuns a lagging
   * replica within one check interval and brings it back by itself); doing it here would lag a reconcile behind and
   * rewrite mysql_servers on every fluctuation.
   */
  lagSeconds?: number;
}

export interface Topology {
  mode: 'async' | 'semisync';
  /** Absent while no node is the source (e.g. before the first wiring); the writer hostgroup is then empty. */
  source?: TopologyNode;
  replicas: TopologyReplica[];
}

export interface HostgroupSettings {
  writer: number;
  reader: number;
  /** Per backend server (mysql_servers.max_connections). */
  maxConnections: number;
  /** mysql_servers.max_replication_lag for readers; 0 or absent disables ProxySQL's lag shunning. */
  maxReplicationLagSeconds?: number;
  /** Also route reads to the source (low weight), e.g. as a fallback when every replica is shunned. */
  sourceAlsoReads?: boolean;
  /** mysql_replication_hostgroups.comment; defaults to the replication mode. */
  comment?: string;
}

export const DEFAULT_HOSTGROUPS: HostgroupSettings = { writer: 10, reader: 20, maxConnections: 2000 };

/** An account copied from the source's mysql.user into ProxySQL. */
export interface MysqlUser {
  username: string;
  /**
   * mysql.user.authentication_string as read: mysql_native_password '*' + 40 hex digits, or caching_sha2_password
   * '$A$005$' + 20 salt bytes + 43 digest characters (the salt may hold quotes, backslashes and control characters).
   */
  passwordHash: string;
  /** Defaults to the writer hostgroup, so that unrouted queries of a transaction reach the source. */
  defaultHostgroup?: number;
  /** Frontend connections allowed for this user (mysql_users.max_connections); ProxySQL's default is 10000. */
  maxConnections?: number;
  active?: boolean;
}

/** ProxySQL 2.x `check_type` values (mysql_replication_hostgroups CHECK constraint). */
export type CheckType = 'read_only' | 'innodb_read_only' | 'super_read_only' | 'read_only|innodb_read_only' | 'read_only&innodb_read_only';
export const CHECK_TYPES: readonly CheckType[] = ['read_only', 'innodb_read_only', 'super_read_only', 'read_only|innodb_read_only', 'read_only&innodb_read_only'];

export type ServerStatus = 'ONLINE' | 'SHUNNED' | 'OFFLINE_SOFT' | 'OFFLINE_HARD';

export interface DesiredOptions {
  /**
   * MariaDB stands in for MySQL here and has no super_read_only, so the default is 'read_only'; on MySQL 8
   * 'super_read_only' is the stricter signal.
   */
  checkType?: CheckType;
  /** ProxySQL's monitor account on the MySQL servers; unmanaged when absent. It is never a frontend user. */
  monitor?: { username: string; password: string };
  /** The source's VERSION(), advertised to clients as mysql-server_version; unmanaged when absent or empty. */
  serverVersion?: string;
  /**
   * Accounts never copied into ProxySQL; '%' matches any run of characters (other characters, '_' included, are
   * literal). Replaces DEFAULT_USER_FILTER when given; the monitor username is always excluded as well.
   */
  userFilter?: string[];
  /** Only accounts matching one of these patterns (same syntax) are copied; every account when absent. */
  userInclude?: string[];
}

/** Engine accounts (see the templates' credentials) and the servers' own system accounts. */
export const DEFAULT_USER_FILTER: readonly string[] = ['upm_admin', 'upm_repl', 'upm_monitor', 'root', 'mysql.%', 'mariadb.sys'];

// Rows of ProxySQL's main (not runtime_) tables, ProxySQL 2.x column names. status and check_type are plain strings
// because a table edited by hand may hold any case the CHECK constraints accept.

export interface ServerRow {
  hostgroup_id: number;
  hostname: string;
  port: number;
  gtid_port: number;
  status: string;
  weight: number;
  compression: number;
  max_connections: number;
  max_replication_lag: number;
  use_ssl: number;
  max_latency_ms: number;
  comment: string;
}

export interface ReplicationHostgroupRow {
  writer_hostgroup: number;
  reader_hostgroup: number;
  check_type: string;
  comment: string;
}

export interface UserRow {
  username: string;
  password: string;
  active: number;
  use_ssl: number;
  default_hostgroup: number;
  default_schema: string | null;
  schema_locked: number;
  transaction_persistent: number;
  fast_forward: number;
  backend: number;
  frontend: number;
  max_connections: number;
  attributes: string;
  comment: string;
}

/** ProxySQL's configuration as read (current) or as it should be (desired). */
export interface ProxysqlState {
  mysql_servers: ServerRow[];
  mysql_replication_hostgroups: ReplicationHostgroupRow[];
  mysql_users: UserRow[];
  /**
   * global_variables by name. Desired: only the variables this sync manages (others are left alone). Current: at
   * least those; a managed name missing here is treated as different.
   */
  global_variables: Record<string, string>;
}

export interface FieldError { field: string; message: string }

export interface DesiredResult {
  /**
   * Absent when the topology or the settings are unusable (writer == reader, two nodes on one address...): applying
   * anything would route traffic wrongly. A bad user alone only leaves that user out.
   */
  desired?: ProxysqlState;
  errors: FieldError[];
}

/** Row counts of one table's edits. */
export interface TableSummary { added: number; removed: number; updated: number }

export interface SyncPlan {
  /** Admin statements in order; they carry password hashes and the monitor password, so never log them. */
  statements: string[];
  /** Which ProxySQL modules were edited (servers covers mysql_servers and mysql_replication_hostgroups). */
  changed: { servers: boolean; users: boolean; hostgroups: boolean; variables: boolean };
  /** What the edits do, safe to show: counts per table and the names (never the values) of changed variables. */
  summary: {
    mysql_servers: TableSummary;
    mysql_replication_hostgroups: TableSummary;
    mysql_users: TableSummary;
    global_variables: string[];
  };
}
