// A member kubeconfig is data, never code or a path on the hub: a Secret whose kubeconfig runs an exec plugin or
// reads a file of the hub's disk is refused, with the Cluster's condition and the proxy's 503 naming the field,
// and the plugin never runs.
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { parse, stringify } from 'yaml';
import { waitFor } from '../../lib/wait.ts';
import { testState, uniqueName } from '../env.ts';
import { asUser, closeAgents, describeHub, direct, frontProxyCert, kubectlAs, kubectlOkAs } from '../hub.ts';

const ok = (args: string[], input?: string) => kubectlOkAs(undefined, args, input);
const GV = '/apis/upm.io/v1alpha1';
const ADMIN = asUser('upm-admin', ['system:masters']);

interface Kubeconfig { clusters: { cluster: Record<string, unknown> }[]; users: { name: string; user: Record<string, unknown> }[] }
interface Condition { type: string; status: string; reason?: string; message?: string }

describeHub('member kubeconfigs that would run code or read the hub\'s files', () => {
  const made: string[] = [];
  let good: Kubeconfig;
  let dir: string;

  beforeAll(async () => {
    good = parse(Buffer.from(await ok(['get', 'secret', 'member2-kubeconfig', '-n', 'upm-system', '-o', 'jsonpath={.data.kubeconfig}']), 'base64').toString()) as Kubeconfig;
    dir = await mkdtemp(join(testState().dir, 'kubeconfig-'));
  });

  afterAll(async () => {
    for (const name of made) {
      await kubectlAs(undefined, ['delete', 'cluster', name, '--ignore-not-found', '--wait=false']);
      await kubectlAs(undefined, ['delete', 'secret', `${name}-kubeconfig`, '-n', 'upm-system', '--ignore-not-found']);
    }
    await closeAgents();
  });

  /** A Cluster whose Secret holds the member's working kubeconfig with its user replaced; the Ready condition it gets. */
  const register = async (user: Record<string, unknown>): Promise<{ name: string; cond: Condition }> => {
    const name = uniqueName('hostile-kc');
    made.push(name);
    const kc = structuredClone(good);
    (kc.users[0] as { user: Record<string, unknown> }).user = user;
    await ok(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'v1', kind: 'Secret', metadata: { name: `${name}-kubeconfig`, namespace: 'upm-system' }, type: 'Opaque',
      data: { kubeconfig: Buffer.from(stringify(kc)).toString('base64') },
    }));
    await ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'Cluster', metadata: { name }, spec: { region: 'local', credentials: { secretName: `${name}-kubeconfig` } } }));
    let cond: Condition | undefined;
    await waitFor(`cluster ${name} gets a Ready condition`, async () => {
      const c = JSON.parse(await ok(['get', 'cluster', name, '-o', 'json'])) as { status?: { conditions?: Condition[] } };
      cond = c.status?.conditions?.find((x) => x.type === 'Ready');
      return !!cond;
    }, { timeoutMs: 45_000, intervalMs: 300 });
    return { name, cond: cond as Condition };
  };

  it('never runs an exec plugin: the Cluster and the proxy name the field', async () => {
    const marker = join(dir, 'exec-ran');
    const credential = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', status: { token: (good.users[0]?.user.token as string) } });
    const { name, cond } = await register({
      exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: '/bin/sh', args: ['-c', `touch '${marker}'; echo '${credential}'`], interactiveMode: 'Never' },
    });
    expect(cond).toMatchObject({ status: 'Unknown', reason: 'CredentialsInvalid' });
    expect(cond.message).toContain('users[0].user.exec: exec plugins are not allowed in a member kubeconfig');
    const r = await direct('GET', `${GV}/clusters/${name}/proxy/version`, { cert: await frontProxyCert(), headers: ADMIN });
    expect(r.status).toBe(503);
    expect(r.json().message).toContain('users[0].user.exec: exec plugins are not allowed in a member kubeconfig');
    expect(existsSync(marker)).toBe(false);
  }, 90_000);

  it('never reads a token or a key from the hub\'s disk', async () => {
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, String(good.users[0]?.user.token));
    const { name, cond } = await register({ 'token-file': tokenFile });
    expect(cond).toMatchObject({ status: 'Unknown', reason: 'CredentialsInvalid' });
    expect(cond.message).toContain('users[0].user.token-file: ');
    const r = await direct('GET', `${GV}/clusters/${name}/proxy/version`, { cert: await frontProxyCert(), headers: ADMIN });
    expect(r.status).toBe(503);
    expect(r.json().message).toContain('users[0].user.token-file: ');
    const keys = await register({ 'client-certificate': join(dir, 'tls.crt'), 'client-key': join(dir, 'tls.key') });
    expect(keys.cond.message).toMatch(/users\[0\]\.user\.client-(certificate|key): /);
  }, 150_000);
});
