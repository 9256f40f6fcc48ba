// What the hub's suites need: the real kubectl against the management cluster with a discovery cache of its own
// (a cache left by an earlier cluster on the same port would answer with stale discovery), users with client
// certificates from the cluster's client CA, and direct HTTPS requests to the extension server (bypassing the
// front proxy) with the certificate of our choice.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll } from '@jest/globals';
import { Agent, request } from 'undici';
import { parse, stringify } from 'yaml';
import { issueCert } from '../hack/local/pki.ts';
import type { HubState } from '../hack/local/hub.ts';
import { waitFor } from '../lib/wait.ts';
import { describeWhen, kubeconfig, kubectlPath, testState, uniqueName } from './env.ts';
import type { KubectlResult } from './kubectl.ts';

export const MGMT = 'mgmt';

export function hubState(): HubState {
  const h = testState().hub;
  if (!h) throw new Error('the hub runs only in the local system');
  if ('error' in h) throw new Error(`the hub did not start: ${h.error}`);
  return h;
}

/** Suites that need the local hub (its port, the cluster's CAs to mint users); skipped against an existing cluster. */
export const describeHub = (name: string, body: () => void): void =>
  describeWhen(!!testState().hub, 'the hub runs only in the local system; UPM_TEST_KUBECONFIG names an existing cluster')(name, body);

// Under the run's directory, which the global teardown removes.
const cacheDir = mkdtempSync(join(testState().dir, 'kubectl-cache-'));

/** The real kubectl, as the given kubeconfig's user (the admin by default), with this run's own cache. */
export function kubectlAs(kc: string | undefined, args: string[], input?: string, timeoutMs = 60_000, env: Record<string, string> = {}): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    // The environment is given explicitly: jest's process.env is the test's own copy, not the process's.
    const p = spawn(kubectlPath(), ['--kubeconfig', kc ?? kubeconfig(MGMT), '--cache-dir', cacheDir, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('error', reject);
    p.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr }); });
    // kubectl may exit before it reads its input (a command that takes none): its exit code says how it went.
    p.stdin.on('error', () => undefined);
    p.stdin.end(input ?? '');
  });
}

export async function kubectlOkAs(kc: string | undefined, args: string[], input?: string): Promise<string> {
  const r = await kubectlAs(kc, args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** A long-running kubectl (get -w): its output so far, and a way to stop it. */
export function kubectlStream(kc: string | undefined, args: string[]): { output: () => string; stop: () => Promise<void> } {
  const p = spawn(kubectlPath(), ['--kubeconfig', kc ?? kubeconfig(MGMT), '--cache-dir', cacheDir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const closed = new Promise<void>((r) => p.on('close', () => r()));
  return { output: () => out, stop: async () => { p.kill('SIGTERM'); await closed; } };
}

function pkiDir(): string {
  return join(dirname(kubeconfig(MGMT)), 'pki');
}

/** A kubeconfig for a user authenticated by a client certificate from the management cluster's client CA. */
export async function userKubeconfig(user: string, groups: string[] = []): Promise<string> {
  const dir = pkiDir();
  const ca = { certPem: await readFile(join(dir, 'ca.crt'), 'utf8'), keyPem: await readFile(join(dir, 'ca.key'), 'utf8') };
  const pair = await issueCert(ca, { commonName: user, organizations: groups, usage: 'client' });
  const admin = parse(await readFile(kubeconfig(MGMT), 'utf8')) as { clusters: { name: string; cluster: Record<string, string> }[] };
  const file = join(mkdtempSync(join(testState().dir, `user-${user}-`)), 'kubeconfig');
  await writeFile(file, stringify({
    apiVersion: 'v1', kind: 'Config', clusters: admin.clusters,
    users: [{ name: user, user: { 'client-certificate-data': Buffer.from(pair.certPem).toString('base64'), 'client-key-data': Buffer.from(pair.keyPem).toString('base64') } }],
    contexts: [{ name: user, context: { cluster: admin.clusters[0]?.name, user } }],
    'current-context': user,
  }), { mode: 0o600 });
  return file;
}

export interface ClientCert { cert: string; key: string }

/** The front proxy's own client certificate (what kube-apiserver presents to extension servers). */
export async function frontProxyCert(): Promise<ClientCert> {
  const dir = pkiDir();
  return { cert: await readFile(join(dir, 'front-proxy-client.crt'), 'utf8'), key: await readFile(join(dir, 'front-proxy-client.key'), 'utf8') };
}

/** The cluster admin's client certificate: valid for kube-apiserver, not the front proxy's. */
export async function adminCert(): Promise<ClientCert> {
  const dir = pkiDir();
  return { cert: await readFile(join(dir, 'admin.crt'), 'utf8'), key: await readFile(join(dir, 'admin.key'), 'utf8') };
}

export interface DirectResponse { status: number; headers: Record<string, string | string[] | undefined>; text: string; json: () => Record<string, unknown> }

const agents = new Map<string, Agent>();

/** An HTTPS request straight to the extension server, bypassing kube-apiserver. */
export async function direct(method: string, path: string, opts: { cert?: ClientCert; headers?: Record<string, string | string[]>; body?: string | Buffer } = {}): Promise<DirectResponse> {
  const hub = hubState();
  const key = opts.cert ? opts.cert.cert.slice(-80) : 'none';
  let agent = agents.get(key);
  if (!agent) {
    agent = new Agent({ connect: { ca: await readFile(hub.caFile, 'utf8'), cert: opts.cert?.cert, key: opts.cert?.key, servername: 'localhost' }, connections: 32 });
    agents.set(key, agent);
  }
  const headers: Record<string, string | string[]> = { ...opts.headers };
  const res = await request(`https://127.0.0.1:${hub.port}${path}`, { method: method as 'GET', headers, body: opts.body, dispatcher: agent });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

export async function closeAgents(): Promise<void> {
  await Promise.all([...agents.values()].map((a) => a.close()));
  agents.clear();
}

/** Headers the front proxy sets for a user. */
export function asUser(user: string, groups: string[] = []): Record<string, string | string[]> {
  return { 'x-remote-user': user, ...(groups.length ? { 'x-remote-group': groups } : {}) };
}

/** A project of the suite's own (created by the admin before its tests, deleted after them): its name. */
export function useProject(prefix: string): string {
  const project = uniqueName(prefix);
  beforeAll(async () => {
    await kubectlOkAs(undefined, ['create', '-f', '-'], JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: project } }));
    await waitFor('project namespace', async () => (await kubectlAs(undefined, ['get', 'namespace', project])).code === 0, { timeoutMs: 30_000, intervalMs: 200 });
  });
  afterAll(async () => {
    await kubectlAs(undefined, ['delete', 'project', project, '--wait=false']);
    await closeAgents();
  });
  return project;
}
