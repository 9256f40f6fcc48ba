// One etcd for all local clusters; each kube-apiserver keeps its data under its own --etcd-prefix.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { waitFor } from '../../lib/wait.ts';
import { ManagedProcess } from './process.ts';
import { freePort } from './ports.ts';

export class LocalEtcd {
  readonly url: string;
  readonly process: ManagedProcess;

  private constructor(url: string, proc: ManagedProcess) {
    this.url = url;
    this.process = proc;
  }

  static async start(binary: string, dir: string): Promise<LocalEtcd> {
    await mkdir(join(dir, 'data'), { recursive: true, mode: 0o700 });
    for (let attempt = 1; ; attempt++) {
      const [client, peer] = [await freePort(), await freePort()];
      const url = `http://127.0.0.1:${client}`;
      const peerUrl = `http://127.0.0.1:${peer}`;
      const proc = ManagedProcess.start({
        name: 'etcd',
        command: binary,
        args: [
          '--name=upm', `--data-dir=${join(dir, 'data')}`,
          `--listen-client-urls=${url}`, `--advertise-client-urls=${url}`,
          `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`, `--initial-cluster=upm=${peerUrl}`,
          // Throwaway local data: durability is not worth the fsync cost on a shared test machine.
          '--unsafe-no-fsync=true', '--quota-backend-bytes=8589934592', '--log-level=warn',
        ],
        logFile: join(dir, 'etcd.log'),
      });
      try {
        await waitFor('etcd /readyz', async () => (await (await request(`${url}/readyz`)).body.text()).includes('ok'), {
          timeoutMs: 30_000,
          failFast: () => (proc.running ? undefined : `exited:\n${proc.tail()}`),
        });
        return new LocalEtcd(url, proc);
      } catch (err) {
        await proc.stop();
        if (attempt >= 3) throw err;
      }
    }
  }

  compact(): Promise<number> {
    return compactEtcd(this.url);
  }

  stop(): Promise<void> {
    return this.process.stop();
  }
}

/** Compacts etcd's history up to its current revision (tests use it to expire old resourceVersions). */
export async function compactEtcd(url: string): Promise<number> {
  const status = await request(`${url}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from('/').toString('base64') }) });
  const header = ((await status.body.json()) as { header: { revision: string } }).header;
  const revision = Number(header.revision);
  const res = await request(`${url}/v3/kv/compaction`, { method: 'POST', body: JSON.stringify({ revision, physical: true }) });
  await res.body.text();
  if (res.statusCode >= 300) throw new Error(`etcd compaction failed: ${res.statusCode}`);
  return revision;
}
