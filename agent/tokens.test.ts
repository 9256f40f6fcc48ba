import { describe, expect, it } from '@jest/globals';
import { AGENT_CONTAINER, AGENT_TOKEN_KEY, AGENT_TOKEN_SECRET, ENV_AGENT_TOKEN } from './api.ts';
import { agentTokenForPod, unitAgentToken, unitTokenSecretName } from './tokens.ts';

const KEY = 'namespace-key-0123456789abcdef0123456789';
const podReading = (secret: string) => ({
  spec: { containers: [{ name: 'redis' }, { name: AGENT_CONTAINER, env: [{ name: ENV_AGENT_TOKEN, valueFrom: { secretKeyRef: { name: secret, key: AGENT_TOKEN_KEY } } }] }] },
});

describe('unit agent tokens', () => {
  it('differ between units, namespaces and keys, and are the same every time they are derived', () => {
    const tokens = [
      unitAgentToken(KEY, 'ns1', 'db-0'), unitAgentToken(KEY, 'ns1', 'db-1'), unitAgentToken(KEY, 'ns2', 'db-0'), unitAgentToken(`${KEY}x`, 'ns1', 'db-0'),
      // The separator cannot be shifted between namespace and unit to collide.
      unitAgentToken(KEY, 'ns1/db', '0'),
    ];
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(unitAgentToken(KEY, 'ns1', 'db-0')).toBe(tokens[0]);
    for (const t of tokens) expect(t).not.toContain(KEY);
    expect(tokens[0]).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('are never derived from an empty key', () => {
    expect(() => unitAgentToken('', 'ns1', 'db-0')).toThrow(/no namespace agent key/);
  });

  it('are what a pod reading its unit\'s token Secret is called with; a pod reading the namespace Secret gets the key', () => {
    expect(agentTokenForPod(KEY, 'ns1', 'db-0', podReading(unitTokenSecretName('db-0')))).toBe(unitAgentToken(KEY, 'ns1', 'db-0'));
    expect(agentTokenForPod(KEY, 'ns1', 'db-0', podReading(AGENT_TOKEN_SECRET))).toBe(KEY);
    // Anything else (another unit's Secret, no reference) is called with the unit's own token, never the key.
    expect(agentTokenForPod(KEY, 'ns1', 'db-0', podReading(unitTokenSecretName('db-1')))).toBe(unitAgentToken(KEY, 'ns1', 'db-0'));
    expect(agentTokenForPod(KEY, 'ns1', 'db-0', { spec: { containers: [] } })).toBe(unitAgentToken(KEY, 'ns1', 'db-0'));
  });
});
