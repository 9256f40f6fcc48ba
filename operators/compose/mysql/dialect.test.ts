import { describe, expect, it } from '@jest/globals';
import { mariadb, mysql, sqlString, type DialectSql } from './dialect.ts';

const src = { host: 'db-0.db-headless.ns.svc', port: 3306, user: 'upm_repl', password: "p'w\\d" };

// The statements of each dialect, with sample arguments.
const statements = (d: DialectSql): string[] => [
  d.replicaStatus, d.stopReplica, d.startReplica, d.resetReplicaAll, d.nodeVariables, d.ownPosition, d.changeSource(src),
  ...d.readOnly(true), ...d.readOnly(false), ...d.semiSyncSource(true, 5000), ...d.semiSyncSource(false, 5000),
  ...d.semiSyncReplica(true), ...d.semiSyncReplica(false), d.waitForGtid('0-1-5', 30),
];

// What these tests can show is the statements' shape. MariaDB's statements are also run against real MariaDB
// servers (the compose-mysql integration suites); the MySQL 8.0/8.4 statements never meet a MySQL server here.
describe('replication dialects: statement shapes', () => {
  it('MariaDB 10.11: CHANGE MASTER with MariaDB GTID (current_pos), read_only, MASTER_GTID_WAIT', () => {
    expect(mariadb.changeSource(src)).toBe(
      "CHANGE MASTER TO MASTER_HOST='db-0.db-headless.ns.svc', MASTER_PORT=3306, MASTER_USER='upm_repl', MASTER_PASSWORD='p\\'w\\\\d', MASTER_USE_GTID=current_pos, MASTER_CONNECT_RETRY=1");
    expect(mariadb.readOnly(true)).toEqual(['SET GLOBAL read_only=ON']);
    expect(mariadb.semiSyncSource(true, 5000)).toContain('SET GLOBAL rpl_semi_sync_master_timeout=5000');
    expect(mariadb.waitForGtid('0-1-5', 30)).toBe("SELECT MASTER_GTID_WAIT('0-1-5', 30) AS waited");
  });

  it('MariaDB 10.11: no statement uses MySQL-only syntax or variables', () => {
    for (const s of statements(mariadb)) expect(s).not.toMatch(/super_read_only|gtid_executed|WAIT_FOR_EXECUTED_GTID_SET|REPLICATION SOURCE|SOURCE_|_source_|_replica_|server_uuid/i);
  });

  it('MySQL 8.0/8.4 (shape only, never run against a server here): CHANGE REPLICATION SOURCE with auto-positioning, super_read_only, WAIT_FOR_EXECUTED_GTID_SET', () => {
    expect(mysql.changeSource(src)).toBe(
      "CHANGE REPLICATION SOURCE TO SOURCE_HOST='db-0.db-headless.ns.svc', SOURCE_PORT=3306, SOURCE_USER='upm_repl', SOURCE_PASSWORD='p\\'w\\\\d', SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1, SOURCE_CONNECT_RETRY=1");
    expect(mysql.readOnly(true)).toEqual(['SET GLOBAL super_read_only=ON']);
    // super_read_only off leaves read_only on: both must go.
    expect(mysql.readOnly(false)).toEqual(['SET GLOBAL super_read_only=OFF', 'SET GLOBAL read_only=OFF']);
    expect(mysql.waitForGtid('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5', 10)).toBe("SELECT WAIT_FOR_EXECUTED_GTID_SET('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5', 10) AS waited");
  });

  it('MySQL 8.4 (shape only): no statement uses the MASTER/SLAVE statements or semi-sync variables that 8.4 removed', () => {
    for (const s of statements(mysql)) expect(s).not.toMatch(/\b(SLAVE|MASTER)\b|MASTER_|_master_|_slave_|WAIT_UNTIL_SQL_THREAD_AFTER_GTIDS/i);
  });

  it('reads replica status rows of both dialects, telling an unreachable source from lag', () => {
    const m = mariadb.parseReplicaStatus({ Master_Host: '127.1.2.3', Master_Port: 3306, Slave_IO_Running: 'Connecting', Slave_SQL_Running: 'Yes', Seconds_Behind_Master: null, Last_IO_Errno: 2003, Last_IO_Error: "error connecting to master", Gtid_IO_Pos: '0-1-9' });
    expect(m).toMatchObject({ sourceHost: '127.1.2.3', ioRunning: 'Connecting', lagSeconds: null, sourceUnreachable: true, receivedGtid: '0-1-9' });
    const y = mysql.parseReplicaStatus({ Source_Host: 'h', Source_Port: 3306, Replica_IO_Running: 'Yes', Replica_SQL_Running: 'Yes', Seconds_Behind_Source: 3, Last_IO_Errno: 0, Retrieved_Gtid_Set: 'u:1-3' });
    expect(y).toMatchObject({ ioRunning: 'Yes', lagSeconds: 3, sourceUnreachable: false });
  });

  it('escapes literals, so a password cannot end the statement', () => {
    expect(sqlString("a'b")).toBe("'a\\'b'");
    expect(sqlString('a\\')).toBe("'a\\\\'");
  });
});
