import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger, loadConfig } from "@aetherium/common";
import { DataPlaneClient, openControlPlane, type ControlPlane } from "@aetherium/core";
import { buildServer, ensureBootstrapKey } from "@aetherium/gateway";
import { AetheriumClient, BadRequestError, ConflictError, NotFoundError } from "@aetherium/sdk";
import { useTestDatabase } from "@aetherium/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The SDK's environments and secrets namespaces against a real gateway on real PostgreSQL (no
// worker: neither needs one).
const db = useTestDatabase();
let home: string;
let runtime: ControlPlane;
let app: Awaited<ReturnType<typeof buildServer>>;
let client: AetheriumClient;
/** Every response body the SDK saw, to prove no secret value ever comes back. */
const bodies: string[] = [];

beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "sdk-env-"));
  const config = loadConfig({
    env: { AETHERIUM_DATABASE_URL: db.current.url, AETHERIUM_HOME: home },
  });
  const logger = createLogger({ level: "silent", service: "sdk-env-test" });
  runtime = await openControlPlane(config, { logger, migrate: true });
  const admin = (await ensureBootstrapKey(runtime.repos, { home })).secret;
  app = await buildServer({
    logger,
    runtime,
    dataPlane: new DataPlaneClient(),
    health: () => Promise.resolve({ status: "ok", version: "test", components: {} }),
    waitTimeoutMs: 500,
  });
  const url = (await app.listen({ host: "127.0.0.1", port: 0 })).replace("[::1]", "localhost");
  client = new AetheriumClient({
    url,
    apiKey: admin,
    fetch: async (input, init) => {
      const res = await fetch(input, init);
      bodies.push(await res.clone().text());
      return res;
    },
  });
});

afterAll(async () => {
  await app?.close();
  await runtime?.close();
  if (home) await rm(home, { recursive: true, force: true });
});

describe("client.environments", () => {
  it("creates with defaults, gets by name, updates, lists and deletes", async () => {
    const env = await client.environments.create({
      name: "sdk-env",
      tools: ["node@20"],
      secrets: ["GH_TOKEN"],
      repo: { url: "https://git.example.test/app.git", tokenSecret: "GH_TOKEN" },
      agent: { type: "claude-code", model: "sonnet" },
    });
    expect(env).toMatchObject({
      name: "sdk-env",
      vcpus: 2,
      memoryMb: 2048,
      idleTimeoutSec: 1800,
      tools: ["node@20"],
      agent: { type: "claude-code", model: "sonnet" },
    });
    expect((await client.environments.get("sdk-env")).id).toBe(env.id);
    const updated = await client.environments.update(env.id, { tools: ["python@3.12"] });
    expect(updated.tools).toEqual(["python@3.12"]);
    const page = await client.environments.list({ limit: 10 });
    expect(page.items.map((e) => e.name)).toEqual(["sdk-env"]);
    await client.environments.delete("sdk-env");
    await expect(client.environments.get(env.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("turns validation errors into BadRequestError naming the field, and a taken name into ConflictError", async () => {
    const bad = await client.environments
      .create({ name: "bad", agent: { type: "custom" } })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(BadRequestError);
    expect((bad as Error).message).toMatch(/command is required/);
    await client.environments.create({ name: "taken", agent: { type: "amp" } });
    await expect(
      client.environments.create({ name: "taken", agent: { type: "amp" } }),
    ).rejects.toBeInstanceOf(ConflictError);
  });
});

describe("client.secrets", () => {
  it("sets, replaces, lists and deletes global secrets without any value coming back", async () => {
    const value = "sk-sdk-test-0123456789abcdef";
    const made = await client.secrets.set({ name: "SDK_KEY", value, description: "for tests" });
    expect(made).toMatchObject({ name: "SDK_KEY", scope: "global", workspaceId: null });
    await client.secrets.set({ name: "SDK_KEY", value: `${value}-2`, type: "token" });
    const items = await client.secrets.list();
    expect(items.map((s) => [s.name, s.type])).toEqual([["SDK_KEY", "token"]]);
    await client.secrets.delete("SDK_KEY");
    expect(await client.secrets.list()).toEqual([]);
    expect(bodies.join("\n")).not.toContain(value);
    await expect(client.secrets.set({ name: "1BAD", value: "x" })).rejects.toBeInstanceOf(
      BadRequestError,
    );
  });
});
