// The engine catalog: a ConfigMap listing every EngineTemplate ("<engine>-<version>" -> image). The API server's
// ValidatingAdmissionPolicy for UnitSets reads it as its parameter, so a UnitSet naming an engine or version that
// has no template is refused at the API with the field named, before anything is created.
import type { EngineTemplate } from '../../lib/api/unit.upm.io.generated.ts';
import type { ReconcileResult } from '../../lib/controller.ts';
import type { Store } from '../../lib/informer.ts';
import type { KubeClient } from '../../lib/kube/client.ts';
import { isNotFound } from '../../lib/kube/errors.ts';
import { Resources } from '../../lib/kube/resources.ts';
import type { KubeObject } from '../../lib/kube/types.ts';
import { CATALOG_NAME, CATALOG_NAMESPACE } from './naming.ts';

export const CATALOG_KEY = 'engine-catalog';

export function catalogReconciler(client: KubeClient, templates: Store<EngineTemplate>) {
  return async function reconcile(): Promise<ReconcileResult> {
    const data = Object.fromEntries(templates.list().filter((t) => !t.metadata.deletionTimestamp).map((t) => [t.metadata.name ?? '', t.spec.image]).sort());
    let cur: (KubeObject & { data?: Record<string, string> }) | undefined;
    try {
      cur = await client.get(Resources.configMaps, CATALOG_NAME, CATALOG_NAMESPACE);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (!cur) {
      await client.create(Resources.configMaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: CATALOG_NAME, namespace: CATALOG_NAMESPACE }, data } as KubeObject);
    } else if (JSON.stringify(cur.data ?? {}) !== JSON.stringify(data)) {
      await client.update(Resources.configMaps, { ...cur, data } as KubeObject);
    }
  };
}
