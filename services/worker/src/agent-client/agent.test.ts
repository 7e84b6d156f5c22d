import { readFileSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from "vscode-jsonrpc/node";
import { buildAgentSnapshot } from "../image/build-agent.js";
import type { AgentClient } from "./agent-client.js";
import type { AgentError } from "./agent-errors.js";
import { isAgentError } from "./agent-errors.js";
import {
  TestAgents,
  buildTestAgent,
  collect,
  readdirSyncSafe,
  until,
  type RunningAgent,
  type TestAgentBuild,
} from "./fixtures/test-agent.js";
import { waitForAgent } from "./wait-for-agent.js";

/*
 * These tests run the real agent: the esbuild bundle, under node, on a unix socket in a temp dir,
 * driven through AgentClient. The agent starts from its V8 startup snapshot, as in the image, so
 * everything below also proves the deserialised agent works (child processes, PTYs, sockets);
 * "without its snapshot" covers the plain script start. Every process the tests start is killed
 * with the agent (the agent's shutdown kills its process trees) and every temp dir is removed.
 * Its files, terminals, connecting and life as PID 1 are tested beside it.
 */

let build: TestAgentBuild;

beforeAll(async () => {
  build = await buildTestAgent();
});

afterAll(async () => {
  await build.remove();
});

describe("guest agent", () => {
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

  it("answers agent.info and agent.health", async () => {
    const info = await client.info();
    expect(info.protocolVersion).toBe(1);
    expect(info.pid).toBe(agent.child.pid);
    expect(info.uptimeMs).toBeGreaterThanOrEqual(0);
    expect(info.reaper).toBe("init");
    expect(info.startup).toBe("snapshot");
    const health = await client.health();
    expect(health.status).toBe("ok");
    expect(health.connections).toBeGreaterThanOrEqual(1);
  });

  it("runs echo and streams its stdout", async () => {
    const c = collect();
    const r = await client.exec(
      { command: "echo", args: ["hello"] },
      { onStdout: (d) => void c.out.push(d) },
    );
    expect(r).toMatchObject({ exitCode: 0, signal: null, timedOut: false });
    expect(c.text()).toBe("hello\n");
  });

  it("reports exit codes and stderr", async () => {
    const c = collect();
    const r = await client.exec(
      { shell: "echo oops >&2; exit 3" },
      { onStderr: (d) => void c.err.push(d) },
    );
    expect(r.exitCode).toBe(3);
    expect(c.stderr()).toBe("oops\n");
  });

  it("ends a missing command run directly with 127 and a file that is not executable with 126, as a shell does", async () => {
    const c = collect();
    const missing = await client.exec(
      { command: "/no/such/program", args: ["x"] },
      { onStderr: (d) => void c.err.push(d) },
    );
    expect(missing.exitCode).toBe(127);
    expect(c.stderr()).toBe("/no/such/program: command not found\n");
    const notExecutable = path.join(agent.dir, "plain.txt");
    await writeFile(notExecutable, "not a program\n", { mode: 0o644 });
    const denied = await client.exec({ command: notExecutable });
    expect(denied.exitCode).toBe(126);
    // Through the shell the codes were already these; they agree.
    expect((await client.exec({ shell: "/no/such/program" })).exitCode).toBe(127);
  });

  it("fails an argument over the kernel's limit with spawnFailed (E2BIG), a 400", async () => {
    const err = await client
      .exec({ command: "/bin/true", args: ["a".repeat(140_000)] })
      .catch((e: unknown) => e);
    expect(isAgentError(err, "spawnFailed")).toBe(true);
    expect((err as AgentError).code).toBe("bad_request");
    expect((err as AgentError).data?.errno).toBe("E2BIG");
  });

  it("rejects invalid params with invalidParams", async () => {
    const err = await client
      .request("exec.start", { command: "echo", shell: "echo" })
      .catch((e: unknown) => e);
    expect(isAgentError(err, "invalidParams")).toBe(true);
    expect((err as AgentError).code).toBe("bad_request");
  });

  it("pipes stdin: initial bytes, then exec.stdin, then closeStdin ends it", async () => {
    const c = collect();
    const p = await client.startProcess(
      { command: "cat", stdin: "first\n", openStdin: true },
      { onStdout: (d) => void c.out.push(d) },
    );
    await p.write("second\n");
    await until(() => c.text() === "first\nsecond\n", "cat echo");
    await p.closeStdin();
    const r = await p.done;
    expect(r.exitCode).toBe(0);
    expect(c.text()).toBe("first\nsecond\n");
  });

  it("closes stdin by default, so cat without input ends", async () => {
    const r = await client.exec({ command: "cat" });
    expect(r.exitCode).toBe(0);
  });

  it("honours env and cwd", async () => {
    const c = collect();
    await client.fs.mkdir(path.join(agent.dir, "work dir"));
    const r = await client.exec(
      {
        shell: 'echo "$FOO:$AGENT_TEST_BASE:$(pwd)"',
        env: { FOO: "bar" },
        cwd: path.join(agent.dir, "work dir"),
      },
      { onStdout: (d) => void c.out.push(d) },
    );
    expect(r.exitCode).toBe(0);
    expect(c.text()).toBe(`bar:base:${path.join(agent.dir, "work dir")}\n`);
  });

  it("merges secrets into the env and never writes them anywhere", async () => {
    const value = `s3cret-${Math.random().toString(36).slice(2)}`;
    expect(await client.setSecrets({ TEST_TOKEN: value, OTHER: "x" })).toBe(2);
    const c = collect();
    await client.exec({ shell: "printenv TEST_TOKEN" }, { onStdout: (d) => void c.out.push(d) });
    expect(c.text()).toBe(`${value}\n`);
    // Request env wins over a secret.
    const c2 = collect();
    await client.exec(
      { shell: "printenv TEST_TOKEN", env: { TEST_TOKEN: "override" } },
      { onStdout: (d) => void c2.out.push(d) },
    );
    expect(c2.text()).toBe("override\n");
    // Nothing the agent wrote (its log, its socket dir, any file in its dir) holds the value.
    expect(agent.log()).not.toContain(value);
    const files = await readdir(agent.dir, { recursive: true });
    for (const f of files) {
      const full = path.join(agent.dir, f);
      const st = await stat(full);
      if (st.isFile()) expect((await readFile(full)).includes(value)).toBe(false);
    }
    expect(await client.setSecrets({}, { replace: true })).toBe(0);
  });

  it.skipIf(process.getuid?.() !== 0)("runs as another user, by name or uid", async () => {
    const c = collect();
    await client.exec(
      { shell: 'echo "$(id -u):$(id -g):$HOME:$USER"', user: "nobody" },
      { onStdout: (d) => void c.out.push(d) },
    );
    expect(c.text()).toMatch(/^65534:65534:\/nonexistent:nobody\n$/);
    const c2 = collect();
    await client.exec(
      { command: "id", args: ["-u"], user: 4321 },
      { onStdout: (d) => void c2.out.push(d) },
    );
    expect(c2.text()).toBe("4321\n");
    const missing = await client
      .exec({ command: "id", user: "no-such-user" })
      .catch((e: unknown) => e);
    expect(isAgentError(missing, "userNotFound")).toBe(true);
  });

  it("has no default timeout: a 2 s command runs to the end", async () => {
    const r = await client.exec({ command: "sleep", args: ["2"] });
    expect(r).toMatchObject({ exitCode: 0, timedOut: false });
    expect(r.durationMs).toBeGreaterThanOrEqual(1900);
  });

  it("kills on an explicit timeout and reports timedOut", async () => {
    const started = Date.now();
    const r = await client.exec({ command: "sleep", args: ["30"], timeoutMs: 300 });
    expect(r).toMatchObject({ exitCode: null, signal: "SIGTERM", timedOut: true });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("escalates to SIGKILL after the grace period when SIGTERM is ignored", async () => {
    const r = await client.exec({
      shell: "trap '' TERM; sleep 30 & wait; sleep 30",
      timeoutMs: 200,
      killGraceMs: 300,
    });
    expect(r).toMatchObject({ signal: "SIGKILL", timedOut: true });
  });

  it("kills a process tree with exec.signal", async () => {
    const p = await client.startProcess({ shell: "sleep 30; echo never" });
    await p.signal("SIGTERM");
    const r = await p.done;
    expect(r.signal).toBe("SIGTERM");
  });

  it("kills when the exec is aborted", async () => {
    const ac = new AbortController();
    const pending = client.exec({ command: "sleep", args: ["30"] }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    const r = await pending;
    expect(r.signal).toBe("SIGKILL");
  });

  it("streams binary output exactly", async () => {
    let bytes = 0;
    const r = await client.exec(
      { shell: "head -c 1000000 /dev/urandom" },
      { onStdout: (d) => void (bytes += d.length) },
    );
    expect(r.exitCode).toBe(0);
    expect(bytes).toBe(1_000_000);
  });

  it("sends output as binary frames or as base64 exec.output, as each connection asked", async () => {
    const file = path.join(agent.dir, "random.bin");
    await client.exec({ shell: `head -c 1000000 /dev/urandom > ${file}` });
    const expected = await readFile(file);
    // The host client asks for binary frames; a plain JSON-RPC client (vscode-jsonrpc's own
    // reader, which knows no frames) asks for nothing and must get base64 notifications only.
    const binary = collect();
    const viaClient = await client.exec(
      { command: "cat", args: [file] },
      { onStdout: (d) => void binary.out.push(d) },
    );
    expect(viaClient.exitCode).toBe(0);
    expect(Buffer.concat(binary.out).equals(expected)).toBe(true);

    const socket = net.createConnection(agent.socket);
    await new Promise((r) => socket.once("connect", r));
    const plain = createMessageConnection(
      new StreamMessageReader(socket),
      new StreamMessageWriter(socket),
    );
    const chunks: Buffer[] = [];
    const exited = new Promise<unknown>((resolve) => {
      plain.onNotification("exec.output", (p: { data: string; bytes?: number }) => {
        const data = Buffer.from(p.data, "base64");
        chunks.push(data);
        void plain.sendNotification("exec.ack", { processId: "plain-1", bytes: data.length });
      });
      plain.onNotification("exec.exit", resolve);
    });
    plain.listen();
    try {
      await plain.sendRequest("exec.start", {
        processId: "plain-1",
        command: "cat",
        args: [file],
      });
      expect(await exited).toMatchObject({ processId: "plain-1", exitCode: 0 });
      expect(Buffer.concat(chunks).equals(expected)).toBe(true);
    } finally {
      plain.dispose();
      socket.destroy();
    }
  });

  it("bounds agent memory while 200 MiB stream to a slow consumer", async () => {
    const total = 200 * 1024 * 1024;
    const pid = agent.child.pid ?? 0;
    const rssKiB = async (): Promise<number> => {
      const status = await readFile(`/proc/${pid}/status`, "utf8");
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    };
    let maxRss = await rssKiB();
    const sampler = setInterval(() => {
      rssKiB().then(
        (v) => (maxRss = Math.max(maxRss, v)),
        () => {},
      );
    }, 50);
    let bytes = 0;
    let chunks = 0;
    try {
      const r = await client.exec(
        { shell: `head -c ${total} /dev/zero` },
        {
          onStdout: async (d) => {
            bytes += d.length;
            // Slow: a pause every 16 chunks, so the consumer is far slower than `head`.
            if (++chunks % 16 === 0) await new Promise((res) => setTimeout(res, 5));
          },
        },
      );
      expect(r.exitCode).toBe(0);
    } finally {
      clearInterval(sampler);
    }
    expect(bytes).toBe(total);
    // Measured: ~53 MiB idle, ~100 MiB peak, the same for 1 GiB. Without flow control the agent
    // buffers the whole stream: ~800 MiB for these 200 MiB.
    expect(maxRss).toBeLessThan(150 * 1024);
  }, 120_000);

  it("stops reading a process whose consumer stalls, so the producer blocks", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let bytes = 0;
    const total = 50_000_000;
    const p = await client.startProcess(
      { command: "head", args: ["-c", String(total), "/dev/zero"] },
      {
        onStdout: async (d) => {
          bytes += d.length;
          await gate;
        },
      },
    );
    await new Promise((r) => setTimeout(r, 500));
    // What `head` managed to write(2) while nothing was acknowledged: the 1 MiB window, the
    // 64 KiB pipe and Node's stream buffers, not 50 MB.
    const io = await readFile(`/proc/${p.pid}/io`, "utf8");
    const written = Number(/wchar:\s+(\d+)/.exec(io)?.[1]);
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(4 * 1024 * 1024);
    release();
    expect((await p.done).exitCode).toBe(0);
    expect(bytes).toBe(total);
  });

  it("keeps background processes across connections and replays on attach", async () => {
    const first = await agents.connect(agent);
    const p = await first.startProcess({
      shell: "for i in 1 2 3; do echo $i; sleep 0.3; done",
    });
    const listed = await first.list();
    expect(listed.find((x) => x.processId === p.processId)?.running).toBe(true);
    first.close();
    await expect(p.done).rejects.toThrow(/connection to the agent was lost/);

    const second = await agents.connect(agent);
    const c = collect();
    const { process: again, attach } = await second.attach(p.processId, {
      onStdout: (d) => void c.out.push(d),
    });
    expect(attach.replayFromSeq).toBe(0);
    expect(attach.truncated).toBe(false);
    const r = await again.done;
    expect(r.exitCode).toBe(0);
    expect(c.text()).toBe("1\n2\n3\n");
    // Attaching after the exit still replays the output, then the exit.
    const c2 = collect();
    const late = await second.attach(p.processId, { onStdout: (d) => void c2.out.push(d) });
    expect((await late.process.done).exitCode).toBe(0);
    expect(c2.text()).toBe("1\n2\n3\n");
    const waited = await second.wait(p.processId, 1000);
    expect(waited.exit?.exitCode).toBe(0);
  });

  it("lists running processes with exec.list", async () => {
    const p = await client.startProcess({ command: "sleep", args: ["10"], processId: "list-me" });
    const all = await client.list();
    const me = all.find((x) => x.processId === "list-me");
    expect(me).toMatchObject({ running: true, argv: ["sleep", "10"], pty: false, pid: p.pid });
    await p.kill();
    await p.done;
    const after = await client.list();
    expect(after.find((x) => x.processId === "list-me")?.running).toBe(false);
    const dup = await client
      .startProcess({ command: "true", processId: "list-me" })
      .catch((e: unknown) => e);
    expect(isAgentError(dup, "processIdInUse")).toBe(true);
  });

  it("ends an exec's whole process tree: background, setsid and double-forked children", async () => {
    const tag = String(4000 + Math.floor(Math.random() * 5000));
    const left = (): number[] =>
      readdirSyncSafe("/proc")
        .filter((n) => /^\d+$/.test(n))
        .filter((n) => {
          try {
            return readFileSync(`/proc/${n}/cmdline`, "utf8").includes(`${tag}.5`);
          } catch {
            return false;
          }
        })
        .map(Number);
    try {
      const r = await client.exec({
        shell:
          `sleep ${tag}.5 & setsid sleep ${tag}.5 & (sleep ${tag}.5 &) ; ` +
          // A respawning child: what a fork bomb does, slowed down to be kind to the test host.
          `(while :; do sleep ${tag}.5 & sleep 0.05; done) & ` +
          `until [ "$(pgrep -f -c "sleep ${tag}.5")" -ge 4 ]; do sleep 0.05; done; echo started`,
        timeoutMs: 20_000,
      });
      expect(r.exitCode).toBe(0);
      // The exit is reported once the tree is gone: nothing is left, no wait needed.
      expect(left()).toEqual([]);
      // And nothing comes back (the respawner itself was killed).
      await new Promise((res) => setTimeout(res, 300));
      expect(left()).toEqual([]);
    } finally {
      for (const pid of left()) process.kill(pid, "SIGKILL");
    }
  });

  it("kills a timed-out exec's detached children too", async () => {
    const tag = String(4000 + Math.floor(Math.random() * 5000));
    const alive = (): boolean =>
      readdirSyncSafe("/proc").some((n) => {
        try {
          return readFileSync(`/proc/${n}/cmdline`, "utf8").includes(`${tag}.25`);
        } catch {
          return false;
        }
      });
    try {
      const r = await client.exec({
        shell: `setsid sleep ${tag}.25 & sleep 60`,
        timeoutMs: 300,
        killGraceMs: 100,
      });
      expect(r.timedOut).toBe(true);
      expect(alive()).toBe(false);
    } finally {
      await client.exec({ command: "pkill", args: ["-f", `sleep ${tag}.25`] }).catch(() => {});
    }
  });
});

describe("guest agent without its snapshot", () => {
  const agents = new TestAgents(() => build);
  afterEach(async () => {
    await agents.stopAll();
  });

  it("starts as a plain script and serves the same", async () => {
    const agent = await agents.start({ snapshot: false });
    const c = await waitForAgent(agent.socket, 10_000);
    try {
      expect((await c.info()).startup).toBe("script");
      const out = collect();
      const r = await c.exec({ shell: "echo plain" }, { onStdout: (d) => void out.out.push(d) });
      expect(r.exitCode).toBe(0);
      expect(out.text()).toBe("plain\n");
    } finally {
      c.close();
    }
  });

  it("builds no snapshot of a script that is no agent bundle, and leaves no blob", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "aet-agent-nosnap-"));
    try {
      const out = path.join(dir, "agent.blob");
      // Exits at once: a snapshot of it would build, but it never reports a snapshot start.
      const script = path.join(dir, "not-an-agent.cjs");
      await writeFile(script, "process.stdout.write('{}\\n');\n");
      expect(await buildAgentSnapshot({ bundle: script, out })).toBe(false);
      expect(await readdir(dir)).toEqual(["not-an-agent.cjs"]);
      expect(await buildAgentSnapshot({ bundle: path.join(dir, "missing.cjs"), out })).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
