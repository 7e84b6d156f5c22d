import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_ERROR_CODES, type ExecExitInfo } from "@aetherium/types";
import { createLogger } from "./logger.js";
import type { OutputSink } from "./managed-process.js";
import { EXEC_MARKER_ENV, mayHaveMarked, pidsWithEnv } from "./proc.js";
import { ProcessManager } from "./process-manager.js";
import { AgentRpcError } from "./rpc-error.js";

/*
 * The process manager on this host, spawning real processes: what an exec's exit waits for, and
 * how a spawn that cannot start is reported. Every process a test starts is killed by the test.
 */

let dir: string;
const manager = new ProcessManager({
  baseEnv: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  defaultCwd: "/",
  logger: createLogger("error"),
});

/** A sink that records the exit notification and nothing else. */
function exitSink(id: number): { sink: OutputSink; exit: Promise<ExecExitInfo> } {
  let resolve!: (e: ExecExitInfo) => void;
  const exit = new Promise<ExecExitInfo>((r) => (resolve = r));
  const sink: OutputSink = {
    id,
    notify: (method, params) => {
      if (method === "exec.exit") resolve(params as ExecExitInfo);
    },
    output: () => {},
  };
  return { sink, exit };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_r, reject) =>
      setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms).unref(),
    ),
  ]);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "aet-pm-"));
});

afterAll(async () => {
  await manager.shutdown(1000);
  await rm(dir, { recursive: true, force: true });
});

describe("an exec's exit", () => {
  it("is reported only once what the command left in the background is gone", async () => {
    const tag = `${process.pid}${Math.floor(Math.random() * 1e6)}`;
    const { sink, exit } = exitSink(1);
    // A background child and a daemon in a session of its own, both outliving the shell.
    const r = await manager.start(
      {
        processId: `bg-${tag}`,
        shell: "sleep 30 & setsid sleep 30 & exit 0",
        env: { AETHERIUM_TEST_TAG: tag },
      },
      sink,
    );
    const marker = (): number[] => pidsWithEnv("AETHERIUM_TEST_TAG", tag);
    try {
      const info = await withTimeout(exit, 20_000, "the exit");
      expect(info.exitCode).toBe(0);
      expect(r.pid).toBeGreaterThan(0);
      expect(marker()).toEqual([]);
    } finally {
      for (const pid of marker()) process.kill(pid, "SIGKILL");
    }
  });

  it("of a command that leaves nothing is reported without waiting", async () => {
    const { sink, exit } = exitSink(2);
    await manager.start({ processId: "plain", shell: "exit 3" }, sink);
    const info = await withTimeout(exit, 20_000, "the exit");
    expect(info.exitCode).toBe(3);
  });
});

describe("mayHaveMarked", () => {
  it("finds an orphan carrying the marker, and nothing once it is gone", async () => {
    const value = `test-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
    expect(mayHaveMarked(EXEC_MARKER_ENV, value)).toBe(false);
    // `sh` starts a sleep in the background and exits: the sleep is an orphan, reparented to
    // whichever reaper is above this process, the way a command's leftovers are.
    const sh = spawn("/bin/sh", ["-c", "sleep 30 >/dev/null & echo $!"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", [EXEC_MARKER_ENV]: value },
      stdio: ["ignore", "pipe", "ignore"],
    });
    let out = "";
    sh.stdout.on("data", (d: Buffer) => (out += d.toString()));
    await new Promise((r) => sh.once("close", r));
    const orphan = Number(out.trim());
    expect(orphan).toBeGreaterThan(0);
    try {
      expect(mayHaveMarked(EXEC_MARKER_ENV, value)).toBe(true);
      // A different value (another exec) is not confused with it, nor a prefix of it.
      expect(mayHaveMarked(EXEC_MARKER_ENV, `${value}x`)).toBe(false);
      expect(mayHaveMarked(EXEC_MARKER_ENV, value.slice(0, -1))).toBe(false);
    } finally {
      process.kill(orphan, "SIGKILL");
    }
    // Gone (reaped by its reaper, or a zombie without an environment) within a bounded wait.
    for (let i = 0; i < 100 && mayHaveMarked(EXEC_MARKER_ENV, value); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(mayHaveMarked(EXEC_MARKER_ENV, value)).toBe(false);
  });
});

describe("a spawn that cannot start", () => {
  it("names a missing working directory, not the command", async () => {
    const missing = path.join(dir, "nope");
    const err = await manager
      .start({ processId: "cwd-missing", shell: "true", cwd: missing }, exitSink(3).sink)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentRpcError);
    expect((err as AgentRpcError).code).toBe(AGENT_ERROR_CODES.spawnFailed);
    expect((err as AgentRpcError).message).toBe(
      `working directory ${missing} does not exist or is not a directory`,
    );
    expect((err as AgentRpcError).data).toMatchObject({ errno: "ENOENT", path: missing });
  });

  it("names a working directory that is a file", async () => {
    const file = path.join(dir, "file");
    await writeFile(file, "x");
    const err = await manager
      .start({ processId: "cwd-file", command: "true", cwd: file }, exitSink(4).sink)
      .catch((e: unknown) => e);
    expect((err as AgentRpcError).message).toBe(
      `working directory ${file} does not exist or is not a directory`,
    );
    expect((err as AgentRpcError).data).toMatchObject({ errno: "ENOTDIR", path: file });
  });

  it("still ends a missing command with 127 in a working directory that exists", async () => {
    const { sink, exit } = exitSink(5);
    await manager.start({ processId: "no-cmd", command: "aet-no-such-command", cwd: dir }, sink);
    expect((await withTimeout(exit, 20_000, "the exit")).exitCode).toBe(127);
  });
});

describe("a terminal for another user", () => {
  it.skipIf(process.getuid?.() !== 0)(
    "runs the command as that user, on a terminal it owns, and resizes it",
    async () => {
      let out = "";
      let resolveExit!: (e: ExecExitInfo) => void;
      const exit = new Promise<ExecExitInfo>((r) => (resolveExit = r));
      const sink: OutputSink = {
        id: 6,
        notify: (method, params) => {
          if (method === "exec.exit") resolveExit(params as ExecExitInfo);
          if (method === "exec.output") {
            const p = params as { data?: string };
            if (p.data) out += Buffer.from(p.data, "base64").toString();
          }
        },
        output: (_id, _stream, _seq, data) => (out += data.toString()),
      };
      // `nobody` as a user with no shell of its own: the terminal runs sh for it.
      await manager.start(
        {
          processId: "pty-nobody",
          command: "/bin/sh",
          user: "nobody",
          cwd: "/",
          pty: { cols: 80, rows: 24 },
        },
        sink,
      );
      const proc = manager.get("pty-nobody");
      await proc.resize({ cols: 123, rows: 45 });
      await proc.writeStdin(
        Buffer.from('echo "id=$(id -u) size=$(stty size) own=$(stat -c %u "$(tty)")"; exit\n'),
      );
      const info = await withTimeout(exit, 20_000, "the exit");
      expect(info.exitCode).toBe(0);
      expect(out).toContain("id=65534 size=45 123 own=65534");
    },
  );
});
