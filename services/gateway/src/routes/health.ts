import { healthResponseSchema } from "@aetherium/types";
import { healthHttpStatus } from "../health/probe-health.js";
import type { RouteDeps } from "../server/deps.js";
import type { Api } from "./api.js";

/** `GET /health`: open, no key needed; what works and what is missing. */
export function registerHealthRoutes(api: Api, deps: RouteDeps): void {
  api.get(
    "/api/v1/health",
    {
      schema: {
        tags: ["health"],
        summary: "Platform health (no key needed)",
        security: [],
        response: { 200: healthResponseSchema, 503: healthResponseSchema },
      },
    },
    // Degraded (no healthy worker, a missing backend) still answers 200: the process serves
    // requests and the body says what is missing. A required dependency down answers 503, so a
    // load balancer stops routing here until it is back.
    async (_req, reply) => {
      const report = await deps.health();
      return reply.status(healthHttpStatus(report)).send(report);
    },
  );
}
