import { UnavailableError } from "./http-errors.js";

/** A service Aetherium depends on, named the way an operator knows it. */
export type Dependency = "database" | "queue" | "event bus";

/** Seconds a client is told to wait before retrying after a dependency outage. */
export const DEPENDENCY_RETRY_AFTER_SEC = 2;

/**
 * Thrown when a dependency (PostgreSQL, the Redis behind the queue or the event bus) refused,
 * dropped or did not answer a call in time (`503 unavailable`, with a `Retry-After`). Clients can
 * tell a retryable outage from a bug; the message names the dependency, never its address.
 */
export class DependencyUnavailableError extends UnavailableError {
  /** Which dependency failed. */
  readonly dependency: Dependency;
  /** Seconds after which the caller may retry; also the `Retry-After` header. */
  readonly retryAfterSec: number;

  /** Builds the error; `cause` is the driver's error, logged but never sent to clients. */
  constructor(dependency: Dependency, options: { cause?: unknown; retryAfterSec?: number } = {}) {
    super(`the ${dependency} is unavailable; retry shortly`, {
      details: { dependency },
      cause: options.cause,
    });
    this.dependency = dependency;
    this.retryAfterSec = options.retryAfterSec ?? DEPENDENCY_RETRY_AFTER_SEC;
  }
}

// ioredis: the connection is down and the command used up its retries, timed out, or was refused
// because offline queueing is off.
const REDIS_ERROR_NAMES = new Set(["MaxRetriesPerRequestError"]);
const REDIS_MESSAGES = [
  /^Command timed out/,
  /^Connection is closed/,
  /^Stream isn't writeable/,
  /max retries per request limit/,
];

// pg: SQLSTATE classes and codes that mean "the server is not there for us right now":
// 08 connection exception, 53300 too many connections, 57P01-57P05 shutdown / cannot connect now /
// idle session timeout, 57014 a statement timeout (the server is too slow to answer).
const PG_CODES = new Set(["53300", "57P01", "57P02", "57P03", "57P05", "57014"]);
const PG_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Query read timeout/,
  /is not currently accepting connections/,
  /^Client has encountered a connection error/,
  /^Client was closed and is not queryable/,
];

// Socket-level failures. `pg` throws them as they are; ioredis only emits them as events and fails
// commands with its own errors above, so without a hint they are the database's.
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);

function matches(message: unknown, patterns: readonly RegExp[]): boolean {
  return typeof message === "string" && patterns.some((p) => p.test(message));
}

/**
 * The one place that decides whether a driver error means a dependency is down. Returns a
 * {@link DependencyUnavailableError} for a refused, dropped, terminated or timed-out call to
 * PostgreSQL (`pg`) or Redis (ioredis, BullMQ), and `undefined` for anything else (a constraint
 * violation or a bug stays what it is). `hint` names the dependency when the caller knows it
 * (the queue and the event bus both run on Redis); without it, the error's shape decides.
 */
export function toDependencyError(
  err: unknown,
  hint?: Dependency,
): DependencyUnavailableError | undefined {
  if (err instanceof DependencyUnavailableError) return err;
  if (typeof err !== "object" || err === null) return undefined;
  const { name, message, code } = err as { name?: unknown; message?: unknown; code?: unknown };
  if (
    (typeof name === "string" && REDIS_ERROR_NAMES.has(name)) ||
    matches(message, REDIS_MESSAGES)
  ) {
    return new DependencyUnavailableError(hint ?? "queue", { cause: err });
  }
  const pgCode = typeof code === "string" ? code : "";
  if (pgCode.startsWith("08") || PG_CODES.has(pgCode) || matches(message, PG_MESSAGES)) {
    return new DependencyUnavailableError(hint ?? "database", { cause: err });
  }
  if (SOCKET_CODES.has(pgCode)) {
    return new DependencyUnavailableError(hint ?? "database", { cause: err });
  }
  return undefined;
}
