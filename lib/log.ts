// Structured JSON logs (pino). Components take a child logger with their own bindings (controller, key, ...).
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export function newLogger(bindings: Record<string, unknown> = {}): Logger {
  return pino({ level: process.env.UPM_LOG_LEVEL ?? 'info', base: { ...bindings } });
}

/** A logger writing to a file (created with its directory): for components that run inside another process. */
export function fileLogger(path: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level: process.env.UPM_LOG_LEVEL ?? 'info', base: { ...bindings } }, pino.destination({ dest: path, mkdir: true, sync: false }));
}

/** A logger that discards everything: for tests and benchmarks that measure the runtime, not its logging. */
export const silentLogger: Logger = pino({ level: 'silent' });
