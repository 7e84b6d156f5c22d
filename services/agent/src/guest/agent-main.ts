/*
 * The guest agent program. It runs inside every sandbox (a Docker container or a QEMU microVM),
 * started by a Node binary, and serves the protocol of `spec/agent-protocol.md` on a unix socket in
 * a directory the host bind-mounts, where the worker connects, or in a microVM on a virtio-serial
 * port (`--serial`, see ./serial-port.ts) whose host side is a unix socket of QEMU's. esbuild bundles this file and
 * everything it imports into one CommonJS script, `agent.cjs` (see ../build-agent.ts), so it may
 * import only node: builtins, vscode-jsonrpc and the protocol schemas of @aetherium/types.
 *
 * Startup snapshot: the same script is also the entry of a V8 startup snapshot (`node
 * --snapshot-blob agent.blob --build-snapshot agent.cjs`, made when the image is built). Building
 * the snapshot runs everything at module level (loading zod and vscode-jsonrpc, creating every
 * protocol schema) and stores the resulting heap; `node --snapshot-blob agent.blob agent.cjs …`
 * then deserialises that heap and calls {@link run} instead of parsing and executing ~300 KB of
 * JavaScript, which is most of what the agent did between process start and listening. So nothing
 * at module level may depend on the run (arguments, environment, pid, time): all of that is read
 * in {@link main}, which only ever runs at run time.
 *
 * Settings (argument, else environment variable, else default):
 *   --socket <path>       AETHERIUM_AGENT_SOCKET       /run/aetherium/agent.sock
 *   --serial <device>     AETHERIUM_AGENT_SERIAL       none: serve on this virtio-serial port
 *                                                      instead of the socket (microVMs)
 *   --socket-mode <octal> AETHERIUM_AGENT_SOCKET_MODE  600
 *   --cwd <dir>           AETHERIUM_AGENT_CWD          / (default working directory of processes)
 *   --log-level <level>   AETHERIUM_AGENT_LOG_LEVEL    info
 *                         AETHERIUM_AGENT_TOKEN        none (the secret `agent.auth` proves)
 *
 * Zombies: Node waits only for the children it spawned itself, and cannot wait for arbitrary
 * pids, so as PID 1 the agent would leave orphaned grandchildren as zombies. The backends therefore
 * run an init above it (Docker: `--init` / HostConfig.Init, which is tini); the agent's own
 * children are always waited for by Node. `agent.info` reports `reaper: "none"` when the agent
 * finds itself PID 1.
 */
import { parseArgs } from "node:util";
import v8 from "node:v8";
import {
  AGENT_METHOD_SCHEMAS,
  AGENT_TOKEN_ENV,
  DEFAULT_AGENT_SOCKET_PATH,
  execAckNotificationSchema,
  AETHERIUM_VERSION,
} from "@aetherium/types";
import { AgentServer } from "./agent-server.js";
import { createLogger, isLogLevel } from "./logger.js";
import { ProcessManager } from "./process-manager.js";
import { SerialPortServer } from "./serial-port.js";
import type { AgentStartup } from "./agent-server.js";

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

async function main(startup: AgentStartup): Promise<void> {
  const { values } = parseArgs({
    options: {
      socket: { type: "string" },
      serial: { type: "string" },
      "socket-mode": { type: "string" },
      cwd: { type: "string" },
      "log-level": { type: "string" },
      "print-startup": { type: "boolean" },
    },
    strict: true,
  });
  if (values["print-startup"] === true) {
    // The image build's check that a freshly built snapshot really starts the agent.
    process.stdout.write(`${JSON.stringify({ startup, version: AETHERIUM_VERSION })}\n`);
    return;
  }
  const env = process.env;
  const socketPath = values.socket ?? env.AETHERIUM_AGENT_SOCKET ?? DEFAULT_AGENT_SOCKET_PATH;
  const serial = values.serial ?? env.AETHERIUM_AGENT_SERIAL;
  const socketMode = parseInt(values["socket-mode"] ?? env.AETHERIUM_AGENT_SOCKET_MODE ?? "600", 8);
  const level = values["log-level"] ?? env.AETHERIUM_AGENT_LOG_LEVEL ?? "info";
  // Only from the environment: an argument would show in every `ps` of the sandbox.
  const token = env[AGENT_TOKEN_ENV] === "" ? undefined : env[AGENT_TOKEN_ENV];
  const logger = createLogger(isLogLevel(level) ? level : "info");
  if (Number.isNaN(socketMode)) throw new Error("socket mode must be octal, e.g. 600");

  // Processes inherit the sandbox's environment, not the agent's own settings.
  const baseEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && !k.startsWith("AETHERIUM_AGENT_")) baseEnv[k] = v;
  }
  baseEnv.PATH ??= DEFAULT_PATH;
  // The serial port holds one blocking read (and, while no host is connected, a blocked write)
  // in libuv's thread pool for good: give file operations more than the default four threads.
  // Set after baseEnv is taken, so sandbox processes do not inherit it.
  if (serial !== undefined) process.env.UV_THREADPOOL_SIZE ??= "8";

  const manager = new ProcessManager({
    baseEnv,
    defaultCwd: values.cwd ?? env.AETHERIUM_AGENT_CWD ?? "/",
    logger,
  });
  const server = new AgentServer({
    socketPath,
    socketMode,
    version: AETHERIUM_VERSION,
    startup,
    manager,
    logger,
    ...(token === undefined ? {} : { token }),
  });

  // A broken stderr (nobody collecting logs) must not take the agent down.
  process.stderr.on("error", () => {});
  process.on("uncaughtException", (err) => {
    // The agent is the sandbox's lifeline (and maybe PID 1): log and keep serving.
    logger.error("uncaught exception", { error: err.message });
  });
  process.on("unhandledRejection", (err) => {
    logger.error("unhandled rejection", {
      error: err instanceof Error ? err.message : String(err),
    });
  });

  const port =
    serial === undefined
      ? undefined
      : new SerialPortServer(serial, (stream) => server.serve(stream), logger);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info("stopping", { signal });
    // As PID 1 a signal without a handler is ignored: this is also what makes `docker stop` work.
    void (async () => {
      await server.close();
      await port?.close();
      await manager.shutdown(3000);
      process.exit(0);
    })();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGHUP", () => stop("SIGHUP"));

  if (port === undefined) await server.listen();
  else await port.listen();
  if (process.pid === 1) {
    logger.warn(
      "running as PID 1 without an init: orphaned processes will not be reaped; start the sandbox with an init (docker --init)",
    );
  }
  logger.info("listening", {
    ...(port === undefined ? { socket: socketPath } : { serial }),
    pid: process.pid,
    version: AETHERIUM_VERSION,
    startup,
  });
}

function run(startup: AgentStartup): void {
  main(startup).catch((err: unknown) => {
    process.stderr.write(
      `${JSON.stringify({ level: "error", msg: "agent failed to start", error: String(err) })}\n`,
    );
    process.exit(1);
  });
}

// `startupSnapshot` is absent where Node lacks snapshots; isBuildingSnapshot() is true only inside
// `--build-snapshot`, where the agent must not start but leave its start to the deserialised run.
// Node 20 returns 1 there rather than true (despite its typings).
/**
 * Runs, while the snapshot is built, the pure code every sandbox's first command goes through:
 * V8 compiles a function when it first runs, and what is compiled when the heap is written stays
 * compiled in the snapshot, so the first `exec.start` after boot does not pay for compiling the
 * schema checks. Nothing here touches the system (no files, sockets or processes).
 */
function warmUp(): void {
  const params = {
    processId: "warm-up",
    command: "true",
    args: ["-x"],
    env: { A: "1" },
    cwd: "/",
    outputEncoding: "binary",
    window: 1024 * 1024,
  };
  AGENT_METHOD_SCHEMAS["exec.start"].params.safeParse(params);
  AGENT_METHOD_SCHEMAS["exec.start"].params.safeParse({
    shell: "true",
    pty: { cols: 80, rows: 24 },
  });
  AGENT_METHOD_SCHEMAS["agent.health"].params.safeParse({});
  AGENT_METHOD_SCHEMAS["exec.wait"].params.safeParse({ processId: "warm-up" });
  execAckNotificationSchema.safeParse({ processId: "warm-up", bytes: 65536 });
  JSON.parse(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "exec.start", params }));
}

const building: unknown = v8.startupSnapshot?.isBuildingSnapshot();
if (building === true || building === 1) {
  warmUp();
  v8.startupSnapshot.setDeserializeMainFunction(() => run("snapshot"));
} else {
  run("script");
}
