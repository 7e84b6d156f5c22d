import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { access } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { DEFAULT_BASE_IMAGE } from "@aetherium/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AETHERIUM_MAIN } from "./start-aetherium.js";

/*
 * `aetherium cluster up` (what `make docker-up` runs) as a user runs it: the service images, then
 * PostgreSQL, Redis, migrations, two workers and two gateways behind a load balancer, all in
 * containers of this host's engine. Sandboxes are created through the load balancer until both
 * workers hold some; one worker's container is killed; its sandboxes turn `lost` and new ones land
 * on the other. `cluster down --purge` removes every container, sandbox, volume and the state.
 *
 * The first run builds four Debian root filesystems (several minutes each, depending on the
 * mirror); later runs reuse them and take about two minutes.
 */

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "../../..");
const name = `e2e-${randomBytes(3).toString("hex")}`;
const adminKey = `ak_${randomBytes(32).toString("base64url")}`;
const canRun =
  process.getuid?.() === 0 &&
  (await access("/var/run/docker.sock").then(
    () => true,
    () => false,
  ));

/** A base port with the six after it free on 127.0.0.1 (checked, not reserved). */
async function freePortRange(): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    let ok = true;
    for (let p = base; p < base + 7 && ok; p++) ok = await free(p);
    if (ok) return base;
  }
  throw new Error("no free range of 7 ports on 127.0.0.1");
}

let port = 0;
let url = "";
const env = () => ({
  ...process.env,
  AETHERIUM_HOME: path.join(repo, ".aetherium"),
  AETHERIUM_CLUSTER_PORT: String(port),
  AETHERIUM_API_KEY: adminKey,
  AETHERIUM_WORKER__HEARTBEAT_MS: "500",
  AETHERIUM_WORKER__OFFLINE_AFTER_MS: "4000",
  AETHERIUM_WORKER__CAPACITY__VCPUS: "2",
  AETHERIUM_LOG_LEVEL: "warn",
});
const workerA = `${name}-worker-1`;
const workerB = `${name}-worker-2`;

interface Vm {
  id: string;
  status: string;
  workerId: string | null;
  image: string;
}

async function call(method: string, route: string, body?: unknown) {
  const res = await fetch(`${url}/api/v1${route}`, {
    method,
    headers: {
      authorization: `Bearer ${adminKey}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(120_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function createVm(): Promise<Vm> {
  const made = await call("POST", "/vms?wait=true", { backend: "docker" });
  expect(made.status, JSON.stringify(made.json)).toBe(201);
  return made.json.vm as Vm;
}

async function docker(...args: string[]) {
  return (await run("docker", args, { timeout: 60_000 })).stdout.trim();
}

describe.skipIf(!canRun)("aetherium cluster (make docker-up)", () => {
  beforeAll(async () => {
    port = await freePortRange();
    const up = await run(process.execPath, [AETHERIUM_MAIN, "cluster", "up", "--name", name], {
      env: env(),
      cwd: repo,
      timeout: 40 * 60_000,
      maxBuffer: 64 * 1024 * 1024,
    }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(
        `cluster up failed: ${err.message}\n${err.stdout ?? ""}\n${err.stderr ?? ""}`,
      );
    });
    const m = /cluster \S+ running at (http:\/\/\S+)/.exec(up.stdout);
    expect(m, up.stdout).not.toBeNull();
    url = m![1]!;
  }, 45 * 60_000);

  afterAll(async () => {
    const down = await run(
      process.execPath,
      [AETHERIUM_MAIN, "cluster", "down", "--name", name, "--purge"],
      { env: env(), cwd: repo, timeout: 5 * 60_000 },
    );
    expect(down.stdout).toContain(`cluster ${name} is down and purged`);
    // Nothing of it is left on the engine.
    expect(await docker("ps", "-aq", "--filter", `label=aetherium.cluster=${name}`)).toBe("");
    for (const id of [workerA, workerB]) {
      expect(await docker("ps", "-aq", "--filter", `label=aetherium.worker-id=${id}`)).toBe("");
    }
    expect(await docker("volume", "ls", "-q", "--filter", `label=aetherium.cluster=${name}`)).toBe(
      "",
    );
  }, 6 * 60_000);

  it("serves the API through the load balancer, from two gateways, with two workers", async () => {
    expect(url).toBe(`http://127.0.0.1:${port}`);
    const health = await fetch(`${url}/api/v1/health`);
    expect(health.status).toBe(200);
    const workers = await call("GET", "/workers?limit=100");
    const active = (workers.json.items as { id: string; status: string }[])
      .filter((w) => w.status === "active")
      .map((w) => w.id)
      .sort();
    expect(active).toEqual([workerA, workerB].sort());
    const containers = (
      await docker("ps", "--filter", `label=aetherium.cluster=${name}`, "--format", "{{.Names}}")
    )
      .split("\n")
      .sort();
    expect(containers).toEqual(
      [
        `${name}-gateway-1`,
        `${name}-gateway-2`,
        `${name}-lb`,
        `${name}-postgres`,
        `${name}-redis`,
        workerA,
        workerB,
      ].sort(),
    );
    // The gateway runs as the image's non-root user; the worker needs root for its backend.
    expect(await docker("exec", `${name}-gateway-1`, "id", "-u")).toBe("10001");
    // A wrong key is refused through the balancer like at a gateway.
    const refused = await fetch(`${url}/api/v1/vms`, { headers: { authorization: "Bearer nope" } });
    expect(refused.status).toBe(401);
  });

  it(
    "spreads sandboxes over both workers; a killed worker's turn lost and new ones go to the other",
    async () => {
      const made: Vm[] = [];
      // Two creates at a time; each worker offers two vCPUs and a sandbox takes one, so a full
      // worker leaves the next ones to the other. Bounded at 8.
      for (let round = 0; round < 4; round++) {
        made.push(...(await Promise.all([createVm(), createVm()])));
        const owners = new Set(made.map((v) => v.workerId));
        if (owners.has(workerA) && owners.has(workerB)) break;
      }
      const onA = made.filter((v) => v.workerId === workerA);
      const onB = made.filter((v) => v.workerId === workerB);
      expect(onA.length).toBeGreaterThan(0);
      expect(onB.length).toBeGreaterThan(0);
      for (const vm of made) {
        expect(vm.status).toBe("running");
        // The sandbox image this run built, as the gateways and workers were told.
        expect(vm.image).toBe(DEFAULT_BASE_IMAGE);
      }

      // A command runs through the balancer on a sandbox of each worker (the data plane).
      for (const vm of [onA[0]!, onB[0]!]) {
        const exec = await call("POST", `/vms/${vm.id}/execute`, { command: "echo hi-$HOSTNAME" });
        expect(exec.status).toBe(200);
        expect((exec.json.execution as { stdout: string; exitCode: number }).exitCode).toBe(0);
        expect((exec.json.execution as { stdout: string }).stdout).toContain("hi-");
      }

      await docker("kill", workerA);
      // Within offlineAfterMs (4 s) and a sweep: poll, bounded at 60 s.
      const deadline = Date.now() + 60_000;
      let statuses: string[] = [];
      while (Date.now() < deadline) {
        statuses = await Promise.all(
          onA.map(async (v) => ((await call("GET", `/vms/${v.id}`)).json.vm as Vm).status),
        );
        if (statuses.every((s) => s === "lost")) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      expect(statuses).toEqual(onA.map(() => "lost"));
      const workers = await call("GET", "/workers?limit=100");
      const a = (workers.json.items as { id: string; status: string }[]).find(
        (w) => w.id === workerA,
      );
      expect(a?.status).toBe("offline");
      // B's sandboxes are untouched.
      for (const v of onB) {
        expect(((await call("GET", `/vms/${v.id}`)).json.vm as Vm).status).toBe("running");
      }

      // B is full (two vCPUs): make room, deleting through the balancer too.
      for (const v of onB) {
        const gone = await call("DELETE", `/vms/${v.id}?wait=true`);
        expect(gone.status).toBe(204);
      }
      const after = await Promise.all(onB.map(() => createVm()));
      for (const vm of after) {
        expect(vm.workerId).toBe(workerB);
        expect(vm.status).toBe("running");
      }
    },
    10 * 60_000,
  );
});

describe("aetherium cluster and image build: a user's mistakes", () => {
  async function aetherium(args: string[], extra: Record<string, string> = {}) {
    return run(process.execPath, [AETHERIUM_MAIN, ...args], {
      env: { ...process.env, AETHERIUM_HOME: path.join(repo, ".aetherium"), ...extra },
      cwd: repo,
      timeout: 60_000,
    }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
  }

  it("refuses an unknown service, a bad cluster name or port, an unknown action", async () => {
    // Each starts the whole server command: run them side by side.
    const [service, name, port, action] = await Promise.all([
      aetherium(["image", "build", "--service", "nope"]),
      aetherium(["cluster", "status", "--name", "Bad_Name"]),
      aetherium(["cluster", "up"], { AETHERIUM_CLUSTER_PORT: "80" }),
      aetherium(["cluster", "sideways"]),
    ]);
    expect(service.code).toBe(2);
    expect(service.stderr).toContain("unknown service 'nope'");
    expect(service.stderr).toContain("gateway, worker, postgres, redis, lb");

    expect(name.code).toBe(2);
    expect(name.stderr).toContain("--name must be 1-24 characters");

    expect(port.code).toBe(2);
    expect(port.stderr).toContain("AETHERIUM_CLUSTER_PORT must be an integer from 1024 to 65529");

    expect(action.code).toBe(2);
    expect(action.stderr).toContain("usage: aetherium cluster up|down|status");
    for (const r of [service, name, port, action]) expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
  }, 240_000);
});
