import type { ErrorResponse } from "@aetherium/types";
import { isAetheriumError, type AetheriumError } from "./aetherium-error.js";
import { toDependencyError } from "./dependency-errors.js";

/** The message clients see for any error that is not an {@link AetheriumError}. */
export const GENERIC_INTERNAL_MESSAGE = "internal error";

/**
 * Renders any thrown value as the API's error body,
 * `{"error": {"code", "message", "details"?}, "requestId"}`. An {@link AetheriumError} keeps its
 * code, message and details; anything else becomes `internal` with a generic message, so stack
 * traces, SQL and file paths never reach a client (log the original error yourself). A driver
 * error that means a dependency is down renders as `unavailable` (see {@link toDependencyError}).
 */
export function toErrorEnvelope(err: unknown, requestId: string): ErrorResponse {
  const typed = asTyped(err);
  if (typed) {
    return {
      error: {
        code: typed.code,
        message: typed.message,
        ...(typed.details === undefined ? {} : { details: typed.details }),
      },
      requestId,
    };
  }
  return { error: { code: "internal", message: GENERIC_INTERNAL_MESSAGE }, requestId };
}

/** The HTTP status to answer with for any thrown value: the error's own (503 for an outage), else 500. */
export function httpStatusOf(err: unknown): number {
  return asTyped(err)?.httpStatus ?? 500;
}

function asTyped(err: unknown): AetheriumError | undefined {
  return isAetheriumError(err) ? err : toDependencyError(err);
}
