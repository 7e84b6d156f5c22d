/**
 * Errors thrown by the SDK. Every failure the gateway reports arrives as one of these, chosen by
 * the error envelope's `code`, so callers can branch with `instanceof` instead of parsing text.
 * @module
 */
import { errorCodeForStatus } from "@aetherium/types";

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

/**
 * A sandbox this call was waiting on ended up somewhere it cannot leave for the awaited state:
 * `failed` (an infrastructure step failed; `vm.error` says which), `lost` (its worker vanished) or
 * `deleted`. Carries the last snapshot seen.
 */
export class SandboxError extends AetheriumApiError {
  override name = "SandboxError";
  constructor(
    message: string,
    /** Id of the sandbox. */
    readonly vmId: string,
    /** The status it reached (`failed`, `lost`, `deleted`, …). */
    readonly vmStatus: string,
    /** The sandbox's own error message, when it has one. */
    readonly vmError: string | null = null,
  ) {
    super(message, "sandbox_failed", 0);
  }
}

/** A wait (`waitUntil`, `tasks.wait`, an exec's client-side deadline) ran out of time first. */
export class TimeoutError extends AetheriumApiError {
  override name = "TimeoutError";
  constructor(
    message: string,
    /** How long the SDK waited, in milliseconds. */
    readonly timeoutMs: number,
  ) {
    super(message, "timeout", 0);
  }
}

/**
 * The gateway answered with something that does not match the API contract (a field missing or of
 * the wrong type, a message of an unknown kind): usually an SDK and gateway of different versions.
 * `details` holds the validation issues.
 */
export class ContractError extends AetheriumApiError {
  override name = "ContractError";
}

/** The operation was cancelled through its `AbortSignal`. */
export class AbortError extends AetheriumApiError {
  override name = "AbortError";
  constructor(message = "the operation was aborted") {
    super(message, "aborted", 0);
  }
}

/**
 * The SDK error for an API error `code` (as in the envelope or an exec `error` message): each code
 * maps to its class, unknown codes to the base class.
 */
export function errorFromCode(
  code: string,
  message: string,
  status: number,
  requestId?: string,
  details?: unknown,
  retryAfterSec?: number,
): AetheriumApiError {
  const args = [message, code, status, requestId, details] as const;
  switch (code) {
    case "bad_request":
    case "payload_too_large":
      return new BadRequestError(...args);
    case "unauthorized":
    case "forbidden":
      return new AuthError(...args);
    case "not_found":
      return new NotFoundError(...args);
    case "conflict":
      return new ConflictError(...args);
    case "rate_limited":
      return new RateLimitError(...args, retryAfterSec);
    case "unavailable":
      return new UnavailableError(...args);
    case "network":
      return new NetworkError(...args);
    case "aborted":
      return new AbortError(message);
    default:
      return new AetheriumApiError(...args);
  }
}

interface Envelope {
  error?: { code?: unknown; message?: unknown; details?: unknown };
  requestId?: unknown;
}

/**
 * Turns a gateway error response into the matching SDK error. A body without our envelope (a
 * proxy's HTML page, say) still gets the class its HTTP status implies.
 */
export function errorFromResponse(
  status: number,
  body: unknown,
  retryAfter?: string | null,
): AetheriumApiError {
  const env = (typeof body === "object" && body !== null ? body : {}) as Envelope;
  const code = typeof env.error?.code === "string" ? env.error.code : errorCodeForStatus(status);
  const message =
    typeof env.error?.message === "string"
      ? env.error.message
      : `request failed with HTTP ${status}`;
  const requestId = typeof env.requestId === "string" ? env.requestId : undefined;
  const sec = retryAfter ? Number(retryAfter) : undefined;
  return errorFromCode(
    code,
    message,
    status,
    requestId,
    env.error?.details,
    sec !== undefined && Number.isFinite(sec) ? sec : undefined,
  );
}
