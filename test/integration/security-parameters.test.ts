// Config injection through parameters, against real engines: a value that would add a directive to the engine's
// config (a line break and then skip-grant-tables, a Redis account, ZooKeeper's skipACL) is refused by the Unit
// Operator (a condition naming spec.parameters[<key>]) and by the unit agent (422 naming parameters[<key>], on both
// its parameters and config push APIs), and neither the unit's ConfigMap nor the file the engine reads ever holds it.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { AgentCallError, AgentClient } from '../../agent/client.ts';
import { readUnitAgentToken } from '../../agent/tokens.ts';
import { AGENT_PORT, type ConfigInput } from '../../agent/api.ts';
import type { UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { CONFIG_INPUT_KEY } from '../../operators/unit/naming.ts';
import { kubectlOk } from '../kubectl.ts';
import { useUnitOperator } from '../unit-operator.ts';

const CLUSTER = 'member1';
type ConfigMap = KubeObject & { data?: Record<string, string> };
type Pod = KubeObject & { status?: { podIP?: string } };

interface Case { engine: string; version: string; mount: string; file: string; key: string; payload: string; hostile: string[] }

const CASES: Case[] = [
  {
    engine: 'mariadb', version: '10.11', mount: '/var/lib/mysql', file: 'my.cnf', key: 'long_query_time', payload: 'skip-grant-tables',
    hostile: ['1\nskip-grant-tables', '1\r\nskip-grant-tables', '1\u2028skip-grant-tables'],
  },
  {
    engine: 'redis', version: '7.2', mount: '/data', file: 'redis.conf', key: 'save', payload: 'nopass',
    hostile: ['3600 1\nuser x on nopass ~* +@all', '3600 1\ruser x on nopass ~* +@all', '"3600 1" "\\nuser x on nopass'],
  },
  {
    engine: 'zookeeper', version: '3.8', mount: '/data', file: 'zoo.cfg', key: '4lw.commands.whitelist', payload: 'skipACL',
    hostile: ['srvr\nskipACL=yes', 'srvr\\\nskipACL=yes', 'srvr\u0085skipACL=yes'],
  },
];

describe('hostile parameters on real engines', () => {
  const f = useUnitOperator(CLUSTER, 'secp', { engines: true });
  let c: KubeClient;
  let ns: string;
  beforeAll(() => { c = f.client; ns = f.ns; });

  const us = (name: string) => c.get<UnitSet>(UnitSetResource, name, ns);
  const configMap = async (unit: string) => (await c.get<ConfigMap>(Resources.configMaps, `${unit}-config`, ns)).data ?? {};
  /** The file the engine reads, as the unit's agent wrote it (the local runtime keeps each pod's files by uid). */
  const engineFile = async (unit: string, file: string) => {
    const uid = (await c.get<Pod>(Resources.pods, unit, ns)).metadata.uid ?? '';
    return readFile(join(f.dir, 'runtime', 'pods', uid, 'config', file), 'utf8');
  };
  const agentOf = async (unit: string) => {
    return new AgentClient((await c.get<Pod>(Resources.pods, unit, ns)).status?.podIP ?? '', AGENT_PORT, await readUnitAgentToken(c, ns, unit));
  };
  const refused = async (call: Promise<unknown>): Promise<AgentCallError> => {
    const err = await call.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(AgentCallError);
    return err as AgentCallError;
  };

  it.each(CASES.map((x) => [x.engine, x] as const))('%s: refused by the UnitSet and the agent; the config never holds it', async (_engine, x) => {
    const name = `sec-${x.engine}`;
    const unit = `${name}-0`;
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], `
apiVersion: unit.upm.io/v1alpha1
kind: UnitSet
metadata: { name: ${name}, namespace: ${ns} }
spec:
  engine: ${x.engine}
  version: "${x.version}"
  units: 1
  resources: { limits: { cpu: 500m, memory: 256Mi } }
  storage: [{ name: data, size: 1Gi, mountPath: ${x.mount} }]
`);
    await waitFor(`${name} Ready`, async () => {
      const o = await us(name);
      return o.status?.phase === 'Ready' && o.status.readyUnits === 1 && o.status.observedGeneration === o.metadata.generation;
    }, { timeoutMs: 150_000, intervalMs: 250 });
    const before = await configMap(unit);
    const fileBefore = await engineFile(unit, x.file);
    expect(before[x.file]).toBeTruthy();

    // The member: a condition naming the field, and nothing rolled out.
    for (const value of x.hostile) {
      await kubectlOk(CLUSTER, ['patch', '-n', ns, `us/${name}`, '--type=merge', '-p', JSON.stringify({ spec: { parameters: { [x.key]: value } } })]);
      await waitFor(`${name} refuses ${JSON.stringify(value)}`, async () => {
        const o = await us(name);
        const ready = o.status?.conditions?.find((k) => k.type === 'Ready');
        return o.status?.observedGeneration === o.metadata.generation && ready?.reason === 'InvalidParameters';
      }, { timeoutMs: 30_000, intervalMs: 200 });
      const message = (await us(name)).status?.conditions?.find((k) => k.type === 'Ready')?.message ?? '';
      expect(message).toContain(`spec.parameters[${x.key}]`);
      expect(message).not.toMatch(/[\r\n\u0085\u2028]/);
    }

    // The agent, called directly: both of its APIs that take parameters.
    const agent = await agentOf(unit);
    const input = JSON.parse(before[CONFIG_INPUT_KEY] ?? '{}') as ConfigInput;
    for (const value of x.hostile) {
      const live = await refused(agent.setParameters({ [x.key]: value }));
      expect(live.code).toBe(422);
      expect(live.status?.details?.causes?.map((k) => k.field)).toEqual([`parameters[${x.key}]`]);
      const push = await refused(agent.pushConfig({ ...input, revision: 'hostile', parameters: { ...input.parameters, [x.key]: value } }));
      expect(push.code).toBe(422);
      expect(push.status?.details?.causes?.map((k) => k.field)).toEqual([`parameters[${x.key}]`]);
    }
    // Keys the template does not have are refused too.
    const unknown = await refused(agent.pushConfig({ ...input, revision: 'hostile', parameters: { ...input.parameters, [x.payload]: 'yes' } }));
    expect(unknown.status?.details?.causes?.map((k) => k.field)).toEqual([`parameters[${x.payload}]`]);

    // Neither what the operator rendered nor the file the engine reads changed or holds the injected directive.
    expect(await configMap(unit)).toEqual(before);
    const file = await engineFile(unit, x.file);
    expect(file).toBe(fileBefore);
    expect(file).not.toContain(x.payload);
    expect((await agent.status()).state).toBe('Running');
    expect((await agent.status()).configRevision).not.toBe('hostile');
  }, 240_000);
});
