import type { FastifyInstance } from "fastify";
import { collectDefaultMetrics, Histogram, Registry } from "prom-client";

/**
 * `GET /metrics` (Prometheus text, open like health): the gateway's request histogram and process
 * metrics, plus any registries handed in (the embedded worker's). Labels use the route pattern,
 * never the raw URL, so ids do not explode the series count.
 */
export function installHttpMetrics(app: FastifyInstance, others: readonly Registry[]): void {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "aetherium_gateway_" });
  const duration = new Histogram({
    name: "aetherium_http_request_duration_seconds",
    help: "API request duration by route and status",
    labelNames: ["method", "route", "status"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url;
    if (route === undefined || route === "/metrics") return;
    duration.observe(
      { method: req.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
  app.get("/metrics", { schema: { hide: true } }, async (_req, reply) => {
    const merged = others.length > 0 ? Registry.merge([registry, ...others]) : registry;
    reply.header("content-type", merged.contentType);
    return merged.metrics();
  });
}
