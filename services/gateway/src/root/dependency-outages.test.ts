import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger, loadConfig } from "@aetherium/common";
import { openControlPlane, type ControlPlane } from "@aetherium/core";
import {
  startPrivateRedis,
  TEST_PG_ADMIN_URL,
  useTestDatabase,
  type PrivateRedis,
  TEST_ENCRYPTION_KEY,
} from "@aetherium/testing";
import { errorResponseSchema, healthResponseSchema } from "@aetherium/types";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openGateway, type OpenGateway } from "./open-gateway.js";

// A gateway in distributed mode (its own PostgreSQL database and its own redis-server), with the
// dependencies taken away under it: stopped, frozen, refusing connections. Clients must get an
// answer (503 naming the dependency, or the data when none is needed), never a 500 or a hang.

/** The probe saw requests hang up to 20 s; every answer here must come well before that. */
const ANSWER_BOUND_MS = 15_000;
/** How long a test waits for the gateway to come back after the dependency returns. */
const RECOVERY_BOUND_MS = 20_000;

const db = useTestDatabase();
let redis: PrivateRedis;
let home: string;
let runtime: ControlPlane;
let gateway: OpenGateway;
let vmId: string;

beforeAll(async () => {
  redis = await startPrivateRedis();
  home = await mkdtemp(path.join(tmpdir(), "aet-outage-"));
  const config = loadConfig({
    env: {
      AETHERIUM_DATABASE_URL: db.current.url,
      AETHERIUM_REDIS_URL: redis.url,
      AETHERIUM_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
      AETHERIUM_HOME: home,
      AETHERIUM_HOST: "127.0.0.1",
      AETHERIUM_PORT: "0",
      AETHERIUM_DASHBOARD_DIR: path.join(home, "no-dashboard"),
    },
  });
  const logger = createLogger({
    level: process.env.OUTAGE_TEST_LOG ? "warn" : "silent",
    service: "outage-test",
  });
  runtime = await openControlPlane(config, { logger, migrate: true });
  gateway = await openGateway(runtime, config, { logger });
  // No worker consumes: the sandbox stays pending, which is all a read needs.
  const created = await call("POST", "/api/v1/vms", { name: "outage-probe" });
  expect(created.status).toBe(202);
  vmId = (created.body as { vm: { id: string } }).vm.id;
});

afterAll(async () => {
  redis?.resume();
  await setAllowConnections(true).catch(() => undefined);
  await gateway?.close();
  await runtime?.close();
  await redis?.close();
  if (home) await rm(home, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

/** One HTTP request to the gateway, failing the test if it has no answer within the bound. */
async function call(method: "GET" | "POST", route: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${gateway.url}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${gateway.adminKey.secret}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(ANSWER_BOUND_MS),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

/** Asserts a `503 unavailable` envelope naming `dependency`, with a `retry-after`. */
function expectUnavailable(answer: Answer, dependency: RegExp): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(503);
  const envelope = errorResponseSchema.parse(answer.body);
  expect(envelope.error.code).toBe("unavailable");
  expect(envelope.error.message).toMatch(dependency);
  expect(Number(answer.headers.get("retry-after"))).toBeGreaterThan(0);
}

async function health() {
  const answer = await call("GET", "/api/v1/health");
  return { status: answer.status, report: healthResponseSchema.parse(answer.body) };
}

/** Retries `check` (bounded in count and time) until it passes; the last failure is thrown. */
async function eventually(check: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + RECOVERY_BOUND_MS;
  for (let i = 0; ; i++) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline || i > 200) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function expectRecovered(): Promise<void> {
  await eventually(async () => {
    const h = await health();
    expect(h.status).toBe(200);
    expect(h.report.components.database?.status).toBe("ok");
    expect(h.report.components.queue?.status).toBe("ok");
    expect(h.report.components.eventBus?.status).toBe("ok");
    const created = await call("POST", "/api/v1/vms", {});
    expect(created.status).toBe(202);
  });
  expect((await call("GET", `/api/v1/vms/${vmId}`)).status).toBe(200);
}

async function setAllowConnections(allow: boolean): Promise<void> {
  const admin = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`ALTER DATABASE "${db.current.name}" ALLOW_CONNECTIONS ${allow}`);
    if (!allow) {
      await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        [db.current.name],
      );
    }
  } finally {
    await admin.end();
  }
}

describe("with Redis stopped", () => {
  it("serves reads, answers writes 503 naming the queue, reports it in /health, and recovers", async () => {
    await redis.stop();
    try {
      // Reads need no Redis: the rate limiter counts in-process instead of failing them.
      for (let i = 0; i < 3; i++) {
        const read = await call("GET", `/api/v1/vms/${vmId}`);
        expect(read.status, JSON.stringify(read.body)).toBe(200);
        expect((await call("GET", "/api/v1/vms")).status).toBe(200);
      }
      expectUnavailable(await call("POST", "/api/v1/vms", {}), /queue|event bus/);

      const h = await health();
      expect(h.status).toBe(503);
      expect(h.report.status).toBe("degraded");
      expect(h.report.components.database?.status).toBe("ok");
      expect(h.report.components.queue?.status).toBe("down");
      expect(h.report.components.queue?.message).toBeTruthy();
      expect(h.report.components.eventBus?.status).toBe("down");
    } finally {
      await redis.start();
    }
    await expectRecovered();
  });
});

describe("with Redis frozen", () => {
  it("answers instead of hanging: reads 200, writes 503, /health 503, then recovers", async () => {
    redis.freeze();
    try {
      const read = await call("GET", `/api/v1/vms/${vmId}`);
      expect(read.status, JSON.stringify(read.body)).toBe(200);
      expectUnavailable(await call("POST", "/api/v1/vms", {}), /queue|event bus/);
      const h = await health();
      expect(h.status).toBe(503);
      expect(h.report.components.database?.status).toBe("ok");
      expect(h.report.components.queue?.status).toBe("down");
      expect(h.report.components.eventBus?.status).toBe("down");
      // Later reads do not wait on the frozen server at all.
      expect((await call("GET", "/api/v1/vms")).status).toBe(200);
    } finally {
      redis.resume();
    }
    await expectRecovered();
  });
});

describe("with PostgreSQL refusing connections", () => {
  it("answers 503 naming the database, says so in /health, and recovers", async () => {
    await setAllowConnections(false);
    try {
      expectUnavailable(await call("GET", `/api/v1/vms/${vmId}`), /database/);
      expectUnavailable(await call("GET", "/api/v1/vms"), /database/);
      expectUnavailable(await call("POST", "/api/v1/vms", {}), /database/);

      const h = await health();
      expect(h.status).toBe(503);
      expect(h.report.components.database?.status).toBe("down");
      expect(h.report.components.database?.message).toMatch(/accepting connections|terminat/);
      // A database error is an error, not an empty fleet.
      expect(h.report.components.workers?.status).toBe("down");
      expect(h.report.components.workers?.message).not.toMatch(/0 of 0/);
      expect(h.report.components.queue?.status).toBe("ok");
    } finally {
      await setAllowConnections(true);
    }
    await expectRecovered();
  });
});
