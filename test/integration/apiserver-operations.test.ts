// Operations through the public API, with the real kubectl against the real management cluster: a workflow on one
// service of the namespace, refused (naming the field) when the service does not exist, its kind does not support
// the type, or the parameters make no sense for it; fixed once created but for spec.cancel, which cannot be
// withdrawn; and printed with its progress as `N/M` steps. No hub controller executes Operations yet: where a test
// needs a status (a Backup that succeeded, steps under way), it writes it itself through the status subresource, as
// the executing controller would, so those tests show validation and printing, not execution.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { waitFor } from '../../lib/wait.ts';
import { uniqueName } from '../env.ts';
import { closeAgents, describeHub, kubectlAs, kubectlOkAs } from '../hub.ts';

const k = (args: string[], input?: string) => kubectlAs(undefined, args, input);
const ok = (args: string[], input?: string) => kubectlOkAs(undefined, args, input);

describeHub('Operations on data services', () => {
  const project = uniqueName('ops');
  const placement = { cluster: 'member1' };
  const yaml = (kind: string, name: string, spec: Record<string, unknown>, status?: Record<string, unknown>) => JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind, metadata: { name, namespace: project }, spec, ...(status ? { status } : {}) });
  const op = (name: string, spec: Record<string, unknown>) => yaml('Operation', name, spec);

  beforeAll(async () => {
    await ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'upm.io/v1alpha1', kind: 'Project', metadata: { name: project } }));
    await waitFor('project namespace', async () => (await k(['get', 'namespace', project])).code === 0, { timeoutMs: 30_000, intervalMs: 200 });
    await ok(['apply', '-f', '-'], [
      yaml('MysqlService', 'db', { version: '8.0', placement, topology: { mode: 'async', replicas: 2 }, storage: { size: '20Gi' } }),
      yaml('MysqlService', 'solo', { version: '8.0', placement, topology: { mode: 'standalone' } }),
      yaml('ZookeeperService', 'zk', { version: '3.8', placement }),
      yaml('KafkaService', 'events', { version: '3.9', placement }),
    ].join('\n'));
  });

  afterAll(async () => {
    await k(['delete', 'project', project, '--wait=false']);
    await closeAgents();
  });

  it('is created on a service that exists, printed with its type, target, phase and progress', async () => {
    expect((await ok(['create', '-f', '-'], op('grow', { type: 'Scale', target: { kind: 'MysqlService', name: 'db' }, scale: { replicas: 3, storage: { size: '40Gi' } } }))).trim()).toBe('operation.upm.io/grow created');
    const table = await ok(['get', 'op', '-n', project]);
    expect(table.split('\n')[0]).toMatch(/^NAME\s+TYPE\s+TARGET\s+PHASE\s+PROGRESS\s+AGE$/);
    expect(table).toMatch(/grow\s+Scale\s+mysqlservice\/db\s+Pending\s+\d/);
    expect(await ok(['explain', 'operations.spec.scale'])).toMatch(/replicas\s+<integer>/);
    expect(await ok(['get', 'operations', '-n', project, '--field-selector', 'spec.type=Scale,spec.target.name=db', '-o', 'name'])).toBe('operation.upm.io/grow\n');
  });

  it('refuses, naming the field: a missing target, a type the kind does not support, parameters that make no sense, a Restore of a Backup whose status (written by the test) is not Succeeded', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ type: 'Restart', target: { kind: 'MysqlService', name: 'nope' } }, `spec.target.name: Not found: "nope": no MysqlService of that name in namespace ${project}`],
      [{ type: 'Switchover', target: { kind: 'KafkaService', name: 'events' } }, 'spec.type: Unsupported value: "Switchover": a KafkaService supports "Create", "Scale", "Restart", "Start", "Stop", "Upgrade", "Reconfigure"'],
      [{ type: 'Backup', target: { kind: 'ZookeeperService', name: 'zk' } }, 'spec.type: Unsupported value: "Backup"'],
      [{ type: 'Scale', target: { kind: 'ZookeeperService', name: 'zk' }, scale: { replicas: 4 } }, 'spec.scale.replicas: Invalid value: 4: must be odd: a ZookeeperService needs a majority of its servers'],
      [{ type: 'Scale', target: { kind: 'MysqlService', name: 'solo' }, scale: { replicas: 2 } }, 'spec.scale.replicas: Forbidden: a standalone MysqlService has one server; change spec.topology.mode first'],
      [{ type: 'Scale', target: { kind: 'MysqlService', name: 'db' }, scale: { storage: { size: '10Gi' } } }, 'spec.scale.storage.size: Invalid value: "10Gi": storage may only grow (the MysqlService has 20Gi)'],
      [{ type: 'Scale', target: { kind: 'KafkaService', name: 'events' }, scale: { replicas: 3 } }, 'spec.scale: Invalid value: nothing to change: the KafkaService "events" already has that size'],
      [{ type: 'Upgrade', target: { kind: 'MysqlService', name: 'db' }, upgrade: { version: '9.9' } }, 'spec.upgrade.version: Unsupported value: "9.9": no engine template mysql-9.9'],
      [{ type: 'Upgrade', target: { kind: 'MysqlService', name: 'db' }, upgrade: { version: '5.7' } }, 'spec.upgrade.version: Invalid value: "5.7": a downgrade from 8.0 is not supported'],
      [{ type: 'Switchover', target: { kind: 'MysqlService', name: 'solo' } }, 'spec.type: Invalid value: "Switchover": the MysqlService "solo" has no replica to hand over to'],
      [{ type: 'Restore', target: { kind: 'MysqlService', name: 'db' }, restore: { backup: 'grow' } }, 'spec.restore.backup: Invalid value: "grow": Operation "grow" is a Scale, not a Backup'],
      // the CRD's rules, answered by the storage server
      [{ type: 'Scale', target: { kind: 'MysqlService', name: 'db' } }, 'spec.scale: Required value: what to scale (replicas, shards, resources or storage)'],
      [{ type: 'Restart', target: { kind: 'MysqlService', name: 'db' }, upgrade: { version: '8.4' } }, 'spec.upgrade: only with spec.type Upgrade'],
      [{ type: 'Scale', target: { kind: 'MysqlService', name: 'db' }, scale: {} }, 'spec.scale: name at least one of replicas, shards, resources or storage'],
      [{ type: 'Reboot', target: { kind: 'MysqlService', name: 'db' } }, 'spec.type: Unsupported value: "Reboot"'],
      [{ type: 'Restart', target: { kind: 'PostgresService', name: 'db' } }, 'spec.target.kind: Unsupported value: "PostgresService"'],
    ];
    for (const [spec, message] of cases) {
      const r = await k(['create', '-f', '-'], op('bad', spec));
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(message);
      expect(r.stderr).toContain('The Operation "bad" is invalid');
    }
    expect((await k(['get', 'op', 'bad', '-n', project])).stderr).toContain('NotFound');
    // A backup that has not succeeded cannot be restored; once its status says Succeeded (written here: nothing runs
    // a Backup yet), the Restore is accepted.
    await ok(['create', '-f', '-'], op('nightly', { type: 'Backup', target: { kind: 'MysqlService', name: 'db' } }));
    const early = await k(['create', '-f', '-'], op('back', { type: 'Restore', target: { kind: 'MysqlService', name: 'db' }, restore: { backup: 'nightly' } }));
    // Pending, or Failed once the hub's operations controller has seen it (Backup has no step list yet).
    expect(early.stderr).toMatch(/spec\.restore\.backup: Invalid value: "nightly": the backup has not succeeded \(phase (Pending|Failed)\)/);
    await ok(['patch', 'op', 'nightly', '-n', project, '--subresource=status', '--type', 'merge', '-p', '{"status":{"phase":"Succeeded"}}']);
    await waitFor('restore accepted', async () => (await k(['create', '-f', '-'], op('back', { type: 'Restore', target: { kind: 'MysqlService', name: 'db' }, restore: { backup: 'nightly' } }))).code === 0, { timeoutMs: 10_000 });
  });

  it('keeps its spec as created, but for spec.cancel, which cannot be withdrawn', async () => {
    await ok(['create', '-f', '-'], op('bounce', { type: 'Restart', target: { kind: 'MysqlService', name: 'db' } }));
    const change = await k(['patch', 'op', 'bounce', '-n', project, '--type', 'merge', '-p', '{"spec":{"restart":{"servers":["db-1"]}}}']);
    expect(change.stderr).toContain("spec: Forbidden: an Operation's spec cannot change once created; only spec.cancel may be set");
    const retarget = await k(['patch', 'op', 'bounce', '-n', project, '--type', 'merge', '-p', '{"spec":{"target":{"name":"solo"}}}']);
    expect(retarget.code).not.toBe(0);
    expect(await ok(['patch', 'op', 'bounce', '-n', project, '--type', 'merge', '-p', '{"spec":{"cancel":true}}'])).toContain('patched');
    expect(await ok(['get', 'op', 'bounce', '-n', project])).toMatch(/bounce\s+Restart\s+mysqlservice\/db\s+(Cancelling|Cancelled)\s/);
    const undo = await k(['patch', 'op', 'bounce', '-n', project, '--type', 'merge', '-p', '{"spec":{"cancel":false}}']);
    expect(undo.stderr).toContain('spec.cancel: a cancellation cannot be withdrawn');
  });

  it('prints N/M progress, the running step and its message (-o wide) from status.steps written by a client', async () => {
    await ok(['create', '-f', '-'], op('up', { type: 'Upgrade', target: { kind: 'MysqlService', name: 'db' }, upgrade: { version: '8.4' } }));
    const status = {
      phase: 'Running', message: 'upgrading db-0', startTime: '2026-01-01T00:00:00Z',
      steps: [{ name: 'CheckTemplate', phase: 'Succeeded' }, { name: 'UpgradeReplicas', phase: 'Succeeded' }, { name: 'Switchover', phase: 'Running' }, { name: 'UpgradeFormerSource', phase: 'Pending' }],
    };
    await ok(['patch', 'op', 'up', '-n', project, '--subresource=status', '--type', 'merge', '-p', JSON.stringify({ status })]);
    await waitFor('progress', async () => /up\s+Upgrade\s+mysqlservice\/db\s+Running\s+2\/4\s/.test(await ok(['get', 'op', 'up', '-n', project])), { timeoutMs: 10_000 });
    const wide = await ok(['get', 'op', 'up', '-n', project, '-o', 'wide']);
    expect(wide.split('\n')[0]).toMatch(/PROGRESS\s+STEP\s+MESSAGE\s+AGE$/);
    expect(wide).toMatch(/2\/4\s+Switchover\s+upgrading db-0\s/);
    expect(await ok(['get', 'upm', '-n', project, '-o', 'name'])).toContain('operation.upm.io/up');
  });
});
