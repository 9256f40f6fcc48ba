// The engine templates the hub can place, from the template files' names (`<engine>-<version>.yaml`).
import { readdirSync } from 'node:fs';

export function engineTemplates(dir: string): Set<string> {
  return new Set(readdirSync(dir).filter((f) => /^[a-z][a-z0-9-]*-\d[\w.]*\.yaml$/.test(f)).map((f) => f.slice(0, -'.yaml'.length)));
}
