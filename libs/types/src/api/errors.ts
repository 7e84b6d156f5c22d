import { z } from "zod";

/** Machine-readable error codes of the API; each maps to one HTTP status ({@link ERROR_STATUS_BY_CODE}). */
export const errorCodeSchema = z.enum([
  "bad_request",
  "unauthorized",
  "forbidden",
  "not_found",
  "conflict",
  "payload_too_large",
  "rate_limited",
  "unavailable",
  "internal",
]);

/** An API error code. */
export type ErrorCode = z.infer<typeof errorCodeSchema>;

/** The HTTP status the API answers with for each error code. */
export const ERROR_STATUS_BY_CODE = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
} as const satisfies Record<ErrorCode, number>;

/**
 * The error code for an HTTP status, for clients that got an error without a readable body (a
 * proxy's 502, say): exact matches first, then `bad_request` for other 4xx and `internal` for the rest.
 */
export function errorCodeForStatus(status: number): ErrorCode {
  for (const code of errorCodeSchema.options) {
    if (ERROR_STATUS_BY_CODE[code] === status) return code;
  }
  if (status === 502 || status === 504) return "unavailable";
  return status >= 400 && status < 500 ? "bad_request" : "internal";
}

/**
 * Body of every error response: `{"error": {"code", "message", "details"?}, "requestId"}`.
 * `details` is free-form; for `bad_request` from validation it is a list of `{path, message}`.
 * `requestId` matches the `x-request-id` response header and the server's logs.
 */
export const errorResponseSchema = z.object({
  error: z.object({
    code: errorCodeSchema,
    message: z.string(),
    details: z.unknown().optional(),
  }),
  requestId: z.string(),
});

/** An error response body. */
export type ErrorResponse = z.infer<typeof errorResponseSchema>;

/** One validation problem, as listed in `details` of a `bad_request` error. */
export const validationIssueSchema = z.object({
  path: z.string(),
  message: z.string(),
});

/** One validation problem. */
export type ValidationIssue = z.infer<typeof validationIssueSchema>;
