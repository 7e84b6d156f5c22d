import { healthResponseSchema } from "@aetherium/types";
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
        response: { 200: healthResponseSchema },
      },
    },
    // Degraded still answers 200: the process serves requests; the body says what is missing.
    async () => deps.health(),
  );
}
