// The local UPM system: one etcd, a management cluster and member clusters. Used by the run command, the test
// suites (globalSetup) and the benchmarks. A state file records where everything is, for tests and users.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { binaries, type Binaries } from './binaries.ts';
import { LocalCluster } from './cluster.ts';
import { LocalEtcd } from './etcd.ts';
import type { ManagedProcess } from './process.ts';

export interface ClusterSpec { name: string; role: 'management' | 'member'; nodes?: number }

export const DEFAULT_CLUSTERS: ClusterSpec[] = [
  { name: 'mgmt', role: 'management' },
  { name: 'member1', role: 'member' },
  { name: 'member2', role: 'member' },
];

export interface SystemState {
  dir: string;
  binDir: string;
  etcdUrl: string;
  clusters: Record<string, { role: ClusterSpec['role']; kubeconfig: string; server: string; podCidrOctet: number }>;
}

export class LocalSystem {
  readonly dir: string;
  readonly bins: Binaries;
  readonly etcd: LocalEtcd;
  readonly clusters = new Map<string, LocalCluster>();
  private readonly specs: ClusterSpec[];
  private readonly octets = new Map<string, number>();

  private constructor(dir: string, bins: Binaries, etcd: LocalEtcd, specs: ClusterSpec[]) {
    this.dir = dir;
    this.bins = bins;
    this.etcd = etcd;
    this.specs = specs;
  }

  /**
   * Starts etcd, then every cluster's API server in parallel, then their controllers, KWOK and fake nodes,
   * and resolves when every node is Ready. Reuses PKI and data a previous start left in `dir`.
   */
  static async start(dir: string, specs: ClusterSpec[] = DEFAULT_CLUSTERS, bins = binaries()): Promise<LocalSystem> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const etcd = await LocalEtcd.start(bins.etcd, join(dir, 'etcd'));
    const sys = new LocalSystem(dir, bins, etcd, specs);
    try {
      const base = await sys.podCidrBase(specs.length);
      await Promise.all(specs.map(async (spec, i) => {
        const octet = base + i;
        sys.octets.set(spec.name, octet);
        const cluster = await LocalCluster.start({
          name: spec.name, dir: join(dir, spec.name), etcdUrl: etcd.url, bins, nodes: spec.nodes ?? 3, podCidrOctet: octet,
        });
        sys.clusters.set(spec.name, cluster);
      }));
      await Promise.all([...sys.clusters.values()].map((c) => c.waitForNodesReady()));
      await writeFile(join(dir, 'state.json'), JSON.stringify(sys.state(), null, 2));
      return sys;
    } catch (err) {
      await sys.stop();
      throw err;
    }
  }

  /** Loopback pod CIDRs must not collide with another local system on this machine; keep one base per dir. */
  private async podCidrBase(count: number): Promise<number> {
    const file = join(this.dir, 'pod-cidr-base');
    if (existsSync(file)) return Number(await readFile(file, 'utf8'));
    const base = 16 + Math.floor(Math.random() * (240 - count));
    await writeFile(file, String(base));
    return base;
  }

  cluster(name: string): LocalCluster {
    const c = this.clusters.get(name);
    if (!c) throw new Error(`no cluster ${name}`);
    return c;
  }

  state(): SystemState {
    const clusters: SystemState['clusters'] = {};
    for (const spec of this.specs) {
      const c = this.clusters.get(spec.name);
      if (c) clusters[spec.name] = { role: spec.role, kubeconfig: c.kubeconfig, server: c.server, podCidrOctet: this.octets.get(spec.name) ?? 0 };
    }
    return { dir: this.dir, binDir: this.bins.dir, etcdUrl: this.etcd.url, clusters };
  }

  get processes(): ManagedProcess[] {
    return [this.etcd.process, ...[...this.clusters.values()].flatMap((c) => c.processes)];
  }

  async stop(): Promise<void> {
    await Promise.all([...this.clusters.values()].map((c) => c.stop()));
    await this.etcd.stop();
  }
}
