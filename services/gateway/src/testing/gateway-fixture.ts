import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger, loadConfig, type Logger } from "@aetherium/common";
import { DataPlaneClient, openControlPlane, type ControlPlane } from "@aetherium/core";
import { useTestDatabase } from "@aetherium/testing";
import { errorResponseSchema, type ApiKeyScope, type ErrorResponse } from "@aetherium/types";
import { afterAll, beforeAll, expect } from "vitest";
import { ensureBootstrapKey } from "../auth/bootstrap-key.js";
import { healthReport } from "../health/probe-health.js";
import { buildServer, type GatewayApp, type ServerDeps } from "../server/build-server.js";

// Test-only (excluded from the build like *.test.ts): the one way gateway tests get a server.

/** How a test file wants its gateway. */
export interface GatewayFixtureOptions {
  /** Server settings beyond the fixture's own (rate limits, upload limits, timeouts…). */
  readonly server?: Partial<ServerDeps>;
  /** Listen on a loopback port too, for SDK, WebSocket and raw-socket tests (`url`). */
  readonly listen?: boolean;
}

/** A request {@link GatewayFixture.call} sends. */
export interface CallOptions {
  /** JSON body. */
  readonly body?: unknown;
  /** Sent as it is, with a JSON content type. */
  readonly raw?: string;
  /** The API key; the admin key when left out, none with null. */
  readonly key?: string | null;
  readonly headers?: Record<string, string>;
}

/** The answer {@link GatewayFixture.call} reads back. */
export interface CallAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | number | undefined>;
  // Route tests read many shapes; each asserts what it expects of this.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any;
}

/** An HTTP method {@link GatewayFixture.call} sends. */
export type Method = "GET" | "POST" | "PUT" | "DELETE";

/** What a test file gets: read its fields inside tests and hooks, once `beforeAll` has run. */
export interface GatewayFixture {
  readonly app: GatewayApp;
  readonly runtime: ControlPlane;
  /** The admin key's secret (the bootstrap key). */
  readonly admin: string;
  /** A fresh `AETHERIUM_HOME`, removed afterwards. */
  readonly home: string;
  /** `http://127.0.0.1:<port>` with `listen: true`. */
  readonly url: string;
  readonly logger: Logger;
  /** The server settings the fixture uses, with `extra` on top, for a test that builds its own. */
  readonly deps: (extra?: Partial<ServerDeps>) => ServerDeps;
  /** Another server on the same runtime, closed with the fixture. */
  readonly open: (extra?: Partial<ServerDeps>) => Promise<GatewayApp>;
  /** A new API key of these scopes (read and write when left out), made through the API. */
  readonly key: (
    name: string,
    scopes?: readonly ApiKeyScope[],
  ) => Promise<{ id: string; secret: string }>;
  /** One request through `app.inject`, as the admin unless `key` says otherwise. */
  readonly call: (method: Method, route: string, options?: CallOptions) => Promise<CallAnswer>;
}

/**
 * Registers hooks that give the calling test file a real gateway: a runtime on its own fresh test
 * database (migrated), the bootstrap admin key, and a server built with the real health report.
 * No worker runs: sandboxes stay `pending`, which is what route tests need. Everything it made is
 * closed and removed after the file.
 */
export function useGatewayFixture(options: GatewayFixtureOptions = {}): GatewayFixture {
  const db = useTestDatabase();
  const opened: GatewayApp[] = [];
  const clients: DataPlaneClient[] = [];
  let state:
    | { app: GatewayApp; runtime: ControlPlane; admin: string; home: string; url: string }
    | undefined;
  let home: string | undefined;
  let runtime: ControlPlane | undefined;
  const logger = createLogger({
    level: process.env.GW_TEST_LOG ? "error" : "silent",
    service: "gateway-test",
  });
  const ready = () => {
    if (!state) throw new Error("useGatewayFixture(): read it inside a test or hook");
    return state;
  };

  const deps = (extra: Partial<ServerDeps> = {}): ServerDeps => {
    if (!runtime) throw new Error("useGatewayFixture(): the runtime is not open yet");
    const rt = runtime;
    const dataPlane = new DataPlaneClient({ timeoutMs: 2000 });
    clients.push(dataPlane);
    return {
      logger,
      runtime: rt,
      dataPlane,
      health: () => healthReport(rt, { timeoutMs: 2000 }),
      waitTimeoutMs: 500,
      ...options.server,
      ...extra,
    };
  };
  const open = async (extra: Partial<ServerDeps> = {}): Promise<GatewayApp> => {
    const app = await buildServer(deps(extra));
    opened.push(app);
    return app;
  };

  beforeAll(async () => {
    home = await mkdtemp(path.join(tmpdir(), "aet-gw-"));
    const config = loadConfig({
      env: { AETHERIUM_DATABASE_URL: db.current.url, AETHERIUM_HOME: home },
    });
    runtime = await openControlPlane(config, { logger, migrate: true });
    const admin = (await ensureBootstrapKey(runtime.repos, { home })).secret;
    const app = await open();
    const url = options.listen
      ? (await app.listen({ host: "127.0.0.1", port: 0 })).replace("[::1]", "localhost")
      : "";
    state = { app, runtime, admin, home, url };
  });

  afterAll(async () => {
    // A test may have closed its own already; closing again is harmless.
    for (const app of opened) await app.close().catch(() => undefined);
    for (const c of clients) c.close();
    await runtime?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  const call = async (method: Method, route: string, o: CallOptions = {}): Promise<CallAnswer> => {
    const { app, admin } = ready();
    const key = o.key === undefined ? admin : o.key;
    const res = await app.inject({
      method,
      url: route,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(o.body !== undefined || o.raw !== undefined
          ? { "content-type": "application/json" }
          : {}),
        ...o.headers,
      },
      ...(o.raw !== undefined
        ? { payload: o.raw }
        : o.body !== undefined
          ? { payload: JSON.stringify(o.body) }
          : {}),
    });
    const text = res.body;
    return {
      status: res.statusCode,
      headers: res.headers,
      body: text ? (JSON.parse(text) as unknown) : null,
    };
  };

  return {
    get app() {
      return ready().app;
    },
    get runtime() {
      return ready().runtime;
    },
    get admin() {
      return ready().admin;
    },
    get home() {
      return ready().home;
    },
    get url() {
      const { url } = ready();
      if (!url) throw new Error("useGatewayFixture(): pass listen: true for a url");
      return url;
    },
    logger,
    deps,
    open,
    call,
    key: async (name, scopes = ["read", "write"]) => {
      const r = await call("POST", "/api/v1/api-keys", { body: { name, scopes } });
      if (r.status !== 201)
        throw new Error(`could not make key ${name}: ${JSON.stringify(r.body)}`);
      const made = r.body as { apiKey: { id: string }; secret: string };
      return { id: made.apiKey.id, secret: made.secret };
    },
  };
}

/** Asserts `body` is the error envelope with `code`, and returns it parsed. */
export function expectEnvelope(body: unknown, code: string): ErrorResponse {
  const parsed = errorResponseSchema.parse(body);
  expect(parsed.error.code).toBe(code);
  return parsed;
}
