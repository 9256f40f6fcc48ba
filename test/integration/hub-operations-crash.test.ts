// The Operations engine survives crashes and outages, end to end on a real MariaDB service (3 units on member1):
// 20 Operations of four kinds (Switchover to the best replica, Reconfigure of a dynamic parameter, Scale 2 <-> 4,
// Restart of every server or of some only) queued at once while the hub controllers are killed with SIGKILL once
// inside each Operation seen running (and once at the exact point between a step's effect and its status) and
// started again each time: every Operation reaches Succeeded and no effect happens twice, counted from watches that
// cannot miss a change (a 410 fails the test): the member's MysqlReplication changes its source once per Switchover,
// to that Operation's candidate; the hub service's record takes each size and each parameter value once, its
// generations without a gap; each Restart restarts each of its servers exactly once and no other (each Unit's
// status.lastRestartId and engine start time, the UnitSet's status.restart, and the engine's own log of its starts).
// Then a member whose kube-apiserver stops for 60 s in the middle of a Scale: the Operation waits, its status naming
// the cluster within 30 s, and succeeds once the member is back.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { MysqlReplicationResource, type MysqlReplication } from '../../lib/api/compose.upm.io.generated.ts';
import { MysqlServiceRecordResource } from '../../lib/api/internal.upm.io.generated.ts';
import { UnitResource, UnitSetResource, type Unit, type UnitSet } from '../../lib/api/unit.upm.io.generated.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import type { ServiceView } from '../../lib/operations/types.ts';
import { waitFor } from '../../lib/wait.ts';
import { client, kubeconfig } from '../env.ts';
import { hubControllersPid, killHubControllers, nextHubControllers } from '../hub-controllers.ts';
import { describeHub, MGMT } from '../hub.ts';
import { MEMBER, useHubProject } from '../hub-member.ts';
import { operationsOf, TERMINAL_PHASES, type Op } from '../operations.ts';
import { watchStates, type WatchedStates } from '../watch-states.ts';

describeHub('Operations across kills of the hub controllers and a member outage', () => {
  const p = useHubProject('hubcrash');
  const project = p.project;
  let mgmt: KubeClient;
  const { operation, getOp, listOps, steps, waitPhase } = operationsOf(p, { kind: 'MysqlService', name: 'db' });
  const terminal = (o: Op) => TERMINAL_PHASES.includes(o.status?.phase ?? '');
  const maxConnections = (s?: ServiceView) => (s?.spec.options as { parameters?: Record<string, string> } | undefined)?.parameters?.max_connections;
  const replicas = (s?: ServiceView) => (s?.spec.topology as { replicas?: number } | undefined)?.replicas;

  beforeAll(async () => { mgmt = await client(MGMT); });
  afterAll(async () => { await mgmt?.close(); });

  it('has a MariaDB service of 3 units Ready on member1', async () => {
    await p.as(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'upm.io/v1alpha1', kind: 'MysqlService', metadata: { name: 'db', namespace: project },
      spec: { engine: 'mariadb', version: '10.11', topology: { mode: 'async', replicas: 3 }, placement: { cluster: MEMBER }, resources: { cpu: '1', memory: '256Mi' }, storage: { size: '1Gi' } },
    }));
    await p.hubReaches('mysqlservice', 'db', 'the service Ready', (s) => s.phase === 'Ready' && s.ready === '3/3', 240_000);
  }, 300_000);

  it('finishes 20 Operations of four kinds across kills of the hub controllers, each effect made once', async () => {
    // Every change of the member's MysqlReplication (its source asked and reported) and of the hub's record.
    const asked: string[] = [];
    const reported: string[] = [];
    const generations: { generation: number; replicas?: number; maxConnections?: string }[] = [];
    const watches: WatchedStates[] = [];
    watches.push(await watchStates<MysqlReplication>(p.member, MysqlReplicationResource, { namespace: project }, (objs) => {
      const mr = objs.get('db');
      const a = (mr?.spec.source as { unit?: string } | undefined)?.unit;
      const r = mr?.status?.source;
      if (a && a !== asked.at(-1)) asked.push(a);
      if (r && r !== reported.at(-1)) reported.push(r);
    }));
    watches.push(await watchStates<ServiceView>(mgmt, MysqlServiceRecordResource, { namespace: project }, (objs) => {
      const s = objs.get('db');
      const g = s?.metadata.generation ?? 0;
      if (s && g !== generations.at(-1)?.generation) generations.push({ generation: g, replicas: replicas(s), maxConnections: maxConnections(s) });
    }));
    // Every Unit's life (by uid): the restart id it was created with, each restart id its engine did, each engine
    // start time; and the UnitSet's record of each restart id.
    const lives = new Map<string, { name: string; bornWith?: string; restartIds: string[]; starts: string[] }>();
    watches.push(await watchStates<Unit>(p.member, UnitResource, { namespace: project, labelSelector: 'unit.upm.io/unitset=db' }, (objs) => {
      for (const u of objs.values()) {
        const uid = u.metadata.uid ?? '';
        const life = lives.get(uid) ?? { name: u.metadata.name ?? '', ...(u.spec.restartId ? { bornWith: u.spec.restartId } : {}), restartIds: [], starts: [] };
        lives.set(uid, life);
        const r = u.status?.lastRestartId;
        if (r && r !== life.restartIds.at(-1)) life.restartIds.push(r);
        const at = u.status?.engine?.startedAt;
        if (at && at !== life.starts.at(-1)) life.starts.push(at);
      }
    }));
    const unitSetRestarts = new Map<string, { phase?: string; done?: string[] }>();
    watches.push(await watchStates<UnitSet>(p.member, UnitSetResource, { namespace: project }, (objs) => {
      const r = objs.get('db')?.status?.restart;
      if (r?.id) unitSetRestarts.set(r.id, { phase: r.phase, done: r.done });
    }));
    const start = { asked: asked.length, reported: reported.length, generations: generations.length };

    // 4 Switchovers, 8 Reconfigures, 4 Scales (3 -> 4 -> 2 -> 4 -> 2: the API refuses a Scale to the size the service
    // has when it is created) and 4 Restarts (every server of 4, db-1 of 2, db-0 and db-2 of 4, db-0 of 2),
    // interleaved; created at once, so they queue in name order.
    const restartOf: (string[] | undefined)[] = [undefined, ['db-1'], ['db-2', 'db-0'], ['db-0']];
    const specs = Array.from({ length: 20 }, (_, i) => {
      const g = Math.floor(i / 5);
      switch (i % 5) {
        case 0: return { type: 'Switchover' };
        case 1: case 4: return { type: 'Reconfigure', reconfigure: { parameters: { max_connections: String(401 + g * 2 + (i % 5 === 4 ? 1 : 0)) } } };
        case 2: return { type: 'Scale', scale: { replicas: g % 2 === 0 ? 4 : 2 } };
        default: { const servers = restartOf[g]; return { type: 'Restart', ...(servers ? { restart: { servers } } : {}) }; }
      }
    });
    const names = specs.map((_, i) => `c-${String(i).padStart(2, '0')}`);
    /** The servers each Restart takes: those it names, else every server of the size the Scale before it set. */
    const restartTakes = (i: number): string[] => restartOf[Math.floor(i / 5)] ?? Array.from({ length: Number((specs[i - 1] as { scale?: { replicas: number } }).scale?.replicas) }, (_, k) => `db-${k}`);

    const kills: string[] = [];
    let killedIn = '';
    let ops: Op[] = [];
    try {
      await p.as(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: specs.map((s, i) => operation(names[i] as string, s)) }));
      let pid = await killHubControllers({ UPM_CRASH_AT: 'operations-effect-made' });
      kills.push('restarted to die between an effect and its status');
      const deadline = Date.now() + 1_500_000;
      while (Date.now() < deadline) {
        ops = await listOps();
        if (ops.length === 20 && ops.every(terminal)) break;
        const running = ops.find((o) => o.status?.phase === 'Running');
        const at = running ? `${running.metadata.name} ${running.spec.type} at ${running.status?.steps?.find((s) => s.phase === 'Running')?.name ?? 'between steps'}` : 'no Operation running';
        const armed = kills.length === 1;
        if (await hubControllersPid() !== pid) {
          // The crash point fired: the process died right after an effect, before recording it; the local system
          // starts it again (without the crash point).
          kills.push(`died at the crash point (${at}), started again`);
          pid = await nextHubControllers(pid);
          continue;
        }
        // The first process waits for its crash point (the next effect made). After it, each Operation seen running
        // (up to 8) has its process killed at a random moment into it: enough kills however fast the steps are.
        if (!armed && running && running.metadata.name !== killedIn && kills.length < 9) {
          killedIn = running.metadata.name;
          await new Promise((r) => setTimeout(r, Math.random() * 1500));
          pid = await killHubControllers();
          kills.push(`kill -9 (${at})`);
        }
        await new Promise((r) => setTimeout(r, 250 + Math.random() * 750));
      }
    } finally {
      for (const w of watches) await w.stop();
    }
    process.stdout.write(`${kills.length} restarts of the hub controllers:\n  ${kills.join('\n  ')}\n`);
    expect(kills.some((k) => k.startsWith('died at the crash point'))).toBe(true);
    expect(kills.filter((k) => k.startsWith('kill -9')).length).toBeGreaterThanOrEqual(3);

    // Every Operation Succeeded, in creation order (each started after the one before it ended).
    const byName = new Map(ops.map((o) => [o.metadata.name, o]));
    expect(names.map((n) => [n, byName.get(n)?.status?.phase])).toEqual(names.map((n) => [n, 'Succeeded']));
    for (let i = 1; i < names.length; i++) {
      const [a, b] = [byName.get(names[i - 1] as string), byName.get(names[i] as string)];
      expect(Date.parse(b?.status?.startTime ?? '')).toBeGreaterThanOrEqual(Date.parse(a?.status?.completionTime ?? ''));
    }

    // One change of source per Switchover, to its candidate, asked by the hub and carried out by the member.
    const candidates = names.filter((_, i) => specs[i]?.type === 'Switchover').map((n) => byName.get(n)?.status?.candidate);
    expect(asked.slice(start.asked)).toEqual(candidates);
    expect(reported.slice(start.reported)).toEqual(candidates);

    // The hub record: no generation missed, and each size and each parameter value taken once, in order.
    const seen = generations.slice(start.generations - 1);
    for (let i = 1; i < seen.length; i++) expect(seen[i]?.generation).toBe((seen[i - 1]?.generation ?? 0) + 1);
    const changes = (f: 'replicas' | 'maxConnections') => seen.slice(1).filter((g, i) => g[f] !== seen[i]?.[f]).map((g) => g[f]);
    expect(changes('replicas')).toEqual(specs.filter((s) => s.type === 'Scale').map((s) => s.scale?.replicas));
    expect(changes('maxConnections')).toEqual(specs.filter((s) => s.type === 'Reconfigure').map((s) => s.reconfigure?.parameters.max_connections));

    // Each Restart restarted each of its servers exactly once, and no other: the Units' record of the restarts their
    // engines did (a Unit created during a later Scale carries the UnitSet's last id from birth: not a restart), and
    // the UnitSet's record of each id, in the order the hub asked.
    const restarts = names.map((n, i) => ({ i, id: byName.get(n)?.metadata.uid ?? '' })).filter((r) => specs[r.i]?.type === 'Restart');
    const restartedBy = (life: { bornWith?: string; restartIds: string[] }) => life.restartIds.filter((id) => id !== life.bornWith);
    const report: string[] = [];
    for (const r of restarts) {
      expect(r.id).not.toBe('');
      const took = [...lives.values()].flatMap((l) => restartedBy(l).filter((id) => id === r.id).map(() => l.name)).sort();
      report.push(`${names[r.i]}: ${took.join(', ')}`);
      expect([names[r.i], took]).toEqual([names[r.i], [...restartTakes(r.i)].sort()]);
      expect(unitSetRestarts.get(r.id)?.phase).toBe('Complete');
      expect([...(unitSetRestarts.get(r.id)?.done ?? [])].sort()).toEqual([...restartTakes(r.i)].sort());
    }
    process.stdout.write(`restarts per Operation (Units' lastRestartId):\n  ${report.join('\n  ')}\n`);
    // Every engine start after a Unit's first was one of those restarts: no engine restarted for anything else.
    for (const l of lives.values()) expect([l.name, l.starts.length - 1]).toEqual([l.name, restartedBy(l).length]);
    // The engine's own word: each MariaDB of the servers that lived through it all logged one start more than the
    // Restarts that took it.
    const pods = (await p.member.list<KubeObject>(Resources.pods, { namespace: project, labelSelector: 'unit.upm.io/unitset=db' })).items;
    for (const name of ['db-0', 'db-1']) {
      const pod = pods.find((x) => x.metadata.name === name);
      const log = await readFile(join(p.dir, 'runtime', 'pods', pod?.metadata.uid ?? '', 'mariadb.log'), 'utf8');
      const starts = log.split('\n').filter((l) => l.includes('ready for connections')).length;
      process.stdout.write(`${name}: its MariaDB logged ${starts} starts\n`);
      expect([name, starts]).toEqual([name, 1 + restarts.filter((r) => restartTakes(r.i).includes(name)).length]);
    }
  }, 1_800_000);

  it('waits through a member outage of 60 s in the middle of a Scale, naming the cluster, and succeeds after', async () => {
    await p.hubReaches('mysqlservice', 'db', 'the service Ready', (s) => s.phase === 'Ready' && s.ready === '2/2', 240_000);
    await p.as(['create', '-f', '-'], JSON.stringify(operation('outage', { type: 'Scale', scale: { replicas: 3 } })));
    await waitFor('the Scale running', async () => (await getOp('outage')).status?.phase === 'Running', { timeoutMs: 60_000, intervalMs: 100 });
    const pid = Number((await readFile(join(dirname(kubeconfig(MEMBER)), 'logs', 'kube-apiserver.log.pid'), 'utf8')).trim());
    expect(pid).toBeGreaterThan(1);
    const stopped = Date.now();
    process.kill(pid, 'SIGSTOP');
    try {
      const said = await waitFor('the Operation naming member1', async () => {
        const o = await getOp('outage');
        return o.status?.message?.includes(`cluster ${MEMBER}: not Ready`) ? o : undefined;
      }, { timeoutMs: 30_000, intervalMs: 250 });
      process.stdout.write(`the Operation said it waits for ${MEMBER} after ${Date.now() - stopped} ms: ${said.status?.message ?? ''}\n`);
      expect(['Running', 'Pending']).toContain(said.status?.phase);
      while (Date.now() - stopped < 60_000) {
        expect(['Running', 'Pending']).toContain((await getOp('outage')).status?.phase);
        await new Promise((r) => setTimeout(r, 2000));
      }
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const done = await waitPhase('outage', TERMINAL_PHASES, { timeoutMs: 300_000, intervalMs: 1000 });
    expect(done.status?.phase).toBe('Succeeded');
    expect(steps(done)).toEqual(['check:Succeeded', 'set-replicas:Succeeded', 'wait-ready:Succeeded']);
    expect((await p.hubObject('mysqlservice', 'db')).status?.ready).toBe('3/3');
  }, 480_000);
});
