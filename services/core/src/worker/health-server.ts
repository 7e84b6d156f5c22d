import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { WorkerMetrics } from "./worker-metrics.js";

/** What `/healthz` reports, computed on each probe. */
export interface HealthState {
  readonly healthy: boolean;
  readonly body: Record<string, unknown>;
}

/**
 * The worker's internal HTTP port: `/healthz` (200 or 503, for Kubernetes probes) and `/metrics`
 * (Prometheus). The original registered a health check on a port nothing listened on; this one
 * is served by the daemon itself and answers from its real state.
 */
export async function startHealthServer(options: {
  host: string;
  port: number;
  metrics: WorkerMetrics;
  health: () => HealthState;
}): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/healthz") {
      const state = options.health();
      res.writeHead(state.healthy ? 200 : 503, { "content-type": "application/json" });
      res.end(JSON.stringify(state.body));
      return;
    }
    if (req.method === "GET" && path === "/metrics") {
      options.metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": options.metrics.registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end(String(err));
        },
      );
      return;
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end(
      JSON.stringify({ error: { code: "not_found", message: `no route ${req.method} ${path}` } }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    server,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
