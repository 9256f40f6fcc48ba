// Kafka's Admin API as the KafkaCluster controller needs it, over one SASL/PLAIN connection to any live broker
// (@platformatic/kafka: a maintained client in plain JavaScript that speaks the protocol versions of Kafka 3.9 and
// exposes every request the operator needs: Metadata, DescribeCluster, DescribeQuorum, DescribeConfigs,
// Alter/ListPartitionReassignments, UnregisterBroker, Describe/CreateAcls). Each observation is one snapshot of the
// cluster; every call has a deadline, and a broker that fails is left for the next address on the next call.
import {
  AclOperations, AclPermissionTypes, alterPartitionReassignmentsV0, Connection, ConfigResourceTypes, createAclsV3, describeAclsV3,
  describeClusterV1, describeConfigsV4, describeQuorumV2, DescribeClusterEndpointTypes, listPartitionReassignmentsV0, metadataV12,
  ResourcePatternTypes, ResourceTypes, unregisterBrokerV0, type Acl,
} from '@platformatic/kafka';
import { missingAcls } from './acls.ts';
import type { ClusterSnapshot, Move, PartitionState } from './plan.ts';

export interface KafkaCredentials { username: string; password: string }

const CONNECT_TIMEOUT_MS = 3000;
const REQUEST_TIMEOUT_MS = 15_000;
/** Kafka's error code for an UnregisterBroker of an id it does not know (already unregistered, or never was). */
const BROKER_ID_NOT_REGISTERED = 102;
const METADATA_TOPIC = '__cluster_metadata';

/** The response an error carried (platformatic's ResponseError keeps it), for per-item error codes. */
function responseOf(err: unknown): unknown {
  return err && typeof err === 'object' && 'response' in err ? (err as { response: unknown }).response : undefined;
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const inner = err instanceof AggregateError ? err.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))) : [];
  return [err.message, ...inner.filter((m) => m && m !== err.message)].join(': ');
}

export class KafkaAdmin {
  private readonly credentials: KafkaCredentials;
  private addresses: string[] = [];
  private next = 0;
  private conn: Connection | undefined;
  private connAddress = '';
  /** Connections to every other live broker, to compare their metadata with the one read. */
  private readonly peers = new Map<string, Connection>();

  constructor(credentials: KafkaCredentials) {
    this.credentials = credentials;
  }

  /** The brokers' "host:port" to try, in order of preference (ready units first). */
  setAddresses(addresses: string[]): void {
    this.addresses = addresses;
    if (this.conn && !addresses.includes(this.connAddress)) void this.drop();
  }

  private newConnection(): Connection {
    const conn = new Connection('upm-compose-operator', {
      connectTimeout: CONNECT_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS,
      sasl: { mechanism: 'PLAIN', username: this.credentials.username, password: this.credentials.password },
    });
    conn.on('error', () => undefined); // reported by the call that fails
    return conn;
  }

  /** The partitions as one broker's metadata cache has them ("topic-p:replicas/isr", sorted), or undefined if it cannot say. */
  private async viewOf(address: string): Promise<string | undefined> {
    let conn = this.peers.get(address);
    try {
      if (!conn?.isConnected()) {
        await conn?.close().catch(() => undefined);
        conn = this.newConnection();
        this.peers.set(address, conn);
        await conn.connect(address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1)));
      }
      return fingerprint(await metadataV12.api.async(conn, null, false, false));
    } catch {
      this.peers.delete(address);
      await conn?.close().catch(() => undefined);
      return undefined;
    }
  }

  private async connection(): Promise<Connection> {
    if (this.conn?.isConnected()) return this.conn;
    await this.drop();
    if (!this.addresses.length) throw new Error('no broker address known yet');
    const errors: string[] = [];
    for (let i = 0; i < this.addresses.length; i++) {
      const address = this.addresses[(this.next + i) % this.addresses.length] ?? '';
      const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
      const conn = this.newConnection();
      try {
        await conn.connect(host, port);
        this.conn = conn;
        this.connAddress = address;
        this.next = (this.next + i) % this.addresses.length;
        return conn;
      } catch (err) {
        errors.push(`${address}: ${describe(err)}`);
        await conn.close().catch(() => undefined);
      }
    }
    throw new Error(`no broker reachable (${errors.join('; ')})`);
  }

  /** Runs one request; a failure drops the connection, and the next call starts at the next address. */
  private async call<T>(what: string, fn: (c: Connection) => Promise<T>): Promise<T> {
    const conn = await this.connection();
    const via = this.connAddress;
    try {
      return await fn(conn);
    } catch (err) {
      if (responseOf(err) === undefined) {
        this.next = (this.next + 1) % Math.max(1, this.addresses.length);
        await this.drop();
      }
      throw new Error(`${what} via ${via}: ${describe(err)}`, { cause: err });
    }
  }

  /** One snapshot: live brokers, every partition's replicas and ISR, min.insync.replicas per topic, the quorum, moves in flight. */
  async observe(): Promise<ClusterSnapshot> {
    const cluster = await this.call('DescribeCluster', (c) => describeClusterV1.api.async(c, false, DescribeClusterEndpointTypes.BROKERS));
    const meta = await this.call('Metadata', (c) => metadataV12.api.async(c, null, false, false));
    // Each broker answers from its own copy of the metadata, which follows the controller's by a moment (seconds
    // on a loaded machine): decisions wait until every live broker tells the same.
    const via = this.connAddress;
    const mine = fingerprint(meta);
    const others = cluster.brokers.filter((b) => `${b.host}:${b.port}` !== via);
    const views = await Promise.all(others.map((b) => this.viewOf(`${b.host}:${b.port}`)));
    const behind = others.filter((_, i) => views[i] !== mine).map((b) => b.brokerId);
    for (const [address, conn] of this.peers) {
      if (cluster.brokers.some((b) => `${b.host}:${b.port}` === address)) continue;
      this.peers.delete(address);
      void conn.close().catch(() => undefined);
    }
    const partitions: PartitionState[] = [];
    const topics: string[] = [];
    for (const t of meta.topics) {
      if (!t.name || t.errorCode !== 0) continue;
      topics.push(t.name);
      for (const p of t.partitions) {
        partitions.push({ topic: t.name, partition: p.partitionIndex, leader: p.leaderId, replicas: [...p.replicaNodes], isr: [...p.isrNodes] });
      }
    }
    const minIsr = new Map<string, number>();
    if (topics.length) {
      const configs = await this.call('DescribeConfigs', (c) => describeConfigsV4.api.async(c, topics.map((t) => ({
        resourceType: ConfigResourceTypes.TOPIC, resourceName: t, configurationKeys: ['min.insync.replicas'],
      })), false, false).catch((err: unknown) => {
        // A topic deleted between the two requests fails alone: keep the others.
        const r = responseOf(err) as Awaited<ReturnType<typeof describeConfigsV4.api.async>> | undefined;
        if (r?.results) return r;
        throw err;
      }));
      for (const r of configs.results) {
        const v = r.configs.find((x) => x.name === 'min.insync.replicas')?.value;
        if (r.errorCode === 0 && v) minIsr.set(r.resourceName, Number(v));
      }
    }
    const quorum = await this.call('DescribeQuorum', (c) => describeQuorumV2.api.async(c, [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: 0 }] }]));
    const qp = quorum.topics[0]?.partitions[0];
    const moving = await this.call('ListPartitionReassignments', (c) => listPartitionReassignmentsV0.api.async(c, REQUEST_TIMEOUT_MS, null));
    return {
      clusterId: cluster.clusterId,
      brokers: cluster.brokers.map((b) => b.brokerId).sort((a, b) => a - b),
      partitions,
      minIsr,
      quorum: qp ? {
        leader: qp.leaderId,
        epoch: qp.leaderEpoch,
        highWatermark: Number(qp.highWatermark),
        voters: qp.currentVoters.map((v) => ({ id: v.replicaId, logEndOffset: Number(v.logEndOffset), lastCaughtUpMs: Number(v.lastCaughtUpTimestamp), lastFetchMs: Number(v.lastFetchTimestamp) })),
      } : undefined,
      disagreeing: behind.sort((a, b) => a - b),
      reassigning: moving.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, replicas: p.replicas, adding: p.addingReplicas, removing: p.removingReplicas }))),
    };
  }

  /** Asks the controller to move each partition to its new replicas; throws naming every partition it refused. */
  async reassign(moves: Move[]): Promise<void> {
    if (!moves.length) return;
    const byTopic = new Map<string, Move[]>();
    for (const m of moves) byTopic.set(m.topic, [...(byTopic.get(m.topic) ?? []), m]);
    const topics = [...byTopic].map(([name, ms]) => ({ name, partitions: ms.map((m) => ({ partitionIndex: m.partition, replicas: m.replicas })) }));
    const response = await this.call('AlterPartitionReassignments', (c) => alterPartitionReassignmentsV0.api.async(c, REQUEST_TIMEOUT_MS, false, topics)
      .catch((err: unknown) => {
        const r = responseOf(err) as Awaited<ReturnType<typeof alterPartitionReassignmentsV0.api.async>> | undefined;
        if (r?.responses) return r;
        throw err;
      }));
    const refused = response.responses.flatMap((t) => t.partitions.filter((p) => p.errorCode !== 0).map((p) => `${t.name}-${p.partitionIndex}: error ${p.errorCode}${p.errorMessage ? ` (${p.errorMessage})` : ''}`));
    if (response.errorCode !== 0) refused.unshift(`error ${response.errorCode}${response.errorMessage ? ` (${response.errorMessage})` : ''}`);
    if (refused.length) throw new Error(`the controller refused the reassignment of ${refused.join(', ')}`);
  }

  /** Drops a removed broker's registration from the metadata; true when done now, false when it was not registered. */
  async unregister(id: number): Promise<boolean> {
    try {
      await this.call('UnregisterBroker', (c) => unregisterBrokerV0.api.async(c, id));
      return true;
    } catch (err) {
      const r = responseOf((err as Error).cause) as { errorCode?: number } | undefined;
      if (r?.errorCode === BROKER_ID_NOT_REGISTERED) return false;
      throw err;
    }
  }

  /** The ACLs of one principal, on any resource. */
  async aclsOf(principal: string): Promise<Acl[]> {
    const r = await this.call('DescribeAcls', (c) => describeAclsV3.api.async(c, {
      resourceType: ResourceTypes.ANY, resourceName: null, resourcePatternType: ResourcePatternTypes.ANY,
      principal, host: null, operation: AclOperations.ANY, permissionType: AclPermissionTypes.ANY,
    }));
    return r.resources.flatMap((res) => res.acls.map((a) => ({ resourceType: res.resourceType, resourceName: res.resourceName, resourcePatternType: res.resourcePatternType, ...a })));
  }

  /**
   * Creates those of the wanted ACLs the cluster does not have (read first, so a settled cluster sees no write);
   * returns the ones created, throws naming each one refused.
   */
  async ensureAcls(principal: string, wanted: Acl[]): Promise<Acl[]> {
    const missing = missingAcls(wanted, await this.aclsOf(principal));
    if (!missing.length) return [];
    const r = await this.call('CreateAcls', (c) => createAclsV3.api.async(c, missing).catch((err: unknown) => {
      const partial = responseOf(err) as Awaited<ReturnType<typeof createAclsV3.api.async>> | undefined;
      if (partial?.results) return partial;
      throw err;
    }));
    const refused = r.results.flatMap((x, i) => (x.errorCode !== 0 ? [`${JSON.stringify(missing[i])}: error ${x.errorCode}${x.errorMessage ? ` (${x.errorMessage})` : ''}`] : []));
    if (refused.length) throw new Error(`the cluster refused ACLs of ${principal}: ${refused.join(', ')}`);
    return missing;
  }

  private async drop(): Promise<void> {
    const c = this.conn;
    this.conn = undefined;
    this.connAddress = '';
    await c?.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    await Promise.all([...this.peers.values()].map((c) => c.close().catch(() => undefined)));
    this.peers.clear();
    await this.drop();
  }
}

/** What decisions depend on in a metadata response: every partition's replicas and ISR. */
function fingerprint(meta: Awaited<ReturnType<typeof metadataV12.api.async>>): string {
  return meta.topics.filter((t) => t.name && t.errorCode === 0)
    .flatMap((t) => t.partitions.map((p) => `${t.name}-${p.partitionIndex}:${p.replicaNodes.join(',')}/${[...p.isrNodes].sort((a, b) => a - b).join(',')}`))
    .sort().join(' ');
}
