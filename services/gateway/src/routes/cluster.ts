import { clusterStatsSchema } from "@aetherium/types";
import type { RouteDeps } from "../server/deps.js";
import { errorResponses, type Api } from "./api.js";

/** `GET /cluster/stats`: totals across workers and the depth of every queue. */
export function registerClusterRoutes(api: Api, deps: RouteDeps): void {
  api.get(
    "/api/v1/cluster/stats",
    {
      schema: {
        tags: ["workers"],
        summary: "Cluster totals and queue depths",
        response: { 200: clusterStatsSchema, ...errorResponses },
      },
    },
    async () => deps.runtime.workers.clusterStats(),
  );
}
