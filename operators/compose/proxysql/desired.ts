// What ProxySQL should hold for one MysqlReplication: one replication hostgroup pair, the servers in it, the
// application users and the few global variables the sync owns.
//
// Routing model. ProxySQL's monitor checks `check_type` (read_only) on every server of the pair and, at runtime only,
// moves a server to the writer hostgroup when it is writable and to the reader hostgroup when it is not. So right
// after a switchover ProxySQL already routes correctly; these rows make the configuration (main and disk tables) say
// the same thing, so that the next LOAD or a restart does not bring back the old picture. (Older ProxySQL releases
// also wrote the monitor's move back into the main table; the next plan then differs from what it expected and
// converges all the same.)

import {
  CHECK_TYPES, DEFAULT_HOSTGROUPS, DEFAULT_USER_FILTER, type DesiredOptions, type DesiredResult, type FieldError, type HostgroupSettings,
  type MysqlUser, type ServerRow, type ServerStatus, type Topology, type TopologyNode, type UserRow,
} from './types.ts';

/** Equal weights spread reads evenly over replicas; the source, when it also reads, gets a token share. */
export const WEIGHT_WRITER = 1000;
export const WEIGHT_READER = 1000;
export const WEIGHT_SOURCE_AS_READER = 1;
/** ProxySQL's own column default for mysql_users.max_connections. */
export const DEFAULT_USER_MAX_CONNECTIONS = 10000;
/** mysql_servers CHECK constraint upper bound (four years, in seconds). */
const MAX_REPLICATION_LAG_LIMIT = 126144000;

export const VAR_MONITOR_USERNAME = 'mysql-monitor_username';
export const VAR_MONITOR_PASSWORD = 'mysql-monitor_password';
export const VAR_SERVER_VERSION = 'mysql-server_version';
export const VAR_WRITER_IS_ALSO_READER = 'mysql-monitor_writer_is_also_reader';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;
const NATIVE_HASH = /^\*[0-9A-Fa-f]{40}$/;
// '$A$' + three hex digits of rounds/1000 + '$' + 20 salt bytes + 43 digest characters.
const SHA2_HASH = /^\$A\$[0-9A-Fa-f]{3}\$[\s\S]{63}$/;

export function desiredState(topology: Topology, settings: Partial<HostgroupSettings>, users: MysqlUser[], opts: DesiredOptions = {}): DesiredResult {
  const hg: HostgroupSettings = { ...DEFAULT_HOSTGROUPS, ...stripUndefined(settings) };
  const checkType = opts.checkType ?? 'read_only';
  const fatal = [...validateSettings(hg), ...validateTopology(topology), ...validateOptions(opts)];
  if (!CHECK_TYPES.includes(checkType)) fatal.push({ field: 'checkType', message: `must be one of ${CHECK_TYPES.join(', ')}` });

  const { rows: userRows, errors: userErrors } = desiredUsers(users, hg, opts);
  if (fatal.length > 0) return { errors: [...fatal, ...userErrors] };

  const servers = desiredServers(topology, hg);
  const globalVariables: Record<string, string> = {
    // ProxySQL's default (true) lets the monitor keep the writable server in the reader hostgroup too, so
    // sourceAlsoReads=false would mean nothing. With true, the monitor only adds a reader row where none exists, so
    // the explicit low-weight one below stays.
    [VAR_WRITER_IS_ALSO_READER]: hg.sourceAlsoReads === true ? 'true' : 'false',
  };
  if (opts.monitor) {
    globalVariables[VAR_MONITOR_USERNAME] = opts.monitor.username;
    globalVariables[VAR_MONITOR_PASSWORD] = opts.monitor.password;
  }
  // Clients see the source's real version (feature detection, e.g. by ORMs) instead of ProxySQL's built-in one.
  if (opts.serverVersion) globalVariables[VAR_SERVER_VERSION] = opts.serverVersion;

  return {
    desired: {
      mysql_replication_hostgroups: [{ writer_hostgroup: hg.writer, reader_hostgroup: hg.reader, check_type: checkType, comment: hg.comment ?? topology.mode }],
      mysql_servers: servers,
      mysql_users: userRows,
      global_variables: globalVariables,
    },
    errors: userErrors,
  };
}

function desiredServers(topology: Topology, hg: HostgroupSettings): ServerRow[] {
  const rows: ServerRow[] = [];
  const { source } = topology;
  if (source) {
    // An unready source stays configured but OFFLINE_SOFT: no new connection (so no write) goes to a server the
    // replication controller does not call writable, transactions already running may finish, and the row keeps
    // its place for when it recovers. Deleting it instead would do the same for writes but lose that.
    const status = statusOf(source);
    rows.push(server(hg.writer, source, status, WEIGHT_WRITER, hg.maxConnections, 0));
    if (hg.sourceAlsoReads === true) rows.push(server(hg.reader, source, status, WEIGHT_SOURCE_AS_READER, hg.maxConnections, 0));
  }
  for (const replica of topology.replicas) {
    // Isolated replicas are detached for maintenance and may be written to or fall arbitrarily behind. The upstream
    // ProxysqlSync put every spec replica in the reader hostgroup, isolated ones included, and served reads from them.
    if (replica.isolated === true) continue;
    // An unready replica is OFFLINE_SOFT too: with replication stopped it serves stale reads that ProxySQL's lag
    // check only catches when max_replication_lag is set, and one that is not read_only would even be moved to the
    // writer hostgroup by the monitor. ProxySQL copies the row for that move, so the status should go with it (read
    // from ProxySQL's sources, not tried against a running ProxySQL).
    rows.push(server(hg.reader, replica, statusOf(replica), WEIGHT_READER, hg.maxConnections, hg.maxReplicationLagSeconds ?? 0));
  }
  return rows.sort(compareServers);
}

function statusOf(node: TopologyNode): ServerStatus {
  return node.ready ? 'ONLINE' : 'OFFLINE_SOFT';
}

function server(hostgroup: number, node: TopologyNode, status: ServerStatus, weight: number, maxConnections: number, maxLag: number): ServerRow {
  return {
    hostgroup_id: hostgroup, hostname: node.host, port: node.port, gtid_port: 0, status, weight, compression: 0,
    max_connections: maxConnections, max_replication_lag: maxLag, use_ssl: 0, max_latency_ms: 0,
    // The node's name, so that `SELECT * FROM mysql_servers` says which unit an address is.
    comment: node.name,
  };
}

export function compareServers(a: ServerRow, b: ServerRow): number {
  return a.hostgroup_id - b.hostgroup_id || compareStrings(a.hostname, b.hostname) || a.port - b.port;
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function desiredUsers(users: MysqlUser[], hg: HostgroupSettings, opts: DesiredOptions): { rows: UserRow[]; errors: FieldError[] } {
  const filter = [...(opts.userFilter ?? DEFAULT_USER_FILTER), ...(opts.monitor ? [opts.monitor.username] : [])].map(likePattern);
  const include = opts.userInclude?.map(likePattern);
  const errors: FieldError[] = [];
  const byName = new Map<string, { row: UserRow; index: number }>();
  const conflicting = new Set<string>();
  users.forEach((user, i) => {
    const field = `users[${i}]`;
    // Filtered first: system accounts (root over unix_socket, mariadb.sys without a password) are not errors.
    if (filter.some((re) => re.test(user.username))) return;
    if (include && !include.some((re) => re.test(user.username))) return;
    const problems = validateUser(user, field);
    if (problems.length > 0) {
      errors.push(...problems);
      return;
    }
    const row = userRow(user, hg);
    const seen = byName.get(user.username);
    if (!seen) {
      byName.set(user.username, { row, index: i });
    } else if (!sameRow(seen.row, row)) {
      // The same name from two mysql.user hosts with different settings: either copy would be a guess.
      errors.push({ field: `${field}.username`, message: `${user.username} is also users[${seen.index}] with a different password or settings; left out` });
      conflicting.add(user.username);
    }
  });
  const rows = [...byName.values()].map((v) => v.row).filter((r) => !conflicting.has(r.username));
  return { rows: rows.sort((a, b) => compareStrings(a.username, b.username)), errors };
}

function userRow(user: MysqlUser, hg: HostgroupSettings): UserRow {
  return {
    username: user.username,
    password: user.passwordHash,
    active: user.active === false ? 0 : 1,
    use_ssl: 0,
    default_hostgroup: user.defaultHostgroup ?? hg.writer,
    default_schema: null,
    schema_locked: 0,
    // Keeps every statement of a transaction on the backend that started it, whatever the query rules say.
    transaction_persistent: 1,
    fast_forward: 0,
    backend: 1,
    frontend: 1,
    max_connections: user.maxConnections ?? DEFAULT_USER_MAX_CONNECTIONS,
    attributes: '',
    comment: '',
  };
}

function sameRow(a: UserRow, b: UserRow): boolean {
  return (Object.keys(a) as (keyof UserRow)[]).every((k) => a[k] === b[k]);
}

/** '%' matches any run of characters; everything else, '_' included, matches itself. */
function likePattern(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('%').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]*')}$`);
}

function validateSettings(hg: HostgroupSettings): FieldError[] {
  const errors: FieldError[] = [];
  checkInt(errors, 'settings.writer', hg.writer, 0);
  checkInt(errors, 'settings.reader', hg.reader, 0);
  if (hg.writer === hg.reader) errors.push({ field: 'settings.reader', message: `must differ from the writer hostgroup (${hg.writer})` });
  checkInt(errors, 'settings.maxConnections', hg.maxConnections, 0);
  if (hg.maxReplicationLagSeconds !== undefined) checkInt(errors, 'settings.maxReplicationLagSeconds', hg.maxReplicationLagSeconds, 0, MAX_REPLICATION_LAG_LIMIT);
  if (hg.comment !== undefined && hg.comment.includes('\0')) errors.push({ field: 'settings.comment', message: 'must not contain NUL' });
  return errors;
}

function validateTopology(topology: Topology): FieldError[] {
  const errors: FieldError[] = [];
  const nodes: { node: TopologyNode; field: string }[] = [];
  if (topology.source) nodes.push({ node: topology.source, field: 'topology.source' });
  topology.replicas.forEach((node, i) => nodes.push({ node, field: `topology.replicas[${i}]` }));

  const byName = new Map<string, string>();
  const byAddress = new Map<string, string>();
  const isSourceTwin = (owner: string): boolean => owner === 'topology.source';
  for (const { node, field } of nodes) {
    if (node.name === '') errors.push({ field: `${field}.name`, message: 'must not be empty' });
    if (node.host === '' || CONTROL.test(node.host) || /\s/.test(node.host)) errors.push({ field: `${field}.host`, message: 'must be a host name or IP address' });
    checkInt(errors, `${field}.port`, node.port, 1, 65535);

    const nameOwner = byName.get(node.name);
    if (nameOwner !== undefined && node.name !== '') {
      errors.push({ field: `${field}.name`, message: isSourceTwin(nameOwner) ? `${node.name} is the source` : `${node.name} is also ${nameOwner}` });
    } else {
      byName.set(node.name, field);
    }
    // DNS names are case-insensitive: DB-0 and db-0 are one server.
    const address = `${node.host.toLowerCase()}:${node.port}`;
    const addressOwner = byAddress.get(address);
    if (addressOwner !== undefined) {
      errors.push({ field, message: isSourceTwin(addressOwner) ? `${address} is the source's address` : `${address} is also the address of ${addressOwner}` });
    } else {
      byAddress.set(address, field);
    }
  }
  return errors;
}

function validateOptions(opts: DesiredOptions): FieldError[] {
  const errors: FieldError[] = [];
  if (opts.monitor) {
    if (opts.monitor.username === '' || CONTROL.test(opts.monitor.username)) errors.push({ field: 'monitor.username', message: 'must be a non-empty name without control characters' });
    if (opts.monitor.password.includes('\0')) errors.push({ field: 'monitor.password', message: 'must not contain NUL' });
  }
  if (opts.serverVersion !== undefined && CONTROL.test(opts.serverVersion)) errors.push({ field: 'serverVersion', message: 'must not contain control characters' });
  return errors;
}

function validateUser(user: MysqlUser, field: string): FieldError[] {
  const errors: FieldError[] = [];
  if (user.username === '') errors.push({ field: `${field}.username`, message: 'must not be empty' });
  else if (CONTROL.test(user.username)) errors.push({ field: `${field}.username`, message: 'must not contain control characters' });
  // Anything else would be taken by ProxySQL as a clear-text password: clients would have to send the hash itself.
  // The message never includes the hash.
  if (!NATIVE_HASH.test(user.passwordHash) && !(SHA2_HASH.test(user.passwordHash) && !user.passwordHash.includes('\0'))) {
    errors.push({ field: `${field}.passwordHash`, message: `${user.username || 'user'}: not a mysql_native_password or caching_sha2_password hash (other plugins and passwordless accounts cannot go through ProxySQL); left out` });
  }
  if (user.defaultHostgroup !== undefined) checkInt(errors, `${field}.defaultHostgroup`, user.defaultHostgroup, 0);
  if (user.maxConnections !== undefined) checkInt(errors, `${field}.maxConnections`, user.maxConnections, 0);
  return errors;
}

function checkInt(errors: FieldError[], field: string, value: number, min: number, max = 2147483647): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) errors.push({ field, message: `must be an integer from ${min} to ${max}, got ${value}` });
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
