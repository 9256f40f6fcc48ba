// What status shows of a desired state: servers by hostgroup and users by name, never a password or a hash.
import type { ProxysqlSyncStatus } from '../../../lib/api/compose.upm.io.generated.ts';
import { compareServers } from './desired.ts';
import type { LeftOut } from './topology.ts';
import type { ProxysqlState } from './types.ts';

export type DesiredSummary = NonNullable<ProxysqlSyncStatus['desired']>;

export interface SummaryInput {
  desired?: ProxysqlState;
  writer: number;
  reader: number;
  usersManaged: boolean;
  leftOut: LeftOut[];
  usersLeftOut: { account: string; reason: string }[];
}

export function desiredSummary(s: SummaryInput): DesiredSummary {
  const servers = [...(s.desired?.mysql_servers ?? [])].sort(compareServers).map((r) => ({
    hostgroup: r.hostgroup_id,
    role: r.hostgroup_id === s.writer ? 'writer' as const : 'reader' as const,
    // desired.ts puts the node's name in the row's comment.
    name: r.comment,
    host: r.hostname,
    port: r.port,
    status: r.status,
    weight: r.weight,
  }));
  return {
    writerHostgroup: s.writer,
    readerHostgroup: s.reader,
    servers,
    users: (s.desired?.mysql_users ?? []).map((u) => u.username),
    usersManaged: s.usersManaged,
    leftOut: s.leftOut,
    usersLeftOut: s.usersLeftOut,
  };
}

/** "writer hostgroup 10: db-0; reader hostgroup 20: db-1, db-2 (OFFLINE_SOFT); users: app, report". */
export function describeDesired(d: DesiredSummary): string {
  const group = (role: 'writer' | 'reader', id: number | undefined): string => {
    const names = (d.servers ?? []).filter((s) => s.role === role).map((s) => (s.status === 'ONLINE' ? s.name : `${s.name} (${s.status})`));
    return `${role} hostgroup ${id}: ${names.join(', ') || 'none'}`;
  };
  const users = d.usersManaged ? `users: ${(d.users ?? []).join(', ') || 'none'}` : 'users: left as they are';
  return `${group('writer', d.writerHostgroup)}; ${group('reader', d.readerHostgroup)}; ${users}`;
}
