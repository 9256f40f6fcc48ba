// What status says about the servers and the Sentinels, and the role label each pod gets. Pure.
import type { RedisReplicationStatus } from '../../../lib/api/compose.upm.io.generated.ts';
import type { Role } from '../common/roles.ts';
import { isAt, replicatesFrom, settingsDiff, type NodeState, type SentinelSettings, type SentinelState } from './plan.ts';

type Topology = NonNullable<RedisReplicationStatus['topology']>;
type Sentinels = NonNullable<RedisReplicationStatus['sentinels']>;

export interface Description {
  topology: Topology;
  /** Role label per node name (the controller maps names to units). */
  roles: Map<string, Role>;
  /** Every non-isolated replica replicates from the source with its link up. */
  replicasInSync: boolean;
  replicasReady: string;
  problems: string[];
}

/**
 * `active` takes writes (undefined while none does); `reference` is the server replicas are judged against (the
 * active one, else spec.source). A replica keeps its role label while its source is down (it still serves reads),
 * but not while it has never synced with a live source.
 */
export function describeNodes(nodes: NodeState[], active: NodeState | undefined, reference: NodeState | undefined, source: string): Description {
  const fieldOf = (n: NodeState) => (n.name === source ? `spec.source (${n.name})` : `spec.replicas[${n.name}]`);
  const topology: Topology = {};
  const roles = new Map<string, Role>();
  const problems: string[] = [];
  let wanted = 0;
  let ready = 0;
  for (const n of nodes) {
    const isSource = !!active && n === active;
    const r = n.repl;
    const following = !!reference && n !== reference && replicatesFrom(n, reference);
    const inSync = following && !!r?.linkUp && !!active;
    const nodeReady = isSource ? r?.role === 'master' : n.isolated ? n.reachable && r?.role === 'master' : inSync;
    if (n !== reference && !n.isolated) {
      wanted++;
      if (nodeReady) ready++;
      else problems.push(`${fieldOf(n)}: ${!n.reachable ? `unreachable (${n.error ?? 'no answer'})` : following ? `not in sync with ${reference?.name} yet` : `does not replicate from ${reference?.name ?? 'the source'}`}`);
    } else if (n === reference && !n.reachable) {
      problems.push(`${fieldOf(n)}: unreachable (${n.error ?? 'no answer'})`);
    }
    const lag = following && active?.repl && r ? Math.max(0, active.repl.offset - r.offset) : undefined;
    topology[n.name] = {
      host: n.host, port: n.port,
      role: !n.reachable || !r ? 'None' : isSource ? 'Source' : r.role === 'slave' ? 'Replica' : 'None',
      status: n.reachable ? 'Healthy' : 'Failed',
      ready: !!nodeReady,
      ...(n.isolated ? { isolated: true } : {}),
      ...(r?.role === 'slave' ? { masterHost: `${r.masterHost}:${r.masterPort}`, masterLinkStatus: r.linkUp ? 'up' : 'down' } : {}),
      ...(r ? { offset: r.offset } : {}),
      ...(lag !== undefined ? { lagBytes: lag } : {}),
      ...(n.minReplicasToWrite !== undefined ? { minReplicasToWrite: n.minReplicasToWrite } : {}),
      lastError: n.reachable ? '' : n.error ?? 'unreachable',
    };
    const servesReads = following && !n.isolated && (!!r?.linkUp || !reference?.reachable);
    roles.set(n.name, isSource && nodeReady ? 'source' : servesReads ? 'replica' : 'none');
  }
  return { topology, roles, replicasInSync: ready === wanted, replicasReady: `${ready}/${wanted}`, problems };
}

export interface SentinelDescription {
  sentinels: Sentinels;
  ready: boolean;
  sentinelsReady: string;
  problems: string[];
}

/**
 * A Sentinel is ready when it watches the source with the wanted settings and knows every other Sentinel and every
 * reachable replica (it learns them from the source's INFO every 10 s; one that knows none cannot fail the source over).
 */
export function describeSentinels(states: SentinelState[], active: NodeState | undefined, settings: SentinelSettings, isolated: NodeState[], replicas: NodeState[] = []): SentinelDescription {
  const sentinels: Sentinels = {};
  const problems: string[] = [];
  let agreeing = 0;
  for (const s of states) {
    const m = s.master;
    const watchesSource = !!m && !!active && isAt(active, m.host, m.port);
    const knows = (n: NodeState) => !!m && m.replicas.some((r) => { const i = r.lastIndexOf(':'); return isAt(n, r.slice(0, i), Number(r.slice(i + 1))); });
    const knowsIsolated = isolated.some(knows);
    const knownReplicas = replicas.filter(knows).length;
    const agrees = s.reachable && watchesSource && !!m && settingsDiff(m, settings).length === 0 && !knowsIsolated;
    if (agrees) agreeing++;
    const field = `spec.sentinel.nodes[${s.name}]`;
    if (!s.reachable) problems.push(`${field}: unreachable (${s.error ?? 'no answer'})`);
    else if (!m) problems.push(`${field}: does not monitor the source`);
    else if (!watchesSource) problems.push(`${field}: monitors ${m.host}:${m.port}, not the source`);
    else if (!agrees) problems.push(`${field}: has other settings than spec.sentinel`);
    else if (m.numOtherSentinels < states.length - 1) problems.push(`${field}: knows ${m.numOtherSentinels} of the ${states.length - 1} other Sentinels yet`);
    else if (knownReplicas < replicas.length) problems.push(`${field}: knows ${knownReplicas} of the ${replicas.length} replicas yet`);
    sentinels[s.name] = {
      host: s.host, port: s.port, reachable: s.reachable,
      monitoring: m ? `${m.host}:${m.port}` : '',
      agrees,
      ...(m ? { configEpoch: m.configEpoch, knownSentinels: m.numOtherSentinels, knownReplicas: m.numSlaves, flags: m.flags.join(',') } : {}),
      lastError: s.reachable ? '' : s.error ?? 'unreachable',
    };
  }
  return { sentinels, ready: problems.length === 0, sentinelsReady: `${agreeing}/${states.length}`, problems };
}
