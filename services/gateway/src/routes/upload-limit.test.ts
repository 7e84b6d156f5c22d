import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { createLogger, loadConfig } from "@aetherium/common";
import {
  buildAgentBundle,
  buildBaseImage,
  DataPlaneClient,
  dataPlaneTargetFor,
  DEFAULT_BASE_IMAGE,
  detectBackends,
  DockerBackend,
  openRuntime,
  openSandboxRuntime,
  startWorker,
  type Runtime,
  type SandboxRuntime,
  type StartedWorker,
} from "@aetherium/core";
import { useTestDatabase } from "@aetherium/testing";
import { errorResponseSchema } from "@aetherium/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBootstrapKey } from "../auth/bootstrap-key.js";
import { buildServer, type GatewayApp } from "../server/build-server.js";

// `server.maxUploadMb` against uploads that declare no length (chunked): the gateway and the
// worker count the bytes as they stream, answer 413 and leave no partial file behind. Real
// gateway, worker, PostgreSQL and a Docker sandbox.
const repo = path.resolve(import.meta.dirname, "../../../..");
const docker = (await detectBackends()).find((b) => b.backend === "docker");
const canRun = docker?.available === true && process.getuid?.() === 0;
if (!canRun) console.warn("skipping upload limit tests: needs root and dockerd");

const MiB = 1024 * 1024;
const LIMIT = 1 * MiB;

describe.skipIf(!canRun)("upload limit on chunked uploads", () => {
  const db = useTestDatabase();
  const workerId = `upl-${randomBytes(4).toString("hex")}`;
  const logger = createLogger({ service: "upload-test", level: "silent", format: "json" });
  const client = new DataPlaneClient({ timeoutMs: 20_000 });
  let home: string;
  let runtime: Runtime;
  let sandboxes: SandboxRuntime;
  let worker: StartedWorker;
  let app: GatewayApp;
  let admin: string;
  let url: string;
  let vmId: string;

  beforeAll(async () => {
    const agent = await buildAgentBundle();
    await buildBaseImage({
      agentFile: agent.path,
      cacheDir: path.join(repo, ".aetherium/cache/image"),
      tag: DEFAULT_BASE_IMAGE,
    });
    home = await mkdtemp(path.join(tmpdir(), "aet-upload-"));
    const config = loadConfig({
      env: {
        AETHERIUM_DATABASE_URL: db.current.url,
        AETHERIUM_HOME: home,
        AETHERIUM_WORKER_ID: workerId,
        AETHERIUM_SERVER__MAX_UPLOAD_MB: String(LIMIT / MiB),
      },
    });
    runtime = await openRuntime(config, { logger, migrate: true });
    sandboxes = await openSandboxRuntime(runtime, config, logger);
    worker = await startWorker(runtime, config, {
      logger,
      backends: sandboxes.backends,
      handlers: sandboxes.handlers,
      ...(sandboxes.manager ? { manager: sandboxes.manager } : {}),
      internalHost: "127.0.0.1",
      internalPort: 0,
    });
    admin = (await ensureBootstrapKey(runtime.repos, { home })).secret;
    app = await buildServer({
      logger,
      runtime,
      dataPlane: client,
      health: () => Promise.resolve({ status: "ok", version: "test", components: {} }),
      maxUploadBytes: config.server.maxUploadMb * MiB,
      waitTimeoutMs: 120_000,
    });
    url = await app.listen({ host: "127.0.0.1", port: 0 });
    const made = await fetch(`${url}/api/v1/vms?wait=true`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "upload", memoryMb: 256 }),
    });
    const body = (await made.json()) as { vm: { id: string; status: string } };
    expect(made.status, JSON.stringify(body)).toBe(201);
    vmId = body.vm.id;
  }, 300_000);

  afterAll(async () => {
    await app?.close();
    client.close();
    await worker?.stop(5000);
    await sandboxes?.close();
    const backend = new DockerBackend();
    for (const s of await backend.list({ workerId })) await backend.remove(s.sandboxId);
    await runtime?.close();
    if (home) await rm(home, { recursive: true, force: true });
  }, 60_000);

  /**
   * PUTs `total` bytes with `Transfer-Encoding: chunked` (no Content-Length), in 64 KiB pieces,
   * and stops sending once an answer arrives (a server may refuse before the end).
   */
  function chunkedUpload(
    filePath: string,
    total: number,
  ): Promise<{ status: number; body: unknown }> {
    const target = new URL(`${url}/api/v1/vms/${vmId}/files`);
    target.searchParams.set("path", filePath);
    return new Promise((resolve, reject) => {
      const req = http.request(target, {
        method: "PUT",
        headers: {
          authorization: `Bearer ${admin}`,
          "content-type": "application/octet-stream",
          "transfer-encoding": "chunked",
        },
        timeout: 30_000,
      });
      let answered = false;
      req.on("timeout", () => req.destroy(new Error("upload timed out")));
      req.on("error", (err) => {
        if (!answered) reject(err);
      });
      req.on("response", (res) => {
        answered = true;
        const parts: Buffer[] = [];
        res.on("data", (c: Buffer) => parts.push(c));
        res.on("end", () => {
          const text = Buffer.concat(parts).toString("utf8");
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown });
        });
        res.on("error", reject);
      });
      const piece = Buffer.alloc(64 * 1024, 0x61);
      let sent = 0;
      const pump = (): void => {
        while (sent < total && !answered && !req.destroyed) {
          const n = Math.min(piece.length, total - sent);
          sent += n;
          if (!req.write(piece.subarray(0, n))) {
            req.once("drain", pump);
            return;
          }
        }
        if (sent >= total && !answered) req.end();
      };
      pump();
    });
  }

  async function fileStatus(filePath: string): Promise<number> {
    const target = new URL(`${url}/api/v1/vms/${vmId}/files`);
    target.searchParams.set("path", filePath);
    const res = await fetch(target, { headers: { authorization: `Bearer ${admin}` } });
    await res.arrayBuffer();
    return res.status;
  }

  it("refuses a chunked upload a little over the limit with 413 and leaves no file", async () => {
    const r = await chunkedUpload("/tmp/over/limit.bin", LIMIT + 200 * 1024);
    expect(r.status).toBe(413);
    expect(errorResponseSchema.parse(r.body).error.code).toBe("payload_too_large");
    // The worker removes what it wrote once the gateway cuts the upload; that happens just
    // after the 413, so wait (bounded) for the outcome a user would see.
    let status = 0;
    for (let i = 0; i < 100; i++) {
      status = await fileStatus("/tmp/over/limit.bin");
      if (status === 404) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(404);
  }, 60_000);

  it("accepts a chunked upload of exactly the limit", async () => {
    const r = await chunkedUpload("/tmp/at/limit.bin", LIMIT);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toEqual({ path: "/tmp/at/limit.bin", size: LIMIT });
  }, 60_000);

  it("has the worker itself refuse an upload over the limit and remove the partial file", async () => {
    // Straight to the worker's data plane, as a gateway with a larger limit would send it.
    const target = await dataPlaneTargetFor(runtime.repos, vmId);
    const pieces = function* () {
      for (let i = 0; i < 24; i++) yield Buffer.alloc(64 * 1024, 0x62);
    };
    await expect(
      client.writeFile(target, vmId, "/tmp/worker/over.bin", Readable.from(pieces())),
    ).rejects.toMatchObject({ code: "payload_too_large" });
    await expect(client.readFile(target, vmId, "/tmp/worker/over.bin")).rejects.toMatchObject({
      code: "not_found",
    });
  }, 60_000);
});
