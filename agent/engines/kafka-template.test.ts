// The Kafka templates' start command (what a kubelet runs on a real cluster; the local runtime never does) adds the
// SASL/PLAIN accounts to the config in shell, as the agent's localizeKafka does here. The apache/kafka image has no
// Node to run the agent's code, so the shell keeps its own escaping; this runs it in bash and holds it to the agent's
// output for the same accounts, hostile passwords included, so the two cannot drift apart.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { localizeKafka } from './kafka.ts';
import type { EngineEnv } from './types.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const scratch = mkdtempSync(join(tmpdir(), 'upm-kafka-template-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const rendered = [
  '#upm:cluster-id=AE5u3joPWzFQS3Elu1iS7g', '#upm:heap-mb=128', 'process.roles=broker,controller', 'node.id=1',
  'controller.quorum.voters=1@127.250.9.1:9093', 'controller.listener.names=CONTROLLER', 'listeners=BROKER://:9092,CONTROLLER://:9093',
  'inter.broker.listener.name=BROKER', 'listener.security.protocol.map=BROKER:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT', 'log.dirs=/var/lib/kafka/data/logs',
].join('\n');

type Container = { name: string; args?: string[] };
/** The kafka container's start script, pointed at a scratch directory, with Kafka's own commands left out. */
function startScript(version: string, dir: string): string {
  const tpl = parse(readFileSync(join(root, 'config/templates', `kafka-${version}.yaml`), 'utf8')) as { spec: { podTemplate: { spec: { containers: Container[] } } } };
  let script = tpl.spec.podTemplate.spec.containers.find((c) => c.name === 'kafka')?.args?.[0] ?? '';
  const swaps: [string | RegExp, string][] = [
    ['src=/opt/kafka/config/upm/server.properties', `src=${dir}/server.properties`],
    ['conf=/tmp/server.properties', `conf=${dir}/out.properties`],
    [/^\s*\/opt\/kafka\/bin\/kafka-storage\.sh format .*$/m, ':'],
    [/^\s*exec \/opt\/kafka\/bin\/kafka-server-start\.sh .*$/m, 'exit 0'],
  ];
  for (const [from, to] of swaps) {
    const next = script.replace(from, to);
    expect(next).not.toBe(script); // the template still has that line: else this test no longer runs its script
    script = next;
  }
  return script;
}

/** Runs the start script with the credentials as the pod's env gives them; the config it wrote, or its refusal. */
function runTemplate(version: string, c: Record<string, string>): { code: number | null; stderr: string; config: string } {
  const dir = mkdtempSync(join(scratch, 'run-'));
  writeFileSync(join(dir, 'server.properties'), `${rendered}\n`);
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', startScript(version, dir)], {
    stdio: ['ignore', 'pipe', 'pipe'], cwd: dir,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', UPM_ADMIN_USERNAME: c['admin-username'], UPM_ADMIN_PASSWORD: c['admin-password'], UPM_APP_USERNAME: c['app-username'], UPM_APP_PASSWORD: c['app-password'] },
  });
  let config = '';
  try { config = readFileSync(join(dir, 'out.properties'), 'utf8'); } catch { /* refused before writing it */ }
  return { code: r.status, stderr: r.stderr, config };
}

const saslLines = (config: string): string[] => config.split('\n').filter((l) => /^(super\.users|listener\.name\.[a-z]+\.plain\.sasl\.jaas\.config)=/.test(l));
const env = (credentials: Record<string, string>): EngineEnv => ({ unit: 'k-0', address: '127.250.9.1', dataDir: '/vol', runDir: '/run/k-0', credentials, resolve: (h) => h });

describe.each(['3.9', '4.1'])('the kafka-%s template start command', (version) => {
  const hostile = ['p"w\\1', 'a\\"b\\\\', '$(touch pwned)`id`', "' ; = # ! %s %n x", '"', '\\', 'user_admin="x"; super.users=User:app'];

  it.each(hostile)('writes the SASL/PLAIN accounts as the agent does: password %j', (password) => {
    const credentials = { 'admin-username': 'admin', 'admin-password': password, 'app-username': 'upm_app', 'app-password': `${password}-app` };
    const shell = runTemplate(version, credentials);
    expect(shell).toMatchObject({ code: 0, stderr: '' });
    const lines = saslLines(shell.config);
    expect(lines.map((l) => l.slice(0, l.indexOf('=')))).toEqual(['super.users', 'listener.name.broker.plain.sasl.jaas.config', 'listener.name.controller.plain.sasl.jaas.config']);
    expect(lines).toEqual(saslLines(localizeKafka(rendered, env(credentials))));
  });

  it('refuses a password the shell cannot escape (a line break, non-ASCII), which the agent writes as \\u escapes', () => {
    for (const password of ['a\nsuper.users=User:x', 'é', '']) {
      const shell = runTemplate(version, { 'admin-username': 'admin', 'admin-password': 'ok', 'app-username': 'upm_app', 'app-password': password });
      expect([JSON.stringify(password), shell.code, shell.stderr.trim(), shell.config]).toEqual([JSON.stringify(password), 1, 'a password of the credentials Secret is empty or not printable ASCII', '']);
    }
  });
});
