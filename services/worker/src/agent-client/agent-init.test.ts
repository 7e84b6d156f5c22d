import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentClient } from "./agent-client.js";
import { buildTestAgent, collect, type TestAgentBuild } from "./fixtures/test-agent.js";
import { waitForAgent } from "./wait-for-agent.js";

let build: TestAgentBuild;

beforeAll(async () => {
  build = await buildTestAgent();
});

afterAll(async () => {
  await build.remove();
});

// Zombie reaping needs a PID namespace to make the agent (or tini) PID 1: root, unshare and tini.
const canUnshare =
  process.getuid?.() === 0 &&
  ["/usr/bin/unshare", "/usr/bin/tini"].every((p) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });

describe.skipIf(!canUnshare)("as PID 1 of a sandbox", () => {
  async function zombiesAfterOrphan(
    withInit: boolean,
  ): Promise<{ reaper: string; zombies: string }> {
    const dir = await mkdtemp(path.join(tmpdir(), "aet-agent-pid1-"));
    const socket = path.join(dir, "agent.sock");
    const child = spawn(
      "unshare",
      [
        "--pid",
        "--fork",
        "--mount-proc",
        "--kill-child",
        ...(withInit ? ["tini", "--"] : []),
        process.execPath,
        build.bundlePath,
        "--socket",
        socket,
      ],
      { stdio: "ignore", detached: true },
    );
    let c: AgentClient | undefined;
    try {
      c = await waitForAgent(socket, 10_000);
      const { reaper } = await c.info();
      // The shell exits at once and leaves `sleep` to PID 1; once it exits, only a reaper
      // collects it.
      await c.exec({ shell: "sleep 0.2 & exit 0" });
      await new Promise((r) => setTimeout(r, 700));
      const out = collect();
      await c.exec(
        { shell: "ps -eo stat,comm | awk '$1 ~ /^Z/ {print $2}'" },
        { onStdout: (d) => void out.out.push(d) },
      );
      return { reaper, zombies: out.text() };
    } finally {
      c?.close();
      const exited = new Promise((r) => child.once("exit", r));
      try {
        process.kill(-(child.pid ?? 0), "SIGKILL");
      } catch {
        // Already gone.
      }
      await exited;
      await rm(dir, { recursive: true, force: true });
    }
  }

  it("leaves orphans as zombies without an init, and reports reaper none", async () => {
    // Which process is left a zombie depends on timing, since an exec's leftover processes are
    // killed when it ends (the orphan, or the shell that was tearing down): that one is.
    const { reaper, zombies } = await zombiesAfterOrphan(false);
    expect(reaper).toBe("none");
    expect(zombies).toMatch(/^(sleep|sh)\n$/);
  });

  it("has orphans reaped with tini above it (docker --init)", async () => {
    expect(await zombiesAfterOrphan(true)).toEqual({ reaper: "init", zombies: "" });
  });
});
