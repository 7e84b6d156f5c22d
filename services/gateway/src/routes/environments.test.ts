import { describe, expect, it } from "vitest";
import { useGatewayFixture } from "../testing/gateway-fixture.js";

const gw = useGatewayFixture();
const call = gw.call;

const full = {
  name: "node-agent",
  description: "Node project with Claude Code",
  backend: "docker",
  image: "aetherium/base:latest",
  vcpus: 2,
  memoryMb: 1024,
  diskMb: 4096,
  repo: {
    url: "https://git.example.test/acme/app.git",
    branch: "dev",
    dir: "/workspace/app",
    tokenSecret: "GIT_TOKEN",
  },
  tools: ["node@20", "python@3.12", "npm:prettier"],
  env: { NODE_ENV: "development" },
  secrets: ["GIT_TOKEN", "ANTHROPIC_API_KEY"],
  mcpServers: [
    { name: "fs", type: "stdio", command: "npx", args: ["-y", "mcp-fs"], env: { ROOT: "${HOME}" } },
    { name: "docs", type: "http", url: "https://mcp.example.test/", headers: { A: "${TOKEN}" } },
  ],
  setup: [
    { type: "script", run: "npm ci" },
    { type: "env", name: "CI", value: "1" },
  ],
  agent: { type: "claude-code", systemPrompt: "Be brief.", model: "sonnet" },
  idleTimeoutSec: 600,
  network: { egress: "deny-all" },
};

describe("environments", () => {
  it("creates with every field, reads back by id and name, lists, updates and deletes", async () => {
    const made = await call("POST", "/api/v1/environments", { body: full });
    expect(made.status).toBe(201);
    const env = made.body.environment;
    expect(env).toMatchObject({ ...full, id: expect.any(String) });

    expect((await call("GET", `/api/v1/environments/${env.id}`)).body.environment).toEqual(env);
    expect((await call("GET", "/api/v1/environments/node-agent")).body.environment.id).toBe(env.id);

    const minimal = await call("POST", "/api/v1/environments", {
      body: { name: "shell-agent", agent: { type: "custom", command: "my-agent --print" } },
    });
    expect(minimal.status).toBe(201);
    expect(minimal.body.environment).toMatchObject({
      repo: null,
      tools: [],
      setup: [],
      mcpServers: [],
      vcpus: 2,
      memoryMb: 2048,
      diskMb: null,
      idleTimeoutSec: 1800,
      network: { egress: "allow-all" },
    });

    const names = (answer: { body: { items: { name: string }[] } }) =>
      answer.body.items.map((e) => e.name);
    const page1 = await call("GET", "/api/v1/environments?limit=1");
    expect(names(page1)).toEqual(["shell-agent"]);
    const page2 = await call("GET", `/api/v1/environments?limit=1&cursor=${page1.body.nextCursor}`);
    expect(names(page2)).toEqual(["node-agent"]);

    const updated = await call("PUT", `/api/v1/environments/${env.id}`, {
      body: { tools: ["node@22"], repo: null, secrets: [] },
    });
    expect(updated.status).toBe(200);
    expect(updated.body.environment).toMatchObject({ tools: ["node@22"], repo: null, vcpus: 2 });

    expect((await call("DELETE", "/api/v1/environments/node-agent")).status).toBe(204);
    expect((await call("GET", `/api/v1/environments/${env.id}`)).status).toBe(404);
    expect((await call("DELETE", `/api/v1/environments/${env.id}`)).status).toBe(404);
    await call("DELETE", "/api/v1/environments/shell-agent");
  });

  it("refuses invalid input with 400s that name the field", async () => {
    const bad = async (body: unknown, field: RegExp) => {
      const res = await call("POST", "/api/v1/environments", { body });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(field);
    };
    await bad({ name: "no-agent" }, /agent/);
    await bad({ name: "x", agent: { type: "custom" } }, /command is required/);
    await bad({ name: "x", agent: { type: "cursor" } }, /claude-code/);
    await bad({ name: "x", agent: { type: "amp" }, tools: ["node 20"] }, /tool spec/);
    await bad(
      { name: "x", agent: { type: "amp" }, mcpServers: [{ name: "m", type: "http" }] },
      /url/,
    );
    await bad(
      { name: "x", agent: { type: "amp" }, setup: [{ type: "script" }] },
      /run is required/,
    );
    await bad({ name: "x", agent: { type: "amp" }, repo: { branch: "main" } }, /url/);
    await bad({ name: "x", agent: { type: "amp" }, idleTimeoutSec: 5 }, /idleTimeoutSec/);
    await bad({ name: "x", agent: { type: "amp" }, env: { "1BAD": "v" } }, /1BAD/);
    await bad({ name: "x", agent: { type: "amp" }, memory_mb: 1 }, /memory_mb/);
    await bad(
      { name: "x", agent: { type: "amp" }, repo: { url: "https://h/r", tokenSecret: "T" } },
      /tokenSecret.*must also be listed in secrets/,
    );
    const dup = { name: "twice", agent: { type: "amp" } };
    expect((await call("POST", "/api/v1/environments", { body: dup })).status).toBe(201);
    const again = await call("POST", "/api/v1/environments", { body: dup });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/already exists/);
    const upd = await call("PUT", "/api/v1/environments/twice", { body: { vcpus: 0 } });
    expect(upd.status).toBe(400);
    await call("DELETE", "/api/v1/environments/twice");
  });

  it("needs write to change and read to look", async () => {
    const reader = await gw.key("env-reader", ["read"]);
    expect((await call("GET", "/api/v1/environments", { key: reader.secret })).status).toBe(200);
    const res = await call("POST", "/api/v1/environments", {
      key: reader.secret,
      body: { name: "nope", agent: { type: "amp" } },
    });
    expect(res.status).toBe(403);
  });
});
