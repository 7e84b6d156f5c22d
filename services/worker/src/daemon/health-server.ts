import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { NotFoundError, toErrorEnvelope } from "@aetherium/common";
import { clientErrorResponse, requestIdOf } from "@aetherium/core";
import type { WorkerMetrics } from "./worker-metrics.js";

/** What `/healthz` reports, computed on each probe. */
export interface HealthState {
  readonly healthy: boolean;
  readonly body: Record<string, unknown>;
}

/** More routes on the internal port (the data plane): a path prefix it owns and its handlers. */
export interface InternalRoutes {
  /** Whether the request path (without query) belongs to these routes. */
  handles(path: string): boolean;
  handleRequest(req: IncomingMessage, res: ServerResponse): void;
  /** WebSocket upgrades on its paths. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Closes what outlives HTTP requests (upgraded sockets). */
  close(): Promise<void>;
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
  /** The data plane (`/internal/v1/…`), served on the same port. */
  routes?: InternalRoutes;
}): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const routes = options.routes;
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (routes?.handles(path)) {
      routes.handleRequest(req, res);
      return;
    }
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
          res.writeHead(500, { "content-type": "application/json" });
          res.end(JSON.stringify(toErrorEnvelope(err, requestIdOf(req))));
        },
      );
      return;
    }
    const notFound = new NotFoundError("route", `${req.method} ${path}`);
    const body = JSON.stringify(toErrorEnvelope(notFound, requestIdOf(req)));
    res.writeHead(404, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
    });
    res.end(body);
  });
  // Requests Node's parser refuses (headers over 16 KiB, malformed HTTP) get the envelope too.
  server.on("clientError", (err: Error & { code?: string }, socket: Duplex) => {
    const answer = clientErrorResponse(err, socket);
    if (answer !== undefined) socket.end(answer, () => socket.destroy());
    else socket.destroy();
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (routes?.handles(path)) {
      routes.handleUpgrade(req, socket, head);
      return;
    }
    socket.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
  });
  // The data plane streams long commands: no server-side request timeout cuts them.
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    server,
    url: `http://${host}:${port}`,
    close: async () => {
      await routes?.close();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
