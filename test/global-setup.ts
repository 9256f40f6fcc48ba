// Starts the shared local system once for all integration suites (or adopts UPM_TEST_KUBECONFIG) and hands its
// state file to the test workers through UPM_TEST_STATE.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalHub, type HubState } from '../hack/local/hub.ts';
import { LocalSystem } from '../hack/local/system.ts';

declare global {
  var __UPM_SYSTEM__: LocalSystem | undefined;
  var __UPM_HUB__: LocalHub | undefined;
  var __UPM_TEST_DIR__: string | undefined;
}

const BOOKMARK_INTERVAL_SECONDS = 5;

export default async function globalSetup(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'upm-test-'));
  globalThis.__UPM_TEST_DIR__ = dir;
  process.env.UPM_TEST_STATE = join(dir, 'state.json');
  const external = process.env.UPM_TEST_KUBECONFIG;
  if (external) {
    // Every role maps to the given cluster; suites that must kill processes skip themselves.
    const c = { role: 'member', kubeconfig: external, server: '', podCidrOctet: 0 };
    await writeFile(process.env.UPM_TEST_STATE, JSON.stringify({
      dir, binDir: process.env.UPM_BIN_DIR ?? '', etcdUrl: '', external: true,
      clusters: { mgmt: { ...c, role: 'management' }, member1: c, member2: c },
    }));
    return;
  }
  const started = Date.now();
  const sys = await LocalSystem.start(join(dir, 'system'));
  globalThis.__UPM_SYSTEM__ = sys;
  // The hub (aggregated API server, hub controllers) on the management cluster. A failure here is recorded for the
  // hub's suites to report, and leaves every other suite running.
  let hub: HubState | { error: string };
  try {
    const members = Object.entries(sys.state().clusters).filter(([, c]) => c.role === 'member').map(([name]) => sys.cluster(name));
    // Bookmarks every few seconds rather than every minute, so suites see the periodic ones (and what the
    // management cluster's controllers make of them) without waiting a minute.
    globalThis.__UPM_HUB__ = await LocalHub.start(sys.bins.kubectl, sys.cluster('mgmt'), join(dir, 'system', 'mgmt', 'hub'), { members, bookmarkIntervalSeconds: BOOKMARK_INTERVAL_SECONDS });
    hub = globalThis.__UPM_HUB__.state();
  } catch (err) {
    hub = { error: err instanceof Error ? err.message : String(err) };
  }
  await writeFile(process.env.UPM_TEST_STATE, JSON.stringify({ ...sys.state(), hub }));
  process.stdout.write(`\nlocal system ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${dir})\n`);
}
