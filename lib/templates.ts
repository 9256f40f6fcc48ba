// The engine templates the hub can place (read by the API server and the hub controllers), from the template files (`<engine>-<version>.yaml`): each one's engine and
// parameter metadata, so that a service's parameters are checked at the API as the member will check them.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { ParameterSpec } from './paramcheck.ts';

export interface EngineTemplateInfo { engine: string; parameters: ParameterSpec[] }

export function engineTemplates(dir: string): Map<string, EngineTemplateInfo> {
  const out = new Map<string, EngineTemplateInfo>();
  for (const f of readdirSync(dir).filter((x) => /^[a-z][a-z0-9-]*-\d[\w.]*\.yaml$/.test(x))) {
    const doc = parse(readFileSync(join(dir, f), 'utf8')) as { spec?: { engine?: string; parameters?: ParameterSpec[] } } | null;
    out.set(f.slice(0, -'.yaml'.length), { engine: doc?.spec?.engine ?? '', parameters: doc?.spec?.parameters ?? [] });
  }
  return out;
}
