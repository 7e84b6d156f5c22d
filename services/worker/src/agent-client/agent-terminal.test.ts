import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentClient } from "./agent-client.js";
import { isAgentError } from "./agent-errors.js";
import {
  TestAgents,
  buildTestAgent,
  collect,
  until,
  type RunningAgent,
  type TestAgentBuild,
} from "./fixtures/test-agent.js";

// The real agent's pseudo-terminals: size, resize, signals (see agent.test.ts for the setting).

let build: TestAgentBuild;

beforeAll(async () => {
  build = await buildTestAgent();
});

afterAll(async () => {
  await build.remove();
});

describe("guest agent terminals", () => {
  const agents = new TestAgents(() => build);
  let agent: RunningAgent;
  let client: AgentClient;

  beforeAll(async () => {
    agent = await agents.start();
    client = await agents.connect(agent);
  });

  afterAll(async () => {
    await agents.stopAll();
  });

  it("gives a PTY: tty is a /dev/pts device and resize changes stty size", async () => {
    const c = collect();
    const p = await client.startProcess(
      { command: "/bin/sh", pty: { cols: 80, rows: 24 } },
      { onStdout: (d) => void c.out.push(d) },
    );
    await p.write("tty; stty size\n");
    await until(() => /24 80/.test(c.text()), "initial size");
    expect(c.text()).toMatch(/\/dev\/pts\/\d+/);
    await p.resize(100, 50);
    await p.write("stty size\n");
    await until(() => /50 100/.test(c.text()), "resized size");
    await p.write("exit 4\n");
    const r = await p.done;
    expect(r.exitCode).toBe(4);
  });

  it("keeps a resize sent the moment the process starts (not undone by the initial size)", async () => {
    // Several rounds: the race between the resize and the terminal's setup is a matter of ms.
    for (let round = 0; round < 5; round++) {
      const c = collect();
      const p = await client.startProcess(
        { command: "/bin/sh", pty: { cols: 80, rows: 24 } },
        { onStdout: (d) => void c.out.push(d) },
      );
      await p.resize(132, 43);
      await p.write("stty size; exit 5\n");
      const r = await p.done;
      expect(r.exitCode).toBe(5);
      expect(c.text()).toMatch(/43 132/);
    }
  });

  it("delivers SIGWINCH to the foreground program on resize, and Ctrl-C style SIGINT", async () => {
    const c = collect();
    const p = await client.startProcess(
      {
        shell:
          "trap 'stty size' WINCH; trap 'echo INT; exit 0' INT; echo ready; while :; do sleep 0.05; done",
        pty: { cols: 80, rows: 24 },
      },
      { onStdout: (d) => void c.out.push(d) },
    );
    await until(() => c.text().includes("ready"), "ready");
    await p.resize(120, 40);
    await until(() => c.text().includes("40 120"), "SIGWINCH output");
    await p.signal("SIGINT");
    const r = await p.done;
    expect(c.text()).toContain("INT");
    expect(r.exitCode).toBe(0);
  });

  it("refuses resize on a process without a terminal", async () => {
    const p = await client.startProcess({ command: "sleep", args: ["5"] });
    const err = await p.resize(10, 10).catch((e: unknown) => e);
    expect(isAgentError(err, "notATerminal")).toBe(true);
    await p.kill();
    await p.done;
  });
});
