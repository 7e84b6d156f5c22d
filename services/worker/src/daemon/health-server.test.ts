import { connect } from "node:net";
import { errorResponseSchema } from "@aetherium/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataPlane } from "../data-plane/data-plane-server.js";
import { createLogger } from "@aetherium/common";
import { startHealthServer } from "./health-server.js";
import { SandboxManagers } from "../sandbox/sandbox-managers.js";
import { WorkerMetrics } from "./worker-metrics.js";

// The worker's internal port answers every error as spec/api.md's envelope, including requests that
// Node's HTTP parser refuses before any handler runs.
let server: Awaited<ReturnType<typeof startHealthServer>>;

beforeAll(async () => {
  server = await startHealthServer({
    host: "127.0.0.1",
    port: 0,
    metrics: new WorkerMetrics(),
    health: () => ({ healthy: true, body: { status: "ok" } }),
    routes: new DataPlane({
      managers: new SandboxManagers([]),
      token: "t0ken",
      logger: createLogger({ service: "test", level: "silent", format: "json" }),
    }),
  });
});

afterAll(async () => {
  await server?.close();
});

async function raw(text: string): Promise<{ status: number; body: unknown }> {
  const { port } = new URL(server.url);
  const socket = connect(Number(port), "127.0.0.1");
  socket.setTimeout(10_000, () => socket.destroy());
  socket.on("error", () => {});
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  socket.write(text);
  await new Promise<void>((resolve) => socket.once("close", () => resolve()));
  const answer = Buffer.concat(chunks).toString("utf8");
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(answer)?.[1] ?? 0);
  return { status, body: JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)) as unknown };
}

describe("the worker's internal port", () => {
  it("answers an unknown route with the envelope and a request id", async () => {
    const r = await raw("GET /nope HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    expect(r.status).toBe(404);
    expect(errorResponseSchema.parse(r.body).error.code).toBe("not_found");
  });

  it("answers headers over 16 KiB with 431 and the envelope", async () => {
    const big = "b".repeat(20_000);
    const r = await raw(`GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ${big}\r\n\r\n`);
    expect(r.status).toBe(431);
    expect(errorResponseSchema.parse(r.body).error.code).toBe("bad_request");
  });

  it("answers malformed HTTP with 400 and the envelope", async () => {
    const r = await raw("NOT HTTP\r\n\r\n");
    expect(r.status).toBe(400);
    expect(errorResponseSchema.parse(r.body).error.code).toBe("bad_request");
  });

  it("answers a data-plane id that is not valid percent-encoding with 400", async () => {
    const r = await raw(
      "GET /internal/v1/vms/%ff%zz/files/list?path=/ HTTP/1.1\r\nhost: x\r\nauthorization: Bearer t0ken\r\nconnection: close\r\n\r\n",
    );
    expect(r.status).toBe(400);
    expect(errorResponseSchema.parse(r.body).error.code).toBe("bad_request");
  });
});
