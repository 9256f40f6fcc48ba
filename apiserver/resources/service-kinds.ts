// The six data service kinds (DESIGN.md section 2) described once: what every service has (engine version, topology,
// compute, storage, placement on a member cluster, engine parameters, a status that mirrors the engine objects) and
// what each kind adds (its topology, its options, its columns, the Operations it supports and how it scales).
// hack/service-crds.ts writes each kind's storage CRD (crds/hub/) from this, apiserver/resources/services.ts builds
// each kind's resource module from it, and apiserver/resources/operations.ts validates Operations against it.
import type { JsonSchema } from '../crds.ts';
import { str, type Column, type PublicObject } from './types.ts';

/** Workflows an Operation runs on a service (operations.ts). */
export const OPERATION_TYPES = [
  'Create', 'Scale', 'Restart', 'Start', 'Stop', 'Switchover', 'Failover', 'Upgrade', 'Reconfigure', 'Backup', 'Restore',
  'CreateDatabase', 'DropDatabase', 'CreateUser', 'AlterUser', 'DropUser', 'Grant',
] as const;
export type OperationType = (typeof OPERATION_TYPES)[number];

const LIFECYCLE: OperationType[] = ['Create', 'Scale', 'Restart', 'Start', 'Stop', 'Upgrade', 'Reconfigure'];

/** One number of a topology an Operation of type Scale may change (`spec.scale.replicas`, `spec.scale.shards`). */
export interface ScaleField {
  /** Where the number lives in the service's spec, e.g. ['topology', 'replicas']. */
  path: string[];
  /** Its value when the spec leaves it out (the CRD's default). */
  default: (spec: Record<string, unknown>) => number;
  min: number;
  max: number;
  odd?: boolean;
  /** What the number counts, for messages: "servers", "brokers". */
  noun: string;
  /** Why it cannot change for this spec (e.g. a standalone topology), or undefined. */
  fixed?: (spec: Record<string, unknown>) => string | undefined;
}

export interface ServiceKind {
  plural: string;
  singular: string;
  kind: string;
  shortNames: string[];
  /** The engine as people name it: "MySQL". */
  title: string;
  description: string;
  /** Engine template families this kind runs (`<family>-<version>` in config/templates). */
  families: string[];
  /** The template family a spec asks for. */
  family(spec: Record<string, unknown>): string;
  /** The spec field that chooses the family when there are several (`engine`, `distribution`). */
  familyField?: string;
  versionExample: string;
  /** Fields of spec beside the shared ones (e.g. Elasticsearch's distribution). */
  specFields?: Record<string, JsonSchema>;
  topology: JsonSchema;
  /** spec.options beside parameters. */
  options?: Record<string, JsonSchema>;
  /** What spec.options.parameters configure, for their description. */
  parametersOf: string;
  /** CEL rules on spec (messages start with the field path). */
  specRules?: { rule: string; message: string }[];
  /** status fields beside the shared ones. */
  statusFields?: Record<string, JsonSchema>;
  /** Columns after Name, and extra columns shown with -o wide. */
  columns: Column[];
  wideColumns?: Column[];
  /** Templates beyond the engine's own that a spec needs (e.g. Sentinel's), with the field that asks for them. */
  extraTemplates?(spec: Record<string, unknown>): { template: string; field: string }[];
  operations: OperationType[];
  /** What spec.stopped and spec.restart do for this kind beyond the shared words (the schema descriptions). */
  stopNote?: string;
  restartNote: string;
  scale: { replicas: ScaleField; shards?: ScaleField };
}

// ---- schema pieces ----------------------------------------------------------------------------------------------

const QUANTITY = '^[+]?[0-9]+(\\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$';
export const quantity = (description: string, extra: JsonSchema = {}): JsonSchema => ({
  'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }], pattern: QUANTITY, ...extra, description,
});
const int = (minimum: number, maximum: number, description: string, extra: JsonSchema = {}): JsonSchema => ({ type: 'integer', format: 'int32', minimum, maximum, ...extra, description });
const conditions: JsonSchema = {
  type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'],
  items: {
    type: 'object', required: ['type', 'status'],
    properties: {
      type: { type: 'string' }, status: { type: 'string' }, reason: { type: 'string' }, message: { type: 'string' },
      lastTransitionTime: { type: 'string', format: 'date-time' }, observedGeneration: { type: 'integer', format: 'int64' },
    },
  },
};

/** spec and status of a service kind: the shared fields with the kind's own. Pure. */
export function serviceSchema(k: ServiceKind): JsonSchema {
  const spec: JsonSchema = {
    type: 'object',
    required: ['version', 'placement'],
    ...(k.specRules?.length ? { 'x-kubernetes-validations': k.specRules } : {}),
    properties: {
      ...k.specFields,
      version: {
        type: 'string', maxLength: 32, pattern: '^[0-9]+\\.[0-9]+$',
        description: `${k.title} version, e.g. "${k.versionExample}"; the hub must have an engine template ${k.familyField ? `<${k.familyField}>` : k.families[0]}-<version>.`,
      },
      deletionPolicy: {
        type: 'string', enum: ['Delete', 'Retain'], default: 'Delete',
        description: 'What deleting the service does to its data on the member: Delete removes the volumes and the credentials Secret with the servers; Retain keeps them (status.retained says where).',
      },
      // Objects default to {} so the defaults of their fields apply to a spec that leaves them out.
      topology: { ...k.topology, default: {} },
      resources: {
        type: 'object', description: 'Compute resources of each server.',
        properties: { cpu: quantity('CPU, e.g. "500m" or 2.'), memory: quantity('Memory, e.g. "4Gi".') },
      },
      storage: {
        type: 'object',
        default: {},
        properties: {
          size: quantity('Data volume size per server, e.g. "20Gi"; it may grow, never shrink.', {
            default: '10Gi',
            'x-kubernetes-validations': [{ rule: "type(self) != string || type(oldSelf) != string || !isQuantity(self) || !isQuantity(oldSelf) || quantity(self).compareTo(quantity(oldSelf)) >= 0", message: 'spec.storage.size: may only grow' }],
          }),
          storageClassName: { type: 'string', maxLength: 253, description: "A storage class the cluster offers (its status.storageClasses, within spec.storageClasses; its default when left out)." },
        },
      },
      placement: {
        type: 'object', required: ['cluster'],
        properties: {
          // Moving a service would leave its objects on the old member: it is deleted and created anew instead.
          cluster: {
            type: 'string', minLength: 1, maxLength: 253, description: 'The member Cluster the service runs on. Immutable.',
            'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'spec.placement.cluster: is immutable' }],
          },
          zones: { type: 'array', maxItems: 16, items: { type: 'string', maxLength: 63 }, 'x-kubernetes-list-type': 'set', description: "Zones of the cluster (its status.zones, within spec.zones) to spread the servers over." },
          nodeGroup: { type: 'string', maxLength: 63, description: "A node group of the cluster (its status.nodeGroups or spec.nodeGroups) to run on." },
        },
      },
      stopped: {
        type: 'boolean', default: false,
        description: `True stops every engine of the service in place (volumes and data stay; status.phase becomes Stopped); false starts them again. ${k.stopNote ?? ''}`.trim(),
      },
      restart: {
        type: 'object', required: ['id'],
        description: `A request to restart every engine of the service once, one server at a time, each next one only after the previous serves again. A new id is a new request; an id already carried out is never done again (status.restart says how far it got). ${k.restartNote}`,
        properties: {
          id: { type: 'string', minLength: 1, maxLength: 128, description: 'Names the request (an Operation of type Restart writes its uid).' },
          order: {
            type: 'array', maxItems: 64, 'x-kubernetes-list-type': 'set', items: { type: 'string', maxLength: 253 },
            description: 'Servers in the order the engine needs (an Operation writes replicas before the source); servers not named go first, in ordinal order.',
          },
          servers: {
            type: 'array', minItems: 1, maxItems: 64, 'x-kubernetes-list-type': 'set', items: { type: 'string', maxLength: 253 },
            description: 'Only these servers restart, in the order spec.restart.order gives among them; the others are left alone. Every server when left out. Kafka and ZooKeeper restart them in their own order among them (the active controller, the leader last); OpenSearch/Elasticsearch restarts every server.',
          },
        },
      },
      options: {
        type: 'object',
        properties: {
          ...k.options,
          parameters: {
            type: 'object', maxProperties: 256, additionalProperties: { type: 'string', maxLength: 1024 },
            description: `${k.parametersOf} parameters, checked against the engine template.`,
          },
        },
      },
    },
  };
  const status: JsonSchema = {
    type: 'object',
    properties: {
      observedGeneration: { type: 'integer', format: 'int64' },
      phase: { type: 'string', enum: ['Pending', 'Creating', 'Ready', 'Updating', 'Degraded', 'Failed', 'Deleting', 'Stopped'] },
      ready: { type: 'string', description: 'ready servers / servers' },
      version: { type: 'string', description: 'The version every server runs (empty while they differ).' },
      endpoints: {
        type: 'array', description: 'Where clients connect: the member Services and the addresses behind them.',
        items: {
          type: 'object', required: ['name', 'role'],
          properties: {
            name: { type: 'string', description: 'The Service on the member, in the namespace of the project.' },
            role: { type: 'string', description: 'readwrite, readonly, or what else the kind offers (e.g. proxysql).' },
            addresses: { type: 'array', items: { type: 'string' }, description: 'The server addresses behind it now.' },
            port: { type: 'integer', format: 'int32' },
          },
        },
      },
      units: {
        type: 'array', description: 'Every server: its role, readiness, node and zone, its replication lag and the size of its data volume.',
        items: {
          type: 'object', required: ['name', 'ready'],
          properties: {
            name: { type: 'string' }, role: { type: 'string' }, ready: { type: 'boolean' }, node: { type: 'string' }, zone: { type: 'string' },
            lagSeconds: { type: 'integer', format: 'int64', description: 'How far a replica is behind its source, in seconds, as its engine reports it (MySQL and MariaDB).' },
            storage: { type: 'string', description: 'The capacity of its data volume as the member reports it (the claim\'s status.capacity).' },
          },
        },
      },
      lastFailover: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, description: 'The last failover the engine layer recorded (time, from, to, reason).' },
      connectionSecret: { type: 'string', description: 'The Secret in this namespace with host, port, user and password of the application account.' },
      retained: {
        type: 'object', description: 'With spec.deletionPolicy Retain: what was kept on the member, and where.',
        properties: {
          cluster: { type: 'string' }, namespace: { type: 'string' },
          claims: { type: 'array', items: { type: 'string' } }, secrets: { type: 'array', items: { type: 'string' } },
        },
      },
      restart: {
        type: 'object', description: 'Progress of spec.restart on the member.',
        properties: {
          id: { type: 'string', description: 'The spec.restart.id this progress is for.' },
          phase: { type: 'string', enum: ['Waiting', 'Restarting', 'Complete', 'Invalid'], description: 'Complete once every server named was restarted for this id and serves again.' },
          current: { type: 'string', description: 'The server being restarted now.' },
          done: { type: 'array', items: { type: 'string' }, description: 'Servers restarted for this id, in the order they were.' },
          message: { type: 'string' },
        },
      },
      ...k.statusFields,
      conditions,
    },
  };
  return {
    type: 'object', description: k.description, required: ['spec'],
    properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, spec, status },
  };
}

// ---- the kinds --------------------------------------------------------------------------------------------------

const at = (o: PublicObject, ...path: string[]): unknown => path.reduce<unknown>((v, p) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined), o.spec);
const num = (v: unknown, dflt: number | null = null) => (typeof v === 'number' ? v : dflt);
const specNum = (spec: Record<string, unknown>, path: string[], dflt: number) => {
  const v = path.reduce<unknown>((x, p) => (x && typeof x === 'object' ? (x as Record<string, unknown>)[p] : undefined), spec);
  return typeof v === 'number' ? v : dflt;
};
const topo = (spec: Record<string, unknown>) => (spec.topology ?? {}) as Record<string, unknown>;
const col = (name: string, description: string, cell: Column['cell'], type: Column['type'] = 'string'): Column => ({ name, type, description, cell });
const versionCol = col('Version', 'Engine version.', (o) => str(o.spec?.version));
/** Servers of a standalone-or-replicated topology: 1 when standalone, else spec.topology.replicas (default 2). */
const modeReplicas = (spec: Record<string, unknown>) => (topo(spec).mode === 'standalone' ? 1 : specNum(spec, ['topology', 'replicas'], 2));
const standaloneFixed = (title: string) => (spec: Record<string, unknown>) => (topo(spec).mode === 'standalone' ? `a standalone ${title} has one server; change spec.topology.mode first` : undefined);

/** For the kinds whose compose object deletes its servers' volumes with it: Retain could not keep the data. */
const noRetain = (composeKind: string) => ({
  rule: "!has(self.deletionPolicy) || self.deletionPolicy != 'Retain'",
  message: `spec.deletionPolicy: Retain is not supported for this kind: its ${composeKind} deletes the volumes of its servers with it`,
});

const mysql: ServiceKind = {
  plural: 'mysqlservices', singular: 'mysqlservice', kind: 'MysqlService', shortNames: ['mysql'],
  title: 'MySQL', description: 'A MySQL service of a project, placed on one member cluster.',
  families: ['mysql', 'mariadb'], family: (spec) => (spec.engine === 'mariadb' ? 'mariadb' : 'mysql'), familyField: 'engine',
  versionExample: '8.0', parametersOf: 'my.cnf',
  specFields: {
    engine: {
      type: 'string', enum: ['mysql', 'mariadb'], default: 'mysql',
      description: 'mysql (versions 8.0, 8.4), or mariadb (e.g. "10.11": the MySQL-compatible server that runs everywhere). Immutable.',
      'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'spec.engine: is immutable' }],
    },
  },
  topology: {
    type: 'object',
    'x-kubernetes-validations': [{ rule: "!has(self.mode) || self.mode != 'standalone' || !has(self.replicas) || self.replicas == 1", message: 'spec.topology.replicas: must be 1 when spec.topology.mode is standalone' }],
    properties: {
      mode: { type: 'string', enum: ['standalone', 'async', 'semisync'], default: 'async', description: 'standalone: one server; async or semisync: a source and replicas.' },
      replicas: int(1, 9, 'Number of MySQL servers, the source included (default: 1 for standalone, 2 otherwise).'),
    },
  },
  options: {
    proxysql: { type: 'object', description: 'ProxySQL in front of the servers.', properties: { enabled: { type: 'boolean' }, replicas: int(1, 5, 'ProxySQL instances.') } },
    failover: {
      type: 'object', description: 'What happens when the source is lost.',
      properties: { automatic: { type: 'boolean', description: 'Promote the most advanced replica once the source is unreachable for a few seconds (the default, true); false leaves it to an Operation of type Failover.' } },
    },
  },
  statusFields: { source: { type: 'string', description: 'The server that takes writes.' } },
  columns: [
    col('Engine', 'mysql or mariadb.', (o) => str(o.spec?.engine) || 'mysql'),
    versionCol,
    col('Mode', 'standalone, async or semisync.', (o) => str(at(o, 'topology', 'mode')) || 'async'),
    col('Replicas', 'MySQL servers, the source included.', (o) => num(at(o, 'topology', 'replicas')) ?? (at(o, 'topology', 'mode') === 'standalone' ? 1 : 2), 'integer'),
  ],
  wideColumns: [col('Source', 'The server that takes writes.', (o) => str(o.status?.source))],
  stopNote: 'ProxySQL instances (spec.options.proxysql) hold no data and keep running.',
  restartNote: 'The MySQL servers restart; ProxySQL instances do not.',
  operations: [...LIFECYCLE, 'Switchover', 'Failover', 'Backup', 'Restore', 'CreateDatabase', 'DropDatabase', 'CreateUser', 'AlterUser', 'DropUser', 'Grant'],
  scale: { replicas: { path: ['topology', 'replicas'], default: modeReplicas, min: 1, max: 9, noun: 'servers', fixed: standaloneFixed('MysqlService') } },
};

const redis: ServiceKind = {
  plural: 'redisservices', singular: 'redisservice', kind: 'RedisService', shortNames: ['redis'],
  title: 'Redis', description: 'A Redis service of a project (one server, or a master and replicas, optionally watched by Sentinel), placed on one member cluster.',
  families: ['redis'], family: () => 'redis', versionExample: '7.2', parametersOf: 'redis.conf',
  topology: {
    type: 'object',
    'x-kubernetes-validations': [{ rule: "!has(self.mode) || self.mode != 'standalone' || !has(self.replicas) || self.replicas == 1", message: 'spec.topology.replicas: must be 1 when spec.topology.mode is standalone' }],
    properties: {
      mode: { type: 'string', enum: ['standalone', 'replication'], default: 'replication', description: 'standalone: one server; replication: a master and replicas.' },
      replicas: int(1, 9, 'Number of Redis servers, the master included (default: 1 for standalone, 2 otherwise).'),
    },
  },
  options: {
    sentinel: {
      type: 'object', description: 'Redis Sentinel watching the master and failing over to a replica.',
      'x-kubernetes-validations': [{ rule: '!has(self.quorum) || self.quorum <= (has(self.replicas) ? self.replicas : 3)', message: 'spec.options.sentinel.quorum: may not exceed spec.options.sentinel.replicas' }],
      properties: {
        enabled: { type: 'boolean' },
        replicas: { type: 'integer', format: 'int32', enum: [3, 5, 7], default: 3, description: 'Sentinel instances: 3, 5 or 7.' },
        quorum: int(1, 7, 'Sentinels that must agree the master is down (default: a majority).'),
      },
    },
  },
  specRules: [{
    rule: "!has(self.options) || !has(self.options.sentinel) || !has(self.options.sentinel.enabled) || !self.options.sentinel.enabled || !has(self.topology) || !has(self.topology.mode) || self.topology.mode != 'standalone'",
    message: 'spec.options.sentinel.enabled: Sentinel needs replicas: set spec.topology.mode to replication',
  }],
  statusFields: { master: { type: 'string', description: 'The server that takes writes.' } },
  columns: [
    versionCol,
    col('Mode', 'standalone or replication.', (o) => str(at(o, 'topology', 'mode')) || 'replication'),
    col('Replicas', 'Redis servers, the master included.', (o) => num(at(o, 'topology', 'replicas')) ?? (at(o, 'topology', 'mode') === 'standalone' ? 1 : 2), 'integer'),
    col('Sentinels', 'Sentinel instances (0: no Sentinel).', (o) => (at(o, 'options', 'sentinel', 'enabled') === true ? num(at(o, 'options', 'sentinel', 'replicas'), 3) : 0), 'integer'),
  ],
  wideColumns: [col('Master', 'The server that takes writes.', (o) => str(o.status?.master))],
  extraTemplates: (spec) => {
    const s = ((spec.options ?? {}) as { sentinel?: { enabled?: boolean } }).sentinel;
    return s?.enabled ? [{ template: `redis-sentinel-${str(spec.version)}`, field: 'spec.options.sentinel.enabled' }] : [];
  },
  stopNote: 'Sentinels stop and start with the servers.',
  restartNote: 'The Sentinels restart too, one at a time, beside the servers (a quorum of them stays up).',
  operations: [...LIFECYCLE, 'Switchover', 'Failover', 'Backup', 'Restore'],
  scale: { replicas: { path: ['topology', 'replicas'], default: modeReplicas, min: 1, max: 9, noun: 'servers', fixed: standaloneFixed('RedisService') } },
};

const rediscluster: ServiceKind = {
  plural: 'redisclusterservices', singular: 'redisclusterservice', kind: 'RedisClusterService', shortNames: ['rediscluster'],
  title: 'Redis', description: 'A Redis Cluster service of a project (hash slots over shards, each a master and its replicas), placed on one member cluster.',
  families: ['redis'], family: () => 'redis', versionExample: '7.2', parametersOf: 'redis.conf',
  topology: {
    type: 'object',
    properties: {
      shards: int(3, 128, 'Number of shards (masters owning hash slots); at least 3.', { default: 3 }),
      replicasPerShard: int(0, 5, 'Replicas of each shard\'s master.', { default: 1 }),
    },
  },
  statusFields: {
    slotsAssigned: { type: 'integer', format: 'int32', description: 'Hash slots assigned (16384 when complete).' },
    shards: { type: 'integer', format: 'int32', description: 'Shards whose master holds hash slots.' },
    reshard: { type: 'string', description: 'The slot move in progress (why, slots left, from and to); empty when no slot moves.' },
    leavingNodes: { type: 'integer', format: 'int32', description: 'Nodes that left the spec and are still in the cluster (drained, then forgotten).' },
  },
  columns: [
    versionCol,
    col('Shards', 'Shards (masters owning hash slots).', (o) => num(at(o, 'topology', 'shards'), 3), 'integer'),
    col('Replicas Per Shard', 'Replicas of each master.', (o) => num(at(o, 'topology', 'replicasPerShard'), 1), 'integer'),
  ],
  wideColumns: [col('Slots', 'Hash slots assigned.', (o) => num(o.status?.slotsAssigned), 'integer')],
  restartNote: 'spec.restart.order names servers of any shard.',
  operations: [...LIFECYCLE, 'Failover', 'Backup', 'Restore'],
  scale: {
    replicas: { path: ['topology', 'replicasPerShard'], default: (s) => specNum(s, ['topology', 'replicasPerShard'], 1), min: 0, max: 5, noun: 'replicas per shard' },
    shards: { path: ['topology', 'shards'], default: (s) => specNum(s, ['topology', 'shards'], 3), min: 3, max: 128, noun: 'shards' },
  },
};

const kafka: ServiceKind = {
  plural: 'kafkaservices', singular: 'kafkaservice', kind: 'KafkaService', shortNames: ['kafka'],
  title: 'Kafka', description: 'A Kafka service of a project (KRaft: brokers, and controllers of their own or among the brokers), placed on one member cluster.',
  families: ['kafka'], family: () => 'kafka', versionExample: '3.9', parametersOf: 'server.properties',
  topology: {
    type: 'object',
    properties: {
      brokers: int(1, 32, 'Number of brokers.', { default: 3 }),
      dedicatedControllers: { type: 'integer', format: 'int32', enum: [0, 1, 3, 5], default: 0, description: 'KRaft controllers of their own: 0 (the default) makes the first brokers (up to 3) the controllers too.' },
    },
  },
  options: {
    defaultReplicationFactor: int(1, 5, 'Replication factor of topics created without one; at most the number of brokers.'),
  },
  specRules: [{
    rule: '!has(self.options) || !has(self.options.defaultReplicationFactor) || self.options.defaultReplicationFactor <= (has(self.topology) && has(self.topology.brokers) ? self.topology.brokers : 3)',
    message: 'spec.options.defaultReplicationFactor: may not exceed spec.topology.brokers',
  }, noRetain('KafkaCluster')],
  statusFields: { controller: { type: 'string', description: 'The active KRaft controller.' } },
  columns: [
    versionCol,
    col('Brokers', 'Kafka brokers.', (o) => num(at(o, 'topology', 'brokers'), 3), 'integer'),
    col('Controllers', 'KRaft controllers of their own (0: among the brokers).', (o) => num(at(o, 'topology', 'dedicatedControllers'), 0), 'integer'),
  ],
  wideColumns: [col('Active Controller', 'The active KRaft controller.', (o) => str(o.status?.controller))],
  stopNote: 'Every broker and controller stops at once (the KafkaCluster holds still: no reassignment, scaling or restart while stopped).',
  restartNote: 'The KafkaCluster restarts its brokers (all, or those spec.restart.servers names) in its own order, the active controller last; spec.restart.order is not used.',
  operations: [...LIFECYCLE],
  scale: { replicas: { path: ['topology', 'brokers'], default: (s) => specNum(s, ['topology', 'brokers'], 3), min: 1, max: 32, noun: 'brokers' } },
};

const zookeeper: ServiceKind = {
  plural: 'zookeeperservices', singular: 'zookeeperservice', kind: 'ZookeeperService', shortNames: ['zk'],
  title: 'ZooKeeper', description: 'A ZooKeeper ensemble of a project, placed on one member cluster.',
  families: ['zookeeper'], family: () => 'zookeeper', versionExample: '3.8', parametersOf: 'zoo.cfg',
  topology: {
    type: 'object',
    properties: {
      replicas: int(1, 7, 'Number of servers: 1, 3, 5 or 7 (an ensemble needs a majority).', {
        default: 3,
        'x-kubernetes-validations': [{ rule: 'self % 2 == 1', message: 'spec.topology.replicas: must be odd (1, 3, 5 or 7): an ensemble needs a majority' }],
      }),
    },
  },
  specRules: [noRetain('ZookeeperEnsemble')],
  statusFields: { leader: { type: 'string', description: 'The server that leads the ensemble.' } },
  columns: [versionCol, col('Replicas', 'ZooKeeper servers.', (o) => num(at(o, 'topology', 'replicas'), 3), 'integer')],
  wideColumns: [col('Leader', 'The server that leads the ensemble.', (o) => str(o.status?.leader))],
  stopNote: 'Every server stops at once (the ZookeeperEnsemble holds still: no reconfiguration while stopped).',
  restartNote: 'The ZookeeperEnsemble restarts follower by follower (all, or those spec.restart.servers names), the leader last; spec.restart.order is not used.',
  operations: [...LIFECYCLE],
  // The ZookeeperEnsemble runs 3 to 9 voting servers, odd.
  scale: { replicas: { path: ['topology', 'replicas'], default: (s) => specNum(s, ['topology', 'replicas'], 3), min: 3, max: 7, odd: true, noun: 'servers' } },
};

const elasticsearch: ServiceKind = {
  plural: 'elasticsearchservices', singular: 'elasticsearchservice', kind: 'ElasticsearchService', shortNames: ['es'],
  title: 'Elasticsearch (or OpenSearch)', description: 'An Elasticsearch or OpenSearch service of a project, placed on one member cluster.',
  families: ['elasticsearch', 'opensearch'], family: (spec) => (spec.distribution === 'opensearch' ? 'opensearch' : 'elasticsearch'), familyField: 'distribution',
  versionExample: '8.17', parametersOf: 'elasticsearch.yml (opensearch.yml)',
  specFields: {
    distribution: { type: 'string', enum: ['elasticsearch', 'opensearch'], default: 'elasticsearch', description: 'elasticsearch, or opensearch (its open-source fork, e.g. version "2.19").' },
  },
  topology: {
    type: 'object',
    properties: {
      dataNodes: int(1, 32, 'Number of data nodes.', { default: 3 }),
      dedicatedMasters: { type: 'integer', format: 'int32', enum: [0, 3], default: 0, description: 'Master-eligible nodes of their own: 0 (the default: the data nodes are master-eligible) or 3.' },
    },
  },
  specRules: [noRetain('ElasticsearchCluster')],
  statusFields: { health: { type: 'string', enum: ['green', 'yellow', 'red'], description: 'The cluster health.' } },
  columns: [
    col('Distribution', 'elasticsearch or opensearch.', (o) => str(o.spec?.distribution) || 'elasticsearch'),
    versionCol,
    col('Data Nodes', 'Data nodes.', (o) => num(at(o, 'topology', 'dataNodes'), 3), 'integer'),
    col('Masters', 'Dedicated master nodes (0: the data nodes).', (o) => num(at(o, 'topology', 'dedicatedMasters'), 0), 'integer'),
  ],
  wideColumns: [col('Health', 'The cluster health.', (o) => str(o.status?.health))],
  stopNote: 'A full-cluster stop: replica allocation is paused and the shards flushed, then every node stops at once; after the start allocation resumes once every node has rejoined.',
  restartNote: 'The ElasticsearchCluster restarts node by node, each next one only at green; spec.restart.order is not used.',
  operations: [...LIFECYCLE, 'Backup', 'Restore'],
  scale: { replicas: { path: ['topology', 'dataNodes'], default: (s) => specNum(s, ['topology', 'dataNodes'], 3), min: 1, max: 32, noun: 'data nodes' } },
};

export const SERVICE_KINDS: readonly ServiceKind[] = [mysql, redis, rediscluster, kafka, zookeeper, elasticsearch];

export const serviceKindOf = (kind: string): ServiceKind | undefined => SERVICE_KINDS.find((k) => k.kind === kind);
