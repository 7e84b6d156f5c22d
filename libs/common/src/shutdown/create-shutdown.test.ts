import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../logger/index.js";
import { createShutdown, type Shutdown } from "./create-shutdown.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const packageRoot = path.resolve(here, "../..");

function testLogger() {
  const lines: { msg?: string }[] = [];
  const logger = createLogger({
    service: "test",
    destination: new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split("\n"))
          if (l !== "") lines.push(JSON.parse(l) as { msg?: string });
        done();
      },
    }),
  });
  return { logger, lines };
}

const created: Shutdown[] = [];
afterEach(() => {
  for (const s of created.splice(0)) s.dispose();
});

function make(options: Partial<Parameters<typeof createShutdown>[0]> = {}) {
  const { logger, lines } = testLogger();
  const exits: number[] = [];
  const shutdown = createShutdown({
    logger,
    signals: [],
    exit: (code) => exits.push(code),
    ...options,
  });
  created.push(shutdown);
  return { shutdown, lines, exits };
}

describe("createShutdown", () => {
  it("runs handlers once, in reverse registration order", async () => {
    const { shutdown } = make();
    const order: string[] = [];
    shutdown.register("database", () => void order.push("database"));
    shutdown.register("queue", async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      order.push("queue");
    });
    shutdown.register("server", () => void order.push("server"));

    const [first, second] = await Promise.all([
      shutdown.shutdown("test"),
      shutdown.shutdown("again"),
    ]);
    await shutdown.shutdown("third");

    expect(order).toEqual(["server", "queue", "database"]);
    expect(first).toBe(second);
    expect(first.reason).toBe("test");
    expect(first.clean).toBe(true);
    expect(shutdown.shuttingDown).toBe(true);
  });

  it("cuts off a hanging handler at the timeout and still runs the others", async () => {
    const { shutdown, lines } = make({ timeoutMs: 50 });
    const ran: string[] = [];
    shutdown.register("after", () => void ran.push("after"));
    shutdown.register("hangs", () => new Promise<void>(() => undefined));
    shutdown.register("throws", () => {
      throw new Error("close failed");
    });

    const started = Date.now();
    const result = await shutdown.shutdown("test");
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result.steps.map((s) => [s.name, s.outcome])).toEqual([
      ["throws", "failed"],
      ["hangs", "timeout"],
      ["after", "ok"],
    ]);
    expect(result.clean).toBe(false);
    expect(ran).toEqual(["after"]);
    const messages = lines.map((l) => l.msg as string);
    expect(messages).toContain("shutdown step timed out; continuing");
    expect(messages).toContain("shutdown step failed; continuing");
  });

  it("does not run unregistered handlers and exits only when asked", async () => {
    const { shutdown, exits } = make();
    const ran: string[] = [];
    const unregister = shutdown.register("gone", () => void ran.push("gone"));
    unregister();
    await shutdown.shutdown("manual");
    expect(exits).toEqual([]);
    await shutdown.shutdown("manual", { exitCode: 3 });
    expect(exits).toEqual([3]);
    expect(ran).toEqual([]);
  });

  it("runs once and exits 0 on a signal, even when signalled twice", async () => {
    const { shutdown, exits, lines } = make({ signals: ["SIGUSR2"] });
    let runs = 0;
    shutdown.register("once", () => void runs++);
    process.kill(process.pid, "SIGUSR2");
    process.kill(process.pid, "SIGUSR2");
    await expect.poll(() => exits).toEqual([0]);
    expect(runs).toBe(1);
    expect(lines.map((l) => l.msg)).toContain("already shutting down");
  });

  it("lets a real process finish its handlers and exit cleanly on SIGTERM", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "aetherium-shutdown-"));
    try {
      const script = path.join(dir, "child.mjs");
      const src = (p: string) => pathToFileURL(path.join(packageRoot, "src", p)).href;
      writeFileSync(
        script,
        `
import { createShutdown } from ${JSON.stringify(src("shutdown/create-shutdown.ts"))};
import { createLogger } from ${JSON.stringify(src("logger/create-logger.ts"))};
const logger = createLogger({ service: "child", format: "json", level: "warn" });
const shutdown = createShutdown({ logger, timeoutMs: 2000 });
shutdown.register("database", () => console.log("closed database"));
shutdown.register("server", async () => {
  await new Promise((r) => setTimeout(r, 50));
  console.log("closed server");
});
setInterval(() => {}, 1000);
console.log("ready");
`,
      );
      const child = spawn(process.execPath, ["--import", "tsx", script], {
        cwd: packageRoot,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      const ready = new Promise<void>((resolve) => {
        child.stdout.on("data", (c: Buffer) => {
          stdout += c.toString();
          if (stdout.includes("ready")) resolve();
        });
      });
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
        child.on("exit", (code, signal) => resolve([code, signal])),
      );
      await ready;
      child.kill("SIGTERM");
      const [code, signal] = await exited;
      expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: "" });
      expect(stdout.trim().split("\n")).toEqual(["ready", "closed server", "closed database"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
