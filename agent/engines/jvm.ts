// What the JVM engines installed from Maven Central (Kafka, OpenSearch) share: where the project's set-up put them
// (hack/ensure-maven-engines.sh, versions in hack/versions.env), the heap this node allows them, and the JVM flags
// that keep several clusters of them within a small machine.
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Requirement } from './util.ts';

/** Must equal KAFKA_VERSION, KAFKA4_VERSION and OPENSEARCH_VERSION in hack/versions.env (a unit test checks it). */
export const KAFKA_VERSION = '3.9.2';
export const KAFKA4_VERSION = '4.1.1';
export const OPENSEARCH_VERSION = '2.19.4';

/** The set-up's marker file: written last, so an engine directory with it is complete. */
const MARKER = '.upm-installed';

/** Where hack/ensure-maven-engines.sh installs `<name>-<version>` (the UPM cache, outside the repository). */
export function engineHome(name: string, version: string): string {
  const cache = process.env.UPM_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'upm');
  return join(cache, 'engines', `${name}-${version}`);
}

export function installedRequirement(home: string, what: string): Requirement {
  return { path: join(home, MARKER), install: `${what} is installed from Maven Central by hack/ensure-engines.sh (npm start and npm test run it)` };
}

/** A "#upm:<name>=<value>" line of a rendered config (read by the start command, in a pod and here). */
export function upmValue(config: string, name: string): string | undefined {
  return new RegExp(`^#upm:${name}=(.*)$`, 'm').exec(config)?.[1]?.trim();
}

/** The heap the template asks for ("#upm:heap-mb"), capped: several clusters of JVMs share a small machine here. */
export function heapMb(config: string, cap: number): number {
  const asked = Number(upmValue(config, 'heap-mb'));
  return Number.isFinite(asked) && asked > 0 ? Math.min(Math.floor(asked), cap) : cap;
}

/** A small, quick-starting JVM: serial GC and the C1 compiler only keep a broker's RSS near 150 MB. */
export function smallJvm(heap: number, initial = heap): string[] {
  return [`-Xms${Math.min(initial, heap)}m`, `-Xmx${heap}m`, '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-XX:+ExitOnOutOfMemoryError', '-Djava.awt.headless=true'];
}
