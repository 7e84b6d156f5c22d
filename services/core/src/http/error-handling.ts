import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import {
  BadRequestError,
  DEPENDENCY_RETRY_AFTER_SEC,
  DependencyUnavailableError,
  httpStatusOf,
  isAetheriumError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  toDependencyError,
  toErrorEnvelope,
} from "@aetherium/common";
import { formatPath, type ValidationIssue } from "@aetherium/types";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { InvalidCursorError } from "../storage/cursor.js";

const NULL_BODY_MESSAGE =
  "invalid request body: expected a JSON object, got null (omit the body to send none)";

/** Where a failed validation happened, in words a client recognises. */
const CONTEXT_NAMES: Record<string, string> = {
  body: "request body",
  querystring: "query",
  params: "path",
  headers: "headers",
};

/**
 * One error path for a Fastify app (the gateway's public API and a worker's internal port alike):
 * validation failures list every bad field in `details`; Fastify's own client errors (malformed
 * JSON, oversized body, wrong content type) keep their 4xx; a dependency outage (database, queue,
 * event bus) is a `503 unavailable` naming it, with `retry-after`; our typed errors keep their
 * code; anything else is a logged 500 with a generic message, so stack traces, SQL and paths
 * never reach a client. Unknown routes are a `404 not_found` envelope, or, for a `GET` outside
 * `/api/`, the page `notFoundPage` gives (the dashboard's own 404 page).
 */
export function installErrorHandling(
  app: FastifyInstance,
  options: { notFoundPage?: () => Buffer | undefined } = {},
): void {
  app.setErrorHandler((err, req, reply) => {
    const mapped = toDependencyError(err) ?? fromFastifyError(err);
    const status = httpStatusOf(mapped);
    if (mapped instanceof DependencyUnavailableError) {
      // An outage is not a bug: one line naming the dependency and the driver's error is enough.
      req.log.warn({ err: mapped.cause, dependency: mapped.dependency }, "dependency unavailable");
    } else if (status >= 500) req.log.error({ err }, "request failed");
    if (mapped instanceof RateLimitedError || mapped instanceof DependencyUnavailableError) {
      reply.header("retry-after", mapped.retryAfterSec);
    } else if (status === 503) {
      // Every 503 is worth retrying (a worker or the queue out of reach): say when.
      reply.header("retry-after", DEPENDENCY_RETRY_AFTER_SEC);
    }
    // A refusal that leaves the rest of a body unread (an oversized upload) closes the
    // connection rather than have Node read and discard what is still coming.
    if (!req.raw.complete) reply.header("connection", "close");
    // The id travels with every error, so a failure a caller reports can be found in the logs.
    reply.header("x-request-id", req.id);
    return reply.status(status).send(toErrorEnvelope(mapped, req.id));
  });
  // An empty body with a JSON content type is no body (clients send the header on every POST);
  // routes that need a body then say so through their schema. Fastify validates a missing body
  // as `null`, so routes whose body is optional accept `null`: a client that sends the JSON
  // literal `null` is refused here instead, as no route takes it for "no body".
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (req, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text === "") {
      done(null, undefined);
      return;
    }
    void parseJson(req, text, (err, parsed) => {
      if (err) done(err, undefined);
      else if (parsed === null) done(new BadRequestError(NULL_BODY_MESSAGE), undefined);
      else done(null, parsed);
    });
  });
  app.setNotFoundHandler((req, reply) => {
    // A person who mistyped a dashboard address gets the dashboard's own 404 page, not JSON.
    const page = req.url.startsWith("/api/") ? undefined : options.notFoundPage?.();
    if (page && req.method === "GET") {
      return reply.status(404).type("text/html; charset=utf-8").send(page);
    }
    const err = new NotFoundError("route", `${req.method} ${req.url.split("?")[0]}`);
    reply.header("x-request-id", req.id);
    return reply.status(404).send(toErrorEnvelope(err, req.id));
  });
}

/** Maps what Fastify and its plugins throw onto our typed errors; others pass through. */
export function fromFastifyError(err: unknown): unknown {
  if (isAetheriumError(err) || typeof err !== "object" || err === null) return err;
  if (err instanceof InvalidCursorError) {
    return new BadRequestError(
      "cursor is not one this API gave out; pass nextCursor from the previous page as it is",
    );
  }
  if (hasZodFastifySchemaValidationErrors(err)) {
    const context = CONTEXT_NAMES[err.validationContext ?? ""] ?? "request";
    const details: ValidationIssue[] = err.validation.map((v) => ({
      path: formatPath(
        v.instancePath
          .split("/")
          .filter(Boolean)
          .map((seg) => (/^\d+$/.test(seg) ? Number(seg) : seg)),
      ),
      message: v.message ?? "is invalid",
    }));
    const summary = details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join("; ");
    return new BadRequestError(`invalid ${context}: ${summary}`, { details });
  }
  const { statusCode, message, retryAfterSec } = err as {
    statusCode?: unknown;
    message?: unknown;
    retryAfterSec?: unknown;
  };
  if (typeof statusCode !== "number" || statusCode < 400 || statusCode >= 500) return err;
  const text = typeof message === "string" ? message : "bad request";
  if (statusCode === 413) return new PayloadTooLargeError(text);
  if (statusCode === 429)
    return new RateLimitedError(typeof retryAfterSec === "number" ? retryAfterSec : 1, text);
  if (statusCode === 404) return new NotFoundError("route", text);
  return new BadRequestError(text);
}

/** Longest path parameter the router accepts (Fastify's `routerOptions.maxParamLength`). */
export const MAX_PARAM_LENGTH = 200;

/**
 * Fastify's `frameworkErrors`: routing errors raised before any route or error handler runs (a
 * path parameter over the router's length limit, a path that is not valid percent-encoding),
 * answered as the envelope like every other error.
 */
export function frameworkErrorHandler(
  err: Error & { code?: string },
  req: Pick<FastifyRequest, "id" | "log">,
  reply: Pick<FastifyReply, "status" | "header">,
): void {
  const mapped =
    err.code === "FST_ERR_BAD_URL"
      ? new BadRequestError(
          "the path is not valid percent-encoding: '%' must start an escape of UTF-8 bytes",
        )
      : err.code === "FST_ERR_MAX_PARAM_LENGTH"
        ? new BadRequestError(`a path segment is longer than ${MAX_PARAM_LENGTH} characters`)
        : fromFastifyError(err);
  const status = httpStatusOf(mapped);
  if (status >= 500) req.log.error({ err }, "request failed");
  void reply.header("x-request-id", req.id);
  void reply.status(status).send(toErrorEnvelope(mapped, req.id));
}

/**
 * Node's `clientError`: a request the HTTP parser refused (request line or headers over its
 * 16 KiB limit, malformed HTTP) never reaches Fastify. It still gets the envelope, with code
 * `bad_request`: `431` for a request line or headers over the limit, `408` for a request too slow
 * to arrive, `400` for malformed HTTP; then the connection closes, as the rest of what the client
 * sent cannot be parsed anyway.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, message] =
    err.code === "HPE_HEADER_OVERFLOW"
      ? [431, "the request line and headers exceed 16 KiB"]
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "the request did not arrive in time"]
        : [400, "the request is not valid HTTP"];
  const answer = rawErrorResponse(new BadRequestError(message), randomUUID(), status);
  socket.end(answer, () => socket.destroy());
}

/**
 * Fastify's `genReqId`: the caller's `x-request-id` when it is a plausible id, so one request can
 * be followed through gateway, worker and logs; a fresh UUID otherwise.
 */
export function requestIdFor(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}

/** The envelope as the head and body of a raw HTTP response, for a socket no reply object owns. */
function rawErrorResponse(err: unknown, requestId: string, status: number): string {
  const body = JSON.stringify(toErrorEnvelope(err, requestId));
  return (
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}\r\n` +
    `content-type: application/json; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n` +
    `x-request-id: ${requestId}\r\n` +
    `connection: close\r\n\r\n${body}`
  );
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
};
