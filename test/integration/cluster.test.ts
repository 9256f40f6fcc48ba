// The local control plane behaves like a real cluster: pods are scheduled and run (KWOK), namespaces delete
// completely (KCM + KWOK's pod-delete stage), and the real kubectl sees Ready fake nodes in every cluster.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { KubeClient } from '../../lib/kube/client.ts';
import { isNotFound } from '../../lib/kube/errors.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { client, kubeconfig, kubectlPath, testState, uniqueName } from '../env.ts';

const run = promisify(execFile);

interface Pod extends KubeObject {
  spec: { nodeName?: string; containers: { name: string; image: string }[] };
  status?: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
}

describe('local control plane', () => {
  let member: KubeClient;
  beforeAll(async () => { member = await client('member1'); });
  afterAll(async () => { await member.close(); });

  it('schedules a pod in a member cluster, runs it, and completes deleting its namespace', async () => {
    const ns = uniqueName('pod');
    await member.create(Resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    // The ServiceAccount admission plugin needs the namespace's default ServiceAccount (made by KCM).
    await waitFor('default service account', () => member.get(Resources.serviceAccounts, 'default', ns).then(() => true));
    await member.create<Pod>(Resources.pods, {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: ns },
      spec: { containers: [{ name: 'web', image: 'example.invalid/web:1' }] },
    });
    const pod = await waitFor('pod Running', async () => {
      const p = await member.get<Pod>(Resources.pods, 'web', ns);
      return p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
    }, { timeoutMs: 30_000 });
    expect(pod.spec.nodeName).toMatch(/^member1-node-\d$/);
    // Pod IPs come from the node's loopback podCIDR, so engines bound there are reachable on this machine.
    if (!testState().external) expect(pod.status?.podIP).toMatch(/^127\./);

    await member.delete(Resources.namespaces, ns);
    await waitFor('namespace gone', async () => {
      try {
        await member.get(Resources.namespaces, ns);
        return false;
      } catch (err) {
        if (isNotFound(err)) return true;
        throw err;
      }
    }, { timeoutMs: 60_000, intervalMs: 250 });
  }, 60_000 + 30_000 + 60_000 + 30_000); // its waits: service account, pod Running, namespace gone

  it('shows Ready fake nodes in every cluster through the real kubectl', async () => {
    for (const name of Object.keys(testState().clusters)) {
      const { stdout } = await run(kubectlPath(), ['--kubeconfig', kubeconfig(name), 'get', 'nodes', '--no-headers']);
      const lines = stdout.trim().split('\n');
      expect(lines.length).toBeGreaterThanOrEqual(1);
      for (const line of lines) expect(line.split(/\s+/)[1]).toBe('Ready');
    }
  });

  it('has API aggregation configured on the management cluster', async () => {
    const mgmt = await client('mgmt');
    try {
      const cm = await mgmt.get<KubeObject & { data: Record<string, string> }>(Resources.configMaps, 'extension-apiserver-authentication', 'kube-system');
      expect(cm.data['requestheader-client-ca-file']).toContain('BEGIN CERTIFICATE');
      expect(JSON.parse(cm.data['requestheader-username-headers'] ?? '[]')).toEqual(['X-Remote-User']);
      expect(JSON.parse(cm.data['requestheader-allowed-names'] ?? '[]')).toEqual(['front-proxy-client']);
    } finally {
      await mgmt.close();
    }
  });
});
