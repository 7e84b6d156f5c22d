import { ERROR_STATUS_BY_CODE, type ErrorCode } from "@aetherium/types";

/** Options shared by every {@link AetheriumError} constructor. */
export interface AetheriumErrorOptions {
  /** Machine-readable extra information, sent to API clients as `error.details`. */
  details?: unknown;
  /** The lower-level error that caused this one; logged, never sent to clients. */
  cause?: unknown;
}

/**
 * Base class of every error Aetherium throws on purpose. It carries an API error `code`, the HTTP
 * status that code maps to, and optional `details`, so one error handler at the edge (the gateway's
 * `onError`, the CLI's `main()`) can render any of them without knowing the subclass.
 *
 * The `message` of an `AetheriumError` is written for the user and is sent to API clients as is;
 * put anything sensitive in `cause` instead.
 */
export class AetheriumError extends Error {
  /** The API error code (`not_found`, `conflict`, …). */
  readonly code: ErrorCode;
  /** The HTTP status the API answers with for this error. */
  readonly httpStatus: number;
  /** Extra machine-readable information for the client, if any. */
  readonly details: unknown;

  /** Builds an error with `code`; the HTTP status follows from the code. */
  constructor(code: ErrorCode, message: string, options: AetheriumErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.httpStatus = ERROR_STATUS_BY_CODE[code];
    this.details = options.details;
  }
}

/** True when `value` is an {@link AetheriumError} (of any subclass). */
export function isAetheriumError(value: unknown): value is AetheriumError {
  return value instanceof AetheriumError;
}
