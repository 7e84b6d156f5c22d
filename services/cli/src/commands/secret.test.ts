import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { createLogger, loadConfig } from "@aetherium/common";
import { DataPlaneClient, openControlPlane, type ControlPlane } from "@aetherium/core";
import { buildServer, ensureBootstrapKey } from "@aetherium/gateway";
import { useTestDatabase } from "@aetherium/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIo, InStream } from "../io.js";
import { runAether } from "../program.js";

// A real gateway on a real runtime (no worker): secrets typed at a hidden prompt, and environments
// from a YAML file.
const db = useTestDatabase();
let home: string;
let runtime: ControlPlane;
let app: Awaited<ReturnType<typeof buildServer>>;
let url: string;
let admin: string;

beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "aether-secret-"));
  const config = loadConfig({
    env: { AETHERIUM_DATABASE_URL: db.current.url, AETHERIUM_HOME: home },
  });
  const logger = createLogger({ level: "silent", service: "cli-secret-test" });
  runtime = await openControlPlane(config, { logger, migrate: true });
  admin = (await ensureBootstrapKey(runtime.repos, { home })).secret;
  app = await buildServer({
    logger,
    runtime,
    dataPlane: new DataPlaneClient(),
    health: () => Promise.resolve({ status: "ok", version: "test", components: {} }),
    waitTimeoutMs: 500,
  });
  url = (await app.listen({ host: "127.0.0.1", port: 0 })).replace("[::1]", "localhost");
});

afterAll(async () => {
  await app?.close();
  await runtime?.close();
  if (home) await rm(home, { recursive: true, force: true });
});

/** Runs one command line against the gateway with `stdin`, capturing its output. */
async function aether(argv: string[], stdin: InStream = new PassThrough({ objectMode: false })) {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: { write: (c) => (stdout += typeof c === "string" ? c : Buffer.from(c).toString()) },
    stderr: { write: (c) => (stderr += typeof c === "string" ? c : Buffer.from(c).toString()) },
    stdin,
    env: { AETHERIUM_URL: url, AETHERIUM_API_KEY: admin },
    cwd: home,
  };
  const code = await runAether(argv, io);
  return { code, stdout, stderr };
}

/** A terminal's stdin: raw mode is recorded, keys are written by the test. */
function fakeTerminal() {
  const stream = new PassThrough();
  const modes: boolean[] = [];
  const tty = Object.assign(stream, {
    isTTY: true,
    setRawMode: (raw: boolean) => modes.push(raw),
  });
  return { tty, modes };
}

describe("aether secret on a terminal", () => {
  it("reads the value at a hidden prompt, never echoing it", async () => {
    const { tty, modes } = fakeTerminal();
    const pending = aether(["secret", "set", "TYPED_KEY"], tty);
    // Typed key by key, with a typo erased by Backspace, then Enter.
    for (const key of ["s", "3", "c", "x", "\u007f", "r", "3", "t", "\r"]) {
      await new Promise((r) => setTimeout(r, 5));
      tty.write(key);
    }
    const set = await pending;
    expect(set.code, set.stderr).toBe(0);
    expect(set.stderr).toContain("value of TYPED_KEY (hidden): ");
    expect(set.stderr + set.stdout).not.toContain("s3cr3t");
    expect(modes).toEqual([true, false]);
    expect(await runtime.secrets.values("default", crypto.randomUUID(), "test")).toEqual({
      TYPED_KEY: "s3cr3t",
    });
  });

  it("cancels on Ctrl-C without setting anything", async () => {
    const { tty, modes } = fakeTerminal();
    const pending = aether(["secret", "set", "NEVER_SET"], tty);
    await new Promise((r) => setTimeout(r, 20));
    tty.write("abc\u0003");
    const r = await pending;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cancelled/);
    expect(modes).toEqual([true, false]);
    expect((await aether(["secret", "ls"])).stdout).not.toMatch(/NEVER_SET/);
  });
});

describe("aether env create --file", () => {
  it("reads YAML files, with flags on top", async () => {
    await writeFile(
      path.join(home, "env.yaml"),
      [
        "agent:",
        "  type: custom",
        "  command: my-agent --print",
        "tools: [node@20]",
        "setup:",
        "  - type: script",
        "    run: npm ci",
        "mcpServers:",
        "  - name: fs",
        "    type: stdio",
        "    command: mcp-fs",
        "    args: [/workspace]",
      ].join("\n"),
    );
    const made = await aether([
      "env",
      "create",
      "from-yaml",
      "--file",
      "env.yaml",
      "--model",
      "m1",
    ]);
    expect(made.code, made.stderr).toBe(0);
    const got = JSON.parse((await aether(["--json", "env", "get", "from-yaml"])).stdout) as Record<
      string,
      unknown
    >;
    expect(got).toMatchObject({
      agent: { type: "custom", command: "my-agent --print", model: "m1" },
      tools: ["node@20"],
      setup: [{ type: "script", run: "npm ci" }],
      mcpServers: [{ name: "fs", type: "stdio", command: "mcp-fs", args: ["/workspace"] }],
    });
    await writeFile(path.join(home, "bad.yml"), "agent: [unclosed");
    const bad = await aether(["env", "create", "bad", "--file", "bad.yml"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--file bad\.yml/);
  });
});
