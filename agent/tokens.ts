// Agent tokens are per unit. Each namespace has one key, in the Secret upm-agent-auth that only the operators read;
// a unit's token is derived from it (an HMAC of the unit's namespace and name) and given to that unit's pod alone,
// in the Secret "<unit>-agent-token". So whoever holds the key (the Unit and Compose Operators) opens every agent
// of the namespace, while an agent container holds only what opens its own agent. Derived, not random: a
// restarted operator, or a token Secret written again, yields the same token, so nothing rotates by surprise.
import { createHmac } from 'node:crypto';
import type { KubeClient } from '../lib/kube/client.ts';
import { Resources } from '../lib/kube/resources.ts';
import type { KubeObject } from '../lib/kube/types.ts';
import { AGENT_CONTAINER, AGENT_TOKEN_KEY, AGENT_TOKEN_SECRET, ENV_AGENT_TOKEN } from './api.ts';

type Secret = KubeObject & { data?: Record<string, string> };
interface PodLike { spec?: { containers?: { name: string; env?: { name: string; valueFrom?: { secretKeyRef?: { name: string } } }[] }[] } }

/** The Secret (in the unit's namespace, owned by the Unit) holding the unit's own agent token, under AGENT_TOKEN_KEY. */
export const unitTokenSecretName = (unit: string): string => `${unit}-agent-token`;

/** The token the agent of `unit` accepts, from the namespace's key (the decoded value of upm-agent-auth). */
export function unitAgentToken(namespaceKey: string, namespace: string, unit: string): string {
  if (!namespaceKey) throw new Error('no namespace agent key to derive a unit token from');
  return createHmac('sha256', namespaceKey).update(`upm-agent/${namespace}/${unit}`).digest('base64url');
}

/**
 * The token to call a pod's agent with. A pod made before tokens were per unit was given the namespace key itself
 * (its agent container reads upm-agent-auth); it keeps working with that until its unit is next updated.
 */
export function agentTokenForPod(namespaceKey: string, namespace: string, unit: string, pod: PodLike): string {
  const ref = pod.spec?.containers?.find((c) => c.name === AGENT_CONTAINER)?.env?.find((e) => e.name === ENV_AGENT_TOKEN)?.valueFrom?.secretKeyRef;
  return ref?.name === AGENT_TOKEN_SECRET ? namespaceKey : unitAgentToken(namespaceKey, namespace, unit);
}

/** Reads the namespace key and derives a unit's token: for callers that hold the operators' rights (tools, tests). */
export async function readUnitAgentToken(client: KubeClient, namespace: string, unit: string): Promise<string> {
  const key = (await client.get<Secret>(Resources.secrets, AGENT_TOKEN_SECRET, namespace)).data?.[AGENT_TOKEN_KEY];
  return unitAgentToken(Buffer.from(key ?? '', 'base64').toString('utf8'), namespace, unit);
}
