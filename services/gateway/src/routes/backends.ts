import { backendsResponseSchema } from "@aetherium/types";
import type { RouteDeps } from "../server/deps.js";
import { errorResponses, type Api } from "./api.js";

/** `GET /backends`: which sandbox backends the active workers offer now, and the default. */
export function registerBackendRoutes(api: Api, deps: RouteDeps): void {
  api.get(
    "/api/v1/backends",
    {
      schema: {
        tags: ["workers"],
        summary: "Backends the fleet offers now, and the one a create naming none gets",
        response: { 200: backendsResponseSchema, ...errorResponses },
      },
    },
    async () => deps.runtime.vms.backends(),
  );
}
