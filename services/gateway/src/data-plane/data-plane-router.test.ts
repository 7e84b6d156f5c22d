import { UnauthorizedError, UnavailableError, createLogger, loadConfig } from "@aetherium/common";
import { DataPlaneClient, openControlPlane, type ControlPlane } from "@aetherium/core";
import { useTestDatabase } from "@aetherium/testing";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataPlaneRouter } from "./data-plane-router.js";

const db = useTestDatabase();
let runtime: ControlPlane;
let vmId: string;
const client = new DataPlaneClient();
const router = () => new DataPlaneRouter(runtime.repos, client);

const register = (token: string) =>
  runtime.repos.workers.register({
    id: "w-owner",
    hostname: "h",
    address: "http://127.0.0.1:1",
    internalToken: token,
  });

beforeAll(async () => {
  const config = loadConfig({ env: { AETHERIUM_DATABASE_URL: db.current.url } });
  runtime = await openControlPlane(config, {
    logger: createLogger({ level: "silent", service: "owner-test" }),
    migrate: true,
  });
  await register("token-1");
  const vm = await runtime.repos.vms.create({
    name: "owned",
    backend: "docker",
    image: "img",
    vcpus: 1,
    memoryMb: 512,
    workerId: "w-owner",
  });
  await runtime.repos.vms.updateStatus(vm.id, "pending", "running");
  vmId = vm.id;
});
afterAll(async () => {
  client.close();
  await runtime?.close();
});

describe("the data-plane router", () => {
  it("retries once with the token of a worker that restarted in between", async () => {
    const seen: string[] = [];
    const result = await router().withOwner(vmId, async (t) => {
      seen.push(t.token);
      if (t.token === "token-1") {
        await register("token-2"); // the worker restarts: a new token
        throw new UnauthorizedError("wrong worker token");
      }
      return "done";
    });
    expect(result).toBe("done");
    expect(seen).toEqual(["token-1", "token-2"]);
  });

  it("never passes a worker's 401 on as the caller's: a second refusal is a 503", async () => {
    let calls = 0;
    const attempt = router().withOwner(vmId, () => {
      calls++;
      return Promise.reject(new UnauthorizedError("wrong worker token"));
    });
    await expect(attempt).rejects.toBeInstanceOf(UnavailableError);
    expect(calls).toBe(2);
  });

  it("remembers where a sandbox lives, and forgets it after a failure", async () => {
    const shared = router();
    const tokens: string[] = [];
    const peek = () => shared.withOwner(vmId, (t) => Promise.resolve(tokens.push(t.token)));
    await register("token-3");
    await peek();
    await register("token-4"); // not seen: the owner is remembered
    await peek();
    await expect(
      shared.withOwner(vmId, () => Promise.reject(new Error("sandbox stopped"))),
    ).rejects.toThrow();
    await peek(); // looked up again after the failure
    expect(tokens).toEqual(["token-3", "token-3", "token-4"]);
  });

  it("does not retry other errors", async () => {
    let calls = 0;
    const attempt = router().withOwner(vmId, () => {
      calls++;
      return Promise.reject(new Error("boom"));
    });
    await expect(attempt).rejects.toThrow("boom");
    expect(calls).toBe(1);
  });
});

describe("the data-plane router against a worker that refuses every token", () => {
  // A real HTTP server on loopback standing in for a worker that restarted: it answers 401 to
  // everything and counts the requests that reach it.
  let seen = 0;
  let refusing: http.Server;
  let refusedVm: string;

  beforeAll(async () => {
    refusing = http.createServer((req, res) => {
      seen++;
      req.resume();
      req.on("end", () => {
        res.writeHead(401, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { code: "unauthorized", message: "wrong worker token" } }));
      });
    });
    await new Promise<void>((r) => refusing.listen(0, "127.0.0.1", r));
    const { port } = refusing.address() as { port: number };
    await runtime.repos.workers.register({
      id: "w-refusing",
      hostname: "h",
      address: `http://127.0.0.1:${port}`,
      internalToken: "stale",
    });
    const vm = await runtime.repos.vms.create({
      name: "refused",
      backend: "docker",
      image: "img",
      vcpus: 1,
      memoryMb: 512,
      workerId: "w-refusing",
    });
    await runtime.repos.vms.updateStatus(vm.id, "pending", "running");
    refusedVm = vm.id;
  });
  afterAll(async () => {
    await new Promise((r) => refusing?.close(r));
  });

  it("asks twice for a listing, then answers 503 rather than the worker's 401", async () => {
    seen = 0;
    await expect(router().listFiles(refusedVm, "/")).rejects.toBeInstanceOf(UnavailableError);
    expect(seen).toBe(2);
  });

  it("sends an upload once only: its bytes are spent by the first attempt", async () => {
    seen = 0;
    const upload = router().writeFile(refusedVm, "/tmp/f", Buffer.from("bytes"));
    await expect(upload).rejects.toBeInstanceOf(UnavailableError);
    expect(seen).toBe(1);
  });
});
