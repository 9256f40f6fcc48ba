import { describe, expect, it } from '@jest/globals';
import { Sessions } from './sessions.ts';

class Client {
  closed = false;
  async close(): Promise<void> { this.closed = true; }
}

describe('Sessions', () => {
  it('keeps one client per key while it is made the same way, and replaces it (closed) when not', async () => {
    const s = new Sessions<Client>();
    const a = await s.get('ns/a', 'u:p', () => new Client());
    expect(await s.get('ns/a', 'u:p', () => new Client())).toBe(a);
    const b = await s.get('ns/a', 'u:q', () => new Client());
    expect(b).not.toBe(a);
    expect(a.closed).toBe(true);
    expect(b.closed).toBe(false);
    expect(s.keys()).toEqual(['ns/a']);
  });

  it('closes and forgets a dropped key, and drops an unknown one quietly', async () => {
    const s = new Sessions<Client>();
    const a = await s.get('ns/a', 'x', () => new Client());
    await s.drop('ns/a');
    await s.drop('ns/none');
    expect(a.closed).toBe(true);
    expect(s.keys()).toEqual([]);
  });
});
