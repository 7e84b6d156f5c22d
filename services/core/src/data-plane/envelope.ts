import type { IncomingMessage, ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
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
  httpStatusOf,
  toErrorEnvelope,
  type AetheriumError,
} from "@aetherium/common";
import { errorCodeForStatus, errorResponseSchema, type ErrorCode } from "@aetherium/types";

/** The request id of an internal request: the gateway's `x-request-id` when it sent one. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  const id = Array.isArray(given) ? given[0] : given;
  return id && /^[\w.:-]{1,200}$/.test(id) ? id : randomUUID();
}

/** Answers with JSON. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Answers with spec/api.md's error envelope and the status of the error's code. */
export function sendError(res: ServerResponse, err: unknown, requestId: string): void {
  if (res.headersSent) {
    // Too late for an envelope (a file was half streamed): cut the response so the client sees
    // a broken body rather than a short, seemingly complete one.
    res.destroy(err instanceof Error ? err : new Error(String(err)));
    return;
  }
  sendJson(res, httpStatusOf(err), toErrorEnvelope(err, requestId), { "x-request-id": requestId });
}

/**
 * Renders an error envelope as the head and body of a raw HTTP response (refused upgrade, a
 * request the HTTP parser refused); `status` defaults to the one of the error's code.
 */
export function rawErrorResponse(
  err: unknown,
  requestId: string,
  status: number = httpStatusOf(err),
): string {
  const body = JSON.stringify(toErrorEnvelope(err, requestId));
  return (
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}\r\n` +
    `content-type: application/json; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n` +
    `x-request-id: ${requestId}\r\n` +
    `connection: close\r\n\r\n${body}`
  );
}

/**
 * The raw answer to Node's `clientError` (a request its HTTP parser refused, which no route or
 * error handler sees), as the envelope with code `bad_request`: `431` for a request line or
 * headers over the 16 KiB limit, `408` for a request too slow to arrive, `400` for malformed
 * HTTP. Undefined when there is nobody to answer (the connection is already gone).
 */
export function clientErrorResponse(
  err: Error & { code?: string },
  socket: { destroyed: boolean; writable: boolean },
): string | undefined {
  if (err.code === "ECONNRESET" || socket.destroyed || !socket.writable) return undefined;
  const [status, message] =
    err.code === "HPE_HEADER_OVERFLOW"
      ? [431, "the request line and headers exceed 16 KiB"]
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "the request did not arrive in time"]
        : [400, "the request is not valid HTTP"];
  return rawErrorResponse(new BadRequestError(message), randomUUID(), status);
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  408: "Request Timeout",
  409: "Conflict",
  413: "Payload Too Large",
  431: "Request Header Fields Too Large",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

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
