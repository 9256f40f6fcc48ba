// k9s, a terminal UI many Kubernetes users live in, against the hub: typed `:mysqlservices` and `:operations` must
// show the public resources (upm.io) with the columns the API server prints, for a project editor and for a cluster
// admin alike. k9s resolves a resource name through discovery without APIService priorities, so it finds the public
// resource only because no storage resource (internal.upm.io) shares a name with it. k9s runs under tmux with a
// home, config and discovery cache of its own, as a person would run it; it is built by hack/build-k9s.sh.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { waitFor } from '../../lib/wait.ts';
import { kubeconfig, testState, uniqueName } from '../env.ts';
import { closeAgents, describeHub, kubectlAs, kubectlOkAs, MGMT, userKubeconfig } from '../hub.ts';
import { Terminal } from '../terminal.ts';

const run = promisify(execFile);
const yaml = (o: unknown) => JSON.stringify(o);

/** The k9s binary: from the test command's environment (hack/env.sh), else built (or found cached) now. */
async function k9sBinary(): Promise<string> {
  if (process.env.UPM_K9S_DIR) return join(process.env.UPM_K9S_DIR, 'k9s');
  const { stdout } = await run('bash', [join(import.meta.dirname, '..', '..', 'hack', 'build-k9s.sh')], { maxBuffer: 1 << 20 });
  return join(stdout.trim(), 'k9s');
}

describeHub('k9s on the hub API', () => {
  const project = uniqueName('k9s');
  const cluster = uniqueName('member');
  const editor = uniqueName('editor');
  const service = 'orders';
  let operation = '';
  let k9s = '';
  let editorKc = '';
  const terminals: Terminal[] = [];

  beforeAll(async () => {
    k9s = await k9sBinary();
    editorKc = await userKubeconfig(editor);
    await kubectlOkAs(undefined, ['apply', '-f', '-'], yaml({ apiVersion: 'upm.io/v1alpha1', kind: 'Cluster', metadata: { name: cluster }, spec: {} }));
    await kubectlOkAs(undefined, ['create', '-f', '-'], yaml({ apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: project }, spec: { members: [{ name: editor, role: 'editor' }] } }));
    await waitFor(`project ${project} Ready`, async () => (await kubectlOkAs(undefined, ['get', 'project', project, '-o', 'jsonpath={.status.phase}'])) === 'Ready', { timeoutMs: 30_000, intervalMs: 200 });
    // What the editor works on, created as the editor.
    await kubectlOkAs(editorKc, ['create', '-f', '-'], yaml({ apiVersion: 'upm.io/v1alpha1', kind: 'MysqlService', metadata: { name: service, namespace: project }, spec: { version: '8.0', placement: { cluster } } }));
    operation = (await kubectlOkAs(editorKc, ['create', '-o', 'name', '-f', '-'], yaml({
      apiVersion: 'upm.io/v1alpha1', kind: 'Operation', metadata: { generateName: 'restart-', namespace: project }, spec: { type: 'Restart', target: { kind: 'MysqlService', name: service } },
    }))).trim().replace(/^.*\//, '');
  }, 20 * 60_000); // a cold cache builds k9s first (a few minutes on 2 cores)

  afterAll(async () => {
    for (const t of terminals) await t.stop();
    await kubectlAs(undefined, ['delete', 'project', project, '--wait=false', '--ignore-not-found']);
    await kubectlAs(undefined, ['delete', 'cluster', cluster, '--wait=false', '--ignore-not-found']);
    await closeAgents();
  });

  /** k9s as the given kubeconfig's user, in the project's namespace, with nothing of the machine's user. */
  async function startK9s(who: string, kc: string): Promise<Terminal> {
    const dir = mkdtempSync(join(testState().dir, `k9s-${who}-`));
    const xdg = (d: string) => { const p = join(dir, d); mkdirSync(p, { recursive: true }); return p; };
    // No traffic off this machine: k9s otherwise asks the internet for its latest release on every start.
    writeFileSync(join(xdg('config/k9s'), 'config.yaml'), 'k9s:\n  skipLatestRevCheck: true\n');
    const t = await Terminal.start([
      k9s, '--kubeconfig', kc, '--namespace', project, '--command', 'mysqlservices', '--readonly', '--refresh', '1',
      '--headless', '--logoless', '--splashless', '--logFile', join(dir, 'k9s.log'),
    ], {
      socket: join(dir, 'tmux.sock'),
      logFile: join(dir, 'k9s.log'),
      env: {
        HOME: dir, TERM: 'xterm-256color', LANG: 'C.UTF-8', K9S_CONFIG_DIR: xdg('config/k9s'),
        XDG_CONFIG_HOME: xdg('config'), XDG_STATE_HOME: xdg('state'), XDG_DATA_HOME: xdg('data'), XDG_CACHE_HOME: xdg('cache'),
        // k9s keeps discovery under the account's home (not $HOME), keyed by host:port: one left there by an earlier
        // cluster on the same port would hide upm.io ("`mysqlservices` command not found").
        KUBECACHEDIR: xdg('kube-cache'),
      },
    });
    terminals.push(t);
    return t;
  }

  /** The view of one resource: its title with the namespace and object count, and the table's header row. */
  const title = (resource: string, count: number) => `${resource}(${project})[${count}]`;
  // The row that starts with NAME; a long last value (an Operation's MESSAGE) may push AGE past the screen's edge.
  const header = (screen: string) => screen.split('\n').map((l) => l.replace(/[^\x20-\x7e]/g, ' ').trim().split(/\s+/).join(' ')).find((l) => l.startsWith('NAME ')) ?? '';

  async function expectPublicViews(t: Terminal): Promise<void> {
    // The first view comes from --command; then both are typed at the prompt.
    for (const typed of [false, true]) {
      if (typed) await t.type(':mysqlservices');
      // k9s flashes the group/version/resource it resolved the command to.
      const services = await t.waitForScreen('the mysqlservices view', (s) => s.includes(title('mysqlservices', 1)) && s.includes(service) && s.includes('Viewing upm.io/v1alpha1/mysqlservices'));
      expect(services).not.toMatch(/forbidden|error/i);
      // The columns the public API prints (a storage CRD would show NAME and AGE only), and the object's values.
      expect(header(services)).toBe('NAME ENGINE VERSION MODE REPLICAS CLUSTER READY PHASE SOURCE AGE');
      expect(services).toMatch(new RegExp(`\\b${service}\\s+mysql\\s+8\\.0\\s+async\\s+2\\s+${cluster}\\b`));

      await t.type(':operations');
      const ops = await t.waitForScreen('the operations view', (s) => s.includes(title('operations', 1)) && s.includes(operation) && s.includes('Viewing upm.io/v1alpha1/operations'));
      expect(ops).not.toMatch(/forbidden|error/i);
      expect(header(ops)).toMatch(/^NAME TYPE TARGET PHASE PROGRESS STEP MESSAGE( AGE)?$/);
      // The hub's operations controller has taken it up: it waits for the service (never Ready on a bare member).
      expect(ops).toMatch(new RegExp(`\\b${operation}\\s+Restart\\s+mysqlservice/${service}\\s+(Pending|Running)\\b`));
    }
  }

  it('shows a project editor the public mysqlservices and operations with their columns', async () => {
    await expectPublicViews(await startK9s('editor', editorKc));
  }, 120_000);

  it('shows a cluster admin the same public views, not the storage CRDs', async () => {
    await expectPublicViews(await startK9s('admin', kubeconfig(MGMT)));
  }, 120_000);
});
