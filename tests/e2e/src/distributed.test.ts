import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { useTestDatabase, useTestRedis } from "@aetherium/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { runAetherium, type AetheriumProcess } from "./run-process.js";
import { AETHERIUM_MAIN } from "./start-aetherium.js";

/*
 * The distributed setup, as production runs it: two `aetherium gateway` and two `aetherium worker`
 * processes sharing one PostgreSQL and one Redis. Whatever gateway a client reaches, it sees the
 * same sandboxes, reaches the worker that owns one, and gets every event.
 */

const run = promisify(execFile);
const db = useTestDatabase();
const redis = useTestRedis();
const adminKey = `ak_${randomBytes(32).toString("base64url")}`;
const encryptionKey = randomBytes(32).toString("base64");
const suffix = randomBytes(3).toString("hex");
const procs: AetheriumProcess[] = [];
let gatewayA: string;
let gatewayB: string;
const created: string[] = [];

function env(extra: Record<string, string> = {}) {
  return {
    AETHERIUM_DATABASE_URL: db.current.url,
    AETHERIUM_REDIS_URL: redis.current.url,
    AETHERIUM_REDIS__KEY_PREFIX: redis.current.prefix,
    AETHERIUM_API_KEY: adminKey,
    // Gateways open the worker tokens the workers sealed: every process shares this key.
    AETHERIUM_ENCRYPTION_KEY: encryptionKey,
    AETHERIUM_PORT: "0",
    AETHERIUM_WORKER__INTERNAL_PORT: "0",
    AETHERIUM_WORKER__HEARTBEAT_MS: "500",
    AETHERIUM_WORKER__OFFLINE_AFTER_MS: "5000",
    ...extra,
  };
}

async function call(base: string, method: string, route: string, body?: unknown, key = adminKey) {
  const res = await fetch(`${base}/api/v1${route}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

beforeAll(async () => {
  await run(process.execPath, [AETHERIUM_MAIN, "migrate", "up"], {
    env: { ...process.env, AETHERIUM_DATABASE_URL: db.current.url },
  });
  const [w1, w2, g1, g2] = await Promise.all([
    runAetherium(
      ["worker"],
      env({ AETHERIUM_WORKER_ID: `dist-a-${suffix}` }),
      /worker \S+ running/,
    ),
    runAetherium(
      ["worker"],
      env({ AETHERIUM_WORKER_ID: `dist-b-${suffix}` }),
      /worker \S+ running/,
    ),
    runAetherium(["gateway"], env(), /gateway running at (http:\/\/\S+)/),
    runAetherium(["gateway"], env(), /gateway running at (http:\/\/\S+)/),
  ]);
  procs.push(w1, w2, g1, g2);
  gatewayA = g1.match[1]!;
  gatewayB = g2.match[1]!;
}, 120_000);

afterAll(async () => {
  for (const id of created)
    await call(gatewayA, "DELETE", `/vms/${id}?wait=true`).catch(() => undefined);
  await Promise.all(procs.map((p) => p.stop()));
}, 60_000);

describe("two gateways and two workers on one PostgreSQL and Redis", () => {
  it("both gateways see both workers", async () => {
    for (const g of [gatewayA, gatewayB]) {
      const r = await call(g, "GET", "/workers");
      const ids = (r.json.items as { id: string; status: string }[]).map((w) => w.id).sort();
      expect(ids).toEqual([`dist-a-${suffix}`, `dist-b-${suffix}`]);
    }
  });

  it("a sandbox created through gateway A runs commands through gateway B, events reach both", async () => {
    const events: string[] = [];
    const ws = new WebSocket(`${gatewayB.replace("http", "ws")}/api/v1/events?topics=vm`, {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    ws.on("message", (d: Buffer) =>
      events.push((JSON.parse(d.toString()) as { type: string }).type),
    );
    await new Promise((r) => ws.once("open", r));

    const made = await call(gatewayA, "POST", "/vms?wait=true", { name: `dist-${suffix}` });
    expect(made.status).toBe(201);
    created.push(made.json.vm.id);
    expect([`dist-a-${suffix}`, `dist-b-${suffix}`]).toContain(made.json.vm.workerId);

    const exec = await call(gatewayB, "POST", `/vms/${made.json.vm.id}/execute`, {
      command: "echo via-b; hostname",
    });
    expect(exec.status).toBe(200);
    expect(exec.json.execution.stdout).toMatch(/^via-b\n/);
    // The answer does not wait for the row's completion write: poll, as a reader right after it
    // may come a moment before that write lands.
    await expect
      .poll(
        async () =>
          (await call(gatewayA, "GET", `/executions/${exec.json.execution.id}`)).json as unknown,
        { timeout: 5000 },
      )
      .toMatchObject({ execution: { exitCode: 0 } });

    for (let i = 0; i < 100 && !events.includes("vm.running"); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(events).toEqual(expect.arrayContaining(["vm.created", "vm.running"]));
    ws.close();
  });

  it("a key made on gateway A works on B, and its revocation on A holds on B at once", async () => {
    const made = await call(gatewayA, "POST", "/api-keys", { name: "roaming" });
    const secret = made.json.secret as string;
    expect((await call(gatewayB, "GET", "/vms", undefined, secret)).status).toBe(200);
    expect((await call(gatewayA, "DELETE", `/api-keys/${made.json.apiKey.id}`)).status).toBe(204);
    expect((await call(gatewayB, "GET", "/vms", undefined, secret)).status).toBe(401);
  });

  it("draining a worker through B keeps new sandboxes off it", async () => {
    const drained = `dist-a-${suffix}`;
    expect((await call(gatewayB, "POST", `/workers/${drained}/drain`)).json.worker.status).toBe(
      "draining",
    );
    // A worker applies admission on its heartbeat (every 500 ms here): give it two.
    await new Promise((r) => setTimeout(r, 1200));
    try {
      const made = await call(gatewayA, "POST", "/vms?wait=true", { name: `dist2-${suffix}` });
      created.push(made.json.vm.id);
      expect(made.status).toBe(201);
      expect(made.json.vm.workerId).toBe(`dist-b-${suffix}`);
    } finally {
      await call(gatewayA, "POST", `/workers/${drained}/activate`);
    }
  });
});
