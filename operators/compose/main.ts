// The Compose Operator process: `node operators/compose/main.ts [--kubeconfig FILE] [--namespace NS]
// [--health-port N] [--leader-elect] [--kinds a,b]`. It owns topology (replication, failover, read/write split,
// cluster slots), never pods. Each kind lives in its own folder and registers its controller here.
import { parseArgs } from 'node:util';
import { UnitResource, type Unit } from '../../lib/api/unit.upm.io.generated.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { runUntilSignalled } from '../../lib/manager.ts';
import { controllerProcess, MANAGER_FLAGS } from '../../lib/process.ts';
import { LABEL_UNIT } from '../unit/naming.ts';
import type { ComposeContext, Secret } from './common/context.ts';
import { registerElasticsearchCluster } from './elasticsearch/register.ts';
import { registerKafkaCluster } from './kafka/register.ts';
import { registerMysqlReplication } from './mysql/register.ts';
import { registerProxysqlSync } from './proxysql/register.ts';
import { registerRedisCluster } from './rediscluster/register.ts';
import { registerRedisReplication } from './redis/register.ts';
import { registerZookeeperEnsemble } from './zookeeper/register.ts';

/** Every kind the operator runs, by controller name. */
const KINDS: Record<string, (ctx: ComposeContext) => void> = {
  elasticsearchcluster: registerElasticsearchCluster,
  kafkacluster: registerKafkaCluster,
  mysqlreplication: registerMysqlReplication,
  proxysqlsync: registerProxysqlSync,
  rediscluster: registerRedisCluster,
  redisreplication: registerRedisReplication,
  zookeeperensemble: registerZookeeperEnsemble,
};

const COMPONENT = 'upm-compose-operator';
const { values } = parseArgs({
  options: {
    ...MANAGER_FLAGS,
    namespace: { type: 'string' },
    concurrency: { type: 'string', default: '4' },
    kinds: { type: 'string', default: Object.keys(KINDS).join(',') },
  },
});

const { log, client, manager, events } = await controllerProcess(COMPONENT, values);
const kinds = values.kinds.split(',').map((k) => k.trim()).filter(Boolean);
const unknown = kinds.filter((k) => !KINDS[k]);
if (unknown.length) {
  log.error({ unknown, known: Object.keys(KINDS) }, '--kinds names kinds this operator does not have');
  process.exit(2);
}
const namespace = values.namespace;

const ctx: ComposeContext = {
  manager,
  client,
  events,
  ...(namespace ? { namespace } : {}),
  concurrency: Number(values.concurrency),
  units: manager.informer<Unit>(UnitResource, { namespace }),
  pods: manager.informer<KubeObject>(Resources.pods, { namespace, labelSelector: LABEL_UNIT }),
  secrets: manager.informer<Secret>(Resources.secrets, { namespace }),
};
for (const k of kinds) KINDS[k]?.(ctx);

log.info({ namespace: namespace ?? '(all)', kinds }, 'starting');
await runUntilSignalled(manager);
