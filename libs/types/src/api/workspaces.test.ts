import { describe, expect, it } from "vitest";
import { createApiKeyBodySchema } from "./api-keys.js";
import { createEnvironmentBodySchema, updateEnvironmentBodySchema } from "./environments.js";
import { submitPromptBodySchema } from "./prompts.js";
import { createSecretBodySchema, createWorkspaceBodySchema } from "./workspaces.js";

describe("environments", () => {
  it("fills defaults on create and requires an agent", () => {
    const env = createEnvironmentBodySchema.parse({ name: "py-agent", agent: { type: "amp" } });
    expect(env).toMatchObject({
      vcpus: 2,
      memoryMb: 2048,
      repo: null,
      tools: [],
      idleTimeoutSec: 1800,
    });
    expect(createEnvironmentBodySchema.safeParse({ name: "py-agent" }).success).toBe(false);
  });

  it("validates MCP servers by type", () => {
    const ok = createEnvironmentBodySchema.safeParse({
      name: "e",
      agent: { type: "claude-code" },
      mcpServers: [
        { name: "playwright", type: "stdio", command: "npx", args: ["@playwright/mcp@latest"] },
        { name: "docs", type: "http", url: "https://mcp.example.com/${TOKEN}" },
      ],
    });
    expect(ok.success).toBe(true);
    expect(
      createEnvironmentBodySchema.safeParse({
        name: "e",
        agent: { type: "claude-code" },
        mcpServers: [{ name: "x", type: "http" }],
      }).success,
    ).toBe(false);
  });

  it("updates only what is given", () => {
    expect(updateEnvironmentBodySchema.parse({ vcpus: 4 })).toEqual({ vcpus: 4 });
    expect(updateEnvironmentBodySchema.safeParse({ vcpus: 0 }).success).toBe(false);
  });
});

describe("workspaces, prompts, secrets", () => {
  it("creates a workspace from an environment, with initial secrets", () => {
    const ws = createWorkspaceBodySchema.parse({
      name: "ws-1",
      environment: "py-agent",
      secrets: [{ name: "ANTHROPIC_API_KEY", value: "sk-ant-x" }],
    });
    expect(ws.secrets?.[0]?.name).toBe("ANTHROPIC_API_KEY");
    expect(createWorkspaceBodySchema.safeParse({ name: "w" }).success).toBe(false);
  });

  it("defaults prompt priority to 5 and bounds it", () => {
    expect(submitPromptBodySchema.parse({ prompt: "fix the tests" }).priority).toBe(5);
    expect(submitPromptBodySchema.safeParse({ prompt: "x", priority: 11 }).success).toBe(false);
    expect(submitPromptBodySchema.safeParse({ prompt: "  " }).success).toBe(false);
  });

  it("requires secret names usable as environment variables", () => {
    expect(createSecretBodySchema.parse({ name: "GH_TOKEN", value: "x" })).toMatchObject({
      type: "api_key",
    });
    expect(createSecretBodySchema.safeParse({ name: "gh-token", value: "x" }).success).toBe(false);
  });
});

describe("api keys", () => {
  it("defaults scopes to read + write and rejects unknown scopes", () => {
    expect(createApiKeyBodySchema.parse({ name: "ci" }).scopes).toEqual(["read", "write"]);
    expect(createApiKeyBodySchema.safeParse({ name: "ci", scopes: ["root"] }).success).toBe(false);
  });
});
