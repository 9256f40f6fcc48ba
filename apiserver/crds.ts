// The hub's storage CRDs (crds/hub/), read once: the single source of each public resource's schema, for the
// OpenAPI documents, request validation and the generated TypeScript types alike.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { storageNames } from './resources/types.ts';

export type JsonSchema = Record<string, unknown>;

export interface CrdInfo {
  plural: string;
  kind: string;
  schema: JsonSchema;
  description: string;
}

/** Keyed by the storage plural (mysqlservicerecords). */
export const HUB_CRD_DIR = join(import.meta.dirname, '..', 'crds', 'hub');

interface Crd {
  kind?: string;
  spec: { names: { plural: string; kind: string }; versions: { name: string; storage: boolean; schema: { openAPIV3Schema: JsonSchema } }[] };
}

export function loadCrds(dir = HUB_CRD_DIR): Map<string, CrdInfo> {
  const out = new Map<string, CrdInfo>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.yaml')).sort()) {
    const crd = parse(readFileSync(join(dir, f), 'utf8')) as Crd;
    if (crd.kind !== 'CustomResourceDefinition') continue;
    const version = crd.spec.versions.find((v) => v.storage) ?? crd.spec.versions[0];
    if (!version) continue;
    const schema = version.schema.openAPIV3Schema;
    out.set(crd.spec.names.plural, {
      plural: crd.spec.names.plural, kind: crd.spec.names.kind, schema, description: String(schema.description ?? ''),
    });
  }
  return out;
}

/** The storage CRD of a public resource, checked to carry the storage names (resources/types.ts storageNames). */
export function crdOf(crds: Map<string, CrdInfo>, def: { plural: string; kind: string }): CrdInfo {
  const names = storageNames(def);
  const crd = crds.get(names.plural);
  if (!crd) throw new Error(`${def.plural}: no storage CRD ${names.plural} in crds/hub`);
  if (crd.kind !== names.kind) throw new Error(`${def.plural}: the storage CRD's kind is ${crd.kind}, not ${names.kind}`);
  return crd;
}
