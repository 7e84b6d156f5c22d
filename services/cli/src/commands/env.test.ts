import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { useCliTestGateway } from "../testing/cli-test-gateway.js";

// A real gateway on a real runtime (no worker: environments and secrets need none).
const gw = useCliTestGateway("env");
const aether = gw.aether;

describe("aether env", () => {
  it("creates from flags over a JSON file, lists, shows and deletes", async () => {
    await writeFile(
      path.join(gw.home, "env.json"),
      JSON.stringify({
        mcpServers: [{ name: "fs", type: "stdio", command: "mcp-fs" }],
        agent: { type: "amp" },
      }),
    );
    const made = await aether([
      "env",
      "create",
      "web-agent",
      "--file",
      "env.json",
      "--agent",
      "claude-code",
      "--model",
      "sonnet",
      "--repo",
      "https://git.example.test/app.git",
      "--tool",
      "node@20",
      "--tool",
      "npm:prettier",
      "--env",
      "CI=1",
      "--secret",
      "GH_TOKEN",
      "--setup",
      "npm ci",
      "--memory",
      "1g",
      "--idle-timeout",
      "10m",
    ]);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/agent:\s+claude-code, model sonnet/);
    expect(made.stdout).toMatch(/mcp servers: fs \(stdio\)/);
    const stored = await gw.runtime.environments.get("web-agent");
    expect(stored).toMatchObject({
      tools: ["node@20", "npm:prettier"],
      env: { CI: "1" },
      secrets: ["GH_TOKEN"],
      setup: [{ type: "script", run: "npm ci" }],
      memoryMb: 1024,
      idleTimeoutSec: 600,
      repo: { url: "https://git.example.test/app.git" },
    });

    const ls = await aether(["env", "ls"]);
    expect(ls.stdout).toMatch(/web-agent\s+claude-code\s+https:\/\/git\.example\.test\/app\.git/);
    const json = await aether(["--json", "env", "get", "web-agent"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ id: stored.id, name: "web-agent" });

    expect((await aether(["env", "rm", "web-agent"])).code).toBe(0);
    const gone = await aether(["env", "get", "web-agent"]);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/environment.*web-agent/i);
  });

  it("reports the server's validation message and a missing agent as a usage error", async () => {
    const noAgent = await aether(["env", "create", "x"]);
    expect(noAgent.code).toBe(2);
    expect(noAgent.stderr).toMatch(/needs an agent/);
    const bad = await aether(["env", "create", "x", "--agent", "custom"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/command is required/);
  });
});

describe("aether secret", () => {
  it("sets from stdin, lists names only, and deletes", async () => {
    const set = await aether(["secret", "set", "API_TOKEN", "--description", "CI"], "tok-s3cr3t\n");
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/set global secret API_TOKEN/);
    expect(await gw.runtime.secrets.values("default", crypto.randomUUID(), "test")).toEqual({
      API_TOKEN: "tok-s3cr3t",
    });
    const ls = await aether(["secret", "ls"]);
    expect(ls.stdout).toMatch(/API_TOKEN\s+api_key\s+CI/);
    const json = await aether(["--json", "secret", "ls"]);
    expect(json.stdout).not.toContain("s3cr3t");
    expect((await aether(["secret", "rm", "API_TOKEN"])).code).toBe(0);
    expect((await aether(["secret", "ls"])).stdout).not.toMatch(/API_TOKEN/);
    const empty = await aether(["secret", "set", "EMPTY"], "");
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/empty/);
  });
});
