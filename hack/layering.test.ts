// The layers of the code, checked on every import: lib/ is the shared base and depends on nothing of the project;
// the agent, the operators, the hub controllers and the API server build on lib/ and do not import each other,
// except the operators' use of the agent's client side and of the engines' wire formats (listed below). A pure piece
// two layers need goes into lib/ (the MySQL candidate choice did: the hub's Failover plan and the Compose Operator
// both pick with it).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** What each layer may import besides itself. */
const ALLOWED: Record<string, string[]> = {
  lib: [],
  agent: ['lib'],
  operators: ['lib'],
  controllers: ['lib'],
  apiserver: ['lib'],
};

/** Files of another layer one layer may import, by exact path. */
const EXCEPTIONS: Record<string, string[]> = {
  operators: [
    // The Unit Operator drives each pod's agent: its API types, client and tokens.
    'agent/api.ts', 'agent/client.ts', 'agent/tokens.ts',
    // The Compose Operator reads the engines' replies as the agent does (RESP, ZooKeeper's four-letter words).
    'agent/engines/resp.ts', 'agent/engines/util.ts', 'agent/engines/zookeeper.ts',
  ],
};

/** Tests may also use the local system's helpers (a CA, fixtures) and the integration tests' helpers. */
const TEST_ALLOWED = ['hack', 'test'];

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** The relative specifiers a file imports or re-exports (static and dynamic). */
function specifiers(text: string): string[] {
  const out: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1] as string);
  return out;
}

/** Every import that crosses layers where it may not, as "file -> imported file". */
function violations(files: { path: string; text: string }[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    const layer = f.path.split('/')[0] as string;
    const test = /\.test\.ts$|\.testing\.ts$/.test(f.path);
    for (const spec of specifiers(f.text)) {
      const target = relative(root, resolve(root, dirname(f.path), spec)).split('\\').join('/');
      const to = target.split('/')[0] as string;
      if (to === layer || ALLOWED[layer]?.includes(to) || EXCEPTIONS[layer]?.includes(target)) continue;
      if (test && TEST_ALLOWED.includes(to)) continue;
      out.push(`${f.path} -> ${target}`);
    }
  }
  return out;
}

describe('layering', () => {
  const files = Object.keys(ALLOWED).flatMap(sources).map((path) => ({ path, text: readFileSync(join(root, path), 'utf8') }));

  it('reads the sources of every layer', () => {
    for (const layer of Object.keys(ALLOWED)) expect(files.filter((f) => f.path.startsWith(`${layer}/`)).length).toBeGreaterThan(0);
  });

  it('finds no import across layers where it may not be', () => {
    expect(violations(files)).toEqual([]);
  });

  it('catches lib/ importing an operator, a controller importing the agent, and the agent importing an operator', () => {
    expect(violations([
      { path: 'lib/operations/x.ts', text: "import { pickCandidate } from '../../operators/compose/mysql/gtid.ts';" },
      { path: 'controllers/services/x.ts', text: "export { AgentClient } from '../../agent/client.ts';" },
      { path: 'agent/engines/x.ts', text: "const m = await import('../../operators/unit/catalog.ts');" },
      { path: 'operators/unit/x.ts', text: "import type { Agent } from '../../agent/agent.ts';\nimport { AgentClient } from '../../agent/client.ts';" },
      { path: 'lib/x.test.ts', text: "import { createCA } from '../hack/local/pki.ts';" },
    ])).toEqual([
      'lib/operations/x.ts -> operators/compose/mysql/gtid.ts',
      'controllers/services/x.ts -> agent/client.ts',
      'agent/engines/x.ts -> operators/unit/catalog.ts',
      'operators/unit/x.ts -> agent/agent.ts',
    ]);
  });
});
