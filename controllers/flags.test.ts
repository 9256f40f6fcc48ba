import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parseControllerFlags } from './flags.ts';

describe('parseControllerFlags', () => {
  it('gives the documented defaults and reads each period', () => {
    expect(parseControllerFlags([]).clusters).toEqual({ staleMs: 20_000, reportMs: 60_000 });
    const f = parseControllerFlags(['--cluster-stale-seconds', '12.5', '--cluster-report-seconds=30', '--leader-elect', '--health-port', '8080']);
    expect(f.clusters).toEqual({ staleMs: 12_500, reportMs: 30_000 });
    expect(f.manager['leader-elect']).toBe(true);
  });

  it.each(['cluster-stale-seconds', 'cluster-report-seconds'])('refuses a typo, zero or a negative --%s', (flag) => {
    expect(() => parseControllerFlags([`--${flag}`, '1O'])).toThrow(`--${flag}: "1O" is not valid: want a number greater than 0`);
    expect(() => parseControllerFlags([`--${flag}`, '0'])).toThrow(`--${flag}: "0" is not valid: out of range`);
    expect(() => parseControllerFlags([`--${flag}=-5`])).toThrow(`--${flag}: "-5" is not valid: out of range`);
  });

  it('refuses an unknown flag', () => {
    expect(() => parseControllerFlags(['--cluster-stale', '10'])).toThrow("Unknown option '--cluster-stale'");
    // The periodic heartbeat and inventory reads are gone, and so are their flags.
    expect(() => parseControllerFlags(['--cluster-heartbeat-seconds', '10'])).toThrow("Unknown option '--cluster-heartbeat-seconds'");
  });
});

// The processes themselves: a bad flag ends them before they connect anywhere, with status 2 and the flag's name.
describe('a bad numeric flag stops the process', () => {
  const run = (script: string, args: string[]) => spawnSync(process.execPath, [join(import.meta.dirname, '..', script), ...args], { encoding: 'utf8', timeout: 30_000 });
  it.each([
    ['apiserver/main.ts', ['--tls-cert-file', 'x', '--tls-private-key-file', 'y', '--watch-max-buffered-bytes', '1MiB'], '--watch-max-buffered-bytes: "1MiB" is not valid: want an integer at least 1'],
    ['controllers/main.ts', ['--cluster-stale-seconds', 'ten'], '--cluster-stale-seconds: "ten" is not valid: want a number greater than 0'],
    ['controllers/main.ts', ['--health-port', '80800', '--kubeconfig', '/nonexistent'], '--health-port: "80800" is not valid: out of range'],
  ])('%s %s', (script, args, message) => {
    const r = run(script, args);
    expect(r.stderr).toContain(message);
    expect(r.status).toBe(2);
  });
});
