import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import type { EngineEnv } from './types.ts';
import { membershipOf, serverLines, superDigest, zookeeperDriver } from './zookeeper.ts';

const CONF = `clientPort=2181
serverId=1
membership: 
server.1=127.77.0.1:2888:3888:participant
server.2=127.77.0.2:2888:3888:participant
server.5=127.77.0.5:2888:3888:participant;127.77.0.5:2181
version=100000010`;

describe('ZooKeeper membership', () => {
  it('reads server lines the way ZooKeeper compares members: address, ports, role; no client part', () => {
    const rendered = 'tickTime=2000\nserver.1=127.77.0.1:2888:3888\nserver.2 = 127.77.0.2:2888:3888:participant\nserver.5=127.77.0.5:2888:3888\n';
    const m = membershipOf(CONF);
    expect(m?.version).toBe('100000010');
    expect([...(m?.servers ?? [])]).toEqual([...serverLines(rendered)]);
    expect(serverLines('server.4=h:2888:3888:observer;2181').get(4)).toBe('h:2888:3888:observer');
    expect(membershipOf('clientPort=2181')).toBeUndefined();
  });

  it('computes the super user digest as ZooKeeper does (base64 of SHA-1 of "user:password")', () => {
    const want = createHash('sha1').update('super:secret').digest('base64');
    expect(superDigest('super', 'secret')).toBe(`super:${want}`);
  });
});

describe('ZooKeeper start after reconfig rewrote the config', () => {
  it('keeps myid from the rendered file and starts a server absent from its dynamic file from the rendered one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zk-prepare-'));
    try {
      const env: EngineEnv = { unit: 'zk-3', address: '127.0.0.4', dataDir: join(dir, 'data'), runDir: join(dir, 'run'), credentials: { 'admin-username': 'super', 'admin-password': 'pw' }, resolve: (h) => h };
      const cfg = join(dir, 'zoo.cfg');
      const rendered = '#upm:myid=4\n#upm:heap-mb=64\ndataDir=/data\nserver.1=a:2888:3888\nserver.4=d:2888:3888\n';
      // What ZooKeeper leaves after a joiner adopted a configuration it is not in: comments gone, servers elsewhere.
      await writeFile(`${cfg}.bak`, rendered);
      await writeFile(join(dir, 'zoo.cfg.dynamic.100000002'), 'server.1=a:2888:3888:participant\nversion=100000002\n');
      await writeFile(cfg, `dataDir=/data\ndynamicConfigFile=${join(dir, 'zoo.cfg.dynamic.100000002')}\n`);
      await zookeeperDriver.prepare(env, cfg);
      expect(await readFile(cfg, 'utf8')).toBe(rendered);
      expect((await readFile(join(env.dataDir, 'myid'), 'utf8')).trim()).toBe('4');
      expect(zookeeperDriver.launch(env, cfg).args).toContain('-Xmx64m');
      // The super user's digest reaches the JVM through a file of its own, not the command line.
      const argFile = zookeeperDriver.launch(env, cfg).args.find((a) => a.startsWith('@'))?.slice(1) ?? '';
      expect(await readFile(argFile, 'utf8')).toContain(`superDigest=${superDigest('super', 'pw')}`);
      expect(zookeeperDriver.launch(env, cfg).args.join(' ')).not.toContain('superDigest');
      // A server that is listed keeps ZooKeeper's own file.
      const own = `dataDir=/data\ndynamicConfigFile=${join(dir, 'zoo.cfg.dynamic.100000003')}\n`;
      await writeFile(join(dir, 'zoo.cfg.dynamic.100000003'), 'server.1=a:2888:3888:participant\nserver.4=d:2888:3888:participant\nversion=100000003\n');
      await writeFile(cfg, own);
      await zookeeperDriver.prepare(env, cfg);
      expect(await readFile(cfg, 'utf8')).toBe(own);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
