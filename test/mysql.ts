// What the MysqlReplication suites share: SQL on a unit's real MariaDB server, the replication object's state,
// and losing a unit's engine the way a lost node would (killed, and nothing restarts it).
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { AGENT_PORT } from '../agent/api.ts';
import { AgentClient } from '../agent/client.ts';
import { readUnitAgentToken } from '../agent/tokens.ts';
import type { MysqlReplication } from '../lib/api/compose.upm.io.generated.ts';
import { MysqlReplicationResource } from '../lib/api/compose.upm.io.generated.ts';
import type { Unit } from '../lib/api/unit.upm.io.generated.ts';
import { UnitResource } from '../lib/api/unit.upm.io.generated.ts';
import { Resources } from '../lib/kube/resources.ts';
import type { KubeObject } from '../lib/kube/types.ts';
import { waitFor } from '../lib/wait.ts';
import { kubectlOk } from './kubectl.ts';
import type { OperatorFixture } from './unit-operator.ts';
import { killEngine } from './signals.ts';

type Secret = KubeObject & { data?: Record<string, string> };
export const b64 = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');

/**
 * How long a test's SQL connection may take to open. A server the test expects up must not fail the test for being
 * slow to answer on a loaded 2-core machine (a run with two suites at once saw a 2 s connect time out); a server that
 * is down refuses at once, so this does not slow the checks that expect it down.
 */
export const SQL_CONNECT_TIMEOUT_MS = 10_000;

/** Helpers bound to a suite's fixture, its cluster and the MysqlReplication `name` (default "db"). */
export function mysqlSuite(f: OperatorFixture, cluster: string, name = 'db') {
  const admin = { user: '', password: '' };
  const unit = (u: string) => f.client.get<Unit>(UnitResource, u, f.ns);
  const ipOf = async (u: string) => (await unit(u)).status?.podIP ?? '';
  const connect = async (u: string, user = admin.user, password = admin.password): Promise<Connection> =>
    createConnection({ host: await ipOf(u), port: 3306, user, password, connectTimeout: SQL_CONNECT_TIMEOUT_MS });
  const query = async (u: string, sql: string, user?: string, password?: string): Promise<RowDataPacket[]> => {
    const conn = await connect(u, user, password);
    try { return (await conn.query<RowDataPacket[]>(sql))[0]; } finally { await conn.end(); }
  };
  const mr = () => f.client.get<MysqlReplication>(MysqlReplicationResource, name, f.ns);
  return {
    admin, unit, ipOf, connect, query, mr,
    /** Reads the admin account from the UnitSet's credentials Secret (once it exists). */
    async loadAdmin(secretName = `${name}-credentials`): Promise<void> {
      const secret = await f.client.get<Secret>(Resources.secrets, secretName, f.ns);
      admin.user = b64(secret.data?.['admin-username']);
      admin.password = b64(secret.data?.['admin-password']);
    },
    readOnly: async (u: string) => Number((await query(u, 'SELECT @@global.read_only AS ro'))[0]?.ro),
    /** Waits for the replication to be ready (unless `ready` is false) and more; on a timeout the error carries its status. */
    async waitReady(what: string, extra: (m: MysqlReplication) => boolean = () => true, timeoutMs = 60_000, ready = true): Promise<void> {
      try {
        await waitFor(what, async () => { const m = await mr(); return (!ready || m.status?.ready === true) && extra(m); }, { timeoutMs, intervalMs: 250 });
      } catch (err) {
        const st = (await mr()).status;
        throw new Error(`${(err as Error).message}; conditions ${JSON.stringify(st?.conditions)}; topology ${JSON.stringify(st?.topology)}`, { cause: err });
      }
    },
    patch: (spec: object) => kubectlOk(cluster, ['-n', f.ns, 'patch', 'mr', name, '--type', 'merge', '-p', JSON.stringify({ spec })]),
    /**
     * The unit's node is lost: its engine is killed and nothing restarts it (the unit is handed off, the agent told
     * to leave the engine down). Returns how to bring it back.
     */
    async loseEngine(u: string): Promise<{ restore(): Promise<void> }> {
      await kubectlOk(cluster, ['-n', f.ns, 'annotate', 'un', u, 'unit.upm.io/maintenance=true']);
      const agent = new AgentClient(await ipOf(u), AGENT_PORT, await readUnitAgentToken(f.client, f.ns, u));
      killEngine((await agent.status()).pid);
      await agent.stop();
      return {
        async restore() {
          await agent.start();
          await kubectlOk(cluster, ['-n', f.ns, 'annotate', 'un', u, 'unit.upm.io/maintenance-']);
        },
      };
    },
  };
}
