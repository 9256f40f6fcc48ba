import { rm } from 'node:fs/promises';

export default async function globalTeardown(): Promise<void> {
  await globalThis.__UPM_HUB__?.stop();
  await globalThis.__UPM_SYSTEM__?.stop();
  // Keep logs for a post-mortem when asked (UPM_KEEP_TEST_DIR=1).
  if (globalThis.__UPM_TEST_DIR__ && !process.env.UPM_KEEP_TEST_DIR) {
    await rm(globalThis.__UPM_TEST_DIR__, { recursive: true, force: true });
  }
}
