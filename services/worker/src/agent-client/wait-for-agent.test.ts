import { mkdtemp, rm, symlink } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AgentAuthError, AgentSocketRefusedError } from "./agent-errors.js";
import { TestAgents, buildTestAgent, collect, type TestAgentBuild } from "./fixtures/test-agent.js";
import { waitForAgent } from "./wait-for-agent.js";

// Connecting to the real agent: waiting for it, its token handshake, and refusing a linked socket.

let build: TestAgentBuild;

beforeAll(async () => {
  build = await buildTestAgent();
});

afterAll(async () => {
  await build.remove();
});

describe("waitForAgent", () => {
  const agents = new TestAgents(() => build);
  afterEach(async () => {
    await agents.stopAll();
  });

  it("times out with a clear error when nothing listens", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "aet-agent-none-"));
    try {
      const err = await waitForAgent(path.join(dir, "agent.sock"), 300).catch((e: unknown) => e);
      expect(String(err)).toMatch(/not ready after 300 ms/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("connects only to an agent that proves the token it was given, and never follows a link", async () => {
    const token = "t0k3n-of-this-sandbox";
    const agent = await agents.start({ env: { AETHERIUM_AGENT_TOKEN: token } });
    const c = await waitForAgent(agent.socket, 10_000, { token });
    try {
      // The token is the agent's setting, not something its processes inherit.
      const out = collect();
      await c.exec(
        { shell: "env | grep -c AETHERIUM_AGENT_ || true" },
        { onStdout: (d) => void out.out.push(d) },
      );
      expect(out.text()).toBe("0\n");
    } finally {
      c.close();
    }
    // Another sandbox's agent (or anything else) cannot prove this token: refused at once.
    const wrong = await waitForAgent(agent.socket, 10_000, { token: "another-token" }).catch(
      (e: unknown) => e,
    );
    expect(wrong).toBeInstanceOf(AgentAuthError);
    // An agent without a token cannot prove one either.
    const bare = await agents.start();
    await expect(waitForAgent(bare.socket, 10_000, { token })).rejects.toThrow(
      /cannot prove it is this sandbox's agent/,
    );
    // A link where the socket should be is refused without touching what it points to.
    const dir = await mkdtemp(path.join(tmpdir(), "aet-agent-link-"));
    let connections = 0;
    const bait = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    try {
      await new Promise<void>((resolve) => bait.listen(path.join(dir, "bait.sock"), resolve));
      await symlink(path.join(dir, "bait.sock"), path.join(dir, "agent.sock"));
      const linked = await waitForAgent(path.join(dir, "agent.sock"), 10_000).catch(
        (e: unknown) => e,
      );
      expect(linked).toBeInstanceOf(AgentSocketRefusedError);
      expect(connections).toBe(0);
    } finally {
      await new Promise<void>((resolve) => bait.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("connects once an agent that starts later is up", async () => {
    const agent = await agents.start();
    const c = await waitForAgent(agent.socket, 10_000);
    try {
      expect((await c.health()).status).toBe("ok");
    } finally {
      c.close();
    }
  });
});
