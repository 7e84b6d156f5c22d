import { writeFile } from "node:fs/promises";
import path from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { useCliTestGateway } from "../testing/cli-test-gateway.js";

// A real gateway on a real runtime (no worker): secrets typed at a hidden prompt, and environments
// from a YAML file.
const gw = useCliTestGateway("secret");
const aether = gw.aether;

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
    expect(await gw.runtime.secrets.values("default", crypto.randomUUID(), "test")).toEqual({
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

describe("aether secret --workspace", () => {
  it("fails clearly for a workspace it cannot find, and sets nothing", async () => {
    const r = await aether(["secret", "set", "WS_KEY", "--workspace", "nope", "--value", "v"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no workspace with id or name "nope"/);
    expect((await aether(["secret", "ls"])).stdout).not.toMatch(/WS_KEY/);
  });
});

describe("aether env create --file", () => {
  it("reads YAML files, with flags on top", async () => {
    await writeFile(
      path.join(gw.home, "env.yaml"),
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
    await writeFile(path.join(gw.home, "bad.yml"), "agent: [unclosed");
    const bad = await aether(["env", "create", "bad", "--file", "bad.yml"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--file bad\.yml/);
  });
});
