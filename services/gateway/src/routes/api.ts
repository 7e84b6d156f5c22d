import type { IncomingMessage, ServerResponse } from "node:http";
import { errorResponseSchema, noNulString } from "@aetherium/types";
import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";

/** The Fastify instance routes register on: typed by the zod provider. */
export type Api = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/**
 * `{id}` path parameter. Any non-empty string: an id that matches nothing is a 404 (what a user
 * who mistyped it needs to hear), not a 400 about id syntax.
 */
export const idParams = z.object({
  id: noNulString().min(1, "id is required").max(200, "id is at most 200 characters"),
});

/** The error responses every route may give, for the OpenAPI document. */
export const errorResponses = {
  400: errorResponseSchema.describe("bad_request: the input failed validation; details lists why"),
  401: errorResponseSchema.describe("unauthorized: no key, or a wrong or revoked one"),
  403: errorResponseSchema.describe("forbidden: the key lacks the scope"),
  404: errorResponseSchema.describe("not_found"),
  409: errorResponseSchema.describe("conflict: not allowed in the current state"),
  429: errorResponseSchema.describe("rate_limited: retry after the Retry-After header"),
  503: errorResponseSchema.describe("unavailable: a worker or backend cannot serve it now"),
} as const;
