/**
 * Errors thrown by the SDK. Every failure the gateway reports arrives as one of these, chosen by
 * the error envelope's `code`, so callers can branch with `instanceof` instead of parsing text.
 * @module
 */

/** Base class of every error the SDK throws for an API response or a transport failure. */
export class AetheriumApiError extends Error {
  override name = "AetheriumApiError";
  constructor(
    message: string,
    /** The envelope's machine-readable code (`not_found`, `rate_limited`…), or `network`. */
    readonly code: string,
    /** HTTP status, or 0 when no response arrived. */
    readonly status: number,
    /** The gateway's request id, to quote when reporting a problem. */
    readonly requestId?: string,
    /** Extra data the gateway attached (validation issues, limits…). */
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** The request was malformed or failed validation (400); `details` lists the bad fields. */
export class BadRequestError extends AetheriumApiError {
  override name = "BadRequestError";
}

/** No API key, a wrong or revoked key (401), or a key without the needed scope (403). */
export class AuthError extends AetheriumApiError {
  override name = "AuthError";
}

/** The sandbox, task, worker or key does not exist (404). */
export class NotFoundError extends AetheriumApiError {
  override name = "NotFoundError";
}

/** The request conflicts with current state, e.g. a duplicate name or a stopped sandbox (409). */
export class ConflictError extends AetheriumApiError {
  override name = "ConflictError";
}

/** Too many requests for this key (429); wait `retryAfterSec` before the next one. */
export class RateLimitError extends AetheriumApiError {
  override name = "RateLimitError";
  constructor(
    message: string,
    code: string,
    status: number,
    requestId?: string,
    details?: unknown,
    /** Seconds to wait, from the `Retry-After` header when the gateway sent one. */
    readonly retryAfterSec?: number,
  ) {
    super(message, code, status, requestId, details);
  }
}

/** The platform cannot serve the request now: no worker, a sandbox backend down (503). */
export class UnavailableError extends AetheriumApiError {
  override name = "UnavailableError";
}

/** The gateway could not be reached at all (connection refused, DNS, timeout). */
export class NetworkError extends AetheriumApiError {
  override name = "NetworkError";
}
