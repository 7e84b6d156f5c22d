import { randomBytes } from "node:crypto";
import http from "node:http";
import { Readable } from "node:stream";
import { createLogger, type Config } from "@aetherium/common";
import { DataPlaneClient, dataPlaneTargetFor, type ControlPlane } from "@aetherium/core";
import { useTestDatabase } from "@aetherium/testing";
import { errorResponseSchema } from "@aetherium/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildServer, ensureBootstrapKey } from "@aetherium/gateway";
import { dockerSandboxesHere, startTestWorker, type TestWorker } from "../fixtures/test-worker.js";

// `server.maxUploadMb` against uploads that declare no length (chunked): the gateway and the
// worker count the bytes as they stream, answer 413 and leave no partial file behind. Real
// gateway, worker, PostgreSQL and a Docker sandbox.
const here = await dockerSandboxesHere();
const canRun = here.ok;
if (!canRun) console.warn(`skipping upload limit tests: ${here.detail}`);

const MiB = 1024 * 1024;
const LIMIT = 1 * MiB;

describe.skipIf(!canRun)("upload limit on chunked uploads", () => {
  const db = useTestDatabase();
  const workerId = `upl-${randomBytes(4).toString("hex")}`;
  const logger = createLogger({ service: "upload-test", level: "silent", format: "json" });
  const client = new DataPlaneClient({ timeoutMs: 20_000 });
  let home: string;
  let runtime: ControlPlane;
  let fixture: TestWorker;
  let config: Config;
  let app: Awaited<ReturnType<typeof buildServer>>;
  let admin: string;
  let url: string;
  let vmId: string;

  beforeAll(async () => {
    fixture = await startTestWorker(
      "upload",
      {
        AETHERIUM_DATABASE_URL: db.current.url,
        AETHERIUM_WORKER_ID: workerId,
        AETHERIUM_SERVER__MAX_UPLOAD_MB: String(LIMIT / MiB),
      },
      { internalHost: "127.0.0.1" },
    );
    ({ runtime, home, config } = fixture);
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
    await fixture?.close();
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
