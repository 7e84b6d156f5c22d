import { describe, expect, it } from "vitest";
import { createLogger } from "@aetherium/common";
import { E2B_ENVD_VERSION } from "@aetherium/types";
import { useGatewayFixture } from "../testing/gateway-fixture.js";
import { accessTokenFor } from "./access-token.js";
import { fileSignature } from "./signed-urls.js";

/*
 * The `/e2b` surface's edges, on a gateway with no worker: keys, scopes, bad input and the
 * Connect error shapes the e2b SDK turns into its own errors. The SDK itself, against sandboxes,
 * is tests/e2e/src/e2b-sdk.test.ts.
 */

const gw = useGatewayFixture();
const call = gw.call;
const e2b = (key: string | null): { key: null; headers: Record<string, string> } => ({
  key: null,
  headers: key ? { "x-api-key": key } : {},
});

async function e2bKey(scopes: string[] = ["read", "write"]) {
  const r = await call("POST", "/api/v1/api-keys", {
    body: { name: "e2b", scopes, format: "e2b" },
  });
  expect(r.status).toBe(201);
  return r.body as { apiKey: { id: string }; secret: string };
}

/** The frames of an `application/connect+json` body. */
function frames(raw: Buffer): { flags: number; json: unknown }[] {
  const out: { flags: number; json: unknown }[] = [];
  for (let at = 0; at + 5 <= raw.length && out.length < 1000;) {
    const len = raw.readUInt32BE(at + 1);
    out.push({
      flags: raw[at] ?? 0,
      json: JSON.parse(raw.subarray(at + 5, at + 5 + len).toString()),
    });
    at += 5 + len;
  }
  return out;
}

function enveloped(message: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(message));
  const head = Buffer.alloc(5);
  head.writeUInt32BE(json.length, 1);
  return Buffer.concat([head, json]);
}

describe("the E2B control API", () => {
  it("makes e2b-shaped keys that the control API takes in X-API-KEY", async () => {
    const { secret } = await e2bKey();
    expect(secret).toMatch(/^e2b_[0-9a-f]{40}$/);
    const listed = await call("GET", "/e2b/v2/sandboxes", e2b(secret));
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([]);
    // And on /api/v1 like any other key.
    expect((await call("GET", "/api/v1/vms", { key: secret })).status).toBe(200);
  });

  it("answers E2B's {code, message} for missing, wrong and under-scoped keys", async () => {
    const none = await call("GET", "/e2b/v2/sandboxes", e2b(null));
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ code: 401, message: expect.stringMatching(/API key/) });
    const wrong = await call("GET", "/e2b/v2/sandboxes", e2b(`e2b_${"1".repeat(40)}`));
    expect(wrong.body).toMatchObject({ code: 401 });
    const { secret } = await e2bKey(["read"]);
    const refused = await call("POST", "/e2b/v2/sandboxes", {
      ...e2b(secret),
      body: { templateID: "base" },
    });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({
      code: 403,
      message: expect.stringMatching(/needs write/),
    });
  });

  it("refuses bad input and what it does not implement with a 400 naming it", async () => {
    const { secret } = await e2bKey();
    const bad = await call("POST", "/e2b/v2/sandboxes", {
      ...e2b(secret),
      body: { templateID: 7 },
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 400, message: expect.stringMatching(/templateID/) });
    const pause = await call("POST", "/e2b/sandboxes", {
      ...e2b(secret),
      body: { templateID: "base", autoPause: true, autoPauseMemory: false },
    });
    expect(pause.body).toMatchObject({ code: 400, message: expect.stringMatching(/memory/) });
    const rules = await call("POST", "/e2b/sandboxes", {
      ...e2b(secret),
      body: { templateID: "base", network: { allowOut: ["1.1.1.1"] } },
    });
    expect(rules.body).toMatchObject({ code: 400, message: expect.stringMatching(/network/) });
    const extra = await call("POST", "/e2b/v2/sandboxes", {
      ...e2b(secret),
      body: { templateID: "base", mcp: {} },
    });
    expect(extra.body).toMatchObject({ code: 400, message: expect.stringMatching(/mcp/) });
    const json = await call("POST", "/e2b/v2/sandboxes", { ...e2b(secret), raw: "{nope" });
    expect(json.body).toMatchObject({ code: 400 });
    const state = await call("GET", "/e2b/v2/sandboxes?state=frozen", e2b(secret));
    expect(state.body).toMatchObject({ code: 400, message: expect.stringMatching(/state/) });
  });

  it("counts control calls against the key's rate limit, with Retry-After", async () => {
    const limited = await gw.open({ rateLimit: { max: 2, timeWindowMs: 60_000 } });
    const { secret } = await e2bKey();
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 3; i++) {
      last = await limited.inject({
        method: "GET",
        url: "/e2b/v2/sandboxes",
        headers: { "x-api-key": secret },
      });
      statuses.push(last.statusCode);
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect(last?.json()).toMatchObject({ code: 429 });
    expect(Number(last?.headers["retry-after"])).toBeGreaterThan(0);
  });

  it("lists by metadata, a page at a time with x-next-token", async () => {
    const { secret } = await e2bKey();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await call("POST", "/api/v1/vms", {
        body: { labels: { suite: "paging", n: String(i) } },
      });
      expect(r.status).toBe(202);
      ids.push(r.body.vm.id as string);
    }
    try {
      const filter = `metadata=${encodeURIComponent("suite=paging")}`;
      const first = await call("GET", `/e2b/v2/sandboxes?${filter}&limit=2`, e2b(secret));
      expect(first.status).toBe(200);
      expect(first.body).toHaveLength(2);
      const token = first.headers["x-next-token"] as string;
      expect(token).toBeTruthy();
      const rest = await call(
        "GET",
        `/e2b/v2/sandboxes?${filter}&limit=2&nextToken=${encodeURIComponent(token)}`,
        e2b(secret),
      );
      expect(rest.body).toHaveLength(1);
      expect(rest.headers["x-next-token"]).toBeUndefined();
      const all = [
        ...(first.body as { sandboxID: string }[]),
        ...(rest.body as { sandboxID: string }[]),
      ];
      expect(all.map((s) => s.sandboxID).sort()).toEqual([...ids].sort());
      expect(all[0]).toMatchObject({
        state: "running",
        metadata: { suite: "paging" },
        envdVersion: E2B_ENVD_VERSION,
      });
      const one = await call(
        "GET",
        `/e2b/v2/sandboxes?metadata=${encodeURIComponent("n=1")}`,
        e2b(secret),
      );
      expect((one.body as { sandboxID: string }[]).map((s) => s.sandboxID)).toEqual([ids[1]]);
      const paused = await call("GET", `/e2b/v2/sandboxes?${filter}&state=paused`, e2b(secret));
      expect(paused.body).toEqual([]);
    } finally {
      for (const id of ids) await call("DELETE", `/api/v1/vms/${id}`);
    }
  });

  it("answers 404 for a sandbox it does not know", async () => {
    const { secret } = await e2bKey();
    for (const [method, route, body] of [
      ["GET", "/e2b/sandboxes/nope", undefined],
      ["DELETE", "/e2b/sandboxes/nope", undefined],
      ["POST", "/e2b/sandboxes/nope/timeout", { timeout: 30 }],
      ["POST", "/e2b/v2/sandboxes/nope/connect", { timeout: 30 }],
      ["POST", "/e2b/sandboxes/nope/pause", undefined],
      ["GET", "/e2b/sandboxes/nope/metrics", undefined],
    ] as const) {
      const r = await call(method, route, { ...e2b(secret), ...(body ? { body } : {}) });
      expect(r.status, route).toBe(404);
      expect(r.body).toMatchObject({ code: 404 });
    }
  });

  it("refuses a metrics interval that is not one", async () => {
    const { secret } = await e2bKey();
    for (const query of ["start=soon", "start=20&end=10", "end=-1"]) {
      const r = await call("GET", `/e2b/sandboxes/nope/metrics?${query}`, e2b(secret));
      expect(r.status, query).toBe(400);
      expect(r.body).toMatchObject({ code: 400 });
    }
  });
});

describe("the E2B in-sandbox API", () => {
  const rpc = async (
    path: string,
    token: string | undefined,
    payload: string,
    type = "application/json",
  ) =>
    gw.app.inject({
      method: "POST",
      url: `/e2b/${path}`,
      headers: {
        "content-type": type,
        "e2b-sandbox-id": "vm-nope",
        "e2b-sandbox-port": "49983",
        ...(token ? { "x-access-token": token } : {}),
      },
      payload,
    });

  it("wants the sandbox's own token, from a key still valid", async () => {
    const key = await e2bKey();
    const row = (await gw.runtime.repos.apiKeys.get(key.apiKey.id))!;
    const none = await rpc("filesystem.Filesystem/Stat", undefined, '{"path":"/"}');
    expect(none.statusCode).toBe(401);
    expect(none.json()).toMatchObject({ code: "unauthenticated" });
    const otherSandbox = accessTokenFor(row.id, row.keyHash, "vm-other");
    expect((await rpc("filesystem.Filesystem/Stat", otherSandbox, '{"path":"/"}')).statusCode).toBe(
      401,
    );
    const token = accessTokenFor(row.id, row.keyHash, "vm-nope");
    // The token opens the call; the sandbox does not exist, which the data plane says.
    const missing = await rpc("filesystem.Filesystem/Stat", token, '{"path":"/"}');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: "not_found" });
    await call("DELETE", `/api/v1/api-keys/${key.apiKey.id}`);
    expect((await rpc("filesystem.Filesystem/Stat", token, '{"path":"/"}')).statusCode).toBe(401);
  });

  it("answers Connect errors for bad messages, unknown methods and failed streams", async () => {
    const key = await e2bKey();
    const row = (await gw.runtime.repos.apiKeys.get(key.apiKey.id))!;
    const token = accessTokenFor(row.id, row.keyHash, "vm-nope");
    const bad = await rpc("process.Process/List", token, "{not json");
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: "invalid_argument" });
    const unknown = await rpc("process.Process/Teleport", token, "{}");
    expect(unknown.statusCode).toBe(501);
    expect(unknown.json()).toMatchObject({ code: "unimplemented" });
    const watcher = await rpc(
      "filesystem.Filesystem/GetWatcherEvents",
      token,
      '{"watcherId":"w-1"}',
    );
    expect(watcher.json()).toMatchObject({ code: "not_found" });
    const gone = await rpc(
      "process.Process/SendInput",
      token,
      '{"process":{"pid":4242},"input":{"stdin":"aGk="}}',
    );
    expect(gone.json()).toMatchObject({ code: "not_found" });

    // A stream that cannot start still answers 200 and ends with the error in its last frame.
    const start = await rpc(
      "process.Process/Start",
      token,
      enveloped({ process: { cmd: "/bin/true" } }).toString("latin1"),
      "application/connect+json",
    );
    expect(start.statusCode).toBe(200);
    expect(start.headers["content-type"]).toBe("application/connect+json");
    const got = frames(start.rawPayload);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ flags: 2, json: { error: { code: "not_found" } } });
    const empty = await rpc(
      "process.Process/Start",
      token,
      enveloped({ process: {} }).toString("latin1"),
      "application/connect+json",
    );
    expect(frames(empty.rawPayload)[0]).toMatchObject({
      json: { error: { code: "invalid_argument" } },
    });
  });

  it("answers StreamInput as a client stream: errors in its end-of-stream frame", async () => {
    const key = await e2bKey();
    const row = (await gw.runtime.repos.apiKeys.get(key.apiKey.id))!;
    const token = accessTokenFor(row.id, row.keyHash, "vm-nope");
    const stream = (t: string | undefined, ...messages: unknown[]) =>
      rpc(
        "process.Process/StreamInput",
        t,
        Buffer.concat(messages.map(enveloped)).toString("latin1"),
        "application/connect+json",
      );
    const last = (r: { rawPayload: Buffer }) => {
      const got = frames(r.rawPayload);
      expect(got).toHaveLength(1);
      expect(got[0]?.flags).toBe(2);
      return got[0]?.json;
    };
    // No token: refused before any message is read.
    const anon = await stream(undefined, { keepalive: {} });
    expect(anon.statusCode).toBe(200);
    expect(last(anon)).toMatchObject({ error: { code: "unauthenticated" } });
    // Data with no process named, and a message of no known kind.
    expect(last(await stream(token, { data: { input: { stdin: "aGk=" } } }))).toMatchObject({
      error: { code: "invalid_argument", message: expect.stringMatching(/start/) },
    });
    expect(last(await stream(token, { teleport: {} }))).toMatchObject({
      error: { code: "invalid_argument" },
    });
    // A process in a sandbox that is not there.
    expect(
      last(await stream(token, { start: { process: { pid: 4242 } } }, { keepalive: {} })),
    ).toMatchObject({ error: { code: "not_found" } });
    // Keep-alives alone end well: one empty message, then end-of-stream.
    const idle = frames((await stream(token, { keepalive: {} }, { keepalive: {} })).rawPayload);
    expect(idle).toEqual([
      { flags: 0, json: {} },
      { flags: 2, json: {} },
    ]);
    // Called as unary JSON: Connect's 415.
    const unary = await rpc("process.Process/StreamInput", token, "{}");
    expect(unary.statusCode).toBe(415);
    expect(unary.headers["accept-post"]).toBe("application/connect+json");
  });

  it("refuses a call that names no sandbox; a user port of no sandbox is a 502", async () => {
    const r = await gw.app.inject({ method: "GET", url: "/e2b/files?path=/etc/hostname" });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: 400, message: expect.stringMatching(/E2b-Sandbox-Id/) });
    const port = await gw.app.inject({
      method: "GET",
      url: "/e2b/health",
      headers: { "e2b-sandbox-id": "vm-nope", "e2b-sandbox-port": "8080" },
    });
    expect(port.statusCode).toBe(502);
    expect(port.json()).toMatchObject({ code: 502, sandboxId: "vm-nope", port: 8080 });
    const byHost = await gw.app.inject({
      method: "GET",
      url: "/",
      headers: { host: "3000-00000000-0000-4000-8000-000000000000.sandboxes.example.com" },
    });
    expect(byHost.statusCode).toBe(502);
    expect(byHost.json()).toMatchObject({
      port: 3000,
      message: expect.stringMatching(/not found/),
    });
  });

  it("checks signed file URLs as envd does: wrong, expired, malformed, and by the named sandbox", async () => {
    const key = await e2bKey();
    const row = (await gw.runtime.repos.apiKeys.get(key.apiKey.id))!;
    const token = accessTokenFor(row.id, row.keyHash, "vm-nope");
    const sign = (path: string, operation: "read" | "write", expiration?: number) =>
      encodeURIComponent(fileSignature({ path, operation, user: "", expiration }, token));
    const get = (query: string, headers: Record<string, string> = {}) =>
      gw.app.inject({ method: "GET", url: `/files?${query}`, headers });
    const named = { "e2b-sandbox-id": "vm-nope", "e2b-sandbox-port": "49983" };
    const soon = Math.floor(Date.now() / 1000) + 60;

    // Signed for another operation, or tampered with: refused, with envd's body.
    const wrongOp = await get(
      `path=a.txt&signature=${sign("a.txt", "write", soon)}&signature_expiration=${soon}`,
      named,
    );
    expect(wrongOp.statusCode).toBe(401);
    expect(wrongOp.json()).toEqual({ code: 401, message: "invalid signature" });
    // The right signature, past its expiration.
    const past = soon - 3600;
    const expired = await get(
      `path=a.txt&signature=${sign("a.txt", "read", past)}&signature_expiration=${past}`,
      named,
    );
    expect(expired.json()).toEqual({ code: 401, message: "signature is already expired" });
    // A later expiration than the one signed is a different signature.
    const stretched = await get(
      `path=a.txt&signature=${sign("a.txt", "read", soon)}&signature_expiration=${soon + 1}`,
      named,
    );
    expect(stretched.json()).toMatchObject({ message: "invalid signature" });
    const malformed = await get(`path=a.txt&signature=v1_x&signature_expiration=soon`, named);
    expect(malformed.statusCode).toBe(400);
    // A good signature opens the call without a token: the sandbox is then not there.
    const ok = await get(
      `path=a.txt&signature=${sign("a.txt", "read", soon)}&signature_expiration=${soon}`,
      named,
    );
    expect(ok.statusCode).toBe(404);
    // Under /e2b too, and without an expiration.
    const e2bPath = await gw.app.inject({
      method: "GET",
      url: `/e2b/files?path=a.txt&signature=${sign("a.txt", "read")}`,
      headers: named,
    });
    expect(e2bPath.statusCode).toBe(404);
    // Naming no sandbox, the signature must be one of a running sandbox's: none runs here.
    const unnamed = await get(`path=a.txt&signature=${sign("a.txt", "read")}`);
    expect(unnamed.json()).toEqual({ code: 401, message: "invalid signature" });
    // Revoking the key ends its signatures as it ends its tokens.
    await call("DELETE", `/api/v1/api-keys/${key.apiKey.id}`);
    const revoked = await get(`path=a.txt&signature=${sign("a.txt", "read")}`, named);
    expect(revoked.json()).toMatchObject({ code: 401, message: "invalid signature" });
  });

  it("keeps a signed URL's signature out of the request log", async () => {
    const lines: string[] = [];
    const logger = createLogger({
      service: "gateway-test",
      level: "info",
      format: "json",
      destination: { write: (line: string) => void lines.push(line) },
    });
    const app = await gw.open({ logger });
    const secret = "v1_SECRETsignatureVALUE";
    await app.inject({
      method: "GET",
      url: `/files?path=a.txt&signature=${secret}&signature_expiration=99`,
    });
    const incoming = lines.find((l) => l.includes("incoming request"));
    expect(incoming).toContain("signature=[redacted]&signature_expiration=99");
    expect(lines.join("")).not.toContain(secret);
  });

  it("serves envd itself, not a relay, on the wildcard host of envd's port", async () => {
    const r = await gw.app.inject({
      method: "GET",
      url: "/envs",
      headers: { host: "49983-00000000-0000-4000-8000-000000000000.sandboxes.example.com" },
    });
    expect(r.statusCode).toBe(401);
    expect(r.json()).toMatchObject({ code: 401, message: expect.stringMatching(/X-Access-Token/) });
  });
});
