import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import http from "node:http";
import { promisify } from "node:util";
import { useTestDatabase, useTestRedis } from "@aetherium/testing";
import { CommandExitError, Sandbox } from "e2b";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAetherium, type AetheriumProcess } from "./run-process.js";
import { AETHERIUM_MAIN } from "./start-aetherium.js";

/*
 * The real `e2b` SDK against a fleet: two `aetherium gateway` processes and one `aetherium
 * worker` on one PostgreSQL and Redis, as behind a load balancer. A sandbox's processes, ports
 * and metrics are reached through whichever gateway a call lands on, and survive the gateway
 * that started a process going away. With the VM image built the worker offers Docker and QEMU,
 * which once made it lose an exec socket's first messages (finding a sandbox's backend is then a
 * query): every user-port request hung.
 */

const run = promisify(execFile);
const db = useTestDatabase();
const redis = useTestRedis();
const adminKey = `ak_${randomBytes(32).toString("base64url")}`;
const encryptionKey = randomBytes(32).toString("base64");
const suffix = randomBytes(3).toString("hex");
const procs: AetheriumProcess[] = [];
let gatewayA: AetheriumProcess;
let urlA: string;
let urlB: string;
let e2bKey: string;
let sandboxId: string | undefined;

function env(extra: Record<string, string> = {}) {
  return {
    AETHERIUM_DATABASE_URL: db.current.url,
    AETHERIUM_REDIS_URL: redis.current.url,
    AETHERIUM_REDIS__KEY_PREFIX: redis.current.prefix,
    AETHERIUM_API_KEY: adminKey,
    AETHERIUM_ENCRYPTION_KEY: encryptionKey,
    AETHERIUM_PORT: "0",
    AETHERIUM_WORKER__INTERNAL_PORT: "0",
    AETHERIUM_WORKER__HEARTBEAT_MS: "500",
    AETHERIUM_WORKER__OFFLINE_AFTER_MS: "5000",
    ...extra,
  };
}

/** The SDK's connection options for one gateway. */
const via = (url: string) => ({ apiUrl: `${url}/e2b`, sandboxUrl: `${url}/e2b`, apiKey: e2bKey });

/** A plain HTTP request with a Host header fetch() would not let a client set. */
function get(
  base: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, base), { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`GET ${path}: no answer`)));
    req.end();
  });
}

beforeAll(async () => {
  await run(process.execPath, [AETHERIUM_MAIN, "migrate", "up"], {
    env: { ...process.env, AETHERIUM_DATABASE_URL: db.current.url },
  });
  const [worker, a, b] = await Promise.all([
    runAetherium(
      ["worker"],
      env({ AETHERIUM_WORKER_ID: `e2b-fleet-${suffix}` }),
      /worker \S+ running/,
    ),
    runAetherium(["gateway"], env(), /gateway running at (http:\/\/\S+)/),
    runAetherium(["gateway"], env(), /gateway running at (http:\/\/\S+)/),
  ]);
  procs.push(worker, a, b);
  gatewayA = a;
  urlA = a.match[1]!;
  urlB = b.match[1]!;
  const made = await fetch(`${urlA}/api/v1/api-keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    body: JSON.stringify({ name: `e2b-fleet-${suffix}`, format: "e2b" }),
  });
  expect(made.status).toBe(201);
  e2bKey = ((await made.json()) as { secret: string }).secret;
}, 120_000);

afterAll(async () => {
  if (sandboxId) await Sandbox.kill(sandboxId, via(urlB)).catch(() => undefined);
  await Promise.all(procs.map((p) => p.stop()));
}, 60_000);

describe("the e2b SDK over two gateways", () => {
  let onA: Sandbox;
  let onB: Sandbox;

  it("a sandbox created through gateway A is connected to through gateway B", async () => {
    onA = await Sandbox.create("base", { ...via(urlA), timeoutMs: 600_000 });
    sandboxId = onA.sandboxId;
    onB = await Sandbox.connect(onA.sandboxId, via(urlB));
    expect((await onB.commands.run("echo via-b")).stdout).toBe("via-b\n");
  }, 150_000);

  it("processes started through A are listed, watched, fed and killed through B", async () => {
    const reader = await onA.commands.run("read line; echo got:$line", {
      background: true,
      stdin: true,
    });
    const sleeper = await onA.commands.run("sleep 300", { background: true });
    const listed = await onB.commands.list();
    expect(listed.map((p) => p.pid)).toEqual(expect.arrayContaining([reader.pid, sleeper.pid]));
    expect(listed.find((p) => p.pid === sleeper.pid)?.args).toContain("sleep 300");

    const watched = await onB.commands.connect(reader.pid);
    await onB.commands.sendStdin(reader.pid, "hello\n");
    // Both streams see the end: the one that started it on A and the one watching on B.
    expect((await watched.wait()).stdout).toBe("got:hello\n");
    expect((await reader.wait()).stdout).toBe("got:hello\n");

    expect(await onB.commands.kill(sleeper.pid)).toBe(true);
    const killed = await sleeper.wait().catch((e: unknown) => e);
    expect(killed).toBeInstanceOf(CommandExitError);
    expect(await onB.commands.kill(sleeper.pid)).toBe(false);
    expect((await onA.commands.list()).map((p) => p.pid)).not.toContain(sleeper.pid);
  }, 120_000);

  it("serves the sandbox's ports through the gateway that did not start the server", async () => {
    await onA.files.write("/tmp/web/index.txt", "served\n");
    const web = await onA.commands.run("cd /tmp/web && python3 -m http.server 8765", {
      background: true,
    });
    const host = onA.getHost(8765);
    let res = await get(urlB, "/index.txt", { host });
    for (let i = 0; i < 50 && res.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 200));
      res = await get(urlB, "/index.txt", { host });
    }
    expect(res).toMatchObject({ status: 200, body: "served\n" });
    const byHeader = await get(urlB, "/e2b/index.txt", {
      "e2b-sandbox-id": onA.sandboxId,
      "e2b-sandbox-port": "8765",
    });
    expect(byHeader).toMatchObject({ status: 200, body: "served\n" });
    expect(await onB.commands.kill(web.pid)).toBe(true);
  }, 120_000);

  it("measures the sandbox: its memory limit, memory a process takes, CPU a busy loop uses", async () => {
    const info = await Sandbox.getInfo(onA.sandboxId, via(urlB));
    const [idle] = await onB.getMetrics();
    expect(idle).toBeDefined();
    expect(idle!.cpuCount).toBe(info.cpuCount);
    expect(idle!.memTotal).toBe(info.memoryMB * 1024 * 1024);
    expect(idle!.memUsed).toBeGreaterThan(0);
    expect(idle!.diskTotal).toBeGreaterThan(idle!.diskUsed);
    expect(idle!.timestamp.getTime()).toBeGreaterThan(Date.now() - 60_000);

    const hog = await onA.commands.run(
      `python3 -c "import time; b = bytearray(200 * 1024 * 1024); print('held', flush=True); time.sleep(600)"`,
      { background: true, onStdout: () => undefined },
    );
    await expect
      .poll(async () => (await onB.getMetrics())[0]?.memUsed ?? 0, { timeout: 30_000 })
      .toBeGreaterThan(idle!.memUsed + 150 * 1024 * 1024);
    await hog.kill();

    const busy = await onA.commands.run("while :; do :; done", { background: true });
    await expect
      .poll(async () => (await onB.getMetrics())[0]?.cpuUsedPct ?? 0, { timeout: 30_000 })
      .toBeGreaterThan(20);
    await busy.kill();

    // Our own API answers the same sample shape.
    const res = await fetch(`${urlB}/api/v1/vms/${onA.sandboxId}/metrics`, {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { metrics: Record<string, unknown> };
    expect(body.metrics).toMatchObject({ cpuCount: info.cpuCount, memTotal: idle!.memTotal });
    // No sample lies in an interval that ended before now.
    expect(await onB.getMetrics({ end: new Date(Date.now() - 3_600_000) })).toEqual([]);
  }, 150_000);

  it("keeps a process started through A running and reachable through B after A goes away", async () => {
    const counter = await onA.commands.run(
      "i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo tick-$i; sleep 0.1; done",
      { background: true },
    );
    await gatewayA.stop();
    expect((await onB.commands.list()).map((p) => p.pid)).toContain(counter.pid);
    const seen: string[] = [];
    const watched = await onB.commands.connect(counter.pid, {
      onStdout: (d) => void seen.push(d),
    });
    await expect.poll(() => seen.join(""), { timeout: 30_000 }).toMatch(/tick-\d+/);
    expect(await onB.commands.kill(counter.pid)).toBe(true);
    await expect(watched.wait()).rejects.toBeInstanceOf(CommandExitError);
  }, 120_000);
});
