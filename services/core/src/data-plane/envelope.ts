import {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  InternalError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  UnauthorizedError,
  UnavailableError,
  type AetheriumError,
} from "@aetherium/common";
import { errorCodeForStatus, errorResponseSchema, type ErrorCode } from "@aetherium/types";

/**
 * The {@link AetheriumError} subclass for an error envelope the worker answered with, keeping its
 * code, message and details, so a gateway can let it propagate and render the same envelope.
 * A body that is not an envelope becomes the error of its HTTP status.
 */
export function errorFromEnvelope(status: number, body: string): AetheriumError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const envelope = errorResponseSchema.safeParse(parsed);
  if (!envelope.success) {
    return errorForCode(
      errorCodeForStatus(status),
      `worker answered ${status}${body ? `: ${body.slice(0, 200)}` : ""}`,
    );
  }
  const { code, message, details } = envelope.data.error;
  return errorForCode(code, message, details);
}

/** An error of `code` with exactly this message and details. */
export function errorForCode(code: ErrorCode, message: string, details?: unknown): AetheriumError {
  const options = details === undefined ? {} : { details };
  let err: AetheriumError;
  switch (code) {
    case "bad_request":
      err = new BadRequestError(message, options);
      break;
    case "unauthorized":
      err = new UnauthorizedError(message, options);
      break;
    case "forbidden":
      err = new ForbiddenError(message, options);
      break;
    case "not_found": {
      const d = (details ?? {}) as { resource?: unknown; id?: unknown };
      err = new NotFoundError(
        typeof d.resource === "string" ? d.resource : "resource",
        typeof d.id === "string" ? d.id : "",
        options,
      );
      err.message = message;
      break;
    }
    case "conflict":
      err = new ConflictError(message, options);
      break;
    case "payload_too_large":
      err = new PayloadTooLargeError(message, options);
      break;
    case "rate_limited": {
      const d = (details ?? {}) as { retryAfterSec?: unknown };
      err = new RateLimitedError(
        typeof d.retryAfterSec === "number" ? d.retryAfterSec : 1,
        message,
        options,
      );
      break;
    }
    case "unavailable":
      err = new UnavailableError(message, options);
      break;
    default:
      err = new InternalError(message, options);
  }
  return err;
}
