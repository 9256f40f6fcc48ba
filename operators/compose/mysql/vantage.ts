// Whether a source is really gone, judged from more than one vantage point. The operator may be cut off from a
// healthy source; a replica's IO thread is the second witness. A replica still connected to the source vetoes a
// failover; a replica whose IO thread was stopped (by a person, or never started) saw nothing and is no witness.
// Pure.
import type { ReplicaStatus } from './dialect.ts';

export interface Witness { name: string; replica: Pick<ReplicaStatus, 'ioRunning' | 'sourceUnreachable'> }

export type Verdict =
  | { gone: true; witnesses: string[] }
  | { gone: false; reason: string };

export function judgeSourceLoss(replicas: Witness[]): Verdict {
  if (!replicas.length) return { gone: false, reason: 'no reachable replica to promote' };
  const connected = replicas.filter((r) => r.replica.ioRunning === 'Yes');
  if (connected.length) return { gone: false, reason: `${connected.map((r) => r.name).join(', ')} still replicate from it` };
  const witnesses = replicas.filter((r) => r.replica.sourceUnreachable).map((r) => r.name);
  if (!witnesses.length) return { gone: false, reason: `no replica's IO thread confirms the loss (${replicas.map((r) => `${r.name}: IO ${r.replica.ioRunning}`).join(', ')})` };
  return { gone: true, witnesses };
}
