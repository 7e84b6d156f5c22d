/**
 * The logging the queue needs: a pino-shaped subset, so the service's pino logger fits as is and
 * tests can pass a recorder.
 */
export interface QueueLogger {
  /** Recoveries (a connection back after an outage); optional for recorders. */
  info?(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/** Used when no logger is given: hook failures must be visible somewhere, never swallowed. */
export const consoleQueueLogger: QueueLogger = {
  warn: (obj, msg) => console.warn(msg, obj),
  error: (obj, msg) => console.error(msg, obj),
};
