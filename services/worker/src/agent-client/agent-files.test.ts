import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentClient } from "./agent-client.js";
import type { AgentError } from "./agent-errors.js";
import { isAgentError } from "./agent-errors.js";
import {
  TestAgents,
  buildTestAgent,
  collect,
  type RunningAgent,
  type TestAgentBuild,
} from "./fixtures/test-agent.js";

// The real agent's file operations, through AgentClient.fs (see agent.test.ts for the setting).

let build: TestAgentBuild;

beforeAll(async () => {
  build = await buildTestAgent();
});

afterAll(async () => {
  await build.remove();
});

describe("guest agent files", () => {
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

  it("round-trips all 256 byte values through fs.write and fs.read", async () => {
    const data = Buffer.alloc(256 * 40);
    for (let i = 0; i < data.length; i++) data[i] = i % 256;
    const file = path.join(agent.dir, "bin", "all-bytes");
    const w = await client.fs.write(file, data, { mode: 0o600 });
    expect(w).toEqual({ bytesWritten: data.length, size: data.length });
    expect((await client.fs.readFile(file)).equals(data)).toBe(true);
    const part = await client.fs.read(file, { offset: 250, length: 10 });
    expect([...part.data]).toEqual([250, 251, 252, 253, 254, 255, 0, 1, 2, 3]);
    expect(part.eof).toBe(false);
    // And the bytes reach a process unchanged.
    const c = collect();
    await client.exec(
      { shell: `od -An -tx1 -v "${file}" | tr -d ' \\n' | head -c 16` },
      {
        onStdout: (d) => void c.out.push(d),
      },
    );
    expect(c.text()).toBe("0001020304050607");
  });

  it("does fs write/read/list/stat/mkdir/remove round trips", async () => {
    const root = path.join(agent.dir, "fs");
    expect(await client.fs.mkdir(path.join(root, "a", "b"))).toBe(true);
    expect(await client.fs.mkdir(path.join(root, "a", "b"))).toBe(false);
    await client.fs.write(path.join(root, "a", "one.txt"), "one");
    await client.fs.write(path.join(root, "a", "one.txt"), "+more", { append: true });
    expect((await client.fs.readFile(path.join(root, "a", "one.txt"))).toString()).toBe("one+more");
    const entries = await client.fs.list(path.join(root, "a"));
    expect(entries.map((e) => [e.name, e.type])).toEqual([
      ["b", "directory"],
      ["one.txt", "file"],
    ]);
    const st = await client.fs.stat(path.join(root, "a", "one.txt"));
    expect(st).toMatchObject({ type: "file", size: 8, mode: 0o644 });
    const notEmpty = await client.fs.remove(path.join(root, "a")).catch((e: unknown) => e);
    expect(isAgentError(notEmpty, "directoryNotEmpty")).toBe(true);
    expect(await client.fs.remove(path.join(root, "a"), { recursive: true })).toBe(true);
    const gone = await client.fs.stat(path.join(root, "a")).catch((e: unknown) => e);
    expect(isAgentError(gone, "fileNotFound")).toBe(true);
    expect((gone as AgentError).code).toBe("not_found");
    expect(await client.fs.remove(path.join(root, "a"), { force: true })).toBe(false);
  });

  it("reads big files in chunks", async () => {
    const file = path.join(agent.dir, "big.bin");
    await client.exec({ shell: `head -c 3000000 /dev/urandom > "${file}"` });
    const first = await client.fs.read(file, { length: 1_000_000 });
    expect(first).toMatchObject({ bytesRead: 1_000_000, size: 3_000_000, eof: false });
    const whole = await client.fs.readFile(file);
    expect(whole.length).toBe(3_000_000);
    expect(whole.equals(await readFile(file))).toBe(true);
  });

  it("refuses FIFOs, sockets and devices at once and keeps answering while they are asked for", async () => {
    const fifo = path.join(agent.dir, "fifo");
    await client.exec({ command: "mkfifo", args: [fifo] });
    // More concurrent reads than libuv has threads: a blocking open of any of them would wedge
    // every later file operation.
    const reads = await Promise.all(
      Array.from({ length: 6 }, () => client.fs.read(fifo).catch((e: unknown) => e)),
    );
    for (const r of reads) {
      expect(isAgentError(r, "notARegularFile")).toBe(true);
      expect((r as AgentError).code).toBe("bad_request");
      expect((r as AgentError).message).toMatch(/FIFO/);
    }
    const write = await client.fs.write(fifo, "x").catch((e: unknown) => e);
    expect(isAgentError(write, "notARegularFile")).toBe(true);
    const sock = await client.fs.read(agent.socket).catch((e: unknown) => e);
    expect(isAgentError(sock, "notARegularFile")).toBe(true);
    expect((sock as AgentError).code).toBe("bad_request");
    for (const dev of ["/dev/zero", "/dev/null"]) {
      const r = await client.fs.read(dev).catch((e: unknown) => e);
      expect(isAgentError(r, "notARegularFile")).toBe(true);
      expect((r as AgentError).message).toMatch(/character device/);
    }
    // Still answering files and exec.
    await client.fs.write(path.join(agent.dir, "after-fifo.txt"), "fine");
    expect((await client.fs.readFile(path.join(agent.dir, "after-fifo.txt"))).toString()).toBe(
      "fine",
    );
    const out = collect();
    await client.exec({ shell: "echo ok" }, { onStdout: (d) => void out.out.push(d) });
    expect(out.text()).toBe("ok\n");
  });

  it("reads /proc files whose size says 0 until their end", async () => {
    const pid = agent.child.pid ?? 0;
    const cmdlinePath = `/proc/${pid}/cmdline`;
    const expected = await readFile(cmdlinePath);
    expect((await stat(cmdlinePath)).size).toBe(0);
    const whole = await client.fs.readFile(cmdlinePath);
    expect(whole.equals(expected)).toBe(true);
    // In chunks: not at the end yet, then the rest.
    const first = await client.fs.read(cmdlinePath, { length: 10 });
    expect(first).toMatchObject({ bytesRead: 10, eof: false });
    const rest = await client.fs.read(cmdlinePath, { offset: 10 });
    expect(rest.eof).toBe(true);
    expect(Buffer.concat([first.data, rest.data]).equals(expected)).toBe(true);
    expect((await client.fs.readFile("/proc/cpuinfo")).toString()).toMatch(/processor/);
  });

  it("uses paths as given after normalisation and rejects relative ones", async () => {
    await client.fs.write(path.join(agent.dir, "norm", "target.txt"), "here");
    const viaDots = `${agent.dir}/norm/sub/../target.txt`;
    // `sub` does not exist: the lexical normalisation (not the kernel's walk) decides.
    expect((await client.fs.readFile(viaDots)).toString()).toBe("here");
    const st = await client.fs.stat(`${agent.dir}/./norm//target.txt`);
    expect(st.path).toBe(path.join(agent.dir, "norm", "target.txt"));
    const rel = await client.fs.stat("norm/target.txt").catch((e: unknown) => e);
    expect(isAgentError(rel, "invalidParams")).toBe(true);
    const root = await client.fs.remove("/").catch((e: unknown) => e);
    expect(isAgentError(root, "invalidPath")).toBe(true);
  });
});
