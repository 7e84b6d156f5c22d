import type { Repositories, ControlPlane } from "@aetherium/core";
import { useTestRedis } from "@aetherium/testing";
import Fastify from "fastify";
import { beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { GatewayApp, ServerDeps } from "../server/build-server.js";
import { useGatewayFixture } from "../testing/gateway-fixture.js";
import { installRouteScopes } from "./authenticate.js";
import { ROUTE_SCOPES, type RouteAccess } from "./route-scopes.js";

const fx = useGatewayFixture({ listen: true });
const redis = useTestRedis();
let runtime: ControlPlane;
let app: GatewayApp;
let url: string;
const keys = {} as Record<"read" | "write" | "admin", { id: string; secret: string }>;

/** Settings of another server on this runtime, over `repos` when given. */
function serverDeps(extra: Partial<ServerDeps> = {}, repos?: Repositories): Partial<ServerDeps> {
  return { ...extra, ...(repos ? { runtime: { ...runtime, repos } } : {}) };
}

/** Another server, closed with the fixture. */
function open(deps: Partial<ServerDeps>): Promise<GatewayApp> {
  return fx.open(deps);
}

beforeAll(async () => {
  ({ runtime, app } = fx);
  url = fx.url.replace("http", "ws");
  for (const scope of ["read", "write", "admin"] as const) {
    keys[scope] = await fx.key(`only-${scope}`, [scope]);
  }
});

const RANK: Record<RouteAccess, number> = { public: 0, read: 1, write: 2, admin: 3 };
/** The table's streams: an allowed upgrade must really open them. */
const WEBSOCKET_ROUTES = new Set(["GET /api/v1/vms/:id/exec", "GET /api/v1/events"]);
const passes = (status: number) => status !== 401 && status !== 403;
const concrete = (route: string) => route.replace(/:id/g, "no-such-id");

/** Opens a real WebSocket upgrade; resolves with the HTTP status it got (101 when upgraded). */
function upgrade(route: string, secret: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}${route}`, [
      "aetherium.v1",
      ...(secret ? [`bearer.${secret}`] : []),
    ]);
    const timer = setTimeout(() => (ws.terminate(), reject(new Error("upgrade timed out"))), 5000);
    ws.once("open", () => {
      clearTimeout(timer);
      ws.close();
      resolve(101);
    });
    ws.once("unexpected-response", (_req, res) => {
      clearTimeout(timer);
      res.resume();
      ws.terminate();
      resolve(res.statusCode ?? 0);
    });
    ws.on("error", (err) => {
      clearTimeout(timer);
      reject(err); // no effect once settled: terminating a refused upgrade reports one too
    });
  });
}

async function waitForAudit(requestId: string) {
  for (let i = 0; i < 100; i++) {
    const rows = (await runtime.repos.auditLog.list()).items.filter(
      (a) => a.requestId === requestId,
    );
    if (rows.length > 0) return rows;
    await new Promise((r) => setTimeout(r, 20));
  }
  return [];
}

describe("the route table", () => {
  it("names exactly the routes the gateway registers", () => {
    for (const entry of Object.keys(ROUTE_SCOPES)) {
      const [method, route] = entry.split(" ") as [string, string];
      expect(app.hasRoute({ method, url: route }), entry).toBe(true);
    }
  });

  it("refuses to register a route it does not name, or one that sets its own scope", async () => {
    const bare = Fastify();
    installRouteScopes(bare);
    expect(() => bare.get("/api/v1/undeclared", () => "x")).toThrow(/no entry in ROUTE_SCOPES/);
    expect(() => bare.get("/api/v1/vms", { config: { scope: "public" } }, () => "x")).toThrow(
      /declare its access in ROUTE_SCOPES only/,
    );
    await bare.close();
  });

  // Every entry, every scope: allowed means the request gets past authorization (any answer but
  // 401/403; an upgrade of a stream route opens it), refused means 403. Every GET route is also
  // tried as a real WebSocket upgrade, which is how an exec or events stream arrives: an upgrade
  // must be refused exactly like the plain request.
  for (const scope of ["read", "write", "admin"] as const) {
    it(`gives a ${scope} key exactly what the table allows it, over REST and WebSocket`, async () => {
      const mismatches: string[] = [];
      for (const [entry, needed] of Object.entries(ROUTE_SCOPES)) {
        const [method, route] = entry.split(" ") as [string, string];
        const allowed = RANK[scope] >= RANK[needed];
        const res = await app.inject({
          method: method as "GET",
          url: concrete(route),
          headers: { authorization: `Bearer ${keys[scope].secret}` },
        });
        const restOk = allowed ? passes(res.statusCode) : res.statusCode === 403;
        if (!restOk) mismatches.push(`${entry}: ${res.statusCode}`);
        if (method === "GET") {
          const status = await upgrade(concrete(route), keys[scope].secret);
          const wsOk = !allowed
            ? status === 403
            : WEBSOCKET_ROUTES.has(entry)
              ? status === 101
              : passes(status);
          if (!wsOk) mismatches.push(`upgrade ${entry}: ${status}`);
        }
      }
      expect(mismatches).toEqual([]);
    });
  }

  it("asks no key on public routes and a key on every other", async () => {
    for (const [entry, needed] of Object.entries(ROUTE_SCOPES)) {
      const [method, route] = entry.split(" ") as [string, string];
      const res = await app.inject({ method: method as "GET", url: concrete(route) });
      expect(res.statusCode === 401, entry).toBe(needed !== "public");
    }
    expect(await upgrade("/api/v1/events", undefined)).toBe(401);
    expect(await upgrade("/api/v1/vms/no-such-id/exec", undefined)).toBe(401);
  });

  it("refuses an exec stream to a read key, and answers REST execute the same", async () => {
    expect(await upgrade("/api/v1/vms/x/exec", keys.read.secret)).toBe(403);
    const rest = await app.inject({
      method: "POST",
      url: "/api/v1/vms/x/execute",
      headers: { authorization: `Bearer ${keys.read.secret}`, "content-type": "application/json" },
      payload: JSON.stringify({ command: "id" }),
    });
    expect(rest.statusCode).toBe(403);
    expect(rest.json().error.message).toMatch(/needs write/);
  });
});

describe("the audit trail", () => {
  it("records an exec stream session with its key, route, resource and request id", async () => {
    const requestId = "audit-ws-session-1";
    const ws = new WebSocket(`${url}/api/v1/vms/vm-audited/exec`, ["aetherium.v1"], {
      headers: { authorization: `Bearer ${keys.write.secret}`, "x-request-id": requestId },
    });
    const closed = new Promise<void>((r) => ws.once("close", () => r()));
    await new Promise<void>((res, rej) => (ws.once("open", () => res()), ws.once("error", rej)));
    ws.send(JSON.stringify({ type: "start", command: "echo secret-body-text" }));
    await closed; // no such sandbox: the gateway says so and closes
    const rows = await waitForAudit(requestId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      action: "GET /api/v1/vms/:id/exec",
      actorKeyId: keys.write.id,
      resourceType: "vms",
      resourceId: "vm-audited",
      statusCode: 101,
    });
    expect(JSON.stringify(rows[0])).not.toContain("secret-body-text");
  });

  it("records refusals against the key that tried, REST and WebSocket alike", async () => {
    const wsId = "audit-ws-refused-1";
    const refused = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${url}/api/v1/vms/vm-x/exec`, ["aetherium.v1"], {
        headers: { authorization: `Bearer ${keys.read.secret}`, "x-request-id": wsId },
      });
      ws.on("error", () => undefined); // terminating a refused upgrade reports one
      ws.once("unexpected-response", (_q, res) => {
        res.resume();
        ws.terminate();
        resolve(res.statusCode ?? 0);
      });
      ws.once("open", () => (ws.close(), reject(new Error("a read key opened an exec stream"))));
    });
    expect(refused).toBe(403);
    const restId = "audit-rest-refused-1";
    const rest = await app.inject({
      method: "POST",
      url: "/api/v1/vms",
      headers: {
        authorization: `Bearer ${keys.read.secret}`,
        "content-type": "application/json",
        "x-request-id": restId,
      },
      payload: JSON.stringify({ name: "nope" }),
    });
    expect(rest.statusCode).toBe(403);
    for (const [id, action] of [
      [wsId, "GET /api/v1/vms/:id/exec"],
      [restId, "POST /api/v1/vms"],
    ] as const) {
      const rows = await waitForAudit(id);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ action, actorKeyId: keys.read.id, statusCode: 403 });
    }
  });
});

describe("wrong keys from one address", () => {
  // The real repositories, counting key lookups: the limit must answer before the database.
  function countingRepos() {
    const counter = { lookups: 0 };
    const apiKeys = runtime.repos.apiKeys;
    const repos = {
      ...runtime.repos,
      apiKeys: Object.assign(Object.create(apiKeys) as typeof apiKeys, {
        findByHash: (hash: string) => {
          counter.lookups += 1;
          return apiKeys.findByHash(hash);
        },
      }),
    } as Repositories;
    return { repos, counter };
  }
  const get = (gw: GatewayApp, secret: string, remoteAddress = "10.0.0.7") =>
    gw.inject({
      method: "GET",
      url: "/api/v1/vms",
      remoteAddress,
      headers: { authorization: `Bearer ${secret}` },
    });

  it("answers 429 with Retry-After after the limit, without looking the key up", async () => {
    const { repos, counter } = countingRepos();
    const gw = await open(serverDeps({ failedAuthLimit: { max: 5, windowMs: 60_000 } }, repos));
    for (let i = 0; i < 5; i++) expect((await get(gw, `ak_wrong-${i}`)).statusCode).toBe(401);
    expect(counter.lookups).toBe(5);
    const limited = await get(gw, "ak_wrong-again");
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe("rate_limited");
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    // Even a good key from that address waits: telling them apart would take the lookup.
    expect((await get(gw, keys.read.secret)).statusCode).toBe(429);
    expect(counter.lookups).toBe(5);
    // Another address is not affected.
    expect((await get(gw, keys.read.secret, "10.0.0.8")).statusCode).toBe(200);
  });

  it("counts wrong signed-URL signatures too, and stops searching sandboxes for them", async () => {
    const gw = await open(serverDeps({ failedAuthLimit: { max: 3, windowMs: 60_000 } }));
    const signed = (n: number) =>
      gw.inject({
        method: "GET",
        url: `/files?path=a.txt&signature=v1_guess${n}`,
        remoteAddress: "10.0.2.1",
      });
    for (let i = 0; i < 3; i++) {
      const wrong = await signed(i);
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json()).toEqual({ code: 401, message: "invalid signature" });
    }
    const limited = await signed(3);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().message).toMatch(/too many wrong keys or signatures/);
    // The same address is now refused a key lookup as well: one count for both.
    expect((await get(gw, keys.read.secret, "10.0.2.1")).statusCode).toBe(429);
  });

  it("shares the count between gateways through Redis", async () => {
    const shared = {
      max: 3,
      windowMs: 60_000,
      redisUrl: redis.current.url,
      keyPrefix: redis.current.prefix,
    };
    const a = await open(serverDeps({ failedAuthLimit: shared }));
    const { repos, counter } = countingRepos();
    const b = await open(serverDeps({ failedAuthLimit: shared }, repos));
    for (let i = 0; i < 3; i++)
      expect((await get(a, `ak_wrong-${i}`, "10.0.1.1")).statusCode).toBe(401);
    const limited = await get(b, "ak_wrong-on-b", "10.0.1.1");
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    expect(counter.lookups).toBe(0);
    expect(await redis.current.client.exists(`${redis.current.prefix}authfail:10.0.1.1`)).toBe(1);
  });
});
