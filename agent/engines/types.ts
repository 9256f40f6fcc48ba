// What the agent needs from an engine: how to lay out its files on this node, start it, tell when it serves,
// change a setting live, and take and restore a backup. One driver per engine; the agent's supervisor does the
// rest (state machine, restarts, config revisions) the same way for all of them.

/** The node-local facts a driver works with. In a pod these are the pod's paths and addresses. */
export interface EngineEnv {
  /** The unit (and pod) name: for logs and error messages. */
  unit: string;
  /** Address the engine listens on: the pod IP (a 127.x address on a local cluster). */
  address: string;
  /** Persistent data: the unit's volume. Survives restarts of the process and of the pod. */
  dataDir: string;
  /** Scratch space of this pod: rendered config, sockets, pid files, logs. */
  runDir: string;
  /** The unit's engine accounts, by "<role>-username" / "<role>-password" (the credentials Secret's keys). */
  credentials: Record<string, string>;
  /** Host name (a peer's DNS name) -> the address to use on this node. */
  resolve(host: string): string;
}

export interface LaunchSpec {
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** Signal for a clean shutdown (SIGTERM unless said). */
  stopSignal?: NodeJS.Signals;
}

export interface BackupResult {
  /** Where the backup was written. */
  path: string;
  bytes: number;
  /** e.g. "mariadb-dump" or "rdb". */
  format: string;
}

export interface EngineDriver {
  readonly engine: string;
  /**
   * The config file this node runs, from the rendered one (the ConfigMap's content): only node-local facts change
   * (data and run paths, listen address), so that the unit's settings are exactly what the template rendered.
   */
  localize(rendered: string, env: EngineEnv): string;
  /** Initialises an empty data directory (first start only); a no-op when already initialised. */
  prepare(env: EngineEnv, configPath: string): Promise<void>;
  /** The engine's command line for this config file. */
  launch(env: EngineEnv, configPath: string): LaunchSpec;
  /** One readiness probe: true when the engine serves clients. Never throws. */
  probe(env: EngineEnv): Promise<boolean>;
  /** After the first successful probe of each start: idempotent set-up such as the platform accounts. */
  bootstrap?(env: EngineEnv): Promise<void>;
  /** Applies settings to the running engine without a restart (only keys marked dynamic reach this). */
  setLive?(env: EngineEnv, changes: Map<string, string>): Promise<void>;
  /**
   * For a config change beyond parameter values (identity, peers, template), rendered before and after: true when
   * the running engine already runs with the new config, so it needs no restart (a ZooKeeper ensemble whose
   * membership was changed by reconfig). Without it such a change always needs a restart.
   */
  runsAlready?(env: EngineEnv, running: string, next: string): Promise<boolean>;
  /** Reads the running engine's current value of settings, for status and for tests. */
  readLive?(env: EngineEnv, keys: string[]): Promise<Map<string, string>>;
  backup?(env: EngineEnv, target: string, opts: { database?: string }): Promise<BackupResult>;
  /** Restores a backup this driver wrote. `running` says whether the engine is up (some formats need it down). */
  restore?(env: EngineEnv, source: string, opts: { database?: string }): Promise<void>;
  /** True when a restore needs the engine stopped (file-level formats such as RDB). */
  readonly restoreNeedsStop?: boolean;
}

/** An engine this machine cannot run (no package, no binary): reported plainly instead of faked. */
export class EngineNotRunnable extends Error {
  readonly engine: string;
  constructor(engine: string, reason: string) {
    super(`engine ${engine} cannot run on this node: ${reason}`);
    this.name = 'EngineNotRunnable';
    this.engine = engine;
  }
}
