import { describe, expect, it } from '@jest/globals';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeClient } from './client.ts';

// A real HTTP server on loopback: /ok answers at once, /stall sends its headers and part of a body, then nothing.
async function withServer(fn: (client: KubeClient) => Promise<void>): Promise<void> {
  const stalled: ServerResponse[] = [];
  const srv = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    if (req.url?.startsWith('/stall')) { res.write('{"items":['); stalled.push(res); return; }
    res.end('{"kind":"Status"}');
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  const client = await KubeClient.fromKubeconfigText(JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
    clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: {} }], contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
  }));
  try {
    await fn(client);
  } finally {
    for (const r of stalled) r.destroy();
    await client.close().catch(() => undefined);
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
}

describe('KubeClient request timeout', () => {
  it('answers a request well within its timeout', async () => {
    await withServer(async (client) => {
      expect(await client.request('GET', '/ok', { timeoutMs: 200 })).toEqual({ kind: 'Status' });
    });
  });

  it('abandons a request whose body stalls after its headers, as a TimeoutError', async () => {
    await withServer(async (client) => {
      const err = await client.request('GET', '/stall', { timeoutMs: 300 }).then(() => undefined, (e: unknown) => e as Error);
      expect(err?.name).toBe('TimeoutError');
    });
  });
});
