import { describe, expect, it } from '@jest/globals';
import { request } from 'undici';
import { HealthServer } from './health.ts';
import { ControllerMetrics } from './metrics.ts';

describe('HealthServer', () => {
  it('serves liveness, readiness that follows the probe, and Prometheus metrics on loopback', async () => {
    let ready = false;
    const metrics = new ControllerMetrics();
    metrics.reconcileTotal.inc({ controller: 'c', result: 'success' });
    const srv = new HealthServer({ registry: metrics.registry, ready: () => ready });
    const port = await srv.listen();
    const get = async (path: string) => {
      const res = await request(`http://127.0.0.1:${port}${path}`);
      return { code: res.statusCode, body: await res.body.text() };
    };
    try {
      expect(await get('/healthz')).toEqual({ code: 200, body: 'ok' });
      expect((await get('/readyz')).code).toBe(503);
      ready = true;
      expect((await get('/readyz')).code).toBe(200);
      const m = await get('/metrics');
      expect(m.code).toBe(200);
      expect(m.body).toContain('controller_runtime_reconcile_total{controller="c",result="success"} 1');
      expect((await get('/nope')).code).toBe(404);
    } finally {
      await srv.close();
    }
  });
});
