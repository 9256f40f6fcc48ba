// One engine client per compose object, kept across passes (connections and their authentication are the costly
// part of a pass), and replaced when what it was made with changes (the credentials, the engine).
export interface Closable { close(): Promise<void> }

export class Sessions<T extends Closable> {
  private readonly byKey = new Map<string, { client: T; made: string }>();

  /** The object's client, made with `made` (e.g. engine and credentials); a client made otherwise is closed first. */
  async get(key: string, made: string, create: () => T): Promise<T> {
    const s = this.byKey.get(key);
    if (s && s.made === made) return s.client;
    this.byKey.delete(key);
    await s?.client.close();
    const client = create();
    this.byKey.set(key, { client, made });
    return client;
  }

  /** Closes and forgets the object's client (the object is gone). */
  async drop(key: string): Promise<void> {
    const s = this.byKey.get(key);
    this.byKey.delete(key);
    await s?.client.close();
  }

  keys(): string[] {
    return [...this.byKey.keys()];
  }
}
