import { connect } from "node:net";
import { createLogger } from "@aetherium/common";
import { errorResponseSchema } from "@aetherium/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { DataPlane } from "../data-plane/data-plane-routes.js";
import { SandboxManagers } from "../sandbox/sandbox-managers.js";
import { startInternalServer, type InternalServer } from "./internal-server.js";
import { WorkerMetrics } from "./worker-metrics.js";

// The worker's internal port answers every error as spec/api.md's envelope, including requests that
// Node's HTTP parser refuses before any handler runs. No backend here: what needs a sandbox
// answers 503, so every answer below comes from the port itself.
const TOKEN = "t0ken";
const logger = createLogger({ service: "test", level: "silent", format: "json" });
let server: InternalServer;
let healthy = true;

beforeAll(async () => {
  server = await startInternalServer({
    host: "127.0.0.1",
    port: 0,
    metrics: new WorkerMetrics(),
    health: () => ({ healthy, body: { status: healthy ? "ok" : "stale" } }),
    dataPlane: new DataPlane({ managers: new SandboxManagers([]), token: TOKEN, logger }),
    logger,
  });
});

afterAll(async () => {
  await server?.close();
});

async function raw(
  text: string | Buffer,
): Promise<{ status: number; head: string; body: unknown }> {
  const { port } = new URL(server.url);
  const socket = connect(Number(port), "127.0.0.1");
  socket.setTimeout(10_000, () => socket.destroy());
  socket.on("error", () => {});
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  socket.write(text);
  await new Promise<void>((resolve) => socket.once("close", () => resolve()));
  const answer = Buffer.concat(chunks).toString("utf8");
  const split = answer.indexOf("\r\n\r\n");
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(answer)?.[1] ?? 0);
  return {
    status,
    head: answer.slice(0, split),
    body: JSON.parse(answer.slice(split + 4)) as unknown,
  };
}

const auth = { authorization: `Bearer ${TOKEN}` };

async function envelope(res: Response): Promise<{ code: string; message: string }> {
  const body = errorResponseSchema.parse(await res.json());
  expect(body.requestId).toEqual(expect.any(String));
  return body.error;
}

describe("the worker's internal port", () => {
  it("answers /healthz from the daemon's state and serves /metrics without a token", async () => {
    const ok = await fetch(`${server.url}/healthz`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: "ok" });
    healthy = false;
    try {
      const stale = await fetch(`${server.url}/healthz`);
      expect(stale.status).toBe(503);
      expect(await stale.json()).toEqual({ status: "stale" });
    } finally {
      healthy = true;
    }
    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await metrics.text()).toContain("aetherium_worker_exec_sessions");
  });

  it("answers an unknown route with the envelope and a request id", async () => {
    const r = await raw("GET /nope HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    expect(r.status).toBe(404);
    expect(errorResponseSchema.parse(r.body).error.code).toBe("not_found");
  });

  it("answers an unknown data-plane route 404 with a token and 401 without one", async () => {
    const known = await fetch(`${server.url}/internal/v1/vms/abc/nothing`, { headers: auth });
    expect(known.status).toBe(404);
    expect((await envelope(known)).code).toBe("not_found");
    const anonymous = await fetch(`${server.url}/internal/v1/vms/abc/nothing`);
    expect(anonymous.status).toBe(401);
    expect((await envelope(anonymous)).code).toBe("unauthorized");
  });

  it("refuses a missing or wrong token with 401 before reading the body", async () => {
    // The body announced is never sent: an answer can only come from the headers.
    const r = await raw(
      "POST /internal/v1/vms/abc/execute HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n" +
        "content-length: 1000000\r\nconnection: close\r\n\r\n{",
    );
    expect(r.status).toBe(401);
    expect(errorResponseSchema.parse(r.body).error.code).toBe("unauthorized");
    const wrong = await fetch(`${server.url}/internal/v1/vms/abc/files/list?path=relative`, {
      headers: { authorization: "Bearer not-it" },
    });
    expect(wrong.status).toBe(401);
  });

  it("answers bad query parameters, ids and bodies with a 400 envelope naming the field", async () => {
    const cases: [string, RequestInit, string][] = [
      ["/internal/v1/vms/abc/files?path=relative", {}, "path"],
      ["/internal/v1/vms/abc/files/list?path=/tmp/../etc", {}, "path"],
      ["/internal/v1/vms/abc/files?path=/tmp/x&mode=999", { method: "PUT", body: "x" }, "mode"],
      ["/internal/v1/vms/abc/files?path=/tmp/x&recursive=maybe", { method: "DELETE" }, "recursive"],
      ["/internal/v1/vms/no%20such%20id/files/list?path=/", {}, "id"],
      [
        "/internal/v1/vms/abc/execute",
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ command: "ls", cwd: "relative" }),
        },
        "cwd",
      ],
      [
        "/internal/v1/vms/abc/execute",
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ command: "ls", unknownField: 1 }),
        },
        "",
      ],
    ];
    for (const [path, init, field] of cases) {
      const res = await fetch(`${server.url}${path}`, {
        ...init,
        headers: { ...auth, ...(init.headers as Record<string, string> | undefined) },
      });
      expect(res.status, path).toBe(400);
      const body = errorResponseSchema.parse(await res.json());
      expect(body.error.code).toBe("bad_request");
      if (field) expect(JSON.stringify(body.error.details), path).toContain(field);
    }
    const broken = await fetch(`${server.url}/internal/v1/vms/abc/execute`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: "{not json",
    });
    expect(broken.status).toBe(400);
    expect((await envelope(broken)).code).toBe("bad_request");
  });

  it("answers an execute body over its limit with 413", async () => {
    const res = await fetch(`${server.url}/internal/v1/vms/abc/execute`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ command: "true", stdin: "x".repeat(13 * 1024 * 1024) }),
    });
    expect(res.status).toBe(413);
    expect((await envelope(res)).code).toBe("payload_too_large");
  });

  it("answers 503 with retry-after when no backend is ready", async () => {
    const res = await fetch(`${server.url}/internal/v1/vms/abc/files/list?path=/`, {
      headers: auth,
    });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toEqual(expect.any(String));
    expect((await envelope(res)).code).toBe("unavailable");
  });

  it("answers the exec route without an upgrade with 400 saying it is a WebSocket", async () => {
    const res = await fetch(`${server.url}/internal/v1/vms/abc/exec`, { headers: auth });
    expect(res.status).toBe(400);
    expect((await envelope(res)).message).toMatch(/WebSocket/);
  });

  it("refuses an upgrade before it happens: status and envelope, not a socket", async () => {
    const refusal = (path: string, headers: Record<string, string>) =>
      new Promise<{ status: number; body: unknown }>((resolve, reject) => {
        const ws = new WebSocket(`${server.url.replace("http", "ws")}${path}`, { headers });
        ws.once("open", () => reject(new Error(`${path} upgraded`)));
        ws.once("error", () => {});
        ws.once("unexpected-response", (_req, res) => {
          const parts: Buffer[] = [];
          res.on("data", (c: Buffer) => parts.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              body: JSON.parse(Buffer.concat(parts).toString("utf8")) as unknown,
            }),
          );
        });
      });
    const noToken = await refusal("/internal/v1/vms/abc/exec", {});
    expect(noToken.status).toBe(401);
    expect(errorResponseSchema.parse(noToken.body).error.code).toBe("unauthorized");
    const noBackend = await refusal("/internal/v1/vms/abc/exec", auth);
    expect(noBackend.status).toBe(503);
    expect(errorResponseSchema.parse(noBackend.body).error.code).toBe("unavailable");
    const notExec = await refusal("/internal/v1/vms/abc/files/list?path=/", auth);
    expect(notExec.status).toBe(404);
    expect(errorResponseSchema.parse(notExec.body).error.code).toBe("not_found");
    const health = await refusal("/healthz", {});
    expect(health.status).toBe(404);
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

  it("carries the caller's request id through to the envelope", async () => {
    const res = await fetch(`${server.url}/internal/v1/vms/abc/files/list?path=/`, {
      headers: { ...auth, "x-request-id": "req-123.abc" },
    });
    expect(res.headers.get("x-request-id")).toBe("req-123.abc");
    expect(((await res.json()) as { requestId: string }).requestId).toBe("req-123.abc");
  });
});
