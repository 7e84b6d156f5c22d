import type { ErrorResponse } from "@aetherium/types";
import { isAetheriumError } from "./aetherium-error.js";

/** The message clients see for any error that is not an {@link AetheriumError}. */
export const GENERIC_INTERNAL_MESSAGE = "internal error";

/**
 * Renders any thrown value as the API's error body,
 * `{"error": {"code", "message", "details"?}, "requestId"}`. An {@link AetheriumError} keeps its
 * code, message and details; anything else becomes `internal` with a generic message, so stack
 * traces, SQL and file paths never reach a client (log the original error yourself).
 */
export function toErrorEnvelope(err: unknown, requestId: string): ErrorResponse {
  if (isAetheriumError(err)) {
    return {
      error: {
        code: err.code,
        message: err.message,
        ...(err.details === undefined ? {} : { details: err.details }),
      },
      requestId,
    };
  }
  return { error: { code: "internal", message: GENERIC_INTERNAL_MESSAGE }, requestId };
}

/** The HTTP status to answer with for any thrown value: the error's own, else 500. */
export function httpStatusOf(err: unknown): number {
  return isAetheriumError(err) ? err.httpStatus : 500;
}
