import { describe, expect, it } from '@jest/globals';
import { describeNodes, describeSentinels } from './describe.ts';
import { isNoPasswordConfigured, parseReplication, parseSentinelMaster } from './observe.ts';
import type { NodeState, SentinelState } from './plan.ts';

// Replies as Redis 7.0 gives them.
const MASTER_INFO = [
  '# Replication', 'role:master', 'connected_slaves:2', 'min_slaves_good_slaves:2',
  'slave0:ip=127.77.3.2,port=6379,state=online,offset=796,lag=0', 'slave1:ip=127.77.3.3,port=6379,state=wait_bgsave,offset=0,lag=1',
  'master_failover_state:waiting-for-sync', 'master_replid:4b0df0594f934cbeb8cac50882d7d93eb4116828', 'master_repl_offset:796', '',
].join('\r\n');
const REPLICA_INFO = [
  '# Replication', 'role:slave', 'master_host:127.77.3.1', 'master_port:6379', 'master_link_status:down', 'master_last_io_seconds_ago:-1',
  'master_sync_in_progress:1', 'slave_read_repl_offset:50', 'slave_repl_offset:50', 'slave_priority:100', 'slave_read_only:1',
  'connected_slaves:0', 'master_failover_state:no-failover', 'master_repl_offset:50', '',
].join('\r\n');

describe('parseReplication', () => {
  it('reads a master with its replicas and a handover in progress', () => {
    expect(parseReplication(MASTER_INFO)).toEqual({
      role: 'master', offset: 796, failoverState: 'waiting-for-sync',
      replicas: [{ ip: '127.77.3.2', port: 6379, state: 'online', offset: 796 }, { ip: '127.77.3.3', port: 6379, state: 'wait_bgsave', offset: 0 }],
    });
  });

  it('reads a replica that is still syncing', () => {
    expect(parseReplication(REPLICA_INFO)).toEqual({
      role: 'slave', masterHost: '127.77.3.1', masterPort: 6379, linkUp: false, syncInProgress: true, offset: 50, failoverState: 'no-failover', replicas: [],
    });
  });
});

describe('parseSentinelMaster', () => {
  it('reads SENTINEL MASTER and SENTINEL REPLICAS', () => {
    const master = ['name', 'rr', 'ip', '127.77.3.2', 'port', '6379', 'flags', 'master,o_down,failover_in_progress', 'config-epoch', '3', 'num-slaves', '2',
      'num-other-sentinels', '2', 'quorum', '2', 'down-after-milliseconds', '1000', 'failover-timeout', '5000', 'parallel-syncs', '1'];
    const replicas = [['name', '127.77.3.1:6379', 'ip', '127.77.3.1', 'port', '6379', 'flags', 'slave', 'slave-priority', '0']];
    expect(parseSentinelMaster(master, replicas)).toEqual({
      host: '127.77.3.2', port: 6379, flags: ['master', 'o_down', 'failover_in_progress'], configEpoch: 3, numSlaves: 2, numOtherSentinels: 2,
      quorum: 2, downAfterMs: 1000, failoverTimeoutMs: 5000, parallelSyncs: 1, replicas: ['127.77.3.1:6379'],
      priorities: { '127.77.3.1:6379': 0 },
    });
  });

  it('recognises a server that has no password', () => {
    expect(isNoPasswordConfigured('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?')).toBe(true);
    expect(isNoPasswordConfigured('WRONGPASS invalid username-password pair or user is disabled.')).toBe(false);
  });
});

const n = (name: string, extra: Partial<NodeState>): NodeState => ({ name, host: `10.0.0.${name.charCodeAt(0) - 96}`, port: 6379, aliases: [`10.0.0.${name.charCodeAt(0) - 96}`], isolated: false, reachable: true, ...extra });

describe('describeNodes', () => {
  const a = n('a', { repl: { role: 'master', offset: 500, failoverState: 'no-failover', replicas: [] }, minReplicasToWrite: 1 });
  const b = n('b', { repl: { role: 'slave', masterHost: '10.0.0.1', masterPort: 6379, linkUp: true, offset: 480, failoverState: 'no-failover', replicas: [] } });
  const c = n('c', { reachable: false, error: 'connect ECONNREFUSED' });

  it('labels the source and the in-sync replicas, and reports lag and failures', () => {
    const d = describeNodes([a, b, c], a, a, 'a');
    expect([...d.roles]).toEqual([['a', 'source'], ['b', 'replica'], ['c', 'none']]);
    expect(d.topology.b).toMatchObject({ role: 'Replica', ready: true, masterHost: '10.0.0.1:6379', masterLinkStatus: 'up', lagBytes: 20 });
    expect(d.topology.a).toMatchObject({ role: 'Source', ready: true, minReplicasToWrite: 1 });
    expect(d.topology.c).toMatchObject({ role: 'None', status: 'Failed', lastError: 'connect ECONNREFUSED' });
    expect(d.replicasReady).toBe('1/2');
    expect(d.replicasInSync).toBe(false);
    expect(d.problems).toEqual(['spec.replicas[c]: unreachable (connect ECONNREFUSED)']);
  });

  it('keeps replicas in the readonly Service while the source is down, but no source label', () => {
    const down = { ...a, reachable: false, error: 'timeout' };
    delete down.repl;
    const lost = { ...b, repl: { ...b.repl, linkUp: false } as NodeState['repl'] };
    const d = describeNodes([down, lost], undefined, down, 'a');
    expect([...d.roles]).toEqual([['a', 'none'], ['b', 'replica']]);
  });
});

describe('describeSentinels', () => {
  it('counts the Sentinels that watch the source with the wanted settings and know each other', () => {
    const a = n('a', { repl: { role: 'master', offset: 1, failoverState: 'no-failover', replicas: [] } });
    const watching = { host: '10.0.0.1', port: 6379, flags: ['master'], configEpoch: 0, numSlaves: 2, numOtherSentinels: 1, quorum: 2, downAfterMs: 5000, failoverTimeoutMs: 60000, parallelSyncs: 1, replicas: [] };
    const states: SentinelState[] = [
      { name: 's1', host: '10.1.0.1', port: 26379, reachable: true, master: watching },
      { name: 's2', host: '10.1.0.2', port: 26379, reachable: true, master: { ...watching, numOtherSentinels: 2 } },
      { name: 's3', host: '10.1.0.3', port: 26379, reachable: false, error: 'timeout' },
    ];
    const d = describeSentinels(states, a, { quorum: 2, downAfterMs: 5000, failoverTimeoutMs: 60000, parallelSyncs: 1 }, []);
    expect(d.sentinelsReady).toBe('2/3');
    expect(d.ready).toBe(false);
    expect(d.problems).toEqual(['spec.sentinel.nodes[s1]: knows 1 of the 2 other Sentinels yet', 'spec.sentinel.nodes[s3]: unreachable (timeout)']);
    expect(d.sentinels.s1).toMatchObject({ monitoring: '10.0.0.1:6379', agrees: true, knownSentinels: 1 });
  });

  it('is not ready while a Sentinel does not know every reachable replica yet: it could not fail the source over', () => {
    const a = n('a', { repl: { role: 'master', offset: 1, failoverState: 'no-failover', replicas: [] } });
    const [b, c] = [n('b', {}), n('c', {})];
    const knowing = { host: '10.0.0.1', port: 6379, flags: ['master'], configEpoch: 0, numSlaves: 2, numOtherSentinels: 1, quorum: 2, downAfterMs: 5000, failoverTimeoutMs: 60000, parallelSyncs: 1, replicas: ['10.0.0.2:6379', '10.0.0.3:6379'] };
    const states: SentinelState[] = [
      { name: 's1', host: '10.1.0.1', port: 26379, reachable: true, master: knowing },
      { name: 's2', host: '10.1.0.2', port: 26379, reachable: true, master: { ...knowing, numSlaves: 1, replicas: ['10.0.0.3:6379'] } },
    ];
    const d = describeSentinels(states, a, { quorum: 2, downAfterMs: 5000, failoverTimeoutMs: 60000, parallelSyncs: 1 }, [], [b, c]);
    expect(d.problems).toEqual(['spec.sentinel.nodes[s2]: knows 1 of the 2 replicas yet']);
    expect(d.ready).toBe(false);
    expect(describeSentinels(states.slice(0, 1).map((s) => ({ ...s, master: { ...knowing, numOtherSentinels: 0 } })), a, { quorum: 2, downAfterMs: 5000, failoverTimeoutMs: 60000, parallelSyncs: 1 }, [], [b, c]).ready).toBe(true);
  });
});
