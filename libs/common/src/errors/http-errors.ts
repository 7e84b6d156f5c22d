import { formatPath, formatZodError, type ValidationIssue } from "@aetherium/types";
import type { z } from "zod";
import { AetheriumError, type AetheriumErrorOptions } from "./aetherium-error.js";

/** Thrown when a request is malformed in a way that is not a schema violation (`400 bad_request`). */
export class BadRequestError extends AetheriumError {
  /** Builds the error. */
  constructor(message: string, options?: AetheriumErrorOptions) {
    super("bad_request", message, options);
  }
}

/**
 * Thrown when input fails a zod schema (`400 bad_request`). `details` lists every problem as
 * `{path, message}` so a client can point at the offending fields.
 */
export class ValidationError extends AetheriumError {
  /** Every problem found, one per field. */
  readonly issues: ValidationIssue[];

  /** Builds the error from a `ZodError`; `what` names the input ("request body", "query"). */
  constructor(error: z.ZodError, what = "input") {
    const issues = error.issues.map((issue) => ({
      path: formatPath(issue.path),
      message: issue.message,
    }));
    super("bad_request", `invalid ${what}: ${formatZodError(error)}`, {
      details: issues,
      cause: error,
    });
    this.issues = issues;
  }
}

/** Thrown when a request carries no credentials or wrong ones (`401 unauthorized`). */
export class UnauthorizedError extends AetheriumError {
  /** Builds the error. */
  constructor(message = "missing or invalid API key", options?: AetheriumErrorOptions) {
    super("unauthorized", message, options);
  }
}

/** Thrown when the caller is known but lacks the scope for the action (`403 forbidden`). */
export class ForbiddenError extends AetheriumError {
  /** Builds the error. */
  constructor(message = "this API key may not do that", options?: AetheriumErrorOptions) {
    super("forbidden", message, options);
  }
}

/** Thrown when a resource does not exist (`404 not_found`); the message names it and its id. */
export class NotFoundError extends AetheriumError {
  /** The kind of resource looked up (`vm`, `task`, `workspace`). */
  readonly resource: string;
  /** The id that was not found. */
  readonly id: string;

  /** Builds `"<resource> <id> not found"`. */
  constructor(resource: string, id: string, options?: AetheriumErrorOptions) {
    super("not_found", `${resource} ${id} not found`, {
      details: { resource, id },
      ...options,
    });
    this.resource = resource;
    this.id = id;
  }
}

/** Thrown when the action conflicts with the current state (`409 conflict`): a name in use, a stopped sandbox. */
export class ConflictError extends AetheriumError {
  /** Builds the error. */
  constructor(message: string, options?: AetheriumErrorOptions) {
    super("conflict", message, options);
  }
}

/** Thrown when a body or file exceeds a size limit (`413 payload_too_large`). */
export class PayloadTooLargeError extends AetheriumError {
  /** Builds the error. */
  constructor(message: string, options?: AetheriumErrorOptions) {
    super("payload_too_large", message, options);
  }
}

/** Thrown when a caller exceeds its rate limit (`429 rate_limited`); say when to retry. */
export class RateLimitedError extends AetheriumError {
  /** Seconds after which the caller may retry; also the `Retry-After` header. */
  readonly retryAfterSec: number;

  /** Builds the error; the message tells the caller when to retry. */
  constructor(retryAfterSec: number, message?: string, options?: AetheriumErrorOptions) {
    super("rate_limited", message ?? `rate limit exceeded; retry in ${retryAfterSec} s`, {
      details: { retryAfterSec },
      ...options,
    });
    this.retryAfterSec = retryAfterSec;
  }
}

/** Thrown when a dependency (database, queue, worker, backend) is down or overloaded (`503 unavailable`). */
export class UnavailableError extends AetheriumError {
  /** Builds the error. */
  constructor(message: string, options?: AetheriumErrorOptions) {
    super("unavailable", message, options);
  }
}

/**
 * Thrown for a failure that is our fault (`500 internal`). Its message reaches the client, so keep
 * it generic and put the real error in `cause`.
 */
export class InternalError extends AetheriumError {
  /** Builds the error. */
  constructor(message = "internal error", options?: AetheriumErrorOptions) {
    super("internal", message, options);
  }
}
