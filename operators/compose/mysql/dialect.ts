// The SQL that wires and inspects replication, in one place per dialect: MySQL 8.0/8.4 (GTID auto-positioning,
// super_read_only, REPLICA/SOURCE wording) and MariaDB 10.11 (MariaDB GTID, read_only, SLAVE/MASTER wording).
// Statements only; the controller runs them. MariaDB is what runs locally; the MySQL statements never meet a MySQL
// server here (unit tests pin their shape only).

import type { Dialect } from '../../../lib/mysql/gtid.ts';

export type { Dialect };

export interface SourceAddress { host: string; port: number; user: string; password: string }

/** A string literal for SQL: quotes and backslashes escaped, so a password cannot end the statement. */
export function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export interface ReplicaStatus {
  sourceHost: string;
  sourcePort: number;
  ioRunning: string;
  sqlRunning: string;
  lagSeconds: number | null;
  lastError: string;
  /** GTIDs received from the source (MariaDB Gtid_IO_Pos, MySQL Retrieved_Gtid_Set). */
  receivedGtid: string;
  /** The IO thread cannot reach the source (connect error) rather than merely lagging. */
  sourceUnreachable: boolean;
}

type Row = Record<string, unknown>;
const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));

// MySQL client error numbers an IO thread reports when it cannot connect to or lost its source.
const CONNECT_ERRORS = new Set([2003, 2005, 2013, 2006, 1158, 1159, 1160, 1161]);

export interface DialectSql {
  readonly replicaStatus: string;
  readonly stopReplica: string;
  readonly startReplica: string;
  readonly resetReplicaAll: string;
  /** The variables a node is judged by (one row): read_only, server_id, GTID positions. */
  readonly nodeVariables: string;
  /** The node's own GTID position (everything it has written or applied). */
  readonly ownPosition: string;
  changeSource(src: SourceAddress): string;
  readOnly(on: boolean): string[];
  semiSyncSource(on: boolean, timeoutMs: number): string[];
  semiSyncReplica(on: boolean): string[];
  /** Returns 0 once the node has applied `gtid`, -1 (MariaDB) or 1 (MySQL) on timeout. */
  waitForGtid(gtid: string, timeoutSeconds: number): string;
  parseReplicaStatus(row: Row): ReplicaStatus;
}

export const mariadb: DialectSql = {
  replicaStatus: 'SHOW SLAVE STATUS',
  stopReplica: 'STOP SLAVE',
  startReplica: 'START SLAVE',
  resetReplicaAll: 'RESET SLAVE ALL',
  nodeVariables: 'SELECT @@global.read_only AS read_only, @@server_id AS server_id, @@global.gtid_binlog_pos AS binlog_pos, '
    + '@@global.gtid_slave_pos AS applied_pos, @@global.gtid_current_pos AS current_pos, @@global.rpl_semi_sync_master_enabled AS semi_source, '
    + '@@global.rpl_semi_sync_slave_enabled AS semi_replica',
  // current_pos: a former source resumes from its own binlog (its slave_pos would be empty or stale); errant
  // transactions are refused before any re-pointing, so current_pos cannot skip anything.
  ownPosition: 'SELECT @@global.gtid_binlog_pos AS pos',
  changeSource: (s) => `CHANGE MASTER TO MASTER_HOST=${sqlString(s.host)}, MASTER_PORT=${s.port}, MASTER_USER=${sqlString(s.user)}, `
    + `MASTER_PASSWORD=${sqlString(s.password)}, MASTER_USE_GTID=current_pos, MASTER_CONNECT_RETRY=1`,
  readOnly: (on) => [`SET GLOBAL read_only=${on ? 'ON' : 'OFF'}`],
  semiSyncSource: (on, timeoutMs) => on
    ? ['SET GLOBAL rpl_semi_sync_master_enabled=ON', `SET GLOBAL rpl_semi_sync_master_timeout=${timeoutMs}`, 'SET GLOBAL rpl_semi_sync_master_wait_point=AFTER_SYNC']
    : ['SET GLOBAL rpl_semi_sync_master_enabled=OFF'],
  semiSyncReplica: (on) => [`SET GLOBAL rpl_semi_sync_slave_enabled=${on ? 'ON' : 'OFF'}`],
  waitForGtid: (gtid, t) => `SELECT MASTER_GTID_WAIT(${sqlString(gtid)}, ${t}) AS waited`,
  parseReplicaStatus: (r) => ({
    sourceHost: str(r.Master_Host),
    sourcePort: Number(r.Master_Port ?? 0),
    ioRunning: str(r.Slave_IO_Running),
    sqlRunning: str(r.Slave_SQL_Running),
    lagSeconds: r.Seconds_Behind_Master === null || r.Seconds_Behind_Master === undefined ? null : Number(r.Seconds_Behind_Master),
    lastError: str(r.Last_IO_Error) || str(r.Last_SQL_Error),
    receivedGtid: str(r.Gtid_IO_Pos),
    sourceUnreachable: str(r.Slave_IO_Running) !== 'Yes' && CONNECT_ERRORS.has(Number(r.Last_IO_Errno ?? 0)),
  }),
};

export const mysql: DialectSql = {
  replicaStatus: 'SHOW REPLICA STATUS',
  stopReplica: 'STOP REPLICA',
  startReplica: 'START REPLICA',
  resetReplicaAll: 'RESET REPLICA ALL',
  nodeVariables: 'SELECT @@global.super_read_only AS read_only, @@server_id AS server_id, @@server_uuid AS server_uuid, @@global.gtid_executed AS binlog_pos, '
    + '@@global.gtid_executed AS applied_pos, @@global.gtid_executed AS current_pos, @@global.rpl_semi_sync_source_enabled AS semi_source, '
    + '@@global.rpl_semi_sync_replica_enabled AS semi_replica',
  ownPosition: 'SELECT @@global.gtid_executed AS pos',
  changeSource: (s) => `CHANGE REPLICATION SOURCE TO SOURCE_HOST=${sqlString(s.host)}, SOURCE_PORT=${s.port}, SOURCE_USER=${sqlString(s.user)}, `
    + `SOURCE_PASSWORD=${sqlString(s.password)}, SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1, SOURCE_CONNECT_RETRY=1`,
  // super_read_only implies read_only; turning it off leaves read_only, which must go too.
  readOnly: (on) => (on ? ['SET GLOBAL super_read_only=ON'] : ['SET GLOBAL super_read_only=OFF', 'SET GLOBAL read_only=OFF']),
  semiSyncSource: (on, timeoutMs) => on
    ? ['SET GLOBAL rpl_semi_sync_source_enabled=ON', `SET GLOBAL rpl_semi_sync_source_timeout=${timeoutMs}`, 'SET GLOBAL rpl_semi_sync_source_wait_point=AFTER_SYNC']
    : ['SET GLOBAL rpl_semi_sync_source_enabled=OFF'],
  semiSyncReplica: (on) => [`SET GLOBAL rpl_semi_sync_replica_enabled=${on ? 'ON' : 'OFF'}`],
  waitForGtid: (gtid, t) => `SELECT WAIT_FOR_EXECUTED_GTID_SET(${sqlString(gtid)}, ${t}) AS waited`,
  parseReplicaStatus: (r) => ({
    sourceHost: str(r.Source_Host),
    sourcePort: Number(r.Source_Port ?? 0),
    ioRunning: str(r.Replica_IO_Running),
    sqlRunning: str(r.Replica_SQL_Running),
    lagSeconds: r.Seconds_Behind_Source === null || r.Seconds_Behind_Source === undefined ? null : Number(r.Seconds_Behind_Source),
    lastError: str(r.Last_IO_Error) || str(r.Last_SQL_Error),
    receivedGtid: str(r.Retrieved_Gtid_Set),
    sourceUnreachable: str(r.Replica_IO_Running) !== 'Yes' && CONNECT_ERRORS.has(Number(r.Last_IO_Errno ?? 0)),
  }),
};

export const dialectFor = (d: Dialect): DialectSql => (d === 'mysql' ? mysql : mariadb);
