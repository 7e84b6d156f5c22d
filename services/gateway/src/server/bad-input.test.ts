import { connect } from "node:net";
import { errorResponseSchema } from "@aetherium/types";
import { beforeAll, describe, expect, it } from "vitest";
import { useGatewayFixture } from "../testing/gateway-fixture.js";

// Input that once answered 500 or a body other than the envelope, over a real socket (Fastify's
// routing errors and Node's parser errors never reach `inject`) against real PostgreSQL.
const gw = useGatewayFixture({ listen: true });
let url: string;
let admin: string;
let port: number;

beforeAll(() => {
  ({ url, admin } = gw);
  port = Number(new URL(url).port);
});

/** Sends one request over HTTP and reads the answer as the envelope or JSON. */
async function call(
  method: string,
  route: string,
  options: { json?: unknown; raw?: string; headers?: Record<string, string> } = {},
) {
  const res = await fetch(`${url}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${admin}`,
      ...(options.json !== undefined || options.raw !== undefined
        ? { "content-type": "application/json" }
        : {}),
      ...options.headers,
    },
    ...(options.raw !== undefined
      ? { body: options.raw }
      : options.json !== undefined
        ? { body: JSON.stringify(options.json) }
        : {}),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
}

function expectBadRequest(r: { status: number; body: unknown }, message?: RegExp) {
  expect(r.status, JSON.stringify(r.body)).toBe(400);
  const env = errorResponseSchema.parse(r.body);
  expect(env.error.code).toBe("bad_request");
  if (message) expect(env.error.message).toMatch(message);
  return env;
}

/** Writes raw bytes on a fresh connection and returns everything the server answers. */
async function rawRequest(text: string): Promise<string> {
  const socket = connect(port, "127.0.0.1");
  socket.setTimeout(10_000, () => socket.destroy());
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  socket.on("error", () => {});
  socket.write(text);
  await new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return Buffer.concat(chunks).toString("utf8");
}

let made = 0;
async function createVm(): Promise<string> {
  const r = await call("POST", "/api/v1/vms", { json: { name: `bad-input-${++made}` } });
  expect(r.status).toBe(202);
  return (r.body as { vm: { id: string } }).vm.id;
}

describe("NUL and oversized commands are 400s, not 500s", () => {
  it("refuses NUL in a command, its args and its env values", async () => {
    const vm = await createVm();
    const route = `/api/v1/vms/${vm}/execute`;
    for (const json of [
      { command: "echo a\u0000b" },
      { command: "echo", args: ["a\u0000b"] },
      { command: "env", env: { A: "x\u0000y" } },
    ]) {
      expectBadRequest(await call("POST", route, { json }), /NUL/);
    }
    // Queued, stdin is stored with the task; synchronous, it goes straight to the command.
    const stdin = { command: "cat", stdin: "a\u0000b" };
    expectBadRequest(await call("POST", `${route}?async=true`, { json: stdin }), /NUL/);
    expect((await call("POST", route, { json: stdin })).status).toBe(409);
  });

  it("refuses a command the kernel would refuse (E2BIG): one argument over 131071 bytes", async () => {
    const vm = await createVm();
    const route = `/api/v1/vms/${vm}/execute`;
    expectBadRequest(
      await call("POST", route, { json: { command: "a".repeat(131_072) } }),
      /131071 bytes/,
    );
    // Counted in UTF-8 bytes: 50 000 three-byte characters are 150 000 bytes.
    expectBadRequest(
      await call("POST", route, { json: { command: "€".repeat(50_000) } }),
      /131071 bytes/,
    );
    // Many arguments, each fine, together over the argv + env budget.
    const args = Array.from({ length: 12 }, () => "b".repeat(100_000));
    expectBadRequest(
      await call("POST", route, { json: { command: "true", args } }),
      /together are at most/,
    );
    // One byte under the limit is valid input: it gets past validation (the sandbox is pending).
    const ok = await call("POST", route, { json: { command: "a".repeat(131_071) } });
    expect(ok.status).toBe(409);
  });

  it("refuses NUL in a sandbox env value and in an API key name", async () => {
    expectBadRequest(
      await call("POST", "/api/v1/vms", { json: { name: "n", env: { A: "x\u0000y" } } }),
      /NUL/,
    );
    expectBadRequest(
      await call("POST", "/api/v1/api-keys", { json: { name: "k\u0000", scopes: ["read"] } }),
      /NUL/,
    );
  });

  it("refuses NUL in an id in the path", async () => {
    expectBadRequest(await call("GET", "/api/v1/workers/%00"), /NUL/);
    expectBadRequest(await call("POST", "/api/v1/workers/%00/drain"), /NUL/);
    expectBadRequest(await call("GET", "/api/v1/vms/a%00b"), /NUL/);
  });
});

describe("routing and HTTP parser errors answer the envelope", () => {
  it("answers an overlong path parameter with 400 bad_request", async () => {
    expectBadRequest(await call("GET", `/api/v1/vms/${"a".repeat(5000)}`), /longer than/);
  });

  it("answers a path that is not valid percent-encoding with 400 bad_request", async () => {
    expectBadRequest(await call("GET", "/api/v1/vms/%ff%fe"), /percent-encoding/);
    expectBadRequest(await call("GET", "/api/v1/vms/%zz"), /percent-encoding/);
  });

  it("answers headers or a URL over 16 KiB with 431 and the envelope", async () => {
    for (const head of [
      `GET /api/v1/vms/${"a".repeat(20_000)} HTTP/1.1\r\nhost: x\r\n\r\n`,
      `GET /api/v1/vms HTTP/1.1\r\nhost: x\r\nx-big: ${"b".repeat(20_000)}\r\n\r\n`,
    ]) {
      const answer = await rawRequest(head);
      expect(answer).toMatch(/^HTTP\/1\.1 431 /);
      const body = answer.slice(answer.indexOf("\r\n\r\n") + 4);
      expect(errorResponseSchema.parse(JSON.parse(body)).error.code).toBe("bad_request");
    }
  });

  it("answers malformed HTTP with 400 and the envelope", async () => {
    const answer = await rawRequest("NOT HTTP AT ALL\r\n\r\n");
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    const body = answer.slice(answer.indexOf("\r\n\r\n") + 4);
    expect(errorResponseSchema.parse(JSON.parse(body)).error.code).toBe("bad_request");
  });
});

describe("list and body validation is the same on every route", () => {
  it("applies ?limit to GET /api-keys and refuses a bad one", async () => {
    for (const limit of ["-1", "abc", "1e20", "0", "1.5"]) {
      expectBadRequest(await call("GET", `/api/v1/api-keys?limit=${limit}`), /limit/);
    }
    for (const name of ["k1", "k2", "k3"]) {
      expect((await call("POST", "/api/v1/api-keys", { json: { name } })).status).toBe(201);
    }
    type KeyPage = { items: { id: string; name: string }[]; nextCursor: string | null };
    const all = (await call("GET", "/api/v1/api-keys")).body as KeyPage;
    expect(all.items.length).toBeGreaterThanOrEqual(4);
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 10; i++) {
      const q: string = cursor ? `&cursor=${cursor}` : "";
      const page = (await call("GET", `/api/v1/api-keys?limit=2${q}`)).body as KeyPage;
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((k) => k.id));
      cursor = page.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toEqual(all.items.map((k) => k.id));
    expectBadRequest(await call("GET", "/api/v1/api-keys?cursor=garbage"), /cursor/);
  });

  it("refuses a cursor GET /workers never gave out", async () => {
    expectBadRequest(await call("GET", "/api/v1/workers?cursor=garbage"), /cursor/);
    expectBadRequest(await call("GET", "/api/v1/workers?cursor=abcd"), /cursor/);
    expect((await call("GET", "/api/v1/workers?cursor=d29ya2VyLTE")).status).toBe(200);
  });

  it("refuses a null body on POST /vms instead of creating a sandbox", async () => {
    const before = (await gw.runtime.repos.vms.list({ limit: 500 })).items.length;
    expectBadRequest(await call("POST", "/api/v1/vms", { raw: "null" }), /request body/);
    expectBadRequest(await call("POST", "/api/v1/vms", { raw: "[]" }), /request body/);
    expect((await gw.runtime.repos.vms.list({ limit: 500 })).items.length).toBe(before);
  });

  it("takes an empty body with a JSON content type as no body", async () => {
    const vm = await createVm();
    // Not 400 "Body cannot be empty": the request is valid; the pending sandbox is the reason.
    const r = await call("POST", `/api/v1/vms/${vm}/start`, { raw: "" });
    expect(r.status, JSON.stringify(r.body)).not.toBe(400);
    expect(r.status).toBeLessThan(500);
    errorResponseSchema.parse(r.body);
    const created = await call("POST", "/api/v1/vms", { raw: "" });
    expect(created.status).toBe(202);
    // A body that a route needs is still required.
    expectBadRequest(await call("POST", `/api/v1/vms/${vm}/timeout`, { raw: "" }), /body/);
  });
});
