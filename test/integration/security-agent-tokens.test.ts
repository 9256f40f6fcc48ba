// Agent tokens are per unit: whatever the pod of unit A is given (its env, its envFrom, its mounted Secrets) opens
// unit A's agent and no other, so a compromised agent container cannot drive a neighbour's engine. The operators
// still reach every agent, and a restarted operator rotates nothing.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { AGENT_CONTAINER, AGENT_PORT, AGENT_TOKEN_KEY, AGENT_TOKEN_SECRET, ENV_AGENT_TOKEN } from '../../agent/api.ts';
import { AgentCallError, AgentClient } from '../../agent/client.ts';
import { readUnitAgentToken } from '../../agent/tokens.ts';
import type { Unit, UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { UnitResource, UnitSetResource } from '../../lib/api/unit.upm.io.generated.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { kubectlOk } from '../kubectl.ts';
import { useUnitOperator } from '../unit-operator.ts';

const CLUSTER = 'member1';
const READY_MS = 120_000;

type Secret = KubeObject & { data?: Record<string, string> };
interface EnvVar { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }
interface Container { name: string; env?: EnvVar[]; envFrom?: { secretRef?: { name: string } }[] }
interface SecretVolume { secretName?: string; items?: { key: string }[] }
interface Pod extends KubeObject {
  spec: { containers: Container[]; initContainers?: Container[]; volumes?: { secret?: SecretVolume; projected?: { sources?: { secret?: { name: string; items?: { key: string }[] } }[] } }[] };
  status?: { podIP?: string };
}

/** Every Secret value a kubelet would hand to the pod: env Secret keys, envFrom Secrets, Secret volumes. */
async function secretsHeldBy(c: KubeClient, pod: Pod): Promise<Map<string, string>> {
  const ns = pod.metadata.namespace;
  const held = new Map<string, string>();
  const take = async (name: string, keys?: string[]) => {
    const s = await c.get<Secret>(Resources.secrets, name, ns);
    for (const [k, v] of Object.entries(s.data ?? {})) if (!keys || keys.includes(k)) held.set(`${name}/${k}`, Buffer.from(v, 'base64').toString('utf8'));
  };
  for (const ct of [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]) {
    for (const e of ct.env ?? []) if (e.valueFrom?.secretKeyRef) await take(e.valueFrom.secretKeyRef.name, [e.valueFrom.secretKeyRef.key]);
    for (const e of ct.envFrom ?? []) if (e.secretRef) await take(e.secretRef.name);
  }
  for (const v of pod.spec.volumes ?? []) {
    if (v.secret?.secretName) await take(v.secret.secretName, v.secret.items?.map((i) => i.key));
    for (const src of v.projected?.sources ?? []) if (src.secret) await take(src.secret.name, src.secret.items?.map((i) => i.key));
  }
  return held;
}

/** The token the pod's agent container is given (resolved as a kubelet would). */
async function agentTokenOf(c: KubeClient, pod: Pod): Promise<string> {
  const ref = pod.spec.containers.find((ct) => ct.name === AGENT_CONTAINER)?.env?.find((e) => e.name === ENV_AGENT_TOKEN)?.valueFrom?.secretKeyRef;
  expect(ref).toBeDefined();
  const s = await c.get<Secret>(Resources.secrets, ref?.name ?? '', pod.metadata.namespace);
  return Buffer.from(s.data?.[ref?.key ?? ''] ?? '', 'base64').toString('utf8');
}

/** The HTTP status an agent answers a status call with. */
const statusCode = (ip: string, token: string): Promise<number> =>
  new AgentClient(ip, AGENT_PORT, token).status().then(() => 200, (e: unknown) => (e instanceof AgentCallError ? e.code : Promise.reject(e)));

describe('agent tokens scoped to one unit', () => {
  const f = useUnitOperator(CLUSTER, 'agenttok', { engines: true });
  let c: KubeClient;
  let ns: string;
  const units = ['tok-0', 'tok-1'];
  const pod = (name: string) => c.get<Pod>(Resources.pods, name, ns);
  const waitReady = () => waitFor('UnitSet tok Ready', async () => {
    const us = await c.get<UnitSet>(UnitSetResource, 'tok', ns);
    return us.status?.phase === 'Ready' && us.status.readyUnits === 2;
  }, { timeoutMs: READY_MS, intervalMs: 250 });

  beforeAll(async () => {
    c = f.client;
    ns = f.ns;
    await kubectlOk(CLUSTER, ['apply', '-f', '-'], `
apiVersion: unit.upm.io/v1alpha1
kind: UnitSet
metadata: { name: tok, namespace: ${ns} }
spec:
  engine: redis
  version: "7.2"
  units: 2
  storage: [{ name: data, size: 1Gi, mountPath: /data }]
`);
    await waitReady();
  }, READY_MS + 30_000);

  it('opens each agent with its own unit\'s token and no other', async () => {
    const [a, b] = await Promise.all(units.map(pod)) as [Pod, Pod];
    const tokenA = await agentTokenOf(c, a);
    const tokenB = await agentTokenOf(c, b);
    expect(tokenA.length).toBeGreaterThanOrEqual(32);
    expect(await statusCode(a.status?.podIP ?? '', tokenA)).toBe(200);
    expect(await statusCode(b.status?.podIP ?? '', tokenB)).toBe(200);
    expect({ 'A token at B': await statusCode(b.status?.podIP ?? '', tokenA), 'B token at A': await statusCode(a.status?.podIP ?? '', tokenB) })
      .toEqual({ 'A token at B': 401, 'B token at A': 401 });
    expect(tokenB).not.toBe(tokenA);
  });

  it('lets the operators, holding the namespace key, open every agent; the key itself opens none', async () => {
    const nsKey = Buffer.from((await c.get<Secret>(Resources.secrets, AGENT_TOKEN_SECRET, ns)).data?.[AGENT_TOKEN_KEY] ?? '', 'base64').toString('utf8');
    expect(nsKey.length).toBeGreaterThanOrEqual(32);
    for (const u of units) {
      const p = await pod(u);
      expect([u, await statusCode(p.status?.podIP ?? '', await readUnitAgentToken(c, ns, u))]).toEqual([u, 200]);
      expect([u, await statusCode(p.status?.podIP ?? '', nsKey)]).toEqual([u, 401]);
      expect([...(await secretsHeldBy(c, p)).values()]).not.toContain(nsKey);
    }
  });

  it('gives the pod of one unit nothing that opens another unit\'s agent', async () => {
    const [a, b] = await Promise.all(units.map(pod)) as [Pod, Pod];
    const tokenB = await agentTokenOf(c, b);
    const heldByA = await secretsHeldBy(c, a);
    expect([...heldByA.values()]).not.toContain(tokenB);
    expect(JSON.stringify(a)).not.toContain(tokenB);
    // Not just B's token: no value unit A's pod holds opens B's agent.
    for (const [where, value] of heldByA) expect([where, await statusCode(b.status?.podIP ?? '', value)]).toEqual([where, 401]);
  });

  it('keeps every unit\'s token across an operator restart, and the operator still drives every agent', async () => {
    const before = await Promise.all(units.map(async (u) => agentTokenOf(c, await pod(u))));
    const revisions = await Promise.all(units.map(async (u) => (await c.get<Unit>(UnitResource, u, ns)).spec.configRevision));
    await f.restart();
    // A change the operator must push to each agent (the unit's status revision is what the agent reports): proof
    // it still holds what opens them.
    await c.patch(UnitSetResource, 'tok', { spec: { parameters: { maxmemory: '100mb' } } }, 'merge', { namespace: ns });
    await waitFor('both agents took the new config', async () => {
      const us = await Promise.all(units.map((u) => c.get<Unit>(UnitResource, u, ns)));
      return us.every((u, i) => u.spec.configRevision !== revisions[i] && u.status?.configRevision === u.spec.configRevision);
    }, { timeoutMs: 60_000, intervalMs: 250 });
    expect(await Promise.all(units.map(async (u) => agentTokenOf(c, await pod(u))))).toEqual(before);
    for (const [i, u] of units.entries()) expect(await statusCode((await pod(u)).status?.podIP ?? '', before[i] ?? '')).toBe(200);
  }, 90_000);

  it('puts back a token Secret someone overwrote or deleted, and gives a replaced pod its unit\'s token again', async () => {
    const old = await pod('tok-1');
    const token = await agentTokenOf(c, old);
    const unitUid = (await c.get<Unit>(UnitResource, 'tok-1', ns)).metadata.uid;
    const tokenSecret = () => c.get<Secret>(Resources.secrets, 'tok-1-agent-token', ns).catch(() => undefined);
    const putBack = async () => {
      const s = await tokenSecret();
      return !!s && Buffer.from(s.data?.[AGENT_TOKEN_KEY] ?? '', 'base64').toString('utf8') === token && !!s.metadata.ownerReferences?.some((o) => o.uid === unitUid);
    };
    await c.patch(Resources.secrets, 'tok-1-agent-token', { data: { [AGENT_TOKEN_KEY]: Buffer.from('overwritten').toString('base64') } }, 'merge', { namespace: ns });
    await waitFor('the overwritten token Secret put back', async () => (await tokenSecret())?.data?.[AGENT_TOKEN_KEY] !== Buffer.from('overwritten').toString('base64') && putBack(), { timeoutMs: 30_000, intervalMs: 250 });
    await c.delete(Resources.secrets, 'tok-1-agent-token', ns);
    await waitFor('the deleted token Secret put back', putBack, { timeoutMs: 30_000, intervalMs: 250 });
    await c.delete(Resources.pods, 'tok-1', ns);
    // The runtime gives the new pod the unit's stable address (the first podIP seen may be KWOK's placeholder).
    const fresh = await waitFor('tok-1 replaced', async () => {
      const p = await pod('tok-1').catch(() => undefined);
      return p && p.metadata.uid !== old.metadata.uid && p.status?.podIP === old.status?.podIP ? p : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    expect(await agentTokenOf(c, fresh)).toBe(token);
    // Only the operator pushes a config and starts the engine: a running engine in the new pod says it got in.
    let seen: unknown;
    const st = await waitFor('the operator started the new pod\'s engine', async () => {
      const s = await new AgentClient(old.status?.podIP ?? '', AGENT_PORT, token).status().catch((e: unknown) => { seen = String(e); return undefined; });
      if (s) seen = s;
      return s && s.podUID === fresh.metadata.uid && s.state === 'Running' && s.configRevision ? s : undefined;
    }, { timeoutMs: 90_000, intervalMs: 250 }).catch(async (err: unknown) => {
      throw new Error(`${String(err)}; agent ${JSON.stringify(seen)}; unit ${JSON.stringify((await c.get<Unit>(UnitResource, 'tok-1', ns)).status)}`, { cause: err });
    });
    expect(st.configRevision).toBe((await c.get<Unit>(UnitResource, 'tok-1', ns)).spec.configRevision);
  }, 120_000);
});
