import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger, loadConfig } from "@aetherium/common";
import { DataPlaneClient, openControlPlane, type ControlPlane } from "@aetherium/core";
import { buildServer, ensureBootstrapKey } from "@aetherium/gateway";
import { useTestDatabase } from "@aetherium/testing";
import type { VmBackend } from "@aetherium/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIo } from "../io.js";
import { runAether } from "../program.js";

// A real gateway on a real runtime; its workers are registered rows, so sandboxes stay pending.
const db = useTestDatabase();
let home: string;
let runtime: ControlPlane;
let app: Awaited<ReturnType<typeof buildServer>>;
let url: string;
let admin: string;

beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "aether-backend-"));
  const config = loadConfig({
    env: { AETHERIUM_DATABASE_URL: db.current.url, AETHERIUM_HOME: home },
  });
  const logger = createLogger({ level: "silent", service: "cli-backend-test" });
  runtime = await openControlPlane(config, { logger, migrate: true });
  admin = (await ensureBootstrapKey(runtime.repos, { home })).secret;
  app = await buildServer({
    logger,
    runtime,
    dataPlane: new DataPlaneClient(),
    health: () => Promise.resolve({ status: "ok", version: "test", components: {} }),
    rateLimit: { max: 300, timeWindowMs: 60_000 },
    waitTimeoutMs: 500,
  });
  url = (await app.listen({ host: "127.0.0.1", port: 0 })).replace("[::1]", "localhost");
});

afterAll(async () => {
  await app?.close();
  await runtime?.close();
  if (home) await rm(home, { recursive: true, force: true });
});

/** Runs one command line against the gateway, capturing its output. */
async function aether(argv: string[]) {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: { write: (c) => (stdout += typeof c === "string" ? c : Buffer.from(c).toString()) },
    stderr: { write: (c) => (stderr += typeof c === "string" ? c : Buffer.from(c).toString()) },
    stdin: { isTTY: false, [Symbol.asyncIterator]: async function* () {} },
    env: { AETHERIUM_URL: url, AETHERIUM_API_KEY: admin },
    cwd: home,
  };
  const code = await runAether(argv, io);
  return { code, stdout, stderr };
}

const worker = (id: string, backends: VmBackend[]) =>
  runtime.repos.workers.register({
    id,
    hostname: "h",
    address: "http://127.0.0.1:1",
    backends,
    capacity: { vcpus: 4, memoryMb: 8192, maxVms: 10 },
  });

describe("aether vm create --backend", () => {
  it("with no active worker refuses any --backend as a usage error, and sends nothing", async () => {
    const r = await aether(["vm", "create", "--name", "nobody-home", "--backend", "docker"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^aether: --backend "docker": no active worker offers a backend now/);
    expect(await runtime.repos.vms.getByName("nobody-home")).toBeFalsy();
  });

  it("refuses a backend the fleet does not offer, naming the ones it does (exit 2)", async () => {
    await worker("w-qemu", ["qemu"]);
    for (const backend of ["docker", "firecracker", "kvm"]) {
      const r = await aether(["vm", "create", "--name", `not-${backend}`, "--backend", backend]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(`aether: --backend "${backend}": the fleet offers qemu (`);
      expect(await runtime.repos.vms.getByName(`not-${backend}`)).toBeFalsy();
    }
    const json = await aether(["--json", "vm", "create", "--backend", "docker"]);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stderr)).toMatchObject({
      error: {
        code: "usage",
        message: expect.stringMatching(/^--backend "docker": the fleet offers qemu/),
      },
    });
  });

  it("creates on a backend the fleet offers", async () => {
    const r = await aether(["vm", "create", "--name", "on-qemu", "--backend", "qemu", "--no-wait"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/sandbox on-qemu is pending/);
    const row = await runtime.repos.vms.getByName("on-qemu");
    expect(row?.backend).toBe("qemu");
    expect((await aether(["vm", "rm", "on-qemu"])).code).toBe(0);
  });

  it("does not promise backends in its help", async () => {
    const help = (await aether(["vm", "create", "--help"])).stdout;
    expect(help).toMatch(/--backend <backend>\s+a backend the active workers offer/);
    expect(help).not.toMatch(/firecracker|qemu/);
  });
});
