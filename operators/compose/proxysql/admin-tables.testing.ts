// For unit tests only: ProxySQL's admin tables (the 2.x definitions, with their CHECK constraints and keys) in
// SQLite, which is what ProxySQL's admin interface itself runs on, with its three layers reduced to snapshots: the
// edits go to the main tables, LOAD ... TO RUNTIME copies a module's main tables to "runtime", SAVE ... TO DISK to
// "disk". This is not ProxySQL: no monitor, no routing, no admin parser; it shows that the planned statements are
// valid SQL for those tables and what each layer holds after a sync, a failure or a resumed sync.
import { DatabaseSync } from 'node:sqlite';
import { parseState, type RawRow } from './parse.ts';
import type { AdminSession } from './sync.ts';
import type { ProxysqlState } from './types.ts';

export const SCHEMA = [
  "CREATE TABLE mysql_servers (hostgroup_id INT CHECK (hostgroup_id>=0) NOT NULL DEFAULT 0 , hostname VARCHAR NOT NULL , port INT CHECK (port >= 0 AND port <= 65535) NOT NULL DEFAULT 3306 , gtid_port INT CHECK ((gtid_port <> port OR gtid_port=0) AND gtid_port >= 0 AND gtid_port <= 65535) NOT NULL DEFAULT 0 , status VARCHAR CHECK (UPPER(status) IN ('ONLINE','SHUNNED','OFFLINE_SOFT', 'OFFLINE_HARD')) NOT NULL DEFAULT 'ONLINE' , weight INT CHECK (weight >= 0 AND weight <=10000000) NOT NULL DEFAULT 1 , compression INT CHECK (compression IN(0,1)) NOT NULL DEFAULT 0 , max_connections INT CHECK (max_connections >=0) NOT NULL DEFAULT 1000 , max_replication_lag INT CHECK (max_replication_lag >= 0 AND max_replication_lag <= 126144000) NOT NULL DEFAULT 0 , use_ssl INT CHECK (use_ssl IN(0,1)) NOT NULL DEFAULT 0 , max_latency_ms INT UNSIGNED CHECK (max_latency_ms>=0) NOT NULL DEFAULT 0 , comment VARCHAR NOT NULL DEFAULT '' , PRIMARY KEY (hostgroup_id, hostname, port) )",
  "CREATE TABLE mysql_replication_hostgroups (writer_hostgroup INT CHECK (writer_hostgroup>=0) NOT NULL PRIMARY KEY , reader_hostgroup INT NOT NULL CHECK (reader_hostgroup<>writer_hostgroup AND reader_hostgroup>=0) , check_type VARCHAR CHECK (LOWER(check_type) IN ('read_only','innodb_read_only','super_read_only','read_only|innodb_read_only','read_only&innodb_read_only')) NOT NULL DEFAULT 'read_only' , comment VARCHAR NOT NULL DEFAULT '', UNIQUE (reader_hostgroup))",
  "CREATE TABLE mysql_users (username VARCHAR NOT NULL , password VARCHAR , active INT CHECK (active IN (0,1)) NOT NULL DEFAULT 1 , use_ssl INT CHECK (use_ssl IN (0,1)) NOT NULL DEFAULT 0 , default_hostgroup INT NOT NULL DEFAULT 0 , default_schema VARCHAR , schema_locked INT CHECK (schema_locked IN (0,1)) NOT NULL DEFAULT 0 , transaction_persistent INT CHECK (transaction_persistent IN (0,1)) NOT NULL DEFAULT 1 , fast_forward INT CHECK (fast_forward IN (0,1)) NOT NULL DEFAULT 0 , backend INT CHECK (backend IN (0,1)) NOT NULL DEFAULT 1 , frontend INT CHECK (frontend IN (0,1)) NOT NULL DEFAULT 1 , max_connections INT CHECK (max_connections >=0) NOT NULL DEFAULT 10000 , attributes VARCHAR CHECK (JSON_VALID(attributes) OR attributes = '') NOT NULL DEFAULT '' , comment VARCHAR NOT NULL DEFAULT '' , PRIMARY KEY (username, backend) , UNIQUE (username, frontend))",
  'CREATE TABLE global_variables (variable_name VARCHAR NOT NULL PRIMARY KEY , variable_value VARCHAR NOT NULL)',
  // What a fresh ProxySQL holds for the managed variables.
  "INSERT INTO global_variables VALUES ('mysql-monitor_username', 'monitor'), ('mysql-monitor_password', 'monitor'), ('mysql-server_version', '8.0.11'), ('mysql-monitor_writer_is_also_reader', 'true')",
];

const MODULES: Record<string, string[]> = {
  SERVERS: ['mysql_servers', 'mysql_replication_hostgroups'],
  USERS: ['mysql_users'],
  VARIABLES: ['global_variables'],
};

export class SqliteAdmin implements AdminSession {
  readonly db = new DatabaseSync(':memory:');
  /** Every statement received, in order. */
  readonly log: string[] = [];
  /** Per module: the main tables' rows as of its last LOAD / SAVE (JSON). */
  readonly runtime = new Map<string, string>();
  readonly disk = new Map<string, string>();
  /** Throw instead of running the statement with this index (0-based, counted over the session's life). */
  failAt?: number;
  /** Variables whose new value "ProxySQL" refuses: LOAD copies the runtime value back into main, as ProxySQL does. */
  readonly refused = new Set<string>();
  private runtimeVariables = new Map<string, string>();

  constructor() {
    for (const sql of SCHEMA) this.db.exec(sql);
    for (const r of this.rows('global_variables')) this.runtimeVariables.set(String(r.variable_name), String(r.variable_value));
  }

  query(sql: string): Promise<RawRow[]> {
    return Promise.resolve().then(() => this.exec(sql));
  }

  exec(sql: string): RawRow[] {
    if (this.failAt === this.log.length) {
      this.failAt = undefined;
      throw new Error('connection lost');
    }
    this.log.push(sql);
    const layer = /^(LOAD|SAVE) MYSQL (SERVERS|USERS|VARIABLES) TO (RUNTIME|DISK)$/.exec(sql);
    if (layer) {
      const [, verb, module] = layer as unknown as [string, string, string];
      if (verb === 'LOAD' && module === 'VARIABLES') this.loadVariables();
      (verb === 'LOAD' ? this.runtime : this.disk).set(module, this.snapshot(module));
      return [];
    }
    if (/^\s*SELECT/i.test(sql)) return this.db.prepare(sql).all() as RawRow[];
    // exec runs every statement in the string: a literal that broke out of its quotes would really execute.
    this.db.exec(sql);
    return [];
  }

  /** The main tables, parsed as the controller parses them. */
  main(): ProxysqlState {
    const { state, errors } = parseState({
      mysql_servers: this.rows('mysql_servers'), mysql_replication_hostgroups: this.rows('mysql_replication_hostgroups'),
      mysql_users: this.rows('mysql_users'), global_variables: this.rows('global_variables'),
    });
    if (!state) throw new Error(`unreadable: ${JSON.stringify(errors)}`);
    return state;
  }

  /** What the main tables of a module hold now, in the form runtime and disk snapshots take. */
  snapshot(module: string): string {
    return JSON.stringify((MODULES[module] ?? []).map((t) => this.rows(t).map((r) => JSON.stringify(r)).sort()));
  }

  private loadVariables(): void {
    for (const r of this.rows('global_variables')) {
      const name = String(r.variable_name);
      if (this.refused.has(name)) {
        this.db.prepare('UPDATE global_variables SET variable_value = ? WHERE variable_name = ?').run(this.runtimeVariables.get(name) ?? '', name);
      } else {
        this.runtimeVariables.set(name, String(r.variable_value));
      }
    }
  }

  private rows(table: string): RawRow[] {
    return this.db.prepare(`SELECT * FROM ${table}`).all() as RawRow[];
  }
}
